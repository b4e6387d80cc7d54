import { hash } from 'node:crypto';
import { CompactRange, coveringNodes, type NodeId } from '../../archive/log/compact-range.ts';
import { HASH_SIZE, type Hash, leafHash, nodeHash } from '../../archive/log/hash.ts';
import type { LogCommit, LogNodeStore } from '../../archive/log/node-store.ts';
import { WabridgeError } from '../../errors/index.ts';
import { type DataKeyring, freshRandom } from '../../vault/keyring.ts';
import type { PurgeReason, PurgeResult } from '../types.ts';
import type { SqliteDatabase } from './database.ts';

// The archive's verifiable log, kept in the store (issue 18, item 2): every archive record is a
// row of `archive_records` and a leaf of its workspace's Merkle log (RFC 9162 hashing, see
// src/archive/log/README.md), appended in the transaction that makes the change it records, so a
// change is never committed without its record, nor a record without its change.

/** What an archive record records. */
export const ARCHIVE_KINDS = [
  'message.inbound',
  'message.outbound',
  // An edit or a revoke: a new version of an earlier message, never an overwrite of it.
  'message.revision',
  'status',
  'consent',
  'admin',
  // The content of earlier records was purged (retention, erasure): who, why, which records.
  'purge',
  // An agent's internal note in a mirrored thread, or an edit or deletion of one, kept when the
  // workspace's policy says so (issue 18, item 1); marked `internal`, never sent.
  'note',
] as const;
export type ArchiveKind = (typeof ARCHIVE_KINDS)[number];

/** The log of admin acts that concern no workspace (a workspace id never starts with `_`). */
export const GLOBAL_ARCHIVE_LOG = '_global';

/**
 * The version of the canonical record form below; a new form gets a new number. Version 1 held
 * the content in the record itself; version 2 holds a commitment to it (`content_hash`).
 */
export const ARCHIVE_RECORD_VERSION = 2;

/** How archive content is named when sealed (bound as associated data). */
export const ARCHIVE_CONTENT_PURPOSE = 'archive.content';
/** Bytes of random salt before each record's content. */
export const CONTENT_SALT_BYTES = 16;

/**
 * The commitment a record makes to its content: SHA-256(salt || canonical JSON of the content),
 * hex. The salt is random per record and is deleted with the content, so a purged short text
 * ("yes", a phone number) cannot be found again by hashing guesses.
 */
export function contentHash(saltAndContent: Uint8Array): string {
  // One-shot: a Hash object with an update and a digest costs about twice as much per message.
  return hash('sha256', saltAndContent, 'hex');
}

/**
 * The canonical bytes of a value: JSON with object keys sorted (by UTF-16 code unit, as
 * Array.prototype.sort does), no whitespace, `undefined` members left out, UTF-8. Numbers are as
 * JSON.stringify writes them; non-finite numbers are refused (JSON has none).
 *
 * A value already in canonical order (every object plain, its keys sorted; every leaf a string,
 * finite number, boolean or null) is written by `JSON.stringify`, which then writes exactly these
 * bytes in a fraction of the time: the store builds its records with sorted keys, and every
 * message's record passes through here (7.0 → 2.1 µs for a message's record and its Buffer, in a
 * microbenchmark). Anything else is built by string concatenation, its keys sorted only when out
 * of order, each member again by the fast form when it qualifies (archive.test.ts checks both
 * against the reference form, the array-and-join one, which cost about twice the concatenation).
 */
export function canonicalJson(value: unknown): string {
  // `undefined` is a member's (left out, or null in an array), never a whole value's.
  if (value === undefined) return concatenatedJson(value);
  const ordered = inCanonicalOrder(value, 0);
  return ordered === UNFIT ? concatenatedJson(value) : JSON.stringify(ordered);
}

