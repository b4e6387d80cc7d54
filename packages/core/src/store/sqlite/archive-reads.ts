import { WabridgeError } from '../../errors/index.ts';
import type { DataKeyring } from '../../vault/keyring.ts';
import { ARCHIVE_CONTENT_PURPOSE, type ArchiveRecordRow, CONTENT_SALT_BYTES } from './archive.ts';
import type { SqliteDatabase } from './database.ts';

// Reads of the archive for proofs, exports and the audit trail. Record bytes are read in ONE place,
// `readArchiveRecords`: when record content moves elsewhere (a vault of encrypted content, leaves
// that commit to a content hash), only that function changes. A record's content (sealed apart,
// committed to by its `content_hash`, purgeable) is read in one other place, `readArchiveContent`.
// Everything else here reads columns that hold no message content (ids, seqs, kinds, times).

/** One archive record as the log holds it: its place and its canonical bytes. */
export interface StoredArchiveRecord {
  readonly seq: number;
  readonly kind: string;
  readonly entityId: string;
  readonly recordedAt: number;
  readonly bytes: Uint8Array;
}

const toStored = (row: ArchiveRecordRow): StoredArchiveRecord => ({
  seq: row.seq,
  kind: row.kind,
  entityId: row.entity_id,
  recordedAt: row.recorded_at,
  bytes: new Uint8Array(row.record),
});

/**
 * The records of `log` at the given seqs (in seq order), or the page of records from `fromSeq`
 * (at most `limit`) when `seqs` is not given. The only reader of record bytes.
 */
export function readArchiveRecords(
  db: SqliteDatabase,
  log: string,
  query: { seqs: readonly number[] } | { fromSeq: number; limit: number; kinds?: readonly string[] },
): StoredArchiveRecord[] {
  const columns = 'workspace_id, seq, kind, entity_id, record, recorded_at';
  if ('seqs' in query) {
    // One statement per chunk of seqs (looked up in seq order), not one per record: an export
    // reads thousands of records spread over the log.
    const rows = new Map<number, ArchiveRecordRow>();
    for (const chunk of seqChunks(query.seqs)) {
      for (const row of db.all<ArchiveRecordRow>(
        `SELECT ${columns} FROM archive_records
         WHERE workspace_id = :log AND seq IN (SELECT value FROM json_each(:seqs))`,
        { log, seqs: JSON.stringify(chunk) },
      )) {
        rows.set(row.seq, row);
      }
    }
    return [...query.seqs]
      .sort((a, b) => a - b)
      .map((seq) => {
        const row = rows.get(seq);
        if (!row) throw new WabridgeError('not_found', `the archive of ${log} has no record ${seq}`);
        return toStored(row);
      });
  }
  const kinds = query.kinds ?? [];
  const kindFilter = kinds.length > 0 ? `AND kind IN (${kinds.map((_, i) => `:k${i}`).join(', ')})` : '';
  return db
    .all<ArchiveRecordRow>(
      `SELECT ${columns} FROM archive_records WHERE workspace_id = :log AND seq >= :from ${kindFilter}
       ORDER BY seq LIMIT :limit`,
      {
        log,
        from: query.fromSeq,
        limit: query.limit,
        ...Object.fromEntries(kinds.map((k, i) => [`k${i}`, k])),
      },
    )
    .map(toStored);
}

/** A record's content, opened: its salt and the content's canonical JSON (the bytes it was hashed as). */
export interface OpenedArchiveContent {
  readonly salt: Uint8Array;
  readonly content: string;
}

/**
 * The stored content of the records of `log` at these seqs, opened with the workspace's data key.
 * A record with no content, or whose content was purged, has no entry.
 */
export function readArchiveContent(
  db: SqliteDatabase,
  keyring: DataKeyring,
  log: string,
  seqs: readonly number[],
): Map<number, OpenedArchiveContent> {
  const out = new Map<number, OpenedArchiveContent>();
  for (const chunk of seqChunks(seqs)) {
    for (const row of db.all<{ seq: number; sealed: Uint8Array }>(
      `SELECT seq, sealed FROM archive_content
       WHERE workspace_id = :log AND seq IN (SELECT value FROM json_each(:seqs))`,
      { log, seqs: JSON.stringify(chunk) },
    )) {
      const opened = keyring.open(log, ARCHIVE_CONTENT_PURPOSE, row.sealed);
      out.set(row.seq, {
        salt: new Uint8Array(opened.subarray(0, CONTENT_SALT_BYTES)),
        content: opened.subarray(CONTENT_SALT_BYTES).toString('utf8'),
      });
    }
  }
  return out;
}

