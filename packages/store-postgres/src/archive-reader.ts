import {
  ARCHIVE_CONTENT_PURPOSE,
  type ArchiveReader,
  type LogNodeStore,
  type OpenedArchiveContent,
  parsePurges,
  type RawDataKey,
  type RecordColumns,
  type StoredArchiveRecord,
  type StoredLogKey,
  WabridgeError,
} from '@wabridge/core';
import { CONTENT_SALT_BYTES, PgLogNodeStore } from './archive.ts';
import type { PgDatabase } from './database.ts';
import type { PgKeyring } from './keyring.ts';

// The archive's reads on Postgres, for core's `archive verify`, checkpoints and exports (the
// verifier, the signer and the exports are core's, over `ArchiveReader`). Every read is one
// indexed statement on the pool: a page of records is a range of the primary key from a seq on
// (keyset pagination), so a verify holds a page at a time however long the log is. The tables and
// their bytes are the SQLite store's (archive.ts appends them), so the same checks apply unchanged.

interface RecordRow {
  seq: number;
  kind: string;
  entity_id: string;
  record: Buffer;
  recorded_at: number;
}

const toStored = (row: RecordRow): StoredArchiveRecord => ({
  seq: row.seq,
  kind: row.kind,
  entityId: row.entity_id,
  recordedAt: row.recorded_at,
  bytes: new Uint8Array(row.record),
});

/** Seqs or ids in chunks of 10,000: one statement per chunk bounds its parameter and its answer. */
function* chunks<T>(items: readonly T[]): Generator<T[]> {
  for (let i = 0; i < items.length; i += 10_000) yield items.slice(i, i + 10_000);
}

/** Rows of (index, blob) as an array placed by index less `from`. */
function placed(rows: ReadonlyArray<{ at: number; blob: Buffer }>, from: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (const row of rows) out[row.at - from] = row.blob;
  return out;
}

export class PgArchiveReader implements ArchiveReader {
  readonly #db: PgDatabase;
  readonly #keyring: PgKeyring;

  constructor(db: PgDatabase, keyring: PgKeyring) {
    this.#db = db;
    this.#keyring = keyring;
  }

  async logSize(log: string): Promise<number> {
    return (
      (await this.#db.get<{ size: number }>('SELECT size FROM archive_log_heads WHERE log_id = $1', [log]))
        ?.size ?? 0
    );
  }

  async hasLog(log: string): Promise<boolean> {
    return (
      (await this.#db.get(
        `SELECT 1 AS found WHERE EXISTS (SELECT 1 FROM workspaces WHERE id = $1)
            OR EXISTS (SELECT 1 FROM archive_log_heads WHERE log_id = $1)`,
        [log],
      )) !== null
    );
  }

