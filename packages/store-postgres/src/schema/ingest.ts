import type { PgMigration } from '../migrate.ts';

/**
 * What ingest and the commands write (IngestStore) and the reads read (ReadStore): contacts,
 * conversations, messages, statuses, consent, notices, internal notes, command keys, kept
 * platform and unrouted events. The jobs they queue are in the job tables (jobs, jobs_new; see
 * schema/jobs.ts, the queue's).
 *
 * Sealed content is BYTEA holding either a sealed value (its first byte is the format, 1) or, for
 * what has nothing to hide (null, `{}`), the UTF-8 JSON itself (first byte `{` or `n`): one column,
 * told apart by `sealedKeyId`, where SQLite tells a BLOB from TEXT by the value's type.
 */
export const ingestSchema: PgMigration = {
  version: 3,
  name: 'ingest: contacts, conversations, messages, statuses, consent, notices, events',
  sql: `
CREATE TABLE contacts (
  id TEXT PRIMARY KEY,
  workspace_id TEXT NOT NULL,
  wa_id TEXT,
  bsuid TEXT,
  parent_bsuid TEXT,
  username TEXT,
  profile_name TEXT,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL,
  -- A contact merged into another after an identity change keeps its row and says where it went.
  merged_into TEXT
);
CREATE UNIQUE INDEX contacts_wa_id ON contacts (workspace_id, wa_id) WHERE wa_id IS NOT NULL;
CREATE UNIQUE INDEX contacts_bsuid ON contacts (workspace_id, bsuid) WHERE bsuid IS NOT NULL;
CREATE INDEX contacts_parent_bsuid ON contacts (workspace_id, parent_bsuid) WHERE parent_bsuid IS NOT NULL;

CREATE TABLE conversations (
  id TEXT PRIMARY KEY,
  workspace_id TEXT NOT NULL,
  contact_id TEXT NOT NULL,
  phone_number_id TEXT NOT NULL,
  display_phone_number TEXT,
  created_at BIGINT NOT NULL,
  erased_at BIGINT,
  merged_into TEXT,
  -- GDPR art. 18: erasure asked while the law still requires keeping it; no mirror or read sees it.
  restricted_at BIGINT,
  UNIQUE (workspace_id, contact_id, phone_number_id)
);
CREATE INDEX conversations_contact ON conversations (workspace_id, contact_id);

CREATE TABLE messages (
  id TEXT PRIMARY KEY,
  workspace_id TEXT NOT NULL,
  conversation_id TEXT NOT NULL,
  direction TEXT NOT NULL,
  wamid TEXT UNIQUE,
  type TEXT NOT NULL,
  ts BIGINT NOT NULL,
  -- NULL since encryption at rest: text and content are sealed together in content (see sealBody).
  text TEXT,
  content BYTEA NOT NULL,
  state TEXT,
  error JSONB,
  sender JSONB,
  relates_to TEXT,
  created_at BIGINT NOT NULL,
  purged_at BIGINT,
  purged_by TEXT
);
CREATE INDEX messages_conversation ON messages (conversation_id, ts);
-- Edits and revokes, read when a mirror shows a message's latest revision; partial, so the other
-- messages (nearly all) cost ingest nothing here.
CREATE INDEX messages_revisions ON messages (relates_to) WHERE type IN ('edit', 'revoke');

CREATE TABLE message_statuses (
  id TEXT PRIMARY KEY,
  workspace_id TEXT NOT NULL,
  wamid TEXT NOT NULL,
  message_id TEXT,
  status TEXT NOT NULL,
  ts BIGINT NOT NULL,
  error JSONB,
  raw BYTEA NOT NULL,
  purged_at BIGINT,
  UNIQUE (wamid, status)
);
CREATE INDEX message_statuses_message ON message_statuses (message_id);

CREATE TABLE consent_ledger (
  id TEXT PRIMARY KEY,
  workspace_id TEXT NOT NULL,
  contact_id TEXT NOT NULL,
  category TEXT NOT NULL,
  state TEXT NOT NULL,
  source TEXT NOT NULL,
  actor TEXT,
  evidence_message_id TEXT,
  occurred_at BIGINT NOT NULL,
  recorded_at BIGINT NOT NULL,
  details JSONB NOT NULL
);
CREATE INDEX consent_ledger_contact ON consent_ledger (workspace_id, contact_id, occurred_at);

CREATE TABLE consent_state (
  workspace_id TEXT NOT NULL,
  contact_id TEXT NOT NULL,
  category TEXT NOT NULL,
  state TEXT NOT NULL,
  source TEXT NOT NULL,
  at BIGINT NOT NULL,
  entry_id TEXT NOT NULL,
  PRIMARY KEY (workspace_id, contact_id, category)
);

CREATE TABLE notices (
  id TEXT PRIMARY KEY,
  workspace_id TEXT NOT NULL,
  conversation_id TEXT NOT NULL,
  connector_id TEXT NOT NULL,
  kind TEXT NOT NULL,
  text TEXT NOT NULL,
  in_reply_to TEXT,
  templates JSONB NOT NULL,
  message_id TEXT,
  created_at BIGINT NOT NULL
);

-- Agents' internal notes (issue 18, item 1): one row per version; what a note says is archive
-- content, never here.
CREATE TABLE internal_notes (
  id TEXT PRIMARY KEY,
  workspace_id TEXT NOT NULL,
  conversation_id TEXT NOT NULL,
  connector_id TEXT NOT NULL,
  external_id TEXT NOT NULL,
  note_id TEXT NOT NULL,
  action TEXT NOT NULL,
  ts BIGINT NOT NULL,
  created_at BIGINT NOT NULL,
  purged_at BIGINT
);
CREATE INDEX internal_notes_conversation ON internal_notes (conversation_id, ts);
CREATE INDEX internal_notes_external ON internal_notes (workspace_id, connector_id, external_id);
-- One first version per platform message: two deliveries of a note at once (under different
-- command keys, from two gateways) cannot both archive it. Edits and deletions are versions of
-- their own and repeat freely.
CREATE UNIQUE INDEX internal_notes_original ON internal_notes (workspace_id, connector_id, external_id)
  WHERE action = 'note';

CREATE TABLE command_keys (
  workspace_id TEXT NOT NULL,
  source TEXT NOT NULL,
  key TEXT NOT NULL,
  -- What the command produced (e.g. the outbound message id), so a retry can answer the same.
  result TEXT,
  created_at BIGINT NOT NULL,
  PRIMARY KEY (workspace_id, source, key)
);

CREATE TABLE unrouted_events (
  id TEXT PRIMARY KEY,
  phone_number_id TEXT,
  field TEXT NOT NULL,
  payload BYTEA NOT NULL,
  received_at BIGINT NOT NULL,
  routed_at BIGINT,
  routed_to TEXT
);
CREATE INDEX unrouted_pending ON unrouted_events (received_at, id) WHERE routed_at IS NULL;

CREATE TABLE platform_events (
  id TEXT PRIMARY KEY,
  workspace_id TEXT,
  field TEXT NOT NULL,
  payload BYTEA NOT NULL,
  parse_issues JSONB NOT NULL,
  received_at BIGINT NOT NULL,
  waba_id TEXT,
  entry_time BIGINT
);
CREATE INDEX platform_events_by_time ON platform_events (received_at, id);
CREATE INDEX platform_events_by_workspace ON platform_events (workspace_id, received_at, id);
`,
};