// Seqs in chunks of 10,000, each a JSON array for `IN (SELECT value FROM json_each(...))`: one
// statement per chunk bounds both the statement's parameter and the rows it answers at once.
function* seqChunks(seqs: readonly number[]): Generator<number[]> {
  for (let i = 0; i < seqs.length; i += 10_000) yield seqs.slice(i, i + 10_000);
}

/** The seq of the record of each entity (message, status, consent entry, `audit:<id>`), found by index. */
export function archiveSeqsOf(
  db: SqliteDatabase,
  log: string,
  entityIds: Iterable<string>,
): Map<string, number> {
  const out = new Map<string, number>();
  for (const entity of entityIds) {
    const row = db.get<{ seq: number }>(
      'SELECT seq FROM archive_records WHERE workspace_id = :log AND entity_id = :entity ORDER BY seq LIMIT 1',
      { log, entity },
    );
    if (row) out.set(entity, row.seq);
  }
  return out;
}

/**
 * The seqs of every record of these entities (message ids, status ids, consent entry ids), in log
 * order: what a purge by retention or erasure removes the content of. Found through the index by
 * entity (migration 14), so the cost follows the entities' records, not the log's size: SQLite's
 * planner, left to itself, walks the whole log by its primary key for this query's ORDER BY.
 */
export function archiveSeqsOfEntities(
  db: SqliteDatabase,
  log: string,
  entityIds: Iterable<string>,
): number[] {
  const ids = [...new Set(entityIds)];
  if (ids.length === 0) return [];
  return db
    .all<{ seq: number }>(
      `SELECT seq FROM archive_records INDEXED BY archive_records_entity
       WHERE workspace_id = :log AND entity_id IN (SELECT value FROM json_each(:ids)) ORDER BY seq`,
      { log, ids: JSON.stringify(ids) },
    )
    .map((row) => row.seq);
}

/** The number of records the log holds (its committed size). */
export function archiveLogSize(db: SqliteDatabase, log: string): number {
  return (
    db.get<{ size: number }>('SELECT size FROM archive_log_heads WHERE log_id = :log', { log })?.size ?? 0
  );
}

/** The stored verifier key of a log (public), if it has one. */
export function storedVerifierKey(db: SqliteDatabase, log: string): string | null {
  return (
    db.get<{ verifier_key: string }>('SELECT verifier_key FROM archive_keys WHERE log_id = :log', { log })
      ?.verifier_key ?? null
  );
}

/** A contact of the workspace by WhatsApp number (digits, `+` and spaces allowed) or BSUID. */
export function findContactId(db: SqliteDatabase, workspaceId: string, numberOrBsuid: string): string | null {
  const given = numberOrBsuid.trim();
  const digits = given.replace(/[\s()+-]/g, '');
  const row = /^\d+$/.test(digits)
    ? db.get<{ id: string }>('SELECT id FROM contacts WHERE workspace_id = :ws AND wa_id = :v', {
        ws: workspaceId,
        v: digits,
      })
    : db.get<{ id: string }>('SELECT id FROM contacts WHERE workspace_id = :ws AND bsuid = :v', {
        ws: workspaceId,
        v: given,
      });
  return row?.id ?? null;
}

/** Ids of a conversation's messages after `after` in (ts, id) order (index `messages_conversation`): a page. */
export function messageIdsPage(
  db: SqliteDatabase,
  workspaceId: string,
  conversationId: string,
  after: { ts: number; id: string } | null,
  limit: number,
): Array<{ id: string; ts: number }> {
  return db
    .all<{ id: string; ts: number }>(
      `SELECT id, ts FROM messages WHERE conversation_id = :c AND workspace_id = :ws
       AND (ts > :at OR (ts = :at AND id > :id)) ORDER BY ts, id LIMIT :limit`,
      {
        ws: workspaceId,
        c: conversationId,
        at: after?.ts ?? Number.MIN_SAFE_INTEGER,
        id: after?.id ?? '',
        limit,
      },
    )
    .map((r) => ({ id: r.id, ts: r.ts }));
}

/** Ids of the statuses recorded for these messages. */
export function statusIdsOf(
  db: SqliteDatabase,
  workspaceId: string,
  messageIds: readonly string[],
): string[] {
  const out: string[] = [];
  for (const id of messageIds) {
    for (const row of db.all<{ id: string }>(
      'SELECT id FROM message_statuses WHERE workspace_id = :ws AND message_id = :m',
      { ws: workspaceId, m: id },
    )) {
      out.push(row.id);
    }
  }
  return out;
}