/** How deep `inCanonicalOrder` looks before it leaves a value to the concatenation. */
const MAX_CHECKED_DEPTH = 32;
/** What `inCanonicalOrder` answers for a value JSON.stringify cannot be trusted with. */
const UNFIT: unique symbol = Symbol('unfit');

/**
 * `value`, or a copy of it with its objects' keys put in sorted order, that `JSON.stringify`
 * writes as `value`'s canonical JSON; UNFIT when there is none. There is one when every object is
 * a plain one (no `toJSON`, no class: a Date, a Buffer or a boxed string has a form of its own
 * there) and every leaf is a string, a finite number, a boolean, null or an `undefined` member
 * (both forms leave an object's out and write an array's as null). JSON.stringify writes keys in
 * `Object.keys` order, where integer-like keys come first in numeric order (`{ 10: …, 9: … }`
 * lists "9" first): an object already in sorted order is taken as it is, one that is not is
 * copied in sorted order unless a key starts with a digit (left to the concatenation, which sorts
 * it). Meta's message objects are not in key order (`timestamp` before `text`), the store's
 * records are. Everything else, including what canonical JSON refuses, is left to the
 * concatenation, which sorts or refuses it.
 */
function inCanonicalOrder(value: unknown, depth: number): unknown {
  switch (typeof value) {
    case 'string':
    case 'boolean':
    case 'undefined':
      return value;
    case 'number':
      return Number.isFinite(value) ? value : UNFIT;
    case 'object': {
      if (value === null) return value;
      if (depth >= MAX_CHECKED_DEPTH) return UNFIT;
      if (typeof (value as { toJSON?: unknown }).toJSON === 'function') return UNFIT;
      if (Array.isArray(value)) {
        let copy: unknown[] | null = null;
        for (let i = 0; i < value.length; i++) {
          const member: unknown = value[i];
          const ordered = inCanonicalOrder(member, depth + 1);
          if (ordered === UNFIT) return UNFIT;
          if (ordered !== member && copy === null) copy = value.slice(0, i);
          if (copy !== null) copy.push(ordered);
        }
        return copy ?? value;
      }
      const prototype = Object.getPrototypeOf(value);
      if (prototype !== Object.prototype && prototype !== null) return UNFIT;
      const object = value as Record<string, unknown>;
      const keys = Object.keys(object);
      let sorted = true;
      for (let i = 1; i < keys.length; i++) {
        if ((keys[i - 1] as string) > (keys[i] as string)) {
          sorted = false;
          break;
        }
      }
      if (sorted) {
        // Taken as it is unless a member had to be copied.
        let copy: Record<string, unknown> | null = null;
        for (let i = 0; i < keys.length; i++) {
          const key = keys[i] as string;
          const member = object[key];
          const ordered = inCanonicalOrder(member, depth + 1);
          if (ordered === UNFIT) return UNFIT;
          if (ordered !== member && copy === null) {
            // A member named __proto__ would set the copy's prototype instead of a key.
            if (keys.includes('__proto__')) return UNFIT;
            copy = {};
            for (let j = 0; j < i; j++) copy[keys[j] as string] = object[keys[j] as string];
          }
          if (copy !== null) copy[key] = ordered;
        }
        return copy ?? value;
      }
      keys.sort();
      const copy: Record<string, unknown> = {};
      for (const key of keys) {
        const first = key.charCodeAt(0);
        // An integer-like key would be listed first in the copy too.
        if (first >= 48 && first <= 57) return UNFIT;
        // A member named __proto__ would set the copy's prototype instead of a key.
        if (key === '__proto__') return UNFIT;
        const ordered = inCanonicalOrder(object[key], depth + 1);
        if (ordered === UNFIT) return UNFIT;
        copy[key] = ordered;
      }
      return copy;
    }
    default:
      return UNFIT;
  }
}

