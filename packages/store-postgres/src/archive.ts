import { type KeyObject, randomBytes, randomUUID } from 'node:crypto';
import {
  ARCHIVE_CONTENT_PURPOSE,
  ARCHIVE_RECORD_VERSION,
  type ArchiveKind,
  type ArchiveRecord,
  CompactRange,
  canonicalJson,
  contentHash,
  HASH_SIZE,
  type Hash,
  type LogCommit,
  type LogNodeStore,
  leafHash,
  type NodeId,
  type PurgeReason,
  type PurgeResult,
  toRanges,
  WabridgeError,
} from '@wabridge/core';
import type { PgDatabase, Queryable, Tx } from './database.ts';
import type { PgKeyring } from './keyring.ts';

// The archive's verifiable log on Postgres (issue 18, item 2), in the record form and RFC 9162
// hashing of the SQLite store's (core: store/sqlite/archive.ts): every record is a row of
// archive_records and a leaf of its workspace's Merkle log, appended in the transaction of the
// change it records.

/** Bytes of random salt before each record's content (as in the SQLite store). */
export const CONTENT_SALT_BYTES = 16;

/** A record's content, sealed and committed to ahead of its record (see `sealContent`). */
export interface SealedContent {
  readonly sealed: Buffer;
  /** `contentHash` of the salt and content: what the record commits to. */
  readonly hash: string;
}

/** One record to append (see `PgArchiveAppender.appendMany`). */
export interface ArchiveEntry {
  kind: ArchiveKind;
  entityId: string;
  /** What the record says in clear: ids, times, kinds, who; never message text. */
  data: unknown;
  at: number;
  content: SealedContent | null;
}

/**
 * A log's right edge as of a head state: (epoch, size, appendId) names one state forever (appendId
 * is made for each append: see schema/archive-append.ts).
 */
interface Edge {
  epoch: string;
  appendId: string | null;
  edge: CompactRange;
}

/** What a transaction's append is built on: a head state this process saw, or the guess of a new log. */
type Expected = Edge | { epoch: null; appendId: null; edge: CompactRange };

/**
 * Appends archive records inside the store's transactions. With N gateways on one database, the
 * appends to one log are serialised by its head row: the first append of a transaction locks it
 * (an upsert that makes it for a new log) until commit, so seqs stay gapless and each tree node is
 * written once. Other workspaces' logs are not held up.
 *
 * The right edge of each log (one hash per set bit of its size) is kept in memory as of this
 * process's last append to it, committed or not yet: an append is built on it, and the statement
 * that takes the lock checks the head is at that very state (its append id), so an edge of a
 * rolled back append, or one another process moved past, is never built on, only rebuilt from.
 */
export class PgArchiveAppender {
  readonly #keyring: PgKeyring;
  readonly #latest = new Map<string, Edge>();

  constructor(keyring: PgKeyring) {
    this.#keyring = keyring;
  }

