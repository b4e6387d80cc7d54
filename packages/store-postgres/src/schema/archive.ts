import type { PgMigration } from '../migrate.ts';

/**
 * The archive's verifiable log (issue 18, item 2) and the workspaces' data keys (item 3). Every
 * archive record is a row and a leaf of its workspace's Merkle log, written in the transaction of
 * the change it records; append-only. Its content lives apart (archive_content), sealed with a
 * data key, so a purge deletes a row and keeps the leaf.
 */
export const archiveSchema: PgMigration = {
  version: 6,
  name: 'archive log, sealed content, data keys',
  sql: `
CREATE TABLE archive_records (
  workspace_id TEXT NOT NULL,
  seq BIGINT NOT NULL,
  kind TEXT NOT NULL,
  entity_id TEXT NOT NULL,
  -- Canonical JSON (core: canonicalJson); its leaf hash is SHA-256(0x00 || record).
  record BYTEA NOT NULL,
  recorded_at BIGINT NOT NULL,
  PRIMARY KEY (workspace_id, seq)
);
-- The purge records, which archive verify reads first; partial, so ingest pays nothing for it.
CREATE INDEX archive_records_purges ON archive_records (workspace_id, seq) WHERE kind = 'purge';
-- Exports and proofs find an entity's record by its id.
CREATE INDEX archive_records_entity ON archive_records (workspace_id, entity_id);

CREATE TABLE archive_log_nodes (
  log_id TEXT NOT NULL,
  level INTEGER NOT NULL,
  idx BIGINT NOT NULL,
  hash BYTEA NOT NULL,
  PRIMARY KEY (log_id, level, idx)
);
-- epoch: made with the head, so a log deleted with its workspace and begun again under the same id
-- is told apart from the old one at the same size (the appenders' cached edges are keyed by it).
CREATE TABLE archive_log_heads (
  log_id TEXT PRIMARY KEY,
  size BIGINT NOT NULL,
  epoch TEXT NOT NULL DEFAULT gen_random_uuid()::text
);
-- The signing key of each log: the private key encrypted with the master key.
CREATE TABLE archive_keys (
  log_id TEXT PRIMARY KEY,
  verifier_key TEXT NOT NULL,
  signer_key TEXT NOT NULL,
  created_at BIGINT NOT NULL
);
CREATE TABLE archive_checkpoints (
  log_id TEXT NOT NULL,
  size BIGINT NOT NULL,
  note TEXT NOT NULL,
  signed_at BIGINT NOT NULL,
  PRIMARY KEY (log_id, size, signed_at)
);
CREATE TABLE archive_content (
  workspace_id TEXT NOT NULL,
  seq BIGINT NOT NULL,
  sealed BYTEA NOT NULL,
  PRIMARY KEY (workspace_id, seq)
);

-- A workspace's data keys wrapped by the master key: one current (retired_at NULL), older ones
-- kept to open what they sealed. The partial unique index lets only one of two processes making
-- a first key commit it.
CREATE TABLE data_keys (
  workspace_id TEXT NOT NULL,
  key_id TEXT NOT NULL,
  wrapped TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  retired_at BIGINT,
  PRIMARY KEY (workspace_id, key_id)
);
CREATE UNIQUE INDEX data_keys_current ON data_keys (workspace_id) WHERE retired_at IS NULL;
`,
};