/** canonicalJson by string concatenation, for values `inCanonicalOrder` does not take. */
function concatenatedJson(value: unknown): string {
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value);
    case 'boolean':
      return value ? 'true' : 'false';
    case 'number':
      if (!Number.isFinite(value))
        throw new WabridgeError('bad_request', `${value} has no canonical JSON form`);
      return JSON.stringify(value);
    case 'object': {
      if (value === null) return 'null';
      if (Array.isArray(value)) {
        let out = '[';
        for (let i = 0; i < value.length; i++) {
          const member: unknown = value[i];
          out += `${i === 0 ? '' : ','}${member === undefined ? 'null' : canonicalJson(member)}`;
        }
        return `${out}]`;
      }
      const keys = Object.keys(value);
      for (let i = 1; i < keys.length; i++) {
        if ((keys[i - 1] as string) > (keys[i] as string)) {
          keys.sort();
          break;
        }
      }
      let out = '{';
      for (const key of keys) {
        const member = (value as Record<string, unknown>)[key];
        if (member === undefined) continue;
        out += `${out.length === 1 ? '' : ','}${JSON.stringify(key)}:${canonicalJson(member)}`;
      }
      return `${out}}`;
    }
    default:
      throw new WabridgeError('bad_request', `a ${typeof value} has no canonical JSON form`);
  }
}

/** What a record's bytes say: the columns of its row too, so a row's columns cannot be relabelled. */
export interface ArchiveRecord {
  readonly v: number;
  readonly workspace_id: string;
  readonly seq: number;
  readonly kind: ArchiveKind;
  readonly entity_id: string;
  readonly recorded_at: number;
  /** What the record says in clear: ids, times, kinds, who; never message text. */
  readonly data: unknown;
  /** The commitment to its content (`contentHash`), when it has content; absent otherwise. */
  readonly content_hash?: string;
}

export type { PurgeReason, PurgeResult } from '../types.ts';

/** A record's content as `ArchiveAppender.sealContent` made it: the sealed bytes and the commitment. */
export interface SealedContent {
  /** Salt and canonical JSON of the content, sealed (purpose `ARCHIVE_CONTENT_PURPOSE`). */
  readonly sealed: Buffer;
  /** `contentHash` of the salt and content. */
  readonly hash: string;
}

/** A sealed content once opened (salt, then canonical JSON): the content as given. */
export function parseOpenedContent(opened: Uint8Array): unknown {
  return JSON.parse(
    Buffer.from(opened.buffer, opened.byteOffset, opened.byteLength).toString('utf8', CONTENT_SALT_BYTES),
  );
}

export interface ArchiveRecordRow {
  workspace_id: string;
  seq: number;
  kind: string;
  entity_id: string;
  record: Uint8Array;
  recorded_at: number;
}

const HEAD_SQL = 'SELECT size FROM archive_log_heads WHERE log_id = :log';

/**
 * The lowest interior level of the tree kept in `archive_log_nodes`. Leaves (level 0) are kept,
 * so `archive verify` names a changed record by its own leaf; levels 1 to 3 are not: each such
 * node is the hash of at most 8 stored leaves, computed from them when read (a proof's path, an
 * edge reloaded). Storing them was 7 of every 8 interior rows an append wrote (migration 23
 * deletes them from older stores); levels 4 and up (one row per 8 records) are kept, so a proof
 * or a reload never reads more than 8 leaves per node.
 */
export const FIRST_STORED_INTERIOR_LEVEL = 4;

/** Whether nodes of `level` are rows of `archive_log_nodes` (see FIRST_STORED_INTERIOR_LEVEL). */
export function isStoredLevel(level: number): boolean {
  return level === 0 || level >= FIRST_STORED_INTERIOR_LEVEL;
}

/** The rows `archive_log_nodes` holds for a log of `size` leaves: its complete stored-level nodes. */
export function storedNodeCount(size: number): number {
  let total = size;
  for (let level = FIRST_STORED_INTERIOR_LEVEL; 2 ** level <= size; level++) {
    total += Math.floor(size / 2 ** level);
  }
  return total;
}

