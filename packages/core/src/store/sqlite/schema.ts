/**
 * SQLite schema, as ordered migrations. Timestamps are epoch milliseconds; JSON lives in TEXT.
 */
export const MIGRATIONS: readonly { version: number; name: string; sql: string }[] = [
  {
    version: 1,
    name: 'initial',
    sql: `
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
INSERT INTO meta (key, value) VALUES ('config_version', '0');

CREATE TABLE workspaces (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  policies TEXT NOT NULL,
  created_at INTEGER NOT NULL
);

CREATE TABLE phone_numbers (
  phone_number_id TEXT PRIMARY KEY,
  workspace_id TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
  display_phone_number TEXT,
  waba_id TEXT
);
CREATE INDEX phone_numbers_workspace ON phone_numbers (workspace_id);

CREATE TABLE connector_settings (
  workspace_id TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
  connector_id TEXT NOT NULL,
  enabled INTEGER NOT NULL,
  -- Comma-wrapped list of event types the connector mirrors (',message.inbound,consent.changed,'),
  -- so fan-out is one INSERT ... SELECT without asking the registry.
  events TEXT NOT NULL,
  config TEXT NOT NULL,
  secrets TEXT,
  updated_at INTEGER NOT NULL,
  PRIMARY KEY (workspace_id, connector_id)
);

CREATE TABLE contacts (
  id TEXT PRIMARY KEY,
  workspace_id TEXT NOT NULL,
  wa_id TEXT,
  bsuid TEXT,
  parent_bsuid TEXT,
  username TEXT,
  profile_name TEXT,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
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
  last_inbound_at INTEGER,
  created_at INTEGER NOT NULL,
  erased_at INTEGER,
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
  ts INTEGER NOT NULL,
  text TEXT,
  content TEXT NOT NULL,
  state TEXT,
  error TEXT,
  sender TEXT,
  relates_to TEXT,
  created_at INTEGER NOT NULL
);
CREATE INDEX messages_conversation ON messages (conversation_id, ts);

CREATE TABLE message_statuses (
  id TEXT PRIMARY KEY,
  workspace_id TEXT NOT NULL,
  wamid TEXT NOT NULL,
  message_id TEXT,
  status TEXT NOT NULL,
  ts INTEGER NOT NULL,
  error TEXT,
  raw TEXT NOT NULL,
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
  occurred_at INTEGER NOT NULL,
  recorded_at INTEGER NOT NULL,
  details TEXT NOT NULL
);
CREATE INDEX consent_ledger_contact ON consent_ledger (workspace_id, contact_id, occurred_at);

CREATE TABLE consent_state (
  workspace_id TEXT NOT NULL,
  contact_id TEXT NOT NULL,
  category TEXT NOT NULL,
  state TEXT NOT NULL,
  source TEXT NOT NULL,
  at INTEGER NOT NULL,
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
  templates TEXT NOT NULL,
  message_id TEXT,
  created_at INTEGER NOT NULL
);

CREATE TABLE command_keys (
  workspace_id TEXT NOT NULL,
  source TEXT NOT NULL,
  key TEXT NOT NULL,
  -- What the command produced (e.g. the outbound message id), so a retry can answer the same.
  result TEXT,
  created_at INTEGER NOT NULL,
  PRIMARY KEY (workspace_id, source, key)
);

CREATE TABLE external_refs (
  workspace_id TEXT NOT NULL,
  connector_id TEXT NOT NULL,
  kind TEXT NOT NULL,
  entity_id TEXT NOT NULL,
  external_id TEXT NOT NULL,
  data TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  PRIMARY KEY (workspace_id, connector_id, kind, entity_id)
);
CREATE INDEX external_refs_external ON external_refs (workspace_id, connector_id, kind, external_id);

CREATE TABLE jobs (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  workspace_id TEXT NOT NULL,
  connector_id TEXT NOT NULL,
  conversation_id TEXT NOT NULL,
  event_type TEXT NOT NULL,
  entity_id TEXT NOT NULL,
  sort_ts INTEGER NOT NULL,
  state TEXT NOT NULL DEFAULT 'ready',
  attempts INTEGER NOT NULL DEFAULT 0,
  run_at INTEGER NOT NULL,
  lease_token TEXT,
  lease_until INTEGER,
  locked_by TEXT,
  last_error TEXT,
  created_at INTEGER NOT NULL
);
-- One queue per (connector, conversation), ordered by (sort_ts, id); also serves batch claims.
-- Jobs are only fanned out when their entity is first stored, so no unique index guards against
-- duplicates here: each index costs every ingest (a unique one on random ids about 8 µs).
CREATE INDEX jobs_queue ON jobs (connector_id, conversation_id, sort_ts, id);
CREATE INDEX jobs_ready ON jobs (state, run_at);

CREATE TABLE dead_jobs (
  id INTEGER PRIMARY KEY,
  workspace_id TEXT NOT NULL,
  connector_id TEXT NOT NULL,
  conversation_id TEXT NOT NULL,
  event_type TEXT NOT NULL,
  entity_id TEXT NOT NULL,
  sort_ts INTEGER NOT NULL,
  attempts INTEGER NOT NULL,
  reason TEXT NOT NULL,
  failed_at INTEGER NOT NULL,
  created_at INTEGER NOT NULL
);

CREATE TABLE unrouted_events (
  id TEXT PRIMARY KEY,
  phone_number_id TEXT,
  field TEXT NOT NULL,
  payload TEXT NOT NULL,
  received_at INTEGER NOT NULL
);

CREATE TABLE platform_events (
  id TEXT PRIMARY KEY,
  workspace_id TEXT,
  field TEXT NOT NULL,
  payload TEXT NOT NULL,
  parse_issues TEXT NOT NULL,
  received_at INTEGER NOT NULL
);

CREATE TABLE connector_state (
  workspace_id TEXT NOT NULL,
  connector_id TEXT NOT NULL,
  key TEXT NOT NULL,
  value TEXT NOT NULL,
  updated_at INTEGER NOT NULL,
  PRIMARY KEY (workspace_id, connector_id, key)
);

CREATE TABLE leases (name TEXT PRIMARY KEY, holder TEXT NOT NULL, until INTEGER NOT NULL);

CREATE TABLE audit_log (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  at INTEGER NOT NULL,
  actor TEXT NOT NULL,
  action TEXT NOT NULL,
  workspace_id TEXT,
  details TEXT NOT NULL
);
`,
  },
  {
    // The last inbound time is read from the messages now (CONVERSATION_COLUMNS in index.ts).
    version: 2,
    name: 'conversations: last inbound time from the messages',
    sql: 'ALTER TABLE conversations DROP COLUMN last_inbound_at;',
  },
  {
    // The jobs a message fans out (one per connector) sit in its conversation's range, on one page
    // while the conversation's queues are short (the worker keeps them so): ingest dirties one
    // random page of this index per message instead of one per job. Claims walk it by workspace
    // and conversation (see claimJobs and claimBatch in index.ts).
    version: 3,
    name: 'jobs queue index by workspace and conversation first',
    sql: `
DROP INDEX jobs_queue;
CREATE INDEX jobs_queue ON jobs (workspace_id, conversation_id, connector_id, sort_ts, id);
`,
  },
  {
    // Ingest appends what it fans out here, one row per event in arrival order with the
    // connectors it goes to, and claims move the rows into `jobs`, one job per connector (see
    // admitNewJobs in index.ts). A webhook's commit then dirties no random page of `jobs_queue`
    // (nor of `jobs_ready`), and writes one narrow row instead of a row per connector.
    version: 4,
    name: 'new jobs arrive in jobs_new',
    sql: `
CREATE TABLE jobs_new (
  id INTEGER PRIMARY KEY,
  workspace_id TEXT NOT NULL,
  -- JSON array of connector ids, one job each, fixed when the event is stored.
  connectors TEXT NOT NULL,
  conversation_id TEXT NOT NULL,
  event_type TEXT NOT NULL,
  entity_id TEXT NOT NULL,
  sort_ts INTEGER NOT NULL,
  run_at INTEGER NOT NULL,
  created_at INTEGER NOT NULL
);
`,
  },
  {
    // `wabridge replay --unrouted` re-ingests a kept change once a workspace owns its number. The
    // row stays (what Meta sent, and when it was routed where, is part of the record), but leaves
    // the pending list, so a replay pages through what is left and the status counts it.
    version: 5,
    name: 'unrouted events remember where they were routed',
    sql: `
ALTER TABLE unrouted_events ADD COLUMN routed_at INTEGER;
ALTER TABLE unrouted_events ADD COLUMN routed_to TEXT;
CREATE INDEX unrouted_pending ON unrouted_events (received_at, id) WHERE routed_at IS NULL;
`,
  },
  {
    // Platform events said where they came from only inside their content id; `wabridge events`
    // lists them per workspace or across all, newest first.
    version: 6,
    name: 'platform events keep their WABA and entry time',
    sql: `
ALTER TABLE platform_events ADD COLUMN waba_id TEXT;
ALTER TABLE platform_events ADD COLUMN entry_time INTEGER;
CREATE INDEX platform_events_by_time ON platform_events (received_at, id);
CREATE INDEX platform_events_by_workspace ON platform_events (workspace_id, received_at, id);
`,
  },
  {
    // `wabridge status` and `/healthz?verbose` say per workspace and connector when a delivery last
    // worked and last failed, and why. Written in the transactions that settle jobs (a success at
    // most once a second per connector), so the hot path gains no commit. Jobs waiting to retry
    // are the only ones with a last error: a partial index counts them without touching the rest.
    version: 7,
    name: 'connector health',
    sql: `
CREATE TABLE connector_health (
  workspace_id TEXT NOT NULL,
  connector_id TEXT NOT NULL,
  last_success_at INTEGER,
  last_error_at INTEGER,
  last_error TEXT,
  PRIMARY KEY (workspace_id, connector_id)
);
CREATE INDEX jobs_retrying ON jobs (workspace_id, connector_id) WHERE last_error IS NOT NULL;
`,
  },
  {
    // Edits and revokes are messages of their own that change an earlier one (`relates_to`); a
    // mirror shows the message as its latest revision, read through this index. It is partial, so
    // the other messages (nearly all of them) cost ingest nothing here.
    // A contact or conversation merged into another after an identity change (a new number or
    // BSUID seen before WhatsApp announced the change) keeps its row and says where it went.
    version: 8,
    name: 'message revisions; merged contacts and conversations',
    sql: `
CREATE INDEX messages_revisions ON messages (relates_to) WHERE type IN ('edit', 'revoke');
ALTER TABLE contacts ADD COLUMN merged_into TEXT;
ALTER TABLE conversations ADD COLUMN merged_into TEXT;
`,
  },
  {
    // A claim skips a queue while one of its jobs runs on a live lease, even when that job no
    // longer heads it (an older message arrived meanwhile: see IN_FLIGHT_IN_QUEUE in index.ts).
    // Only the jobs in flight are in this index, so each such check is one seek, however long the
    // backlog.
    version: 9,
    name: 'jobs in flight by queue',
    sql: `
CREATE INDEX jobs_running ON jobs (workspace_id, conversation_id, connector_id, lease_until) WHERE state = 'running';
`,
  },
  {
    // The archive's verifiable log (issue 18, item 2; see archive.ts). Every archive record is a
    // row here and a leaf of its workspace's Merkle log, written in the transaction of the change
    // it records. Append-only: nothing updates or deletes these rows, and `wabridge archive verify`
    // detects anyone who does. Nodes are the complete subtrees of the log (src/archive/log).
    version: 10,
    name: 'archive records in a verifiable log',
    sql: `
CREATE TABLE archive_records (
  workspace_id TEXT NOT NULL,
  seq INTEGER NOT NULL,
  kind TEXT NOT NULL,
  entity_id TEXT NOT NULL,
  -- Canonical JSON (archive.ts: canonicalJson); its leaf hash is SHA-256(0x00 || record).
  record BLOB NOT NULL,
  recorded_at INTEGER NOT NULL,
  PRIMARY KEY (workspace_id, seq)
) WITHOUT ROWID;
CREATE TABLE archive_log_nodes (
  log_id TEXT NOT NULL,
  level INTEGER NOT NULL,
  idx INTEGER NOT NULL,
  hash BLOB NOT NULL,
  PRIMARY KEY (log_id, level, idx)
) WITHOUT ROWID;
CREATE TABLE archive_log_heads (log_id TEXT PRIMARY KEY, size INTEGER NOT NULL);
-- The signing key of each log: the private key encrypted with the master key.
CREATE TABLE archive_keys (
  log_id TEXT PRIMARY KEY,
  verifier_key TEXT NOT NULL,
  signer_key TEXT NOT NULL,
  created_at INTEGER NOT NULL
);
CREATE TABLE archive_checkpoints (
  log_id TEXT NOT NULL,
  size INTEGER NOT NULL,
  note TEXT NOT NULL,
  signed_at INTEGER NOT NULL,
  PRIMARY KEY (log_id, size, signed_at)
);
`,
  },
  {
    // Status jobs by the status they show, so admission can find the queued statuses of a message
    // (from message_statuses by message) and drop those a newer one supersedes (see
    // coalesceStatuses in index.ts). Partial: the other jobs cost nothing here.
    version: 11,
    name: 'status jobs by status, for coalescing',
    sql: `
CREATE INDEX jobs_status ON jobs (entity_id) WHERE event_type = 'message.status';
-- Jobs dropped because a newer status of the same message superseded them, per connector (no
-- workspace data: nothing here to erase with a workspace).
CREATE TABLE jobs_coalesced (connector_id TEXT PRIMARY KEY, n INTEGER NOT NULL) WITHOUT ROWID;
`,
  },
  {
    // Encryption at rest and purgeable archive content (issue 18, item 3; see
    // packages/core/src/vault). A workspace's data keys (DEKs), wrapped by the master key: one
    // current (retired_at NULL), older ones kept to read what they sealed. The archive's content
    // apart from its records: a record commits to SHA-256(salt || content) and its content (salt
    // first) is here, sealed with a DEK, so purging content deletes a row and keeps the leaf.
    version: 12,
    name: 'data keys and sealed archive content',
    sql: `
CREATE TABLE data_keys (
  workspace_id TEXT NOT NULL,
  key_id TEXT NOT NULL,
  wrapped TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  retired_at INTEGER,
  PRIMARY KEY (workspace_id, key_id)
) WITHOUT ROWID;
CREATE UNIQUE INDEX data_keys_current ON data_keys (workspace_id) WHERE retired_at IS NULL;
CREATE TABLE archive_content (
  workspace_id TEXT NOT NULL,
  seq INTEGER NOT NULL,
  sealed BLOB NOT NULL,
  PRIMARY KEY (workspace_id, seq)
) WITHOUT ROWID;
-- The purge records, which \`archive verify\` reads first. Partial: ingest pays nothing for it (an
-- index of every record by entity cost each message a write at a random page).
CREATE INDEX archive_records_purges ON archive_records (workspace_id, seq) WHERE kind = 'purge';
`,
  },
  {
    // Governance of the archive (issue 18, items 4-6; see src/store/sqlite/governance). Legal
    // holds keep their history: a release is written on the row, never a delete. Retention rules
    // are per workspace and record kind. A message whose content a purge or an erasure removed
    // keeps its row (and its archive leaf) and says when. A restricted conversation (GDPR art. 18:
    // erasure asked while the law still requires keeping it) keeps its content, which no mirror
    // or read sees again. An erasure keeps its certificate, and each connector's confirmation
    // once its `conversation.erased` job completed.
    version: 13,
    name: 'legal holds, retention, erasure',
    sql: `
CREATE TABLE legal_holds (
  id TEXT PRIMARY KEY,
  workspace_id TEXT NOT NULL,
  scope TEXT NOT NULL,
  contact_id TEXT,
  conversation_id TEXT,
  range_from INTEGER,
  range_to INTEGER,
  reason TEXT NOT NULL,
  created_by TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  released_at INTEGER,
  released_by TEXT,
  release_reason TEXT
);
CREATE INDEX legal_holds_workspace ON legal_holds (workspace_id, created_at);
CREATE TABLE retention_rules (
  workspace_id TEXT NOT NULL,
  record_kind TEXT NOT NULL,
  keep_days INTEGER,
  after_last_message_days INTEGER,
  updated_by TEXT NOT NULL,
  updated_at INTEGER NOT NULL,
  PRIMARY KEY (workspace_id, record_kind)
);
ALTER TABLE messages ADD COLUMN purged_at INTEGER;
ALTER TABLE messages ADD COLUMN purged_by TEXT;
ALTER TABLE message_statuses ADD COLUMN purged_at INTEGER;
ALTER TABLE conversations ADD COLUMN restricted_at INTEGER;
CREATE TABLE erasures (
  id TEXT PRIMARY KEY,
  workspace_id TEXT NOT NULL,
  outcome TEXT NOT NULL,
  requested_by TEXT NOT NULL,
  requested_at INTEGER NOT NULL,
  certificate TEXT NOT NULL
);
CREATE TABLE erasure_confirmations (
  erasure_id TEXT NOT NULL,
  connector_id TEXT NOT NULL,
  conversation_id TEXT NOT NULL,
  workspace_id TEXT NOT NULL,
  confirmed_at INTEGER NOT NULL,
  PRIMARY KEY (erasure_id, connector_id, conversation_id)
) WITHOUT ROWID;
`,
  },
  {
    // Exports and proofs find an entity's archive record (a message, status, consent entry or
    // `audit:<id>`) by its id; without this they would scan the whole log (issue 18, items 7, 8).
    version: 14,
    name: 'archive records by entity',
    sql: 'CREATE INDEX archive_records_entity ON archive_records (workspace_id, entity_id);',
  },
  {
    // Admin accounts, their role grants per workspace, browser sessions, API tokens and the login
    // throttle (issue 19; see src/access). Session ids and API tokens are stored as SHA-256 hashes
    // only: a copy of this file signs no one in. Passwords are scrypt hashes with their salt and
    // parameters. Grants and tokens go with their workspace (deleteWorkspace).
    version: 15,
    name: 'admin accounts, grants, sessions, API tokens',
    sql: `
CREATE TABLE admin_accounts (
  id TEXT PRIMARY KEY,
  email TEXT NOT NULL UNIQUE,
  name TEXT NOT NULL,
  password_hash TEXT,
  owner INTEGER NOT NULL DEFAULT 0,
  created_at INTEGER NOT NULL,
  disabled_at INTEGER
);
CREATE TABLE admin_grants (
  account_id TEXT NOT NULL,
  workspace_id TEXT NOT NULL,
  role TEXT NOT NULL,
  granted_at INTEGER NOT NULL,
  PRIMARY KEY (account_id, workspace_id)
) WITHOUT ROWID;
CREATE INDEX admin_grants_workspace ON admin_grants (workspace_id);
CREATE TABLE admin_sessions (
  id_hash TEXT PRIMARY KEY,
  account_id TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  last_seen_at INTEGER NOT NULL,
  ip TEXT,
  user_agent TEXT
) WITHOUT ROWID;
CREATE INDEX admin_sessions_account ON admin_sessions (account_id);
CREATE TABLE api_tokens (
  id TEXT PRIMARY KEY,
  token_hash TEXT NOT NULL UNIQUE,
  name TEXT NOT NULL,
  workspace_id TEXT NOT NULL,
  role TEXT NOT NULL,
  created_by TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  last_used_at INTEGER,
  revoked_at INTEGER
);
CREATE INDEX api_tokens_workspace ON api_tokens (workspace_id);
CREATE TABLE admin_login_attempts (
  key TEXT PRIMARY KEY,
  failures INTEGER NOT NULL,
  last_at INTEGER NOT NULL
) WITHOUT ROWID;
`,
  },
  {
    // Meta apps registered besides the environment's default one, and each number's own
    // credentials (issue 20, item 4): the app whose secret signs its webhooks and the access token
    // its sends use. Secrets and tokens are SecretBox ciphertexts; they go with their workspace.
    version: 19,
    name: 'WhatsApp apps and per-number credentials',
    sql: `
CREATE TABLE whatsapp_apps (
  app_id TEXT PRIMARY KEY,
  name TEXT,
  secrets_enc TEXT NOT NULL,
  verify_token_enc TEXT,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE whatsapp_number_credentials (
  phone_number_id TEXT PRIMARY KEY,
  workspace_id TEXT NOT NULL,
  app_id TEXT NOT NULL,
  waba_id TEXT NOT NULL,
  access_token_enc TEXT NOT NULL,
  updated_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX whatsapp_number_credentials_workspace ON whatsapp_number_credentials (workspace_id);
CREATE INDEX whatsapp_number_credentials_app ON whatsapp_number_credentials (app_id);
`,
  },
  {
    // Agents' internal notes in mirrored threads, kept when the workspace's policy says so
    // (issue 18, item 1; policy `archiveInternalNotes`). One row per version: the note as first
    // written (\`action\` note), each edit, and its deletion (revoke). What a note says is never here:
    // it is archive content (sealed, committed to by the note's archive record, entity id = \`id\`);
    // this table only lets exports, retention and erasure find a conversation's notes, and an edit
    // or a deletion on the platform find the note it changes.
    version: 22,
    name: 'internal notes',
    sql: `
CREATE TABLE internal_notes (
  id TEXT PRIMARY KEY,
  workspace_id TEXT NOT NULL,
  conversation_id TEXT NOT NULL,
  connector_id TEXT NOT NULL,
  external_id TEXT NOT NULL,
  note_id TEXT NOT NULL,
  action TEXT NOT NULL,
  ts INTEGER NOT NULL,
  created_at INTEGER NOT NULL,
  purged_at INTEGER
) WITHOUT ROWID;
CREATE INDEX internal_notes_conversation ON internal_notes (conversation_id, ts);
CREATE INDEX internal_notes_external ON internal_notes (workspace_id, connector_id, external_id);
`,
  },
  {
    // The archive's tree keeps its leaves and its nodes of level 4 and up; a node of levels 1 to
    // 3 is computed from its (at most 8) stored leaves when read (archive.ts,
    // FIRST_STORED_INTERIOR_LEVEL). They were 7 of every 8 interior rows an append wrote. Older
    // stores drop theirs: every record written before still verifies against its leaf, the
    // stored levels above and the signed checkpoints.
    version: 23,
    name: 'archive tree without its levels 1 to 3',
    sql: 'DELETE FROM archive_log_nodes WHERE level BETWEEN 1 AND 3;',
  },
  {
    // A claim for some connectors reads the oldest ready jobs of those connectors only (jobs.ts,
    // readyWindowSql), each connector's in (run_at, id) order: the rowid ends every index entry.
    version: 24,
    name: 'ready jobs by connector',
    sql: "CREATE INDEX jobs_ready_connector ON jobs (connector_id, run_at) WHERE state = 'ready';",
  },
];
