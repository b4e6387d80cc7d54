import type { PgMigration } from '../migrate.ts';

/** The SQLSTATE `archive_append_locked` raises when the head is not at the state it was given. */
export const ARCHIVE_HEAD_MOVED = 'WBA01';

/**
 * `archive_append` for a transaction that holds its log's head already, at a state it read (batch
 * ingest's `ingest_plain` locked it and answered its edge): sent as the transaction's last
 * statement with COMMIT pipelined behind it (database.ts, `allThenCommit`), so the head is held for
 * one round trip instead of two (the append's answer, then COMMIT's). Where `archive_append` would
 * write nothing and answer the head's edge (the head is elsewhere: which the lock makes impossible
 * here), this one raises ARCHIVE_HEAD_MOVED: the error aborts the transaction and turns the COMMIT
 * behind it into a rollback, so a transaction never commits its rows without their records.
 */
export const archiveAppendLockedSchema: PgMigration = {
  version: 14,
  name: 'archive append that raises where the head moved, for a pipelined COMMIT',
  sql: `
CREATE FUNCTION archive_append_locked(
  p_log TEXT, p_size BIGINT, p_epoch TEXT, p_after TEXT, p_append_id TEXT,
  p_seqs BIGINT[], p_kinds TEXT[], p_entities TEXT[], p_records BYTEA[], p_ats BIGINT[],
  p_content_seqs BIGINT[], p_sealed BYTEA[],
  p_levels INTEGER[], p_idxs BIGINT[], p_hashes BYTEA[]
) RETURNS TABLE (log_size BIGINT, log_epoch TEXT, log_append_id TEXT, appended BOOLEAN, edge BYTEA[])
LANGUAGE plpgsql AS $fn$
DECLARE
  a RECORD;
BEGIN
  SELECT * INTO a FROM archive_append(p_log, p_size, p_epoch, p_after, p_append_id, p_seqs, p_kinds,
    p_entities, p_records, p_ats, p_content_seqs, p_sealed, p_levels, p_idxs, p_hashes);
  IF NOT a.appended THEN
    RAISE EXCEPTION 'the archive head of % is at size % epoch %, not where this transaction locked it (size %)',
      p_log, a.log_size, a.log_epoch, p_size USING ERRCODE = '${ARCHIVE_HEAD_MOVED}';
  END IF;
  RETURN QUERY SELECT a.log_size, a.log_epoch, a.log_append_id, a.appended, a.edge;
END
$fn$;
`,
};
