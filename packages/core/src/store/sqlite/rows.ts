import type {
  ConsentEntry,
  ConsentSnapshot,
  Contact,
  Conversation,
  ExternalRef,
  Message,
  MessageStatus,
  PhoneNumber,
  Workspace,
} from '../../domain/types.ts';
import { DEFAULT_POLICIES } from '../../domain/types.ts';
import type { ConnectorSetting, DeadJob, Job, StoredNotice } from '../types.ts';

/** Row shapes as SQLite returns them, and their mapping to domain objects. */

export const json = (value: unknown): string => JSON.stringify(value ?? null);
export const parse = <T>(text: string | null): T => (text === null ? (null as T) : (JSON.parse(text) as T));

export interface WorkspaceRow {
  id: string;
  name: string;
  policies: string;
  created_at: number;
}
export const toWorkspace = (r: WorkspaceRow): Workspace => ({
  id: r.id,
  name: r.name,
  // Policies saved by an older version get the defaults of fields added since.
  policies: { ...DEFAULT_POLICIES, ...parse<object>(r.policies) },
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
  enabled: number;
  events: string;
  config: string;
  secrets: string | null;
  updated_at: number;
}
export const toConnectorSetting = (r: ConnectorSettingRow): ConnectorSetting => ({
  workspaceId: r.workspace_id,
  connectorId: r.connector_id,
  enabled: r.enabled === 1,
  events: r.events.split(',').filter(Boolean),
  config: parse(r.config),
  encryptedSecrets: r.secrets,
  updatedAt: r.updated_at,
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
  /** NULL since encryption at rest: text and content are sealed together in `content` (a BLOB). */
  text: string | null;
  content: string;
  state: string | null;
  error: string | null;
  sender: string | null;
  relates_to: string | null;
  created_at: number;
}
export const toMessage = (r: MessageRow): Message => ({
  id: r.id,
  workspaceId: r.workspace_id,
  conversationId: r.conversation_id,
  direction: r.direction as Message['direction'],
  wamid: r.wamid,
  type: r.type,
  timestamp: r.ts,
  text: r.text,
  content: parse(r.content),
  state: r.state as Message['state'],
  error: parse(r.error),
  sender: parse(r.sender),
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
  error: string | null;
  raw: string;
}
export const toStatus = (r: StatusRow): MessageStatus => ({
  id: r.id,
  workspaceId: r.workspace_id,
  wamid: r.wamid,
  messageId: r.message_id,
  status: r.status,
  timestamp: r.ts,
  error: parse(r.error),
  raw: parse(r.raw),
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
  details: string;
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
  details: parse(r.details),
});

export interface NoticeRow {
  id: string;
  kind: string;
  text: string;
  in_reply_to: string | null;
  templates: string;
  message_id: string | null;
  created_at: number;
}
export const toNotice = (r: NoticeRow): StoredNotice => ({
  id: r.id,
  kind: r.kind,
  text: r.text,
  inReplyTo: r.in_reply_to,
  templates: parse(r.templates),
  messageId: r.message_id,
  createdAt: r.created_at,
});

export interface RefRow {
  connector_id: string;
  kind: string;
  entity_id: string;
  external_id: string;
  data: string;
}
export const toRef = (r: RefRow): ExternalRef => ({
  connectorId: r.connector_id,
  kind: r.kind,
  entityId: r.entity_id,
  externalId: r.external_id,
  data: parse(r.data),
});

export interface JobRow {
  id: number;
  workspace_id: string;
  connector_id: string;
  conversation_id: string;
  event_type: string;
  entity_id: string;
  sort_ts: number;
  state: string;
  attempts: number;
  run_at: number;
  lease_token: string | null;
  lease_until: number | null;
  created_at: number;
}
export const toJob = (r: JobRow): Job => ({
  id: r.id,
  workspaceId: r.workspace_id,
  connectorId: r.connector_id,
  conversationId: r.conversation_id,
  eventType: r.event_type as Job['eventType'],
  entityId: r.entity_id,
  sortTs: r.sort_ts,
  attempts: r.attempts,
  runAt: r.run_at,
  createdAt: r.created_at,
  lease: { jobId: r.id, token: r.lease_token ?? '' },
});

export interface DeadJobRow {
  id: number;
  workspace_id: string;
  connector_id: string;
  conversation_id: string;
  event_type: string;
  entity_id: string;
  attempts: number;
  reason: string;
  failed_at: number;
  created_at: number;
}
export const toDeadJob = (r: DeadJobRow): DeadJob => ({
  id: r.id,
  workspaceId: r.workspace_id,
  connectorId: r.connector_id,
  conversationId: r.conversation_id,
  eventType: r.event_type,
  entityId: r.entity_id,
  attempts: r.attempts,
  reason: r.reason,
  failedAt: r.failed_at,
  createdAt: r.created_at,
});

/** consentSnapshot's answer from the consent rows ([category, state, source, at] each). */
export function toConsentSnapshot(
  rows: readonly (readonly [string, string, string, number])[],
): ConsentSnapshot {
  const snapshot: ConsentSnapshot = {
    all: { state: 'opted_in', source: null, at: null },
    marketing: { state: 'opted_in', source: null, at: null },
  };
  for (const [category, state, source, at] of rows) {
    if (category === 'all' || category === 'marketing') {
      snapshot[category] = {
        state: state as ConsentSnapshot['all']['state'],
        source: source as ConsentSnapshot['all']['source'],
        at,
      };
    }
  }
  return snapshot;
}