  /**
   * A record's content sealed with the workspace's data key: salt, then canonical JSON, sealed
   * (purpose `archive.content`), and the salted hash the record commits to. A message's body is
   * stored as this same sealed value.
   */
  async sealContent(tx: Tx, workspaceId: string, content: unknown): Promise<SealedContent> {
    return this.sealContentWith(await this.#keyring.current(tx, workspaceId), workspaceId, content);
  }

  /** `sealContent` with a key the caller read (batch ingest, before its transaction). */
  sealContentWith(key: { id: string; key: KeyObject }, workspaceId: string, content: unknown): SealedContent {
    const saltAndContent = Buffer.concat([
      randomBytes(CONTENT_SALT_BYTES),
      Buffer.from(canonicalJson(content), 'utf8'),
    ]);
    return {
      hash: contentHash(saltAndContent),
      sealed: this.#keyring.seal(key, workspaceId, ARCHIVE_CONTENT_PURPOSE, saltAndContent),
    };
  }

  /** Appends one record to `workspaceId`'s log in `tx`; answers its seq. */
  async append(
    tx: Tx,
    workspaceId: string,
    kind: ArchiveKind,
    entityId: string,
    data: unknown,
    at: number,
    content: SealedContent | null,
  ): Promise<number> {
    const [seq] = await this.appendMany(tx, workspaceId, [{ kind, entityId, data, at, content }]);
    return seq as number;
  }

  /**
   * Appends records to `workspaceId`'s log in `tx`, in order; answers their seqs. One statement
   * however many records (`archive_append`, schema/archive-append.ts), which takes the log's head
   * lock and holds it to COMMIT: callers append last, just before committing (see fan-out.ts's
   * `flush`), so the lock is held for this round trip and the commit's.
   *
   * The records and nodes are built before the lock, on the edge of this process's last append
   * (whether that one has committed yet or not). When the head is elsewhere (another process
   * appended since, or that append rolled back), the statement writes nothing and answers the
   * head's edge (keeping the lock), and they are built again on it: one round trip more, under it.
   */
  async appendMany(
    tx: Tx,
    workspaceId: string,
    entries: readonly ArchiveEntry[],
    options: { thenCommit?: boolean } = {},
  ): Promise<number[]> {
    if (entries.length === 0) return [];
    const scratchKey = `archive-edge:${workspaceId}`;
    const mine = tx.scratch.get(scratchKey) as Edge | undefined;
    if (mine && options.thenCommit) {
      // The head is this transaction's (locked, at a state it read), so it cannot have moved: the
      // append goes with COMMIT behind it, and the lock is held for one round trip, not two. The
      // statement raises (ARCHIVE_HEAD_MOVED) rather than answer a moved head, so a COMMIT never
      // follows an append that wrote nothing.
      const appendId = randomUUID();
      const edge = mine.edge.clone();
      const batch = buildAppend(workspaceId, edge, entries);
      const head = await callAppend(tx, workspaceId, mine, appendId, batch, true);
      const state: Edge = { epoch: head.log_epoch, appendId, edge };
      this.#latest.set(workspaceId, { ...state, edge: edge.clone() });
      return batch.seqs;
    }
    // This transaction's own edge (its head locked already, by an append of it or by batch
    // ingest's statement: noteLockedHead), else this process's last append's (another batch's in
    // flight commits before this one gets the lock); a log this process never appended to is
    // guessed new (size 0, whatever its epoch).
    const expected: Expected = mine ??
      this.#latest.get(workspaceId) ?? { epoch: null, appendId: null, edge: CompactRange.empty() };
    const appendId = randomUUID();
    let edge = expected.edge.clone();
    let batch = buildAppend(workspaceId, edge, entries);
    let head = await callAppend(tx, workspaceId, expected, appendId, batch);
    if (!head.appended) {
      edge = CompactRange.ofPrefix(
        head.log_size,
        (head.edge ?? []).map((hash) => new Uint8Array(hash)),
      );
      batch = buildAppend(workspaceId, edge, entries);
      const locked = { epoch: head.log_epoch, appendId: head.log_append_id };
      head = await callAppend(tx, workspaceId, locked, appendId, batch);
      if (!head.appended) {
        throw new WabridgeError('internal', `the archive head of ${workspaceId} moved while locked`);
      }
    }
    const state: Edge = { epoch: head.log_epoch, appendId, edge };
    tx.scratch.set(scratchKey, state);
    this.#latest.set(workspaceId, { ...state, edge: edge.clone() });
    return batch.seqs;
  }

  /**
   * Notes that `tx` holds the lock of `workspaceId`'s log head, at this state (batch ingest's
   * statement took it: schema/ingest-batch.ts): the transaction's appends build on it, as on their
   * own. A head whose edge does not fit its size is left unused (the append then finds the head's
   * state by itself, as before).
   */
  noteLockedHead(
    tx: Tx,
    workspaceId: string,
    head: { size: number; epoch: string; appendId: string | null; edge: readonly Uint8Array[] },
  ): void {
    let edge: CompactRange;
    try {
      edge = CompactRange.ofPrefix(
        head.size,
        head.edge.map((hash) => new Uint8Array(hash)),
      );
    } catch {
      return;
    }
    const locked: Edge = { epoch: head.epoch, appendId: head.appendId, edge };
    tx.scratch.set(`archive-edge:${workspaceId}`, locked);
  }

  /**
   * Deletes the content (and its salt) of the given records and appends a `purge` record saying
   * which, who and why, in `tx`; the records and their leaves stay, so the log still verifies and
   * shows them as purged. Records without content, or purged already, are skipped; when none is
   * left, nothing is recorded. Holds and retention are the caller's to check.
   */
  async purge(
    tx: Tx,
    workspaceId: string,
    seqs: Iterable<number>,
    by: PurgeReason,
    at: number,
  ): Promise<PurgeResult> {
    if (!by.actor || !by.reason) {
      throw new WabridgeError('bad_request', 'a purge needs an actor and a reason');
    }
    const wanted = [...new Set(seqs)];
    for (const seq of wanted) {
      if (!Number.isSafeInteger(seq) || seq < 0) {
        throw new WabridgeError('bad_request', `${seq} is not an archive record's seq`);
      }
    }
    if (wanted.length === 0) return { purgeSeq: null, purged: [] };
    // Of two purges of the same records at once, each row is deleted (and counted) by one.
    const purged = (
      await tx.all<{ seq: number }>(
        'DELETE FROM archive_content WHERE workspace_id = $1 AND seq = ANY($2::bigint[]) RETURNING seq',
        [workspaceId, wanted],
      )
    )
      .map((r) => r.seq)
      .sort((a, b) => a - b);
    if (purged.length === 0) return { purgeSeq: null, purged };
    const purgeSeq = await this.append(
      tx,
      workspaceId,
      'purge',
      `purge:${purged[0]}-${purged[purged.length - 1]}@${at}`,
      {
        actor: by.actor,
        reason: by.reason,
        details: by.details ?? {},
        records: toRanges(purged),
        count: purged.length,
      },
      at,
      null,
    );
    return { purgeSeq, purged };
  }

  /** Forgets a log's cached edge (its workspace was deleted). */
  forget(log: string): void {
    this.#latest.delete(log);
  }
}

/** One append's rows, as the arrays `archive_append` takes. */
interface AppendBatch {
  seqs: number[];
  kinds: string[];
  entities: string[];
  records: Buffer[];
  ats: number[];
  contentSeqs: number[];
  sealed: Buffer[];
  levels: number[];
  indexes: number[];
  hashes: Buffer[];
}

/**
 * The records of `entries` as appended to `edge` (which it moves on): their canonical JSON (which
 * names each one's seq, so all of it depends on the size appended to), contents, and the leaves and
 * interior nodes they complete (one of those on average per record).
 */
function buildAppend(workspaceId: string, edge: CompactRange, entries: readonly ArchiveEntry[]): AppendBatch {
  const batch: AppendBatch = {
    seqs: [],
    kinds: [],
    entities: [],
    records: [],
    ats: [],
    contentSeqs: [],
    sealed: [],
    levels: [],
    indexes: [],
    hashes: [],
  };
  for (const entry of entries) {
    const seq = edge.size;
    // Keys in sorted order, so canonicalJson need not sort them; no content leaves content_hash
    // undefined, which canonicalJson leaves out.
    const record: ArchiveRecord = {
      content_hash: entry.content?.hash,
      data: entry.data,
      entity_id: entry.entityId,
      kind: entry.kind,
      recorded_at: entry.at,
      seq,
      v: ARCHIVE_RECORD_VERSION,
      workspace_id: workspaceId,
    };
    const bytes = Buffer.from(canonicalJson(record), 'utf8');
    batch.seqs.push(seq);
    batch.kinds.push(entry.kind);
    batch.entities.push(entry.entityId);
    batch.records.push(bytes);
    batch.ats.push(entry.at);
    if (entry.content) {
      batch.contentSeqs.push(seq);
      batch.sealed.push(entry.content.sealed);
    }
    edge.append(leafHash(bytes), (level, index, hash) => {
      batch.levels.push(level);
      batch.indexes.push(index);
      batch.hashes.push(Buffer.from(hash));
    });
  }
  return batch;
}

interface AppendAnswer {
  log_size: number;
  log_epoch: string;
  log_append_id: string | null;
  appended: boolean;
  /** The head's right edge when nothing was appended (see schema/archive-append.ts). */
  edge: Buffer[] | null;
}

/**
 * `archive_append` of `batch`, built on the head state `on` at its first seq, as append `appendId`.
 * `thenCommit`: as the transaction's last statement with its COMMIT behind it
 * (`archive_append_locked`, which raises where `archive_append` would answer a moved head).
 */
async function callAppend(
  tx: Tx,
  log: string,
  on: { epoch: string | null; appendId: string | null },
  appendId: string,
  b: AppendBatch,
  thenCommit = false,
): Promise<AppendAnswer> {
  const [answer] = await (thenCommit ? tx.allThenCommit : tx.all)<AppendAnswer>(
    `SELECT * FROM ${thenCommit ? 'archive_append_locked' : 'archive_append'}($1, $2, $3, $4, $5, $6::bigint[],
       $7::text[], $8::text[], $9::bytea[], $10::bigint[], $11::bigint[], $12::bytea[], $13::int[], $14::bigint[],
       $15::bytea[])`,
    [
      log,
      b.seqs[0],
      on.epoch,
      on.appendId,
      appendId,
      b.seqs,
      b.kinds,
      b.entities,
      b.records,
      b.ats,
      b.contentSeqs,
      b.sealed,
      b.levels,
      b.indexes,
      b.hashes,
    ],
  );
  if (!answer) throw new WabridgeError('internal', `the archive append to ${log} answered nothing`);
  return answer;
}

/** The stored nodes among `ids`, in one statement, keyed `level:index`. */
async function readNodeMap(q: Queryable, log: string, ids: readonly NodeId[]): Promise<Map<string, Hash>> {
  const found = new Map<string, Hash>();
  if (ids.length === 0) return found;
  const rows = await q.all<{ level: number; idx: number; hash: Buffer }>(
    `SELECT n.level, n.idx, n.hash FROM unnest($2::int[], $3::bigint[]) AS w(level, idx)
     JOIN archive_log_nodes n ON n.log_id = $1 AND n.level = w.level AND n.idx = w.idx`,
    [log, ids.map((id) => id.level), ids.map((id) => id.index)],
  );
  for (const row of rows) {
    if (row.hash.byteLength === HASH_SIZE) found.set(`${row.level}:${row.idx}`, new Uint8Array(row.hash));
  }
  return found;
}

/**
 * The `LogNodeStore` of one workspace's log in the store's tables, for `MerkleLog` (roots at past
 * sizes, proofs). The store's own appends go through `PgArchiveAppender`; `commit` takes the same
 * head lock, so the two never interleave.
 */
export class PgLogNodeStore implements LogNodeStore {
  readonly #db: PgDatabase;
  readonly #log: string;

