import type { PgMigration } from '../migrate.ts';

/**
 * An archive append in one statement (archive.ts, `PgArchiveAppender.appendMany`): the log's head
 * row is the lock that serialises appends to one log across processes, held from this statement
 * to COMMIT, so the fewer round trips after it the more appends a second a workspace takes.
 *
 * `archive_append` locks the head (made for a new log) and, when it is at the state the caller
 * built the records and tree nodes on, writes contents, records and nodes and moves the head on.
 * When it is not (another process appended since, or the append it was built on rolled back), it
 * writes nothing and answers the head's state and right edge (the hashes of
 * `coveringNodes(0, size)`, in that order), keeping the lock: the caller rebuilds on that edge and
 * calls again, and then the head cannot have moved. The hashing stays in TypeScript (core's
 * CompactRange and canonicalJson, as the SQLite store's), so both stores build the same log.
 *
 * A state is (size, epoch, append_id). `append_id` is made by the caller for each append, so a
 * process may build on its own append before that one commits (group commit's batches in flight
 * take turns on the head): if it rolls back, the head's append_id is not the one built on, and
 * no other append can reach that size with that id. At size 0 the edge is empty whatever the
 * rest, so nothing else is compared there. Heads moved by other writers (PgLogNodeStore.commit)
 * keep their append_id but not their size.
 */
export const archiveAppendSchema: PgMigration = {
  version: 11,
  name: 'archive append in one statement',
  sql: `
ALTER TABLE archive_log_heads ADD COLUMN append_id TEXT;

CREATE FUNCTION archive_append(
  p_log TEXT, p_size BIGINT, p_epoch TEXT, p_after TEXT, p_append_id TEXT,
  p_seqs BIGINT[], p_kinds TEXT[], p_entities TEXT[], p_records BYTEA[], p_ats BIGINT[],
  p_content_seqs BIGINT[], p_sealed BYTEA[],
  p_levels INTEGER[], p_idxs BIGINT[], p_hashes BYTEA[]
) RETURNS TABLE (log_size BIGINT, log_epoch TEXT, log_append_id TEXT, appended BOOLEAN, edge BYTEA[])
LANGUAGE plpgsql AS $fn$
DECLARE
  v_size BIGINT;
  v_epoch TEXT;
  v_append_id TEXT;
  v_edge BYTEA[] := '{}';
  v_hash BYTEA;
  v_at BIGINT := 0;
BEGIN
  INSERT INTO archive_log_heads AS h (log_id, size) VALUES (p_log, 0)
    ON CONFLICT (log_id) DO UPDATE SET size = h.size
    RETURNING h.size, h.epoch, h.append_id INTO v_size, v_epoch, v_append_id;
  IF v_size <> p_size
     OR (p_size > 0 AND (v_epoch IS DISTINCT FROM p_epoch OR v_append_id IS DISTINCT FROM p_after)) THEN
    FOR b IN REVERSE 62..0 LOOP
      IF (v_size >> b) & 1 = 1 THEN
        SELECT n.hash INTO v_hash FROM archive_log_nodes n
          WHERE n.log_id = p_log AND n.level = b AND n.idx = v_at >> b;
        IF NOT FOUND THEN
          RAISE EXCEPTION 'the archive log of % has no node (%, %) below its committed size', p_log, b, v_at >> b;
        END IF;
        v_edge := v_edge || v_hash;
        v_at := v_at + (1::BIGINT << b);
      END IF;
    END LOOP;
    RETURN QUERY SELECT v_size, v_epoch, v_append_id, false, v_edge;
    RETURN;
  END IF;
  IF p_seqs[1] IS DISTINCT FROM v_size THEN
    RAISE EXCEPTION 'the archive append to % starts at seq %, its head is at %', p_log, p_seqs[1], v_size;
  END IF;
  IF cardinality(p_content_seqs) > 0 THEN
    INSERT INTO archive_content (workspace_id, seq, sealed)
      SELECT p_log, c.seq, c.sealed FROM unnest(p_content_seqs, p_sealed) AS c(seq, sealed);
  END IF;
  INSERT INTO archive_records (workspace_id, seq, kind, entity_id, record, recorded_at)
    SELECT p_log, r.* FROM unnest(p_seqs, p_kinds, p_entities, p_records, p_ats) AS r;
  INSERT INTO archive_log_nodes (log_id, level, idx, hash)
    SELECT p_log, n.* FROM unnest(p_levels, p_idxs, p_hashes) AS n;
  v_size := v_size + cardinality(p_seqs);
  UPDATE archive_log_heads SET size = v_size, append_id = p_append_id WHERE log_id = p_log;
  RETURN QUERY SELECT v_size, v_epoch, p_append_id, true, NULL::BYTEA[];
END
$fn$;
`,
};
