import {
  type ConnectorSetting,
  DEFAULT_POLICIES,
  type ExternalRef,
  type PhoneNumber,
  type Workspace,
  type WorkspacePolicies,
} from '@wabridge/core';

/**
 * Row shapes as node-postgres returns them (JSONB parsed, BIGINT as numbers, BOOLEAN as booleans)
 * and their mapping to domain objects. Not SQLite's rows.ts: there JSON is text and flags are 0/1.
 */

/** A JSONB parameter: node-postgres would send a JS array as a Postgres array, so JSON goes as text. */
export const jsonb = (value: unknown): string => JSON.stringify(value ?? null);

export interface WorkspaceRow {
  id: string;
  name: string;
  policies: Partial<WorkspacePolicies>;
  created_at: number;
}
export const toWorkspace = (r: WorkspaceRow): Workspace => ({
  id: r.id,
  name: r.name,
  // Policies saved by an older version get the defaults of fields added since.
  policies: { ...DEFAULT_POLICIES, ...r.policies },
  createdAt: r.created_at,
});

export interface PhoneNumberRow {
  phone_number_id: string;
  workspace_id: string;
  display_phone_number: string | null;
  waba_id: string | null;
}
export const toPhoneNumber = (r: PhoneNumberRow): PhoneNumber => ({
  phoneNumberId: r.phone_number_id,
  workspaceId: r.workspace_id,
  displayPhoneNumber: r.display_phone_number,
  wabaId: r.waba_id,
});

export interface ConnectorSettingRow {
  workspace_id: string;
  connector_id: string;
  enabled: boolean;
  events: string;
  config: Record<string, unknown>;
  secrets: string | null;
  updated_at: number;
}
export const toConnectorSetting = (r: ConnectorSettingRow): ConnectorSetting => ({
  workspaceId: r.workspace_id,
  connectorId: r.connector_id,
  enabled: r.enabled,
  events: r.events.split(',').filter(Boolean),
  config: r.config,
  encryptedSecrets: r.secrets,
  updatedAt: r.updated_at,
});

export interface RefRow {
  connector_id: string;
  kind: string;
  entity_id: string;
  external_id: string;
  data: Record<string, unknown>;
}
export const toRef = (r: RefRow): ExternalRef => ({
  connectorId: r.connector_id,
  kind: r.kind,
  entityId: r.entity_id,
  externalId: r.external_id,
  data: r.data,
});