  async recordPage(log: string, fromSeq: number, limit: number): Promise<RecordColumns[]> {
    const rows = await this.#db.all<RecordRow>(
      `SELECT seq, kind, entity_id, record, recorded_at FROM archive_records
       WHERE workspace_id = $1 AND seq >= $2 ORDER BY seq LIMIT $3`,
      [log, fromSeq, limit],
    );
    return rows.map((r) => [r.seq, r.kind, r.entity_id, r.record, r.recorded_at]);
  }

  async recordName(log: string, seq: number) {
    const row = await this.#db.get<{ kind: string; entity_id: string }>(
      'SELECT kind, entity_id FROM archive_records WHERE workspace_id = $1 AND seq = $2',
      [log, seq],
    );
    return row ? { kind: row.kind, entityId: row.entity_id } : null;
  }

  async purges(log: string) {
    // Through the partial index of purge records: a few rows, however long the log.
    return parsePurges(
      await this.#db.all<{ seq: number; record: Buffer }>(
        `SELECT seq, record FROM archive_records WHERE workspace_id = $1 AND kind = 'purge' ORDER BY seq`,
        [log],
      ),
    );
  }

  async nodeRange(log: string, level: number, from: number, to: number): Promise<Uint8Array[]> {
    return placed(
      await this.#db.all<{ at: number; blob: Buffer }>(
        `SELECT idx AS at, hash AS blob FROM archive_log_nodes
         WHERE log_id = $1 AND level = $2 AND idx >= $3 AND idx <= $4`,
        [log, level, from, to],
      ),
      from,
    );
  }

  async contentRange(log: string, from: number, to: number): Promise<Uint8Array[]> {
    return placed(
      await this.#db.all<{ at: number; blob: Buffer }>(
        `SELECT seq AS at, sealed AS blob FROM archive_content
         WHERE workspace_id = $1 AND seq >= $2 AND seq <= $3`,
        [log, from, to],
      ),
      from,
    );
  }

  async nodeCount(log: string): Promise<number> {
    return (
      (
        await this.#db.get<{ n: number }>('SELECT count(*) AS n FROM archive_log_nodes WHERE log_id = $1', [
          log,
        ])
      )?.n ?? 0
    );
  }

  /** Postgres keeps every level of the tree (PgArchiveAppender writes each node an append completes). */
  isStoredLevel(): boolean {
    return true;
  }

  nodeStore(log: string): LogNodeStore {
    return new PgLogNodeStore(this.#db, log);
  }

  async logKey(log: string): Promise<StoredLogKey | null> {
    const row = await this.#db.get<{ verifier_key: string; signer_key: string }>(
      'SELECT verifier_key, signer_key FROM archive_keys WHERE log_id = $1',
      [log],
    );
    return row ? { verifierKey: row.verifier_key, signerKey: row.signer_key } : null;
  }

  async saveLogKey(log: string, key: StoredLogKey, at: number): Promise<void> {
    await this.#db.run(
      `INSERT INTO archive_keys (log_id, verifier_key, signer_key, created_at) VALUES ($1, $2, $3, $4)
       ON CONFLICT (log_id) DO NOTHING`,
      [log, key.verifierKey, key.signerKey, at],
    );
  }

  async checkpoints(log: string) {
    return this.#db.all<{ size: number; note: string }>(
      'SELECT size, note FROM archive_checkpoints WHERE log_id = $1 ORDER BY size, signed_at',
      [log],
    );
  }

  async saveCheckpoint(log: string, checkpoint: { size: number; note: string; signedAt: number }) {
    await this.#db.run(
      `INSERT INTO archive_checkpoints (log_id, size, note, signed_at) VALUES ($1, $2, $3, $4)
       ON CONFLICT DO NOTHING`,
      [log, checkpoint.size, checkpoint.note, checkpoint.signedAt],
    );
  }

  dataKeys(log: string): Promise<RawDataKey[]> {
    return this.#keyring.exportAll(this.#db, log);
  }

  async records(
    log: string,
    query: { seqs: readonly number[] } | { fromSeq: number; limit: number; kinds?: readonly string[] },
  ): Promise<StoredArchiveRecord[]> {
    const columns = 'seq, kind, entity_id, record, recorded_at';
    if ('seqs' in query) {
      const rows = new Map<number, RecordRow>();
      for (const chunk of chunks(query.seqs)) {
        for (const row of await this.#db.all<RecordRow>(
          `SELECT ${columns} FROM archive_records WHERE workspace_id = $1 AND seq = ANY($2::bigint[])`,
          [log, chunk],
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
    const rows = await this.#db.all<RecordRow>(
      `SELECT ${columns} FROM archive_records
       WHERE workspace_id = $1 AND seq >= $2 ${kinds.length > 0 ? 'AND kind = ANY($4::text[])' : ''}
       ORDER BY seq LIMIT $3`,
      kinds.length > 0 ? [log, query.fromSeq, query.limit, kinds] : [log, query.fromSeq, query.limit],
    );
    return rows.map(toStored);
  }

  async contents(log: string, seqs: readonly number[]): Promise<Map<number, OpenedArchiveContent>> {
    const out = new Map<number, OpenedArchiveContent>();
    for (const chunk of chunks(seqs)) {
      for (const row of await this.#db.all<{ seq: number; sealed: Buffer }>(
        'SELECT seq, sealed FROM archive_content WHERE workspace_id = $1 AND seq = ANY($2::bigint[])',
        [log, chunk],
      )) {
        const opened = await this.#keyring.open(this.#db, log, ARCHIVE_CONTENT_PURPOSE, row.sealed);
        out.set(row.seq, {
          salt: new Uint8Array(opened.subarray(0, CONTENT_SALT_BYTES)),
          content: opened.subarray(CONTENT_SALT_BYTES).toString('utf8'),
        });
      }
    }
    return out;
  }

  async seqsOf(log: string, entityIds: Iterable<string>): Promise<Map<string, number>> {
    const out = new Map<string, number>();
    for (const chunk of chunks([...new Set(entityIds)])) {
      for (const row of await this.#db.all<{ entity_id: string; seq: number }>(
        `SELECT DISTINCT ON (entity_id) entity_id, seq FROM archive_records
         WHERE workspace_id = $1 AND entity_id = ANY($2::text[]) ORDER BY entity_id, seq`,
        [log, chunk],
      )) {
        out.set(row.entity_id, row.seq);
      }
    }
    return out;
  }

  async findContactId(workspaceId: string, numberOrBsuid: string): Promise<string | null> {
    const given = numberOrBsuid.trim();
    const digits = given.replace(/[\s()+-]/g, '');
    const row = /^\d+$/.test(digits)
      ? await this.#db.get<{ id: string }>('SELECT id FROM contacts WHERE workspace_id = $1 AND wa_id = $2', [
          workspaceId,
          digits,
        ])
      : await this.#db.get<{ id: string }>('SELECT id FROM contacts WHERE workspace_id = $1 AND bsuid = $2', [
          workspaceId,
          given,
        ]);
    return row?.id ?? null;
  }

  async messageIdsPage(
    workspaceId: string,
    conversationId: string,
    after: { ts: number; id: string } | null,
    limit: number,
  ): Promise<Array<{ id: string; ts: number }>> {
    // (ts, id) > (after): a row comparison, which the index on (conversation_id, ts) serves.
    return this.#db.all<{ id: string; ts: number }>(
      `SELECT id, ts FROM messages WHERE conversation_id = $1 AND workspace_id = $2
       AND (ts, id) > ($3::bigint, $4::text) ORDER BY ts, id LIMIT $5`,
      [conversationId, workspaceId, after?.ts ?? Number.MIN_SAFE_INTEGER, after?.id ?? '', limit],
    );
  }

  async statusIdsOf(workspaceId: string, messageIds: readonly string[]): Promise<string[]> {
    const out: string[] = [];
    for (const chunk of chunks(messageIds)) {
      for (const row of await this.#db.all<{ id: string }>(
        `SELECT id FROM message_statuses WHERE workspace_id = $1 AND message_id = ANY($2::text[])
         ORDER BY message_id, ts, id`,
        [workspaceId, chunk],
      )) {
        out.push(row.id);
      }
    }
    return out;
  }

  async noteIdsOf(workspaceId: string, conversationIds: readonly string[]): Promise<string[]> {
    return (
      await this.#db.all<{ id: string }>(
        `SELECT id FROM internal_notes WHERE workspace_id = $1 AND conversation_id = ANY($2::text[])
         ORDER BY ts, id`,
        [workspaceId, [...conversationIds]],
      )
    ).map((r) => r.id);
  }
}