  constructor(db: PgDatabase, log: string) {
    this.#db = db;
    this.#log = log;
  }

  async readSize(): Promise<number> {
    return (
      (
        await this.#db.get<{ size: number }>('SELECT size FROM archive_log_heads WHERE log_id = $1', [
          this.#log,
        ])
      )?.size ?? 0
    );
  }

  async readNodes(ids: readonly NodeId[]): Promise<Array<Hash | undefined>> {
    const found = await readNodeMap(this.#db, this.#log, ids);
    return ids.map(({ level, index }) => found.get(`${level}:${index}`));
  }

  commit({ fromSize, toSize, nodes }: LogCommit): Promise<boolean> {
    return this.#db.transaction(async (tx) => {
      const head = await tx.get<{ size: number }>(
        `INSERT INTO archive_log_heads (log_id, size) VALUES ($1, 0)
         ON CONFLICT (log_id) DO UPDATE SET size = archive_log_heads.size RETURNING size`,
        [this.#log],
      );
      if (head?.size !== fromSize) return false;
      // Plain INSERTs: a node written twice fails the primary key, and with it the whole commit.
      await tx.run(
        `INSERT INTO archive_log_nodes (log_id, level, idx, hash)
         SELECT $1, * FROM unnest($2::int[], $3::bigint[], $4::bytea[])`,
        [
          this.#log,
          nodes.map((n) => n.level),
          nodes.map((n) => n.index),
          nodes.map((n) => Buffer.from(n.hash)),
        ],
      );
      await tx.run('UPDATE archive_log_heads SET size = $2 WHERE log_id = $1', [this.#log, toSize]);
      return true;
    });
  }
}
