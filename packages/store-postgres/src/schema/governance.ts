import type { PgMigration } from '../migrate.ts';

/**
 * GovernanceStore's tables (issue 18, items 4-6): legal holds (a release is written on the row,
 * never a delete), retention rules per workspace and record kind, erasures with their
 * certificates and each connector's confirmation.
 */
export const governanceSchema: PgMigration = {
  version: 7,
  name: 'governance: legal holds, retention, erasure',
  sql: `
CREATE TABLE legal_holds (
  id TEXT PRIMARY KEY,
  workspace_id TEXT NOT NULL,
  scope TEXT NOT NULL,
  contact_id TEXT,
  conversation_id TEXT,
  range_from BIGINT,
  range_to BIGINT,
  reason TEXT NOT NULL,
  created_by TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  released_at BIGINT,
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
  updated_at BIGINT NOT NULL,
  PRIMARY KEY (workspace_id, record_kind)
);
CREATE TABLE erasures (
  id TEXT PRIMARY KEY,
  workspace_id TEXT NOT NULL,
  outcome TEXT NOT NULL,
  requested_by TEXT NOT NULL,
  requested_at BIGINT NOT NULL,
  certificate JSONB NOT NULL
);
CREATE TABLE erasure_confirmations (
  erasure_id TEXT NOT NULL,
  connector_id TEXT NOT NULL,
  conversation_id TEXT NOT NULL,
  workspace_id TEXT NOT NULL,
  confirmed_at BIGINT NOT NULL,
  PRIMARY KEY (erasure_id, connector_id, conversation_id)
);
`,
};