const HEAD_UPSERT_SQL = `INSERT INTO archive_log_heads (log_id, size) VALUES (:log, :size)
  ON CONFLICT (log_id) DO UPDATE SET size = excluded.size`;

/**
 * Appends archive records inside the store's write transactions. The right edge of each log (one
 * hash per set bit of its size) is kept in memory, so an append writes the record, its leaf and,
 * for one record in 8, the stored interior nodes it completes (see FIRST_STORED_INTERIOR_LEVEL).
 * The head (the log's size) is read once per
 * transaction, to notice another writer or a rollback, and written once per transaction, just
 * before its COMMIT: a group commit of a hundred webhooks updated that one row a hundred times.
 * Nothing reads a head inside a write transaction (proofs, checkpoints and verify read between
 * transactions), and the head commits with the records or not at all.
 */
export class ArchiveAppender {
  readonly #db: SqliteDatabase;
  readonly #keyring: DataKeyring;
  readonly #edges = new Map<string, CompactRange>();
  /** The write transaction in which each log's head was last read (see `#edge`). */
  readonly #checkedIn = new Map<string, number>();
  /** Logs appended to in this transaction, whose head is written before it commits. */
  readonly #moved = new Set<string>();

  constructor(db: SqliteDatabase, keyring: DataKeyring) {
    this.#db = db;
    this.#keyring = keyring;
    db.onBeforeCommit(() => this.#writeHeads());
    // A rolled back transaction takes its appends with it: forget the edges it moved.
    db.onRollback(() => {
      this.#edges.clear();
      this.#checkedIn.clear();
      this.#moved.clear();
    });
  }

  #writeHeads(): void {
    for (const log of this.#moved) {
      const edge = this.#edges.get(log);
      if (edge) this.#db.run(HEAD_UPSERT_SQL, { log, size: edge.size });
    }
    this.#moved.clear();
  }

  /**
   * Appends one record to `workspaceId`'s log; call inside `db.write`. Answers its seq. `data` is
   * kept in clear in the record; `content` (message text, captions, cards), when given, is kept
   * apart, sealed with the workspace's data key, and the record commits to it by a salted hash.
   */
  append(
    workspaceId: string,
    kind: ArchiveKind,
    entityId: string,
    data: unknown,
    at: number,
    content?: unknown,
  ): number {
    const sealed = content === undefined ? null : this.sealContent(workspaceId, content);
    return this.appendSealed(workspaceId, kind, entityId, data, at, sealed);
  }

  /**
   * A record's content sealed and committed to ahead of its record (see `appendSealed`): the
   * store keeps a message's body as this same sealed value, one AES-GCM call for both copies.
   */
  sealContent(workspaceId: string, content: unknown): SealedContent {
    const saltAndContent = Buffer.concat([
      freshRandom(CONTENT_SALT_BYTES),
      Buffer.from(canonicalJson(content), 'utf8'),
    ]);
    return {
      hash: contentHash(saltAndContent),
      sealed: this.#keyring.seal(workspaceId, ARCHIVE_CONTENT_PURPOSE, saltAndContent),
    };
  }

