import {
  type ConnectorSetting,
  type ConsentEntry,
  type Contact,
  type Conversation,
  DEFAULT_POLICIES,
  type ExternalRef,
  type Message,
  type MessageError,
  type MessageStatus,
  type PhoneNumber,
  type Sender,
  type StoredNotice,
  type TemplateDefinition,
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

export interface ContactRow {
  id: string;
  workspace_id: string;
  wa_id: string | null;
  bsuid: string | null;
  parent_bsuid: string | null;
  username: string | null;
  profile_name: string | null;
  created_at: number;
  updated_at: number;
}
export const toContact = (r: ContactRow): Contact => ({
  id: r.id,
  workspaceId: r.workspace_id,
  waId: r.wa_id,
  bsuid: r.bsuid,
  parentBsuid: r.parent_bsuid,
  username: r.username,
  profileName: r.profile_name,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
});

export interface ConversationRow {
  id: string;
  workspace_id: string;
  contact_id: string;
  phone_number_id: string;
  display_phone_number: string | null;
  last_inbound_at: number | null;
  created_at: number;
  erased_at: number | null;
  restricted_at: number | null;
}
export const toConversation = (r: ConversationRow): Conversation => ({
  id: r.id,
  workspaceId: r.workspace_id,
  contactId: r.contact_id,
  phoneNumberId: r.phone_number_id,
  displayPhoneNumber: r.display_phone_number,
  lastInboundAt: r.last_inbound_at,
  createdAt: r.created_at,
  erasedAt: r.erased_at,
  restrictedAt: r.restricted_at,
});

export interface MessageRow {
  id: string;
  workspace_id: string;
  conversation_id: string;
  direction: string;
  wamid: string | null;
  type: string;
  ts: number;
  /** NULL: text and content are sealed together in `content` (see PgReads.openBody). */
  text: string | null;
  content: Buffer;
  state: string | null;
  error: MessageError | null;
  sender: Sender | null;
  relates_to: string | null;
  created_at: number;
}
/** A message row with its body opened (`PgReads.openBody`). */
export const toMessage = (
  r: MessageRow,
  body: { text: string | null; content: Record<string, unknown> },
): Message => ({
  id: r.id,
  workspaceId: r.workspace_id,
  conversationId: r.conversation_id,
  direction: r.direction as Message['direction'],
  wamid: r.wamid,
  type: r.type,
  timestamp: r.ts,
  text: body.text,
  content: body.content,
  state: r.state as Message['state'],
  error: r.error,
  sender: r.sender,
  relatesTo: r.relates_to,
  createdAt: r.created_at,
});

export interface StatusRow {
  id: string;
  workspace_id: string;
  wamid: string;
  message_id: string | null;
  status: string;
  ts: number;
  error: MessageError | null;
  raw: Buffer;
}
/** A status row with its raw webhook object opened. */
export const toStatus = (r: StatusRow, raw: Record<string, unknown>): MessageStatus => ({
  id: r.id,
  workspaceId: r.workspace_id,
  wamid: r.wamid,
  messageId: r.message_id,
  status: r.status,
  timestamp: r.ts,
  error: r.error,
  raw,
});

export interface ConsentRow {
  id: string;
  workspace_id: string;
  contact_id: string;
  category: string;
  state: string;
  source: string;
  actor: string | null;
  evidence_message_id: string | null;
  occurred_at: number;
  recorded_at: number;
  details: Record<string, unknown>;
}
export const toConsentEntry = (r: ConsentRow): ConsentEntry => ({
  id: r.id,
  workspaceId: r.workspace_id,
  contactId: r.contact_id,
  category: r.category as ConsentEntry['category'],
  state: r.state as ConsentEntry['state'],
  source: r.source as ConsentEntry['source'],
  actor: r.actor,
  evidenceMessageId: r.evidence_message_id,
  occurredAt: r.occurred_at,
  recordedAt: r.recorded_at,
  details: r.details,
});

export interface NoticeRow {
  id: string;
  kind: string;
  text: string;
  in_reply_to: string | null;
  templates: TemplateDefinition[];
  message_id: string | null;
  created_at: number;
}
export const toNotice = (r: NoticeRow): StoredNotice => ({
  id: r.id,
  kind: r.kind,
  text: r.text,
  inReplyTo: r.in_reply_to,
  templates: r.templates,
  messageId: r.message_id,
  createdAt: r.created_at,
});
