import type { LogNodeStore } from '../../archive/log/node-store.ts';
import type { ArchiveReader, RawDataKey, StoredLogKey } from '../../archive/reader.ts';
import { WabridgeError } from '../../errors/index.ts';
import type { DataKeyring } from '../../vault/keyring.ts';
import { isStoredLevel, SqliteLogNodeStore } from './archive.ts';
import { readPurges } from './archive-purges.ts';
import {
  archiveLogSize,
  archiveSeqsOf,
  findContactId,
  messageIdsPage,
  readArchiveContent,
  readArchiveRecords,
  statusIdsOf,
} from './archive-reads.ts';
import type { RecordColumns } from './archive-record-form.ts';
import { type ScanPool, scanPool } from './archive-verify-pool.ts';
import type { SqliteDatabase } from './database.ts';
import { noteIdsOf } from './notes.ts';

/**
 * The archive's reads (and a log key's and a checkpoint's writes) on the SQLite file: the functions
 * of archive-reads.ts behind `ArchiveReader`. The data keys come from `keyring`, when given (it
 * needs the master key); without, content is not opened.
 */
export class SqliteArchiveReader implements ArchiveReader {
  readonly #db: SqliteDatabase;
  readonly #keyring: DataKeyring | null;

  constructor(db: SqliteDatabase, keyring: DataKeyring | null) {
    this.#db = db;
    this.#keyring = keyring;
  }

  async logSize(log: string): Promise<number> {
    return archiveLogSize(this.#db, log);
  }

  async hasLog(log: string): Promise<boolean> {
    const db = this.#db;
    return Boolean(
      db.get('SELECT 1 AS found FROM workspaces WHERE id = :id', { id: log }) ??
        db.get('SELECT 1 AS found FROM archive_log_heads WHERE log_id = :id', { id: log }),
    );
  }

  async recordPage(log: string, fromSeq: number, limit: number): Promise<RecordColumns[]> {
    return this.#db.allArrays(
      `SELECT seq, kind, entity_id, record, recorded_at FROM archive_records
       WHERE workspace_id = :log AND seq >= :from ORDER BY seq LIMIT :limit`,
      { log, from: fromSeq, limit },
    ) as RecordColumns[];
  }

  async recordName(log: string, seq: number) {
    const row = this.#db.get<{ kind: string; entity_id: string }>(
      'SELECT kind, entity_id FROM archive_records WHERE workspace_id = :log AND seq = :seq',
      { log, seq },
    );
    return row ? { kind: row.kind, entityId: row.entity_id } : null;
  }

  async purges(log: string) {
    return readPurges(this.#db, log);
  }

  async nodeRange(log: string, level: number, from: number, to: number): Promise<Uint8Array[]> {
    return placed(
      this.#db.allArrays(
        'SELECT idx, hash FROM archive_log_nodes WHERE log_id = :log AND level = :level AND idx >= :from AND idx <= :to',
        { log, level, from, to },
      ) as Array<[number, Uint8Array]>,
      from,
    );
  }

  async contentRange(log: string, from: number, to: number): Promise<Uint8Array[]> {
    return placed(
      this.#db.allArrays(
        'SELECT seq, sealed FROM archive_content WHERE workspace_id = :log AND seq >= :from AND seq <= :to',
        { log, from, to },
      ) as Array<[number, Uint8Array]>,
      from,
    );
  }

  async nodeCount(log: string): Promise<number> {
    return (
      this.#db.get<{ n: number }>('SELECT count(*) AS n FROM archive_log_nodes WHERE log_id = :log', { log })
        ?.n ?? 0
    );
  }

  isStoredLevel(level: number): boolean {
    return isStoredLevel(level);
  }

  nodeStore(log: string): LogNodeStore {
    return new SqliteLogNodeStore(this.#db, log);
  }

  /** Threads with a read-only connection each to the file; none for an in-memory store. */
  scanPool(log: string, keys: readonly RawDataKey[] | null, threads: number): ScanPool | null {
    return this.#db.path === ':memory:'
      ? null
      : scanPool(this.#db.path, log, keys ? [...keys] : null, threads);
  }

  async logKey(log: string): Promise<StoredLogKey | null> {
    const row = this.#db.get<{ verifier_key: string; signer_key: string }>(
      'SELECT verifier_key, signer_key FROM archive_keys WHERE log_id = :log',
      { log },
    );
    return row ? { verifierKey: row.verifier_key, signerKey: row.signer_key } : null;
  }

  async saveLogKey(log: string, key: StoredLogKey, at: number): Promise<void> {
    const db = this.#db;
    await db.write(() =>
      db.run(
        `INSERT INTO archive_keys (log_id, verifier_key, signer_key, created_at) VALUES (:log, :vkey, :skey, :at)
         ON CONFLICT (log_id) DO NOTHING`,
        { log, vkey: key.verifierKey, skey: key.signerKey, at },
      ),
    );
  }

  async checkpoints(log: string) {
    return this.#db.all<{ size: number; note: string }>(
      'SELECT size, note FROM archive_checkpoints WHERE log_id = :log ORDER BY size, signed_at',
      { log },
    );
  }

  async saveCheckpoint(log: string, checkpoint: { size: number; note: string; signedAt: number }) {
    const db = this.#db;
    await db.write(() =>
      db.run(
        'INSERT INTO archive_checkpoints (log_id, size, note, signed_at) VALUES (:log, :size, :note, :at) ON CONFLICT DO NOTHING',
        { log, size: checkpoint.size, note: checkpoint.note, at: checkpoint.signedAt },
      ),
    );
  }

  async dataKeys(log: string): Promise<RawDataKey[]> {
    return this.#keys().exportAll(log);
  }

  async records(log: string, query: Parameters<ArchiveReader['records']>[1]) {
    return readArchiveRecords(this.#db, log, query);
  }

  async contents(log: string, seqs: readonly number[]) {
    return readArchiveContent(this.#db, this.#keys(), log, seqs);
  }

  async seqsOf(log: string, entityIds: Iterable<string>) {
    return archiveSeqsOf(this.#db, log, entityIds);
  }

  async findContactId(workspaceId: string, numberOrBsuid: string) {
    return findContactId(this.#db, workspaceId, numberOrBsuid);
  }

  async messageIdsPage(
    workspaceId: string,
    conversationId: string,
    after: { ts: number; id: string } | null,
    limit: number,
  ) {
    return messageIdsPage(this.#db, workspaceId, conversationId, after, limit);
  }

  async statusIdsOf(workspaceId: string, messageIds: readonly string[]) {
    return statusIdsOf(this.#db, workspaceId, messageIds);
  }

  async noteIdsOf(workspaceId: string, conversationIds: readonly string[]) {
    return noteIdsOf(this.#db, workspaceId, conversationIds);
  }

  #keys(): DataKeyring {
    if (!this.#keyring) {
      throw new WabridgeError('config_invalid', "the archive's content needs the master key to open");
    }
    return this.#keyring;
  }
}

/** Rows of (index, blob) as an array placed by index less `from`. */
function placed(rows: Array<[number, Uint8Array]>, from: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (const [at, blob] of rows) out[at - from] = blob;
  return out;
}