  /** `append` with its content already sealed by `sealContent` (or none). */
  appendSealed(
    workspaceId: string,
    kind: ArchiveKind,
    entityId: string,
    data: unknown,
    at: number,
    content: SealedContent | null,
  ): number {
    const edge = this.#edge(workspaceId);
    const seq = edge.size;
    const sealed = content?.sealed ?? null;
    // Keys in sorted order, so canonicalJson need not sort them; no content leaves content_hash
    // undefined, which canonicalJson leaves out.
    const record: ArchiveRecord = {
      content_hash: content?.hash,
      data,
      entity_id: entityId,
      kind,
      recorded_at: at,
      seq,
      v: ARCHIVE_RECORD_VERSION,
      workspace_id: workspaceId,
    };
    const bytes = Buffer.from(canonicalJson(record), 'utf8');
    if (sealed) {
      this.#db.run('INSERT INTO archive_content (workspace_id, seq, sealed) VALUES (:ws, :seq, :sealed)', {
        ws: workspaceId,
        seq,
        sealed,
      });
    }
    this.#db.run(
      `INSERT INTO archive_records (workspace_id, seq, kind, entity_id, record, recorded_at)
       VALUES (:ws, :seq, :kind, :entity, :record, :at)`,
      { ws: workspaceId, seq, kind, entity: entityId, record: bytes, at },
    );
    edge.append(leafHash(bytes), (level, index, hash) => {
      if (!isStoredLevel(level)) return;
      this.#db.run(
        'INSERT INTO archive_log_nodes (log_id, level, idx, hash) VALUES (:log, :level, :idx, :hash)',
        {
          log: workspaceId,
          level,
          idx: index,
          hash,
        },
      );
    });
    this.#moved.add(workspaceId);
    return seq;
  }

  /**
   * Deletes the content (and its salt) of the given records and appends a `purge` record saying
   * which, who and why; the records and their leaves stay, so the log still verifies and shows
   * them as purged. Records without content, or already purged, are skipped; when none is left,
   * nothing is recorded. Call inside `db.write`. Holds and retention are the caller's to check.
   */
  purge(workspaceId: string, seqs: Iterable<number>, by: PurgeReason, at: number): PurgeResult {
    if (!by.actor || !by.reason) {
      throw new WabridgeError('bad_request', 'a purge needs an actor and a reason');
    }
    const purged: number[] = [];
    for (const seq of [...new Set(seqs)].sort((a, b) => a - b)) {
      if (!Number.isSafeInteger(seq) || seq < 0) {
        throw new WabridgeError('bad_request', `${seq} is not an archive record's seq`);
      }
      const deleted = this.#db.run('DELETE FROM archive_content WHERE workspace_id = :ws AND seq = :seq', {
        ws: workspaceId,
        seq,
      });
      if (deleted.changes > 0) purged.push(seq);
    }
    if (purged.length === 0) return { purgeSeq: null, purged };
    const purgeSeq = this.append(
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
    );
    return { purgeSeq, purged };
  }

  #edge(log: string): CompactRange {
    const cached = this.#edges.get(log);
    // Checked once per write transaction: within it no other connection can append, and a
    // rollback clears every edge.
    const transaction = this.#db.transactions;
    if (cached && this.#checkedIn.get(log) === transaction) return cached;
    const size = this.#db.get<{ size: number }>(HEAD_SQL, { log })?.size ?? 0;
    this.#checkedIn.set(log, transaction);
    // Another connection appended, or a rollback undid appends: reload from the stored nodes.
    if (cached && cached.size === size) return cached;
    const edge = CompactRange.ofPrefix(size, readNodesSync(this.#db, log, coveringNodes(0, size)));
    this.#edges.set(log, edge);
    return edge;
  }
}

function readNodesSync(db: SqliteDatabase, log: string, ids: readonly NodeId[]): Hash[] {
  const found = readLogNodes(db, log, ids);
  return ids.map(({ level, index }, i) => {
    const hash = found[i];
    if (!hash || hash.byteLength !== HASH_SIZE) {
      throw new WabridgeError(
        'internal',
        `the archive log of ${log} has no node (${level}, ${index}) below its committed size`,
      );
    }
    return hash;
  });
}

/**
 * The hashes of the given nodes of `log`, in the asked order (undefined for a node not complete):
 * stored ones read, the others (levels 1 to 3) folded from their stored leaves. One statement per
 * level, not per node: a batch of proofs (an export's) asks for thousands of nodes, and SQLite
 * looks up the IN list in index order, walking each level's pages forward.
 */
function readLogNodes(db: SqliteDatabase, log: string, ids: readonly NodeId[]): Array<Hash | undefined> {
  const byLevel = new Map<number, number[]>();
  const want = (level: number, index: number) => {
    const list = byLevel.get(level);
    if (list) list.push(index);
    else byLevel.set(level, [index]);
  };
  for (const { level, index } of ids) {
    if (isStoredLevel(level)) want(level, index);
    else for (let leaf = index * 2 ** level; leaf < (index + 1) * 2 ** level; leaf++) want(0, leaf);
  }
  const found = new Map<number, Map<number, Uint8Array>>();
  for (const [level, indexes] of byLevel) {
    const hashes = new Map<number, Uint8Array>();
    for (const [idx, hash] of db.allArrays(
      `SELECT idx, hash FROM archive_log_nodes WHERE log_id = :log AND level = :level
       AND idx IN (SELECT value FROM json_each(:idxs))`,
      { log, level, idxs: JSON.stringify(indexes) },
    ) as Array<[number, Uint8Array]>) {
      hashes.set(idx, new Uint8Array(hash));
    }
    found.set(level, hashes);
  }
  const leaves = found.get(0);
  return ids.map(({ level, index }) => {
    if (isStoredLevel(level)) return found.get(level)?.get(index);
    // A perfect subtree of 2^level leaves, folded pairwise level by level (RFC 9162's MTH).
    let row: Hash[] = [];
    for (let leaf = index * 2 ** level; leaf < (index + 1) * 2 ** level; leaf++) {
      const hash = leaves?.get(leaf);
      if (hash === undefined) return undefined;
      row.push(hash);
    }
    while (row.length > 1) {
      const next: Hash[] = [];
      for (let i = 0; i < row.length; i += 2) next.push(nodeHash(row[i] as Hash, row[i + 1] as Hash));
      row = next;
    }
    return row[0];
  });
}

/**
 * The `LogNodeStore` of one workspace's log in the store's tables, for `MerkleLog` (proofs, roots
 * at past sizes). The store's own appends go through `ArchiveAppender`, in its transactions; do not
 * also `commit` through this on a connection whose appender is in use (its edge would be stale).
 */
export class SqliteLogNodeStore implements LogNodeStore {
  readonly #db: SqliteDatabase;
  readonly #log: string;

  constructor(db: SqliteDatabase, log: string) {
    this.#db = db;
    this.#log = log;
  }

  async readSize(): Promise<number> {
    return this.#db.get<{ size: number }>(HEAD_SQL, { log: this.#log })?.size ?? 0;
  }

  async readNodes(ids: readonly NodeId[]): Promise<Array<Hash | undefined>> {
    return readLogNodes(this.#db, this.#log, ids);
  }

  commit({ fromSize, toSize, nodes }: LogCommit): Promise<boolean> {
    return this.#db.write(() => {
      const size = this.#db.get<{ size: number }>(HEAD_SQL, { log: this.#log })?.size ?? 0;
      if (size !== fromSize) return false;
      // Plain INSERTs: a node written twice fails the primary key, and with it the whole commit.
      for (const node of nodes) {
        // Levels 1 to 3 are computed from the leaves when read (see FIRST_STORED_INTERIOR_LEVEL).
        if (!isStoredLevel(node.level)) continue;
        this.#db.run(
          'INSERT INTO archive_log_nodes (log_id, level, idx, hash) VALUES (:log, :level, :idx, :hash)',
          {
            log: this.#log,
            level: node.level,
            idx: node.index,
            hash: node.hash,
          },
        );
      }
      this.#db.run(HEAD_UPSERT_SQL, { log: this.#log, size: toSize });
      return true;
    });
  }
}

/** Sorted seqs as inclusive ranges `[first, last]`: a purge of a long run stays one pair. */
export function toRanges(sorted: readonly number[]): Array<[number, number]> {
  const ranges: Array<[number, number]> = [];
  for (const seq of sorted) {
    const last = ranges[ranges.length - 1];
    if (last && last[1] + 1 === seq) last[1] = seq;
    else ranges.push([seq, seq]);
  }
  return ranges;
}
