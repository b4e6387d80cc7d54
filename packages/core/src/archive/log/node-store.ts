import { WabridgeError } from '../../errors/index.ts';
import type { NodeId, StoredNode } from './compact-range.ts';
import { HASH_SIZE, type Hash, hashesEqual, toHex } from './hash.ts';

/**
 * Where one log keeps its tree: the hash of every complete (perfect) subtree, keyed by
 * (level, index), and the committed tree size. Nodes are written once and never change, so reads
 * need no locking; `commit` is the only write and is atomic. Every call is batched and async, so
 * a SQLite or Postgres table can implement it in one statement or transaction per call:
 *
 *   CREATE TABLE archive_log_nodes (log_id TEXT, level INTEGER, idx INTEGER, hash BLOB NOT NULL,
 *                                   PRIMARY KEY (log_id, level, idx)) WITHOUT ROWID;
 *   CREATE TABLE archive_log_heads (log_id TEXT PRIMARY KEY, size INTEGER NOT NULL);
 *
 * An implementation is bound to one log (a workspace's), and must not let two logs share nodes.
 */
export interface LogNodeStore {
  /** The committed tree size: 0 for a log never appended to. */
  readSize(): Promise<number>;
  /** The hashes of the given nodes, in the same order; undefined for a node never written. */
  readNodes(ids: readonly NodeId[]): Promise<Array<Hash | undefined>>;
  /**
   * In one transaction: when the committed size is `fromSize`, writes `nodes` and sets the size to
   * `toSize`, and answers true; otherwise (another writer got there first) changes nothing and
   * answers false. Writing a node that exists with another hash must fail the whole commit.
   */
  commit(update: LogCommit): Promise<boolean>;
}

export interface LogCommit {
  readonly fromSize: number;
  readonly toSize: number;
  readonly nodes: readonly StoredNode[];
}

// Hashes of one level, in chunks of 65,536 (2 MiB), so ten million leaves (two levels' worth of
// ~320 MB) neither copy on growth nor cost an object per node.
const CHUNK = 65_536;

class Level {
  readonly chunks: Uint8Array[] = [];
  count = 0;

  get(index: number): Hash | undefined {
    if (index >= this.count) return undefined;
    const chunk = this.chunks[Math.floor(index / CHUNK)] as Uint8Array;
    const offset = (index % CHUNK) * HASH_SIZE;
    return chunk.slice(offset, offset + HASH_SIZE);
  }

  push(hash: Hash): void {
    const slot = this.count % CHUNK;
    if (slot === 0) this.chunks.push(new Uint8Array(CHUNK * HASH_SIZE));
    (this.chunks[this.chunks.length - 1] as Uint8Array).set(hash, slot * HASH_SIZE);
    this.count++;
  }
}

/**
 * A `LogNodeStore` in memory, for tests, benchmarks and trees built on the fly. It checks what a
 * database's primary key and transaction would: nodes are written once, in order, atomically.
 */
export class MemoryNodeStore implements LogNodeStore {
  #size = 0;
  readonly #levels: Level[] = [];
  /** Read calls and nodes read so far, for tests that count the work an operation takes. */
  readonly stats = { readCalls: 0, nodesRead: 0 };

  async readSize(): Promise<number> {
    return this.#size;
  }

  async readNodes(ids: readonly NodeId[]): Promise<Array<Hash | undefined>> {
    this.stats.readCalls++;
    this.stats.nodesRead += ids.length;
    return ids.map(({ level, index }) => this.#levels[level]?.get(index));
  }

  async commit({ fromSize, toSize, nodes }: LogCommit): Promise<boolean> {
    if (fromSize !== this.#size) return false;
    // Validate everything before writing anything: a failed commit leaves no partial state.
    const next = new Map<number, number>();
    const fresh: StoredNode[] = [];
    for (const node of nodes) {
      if (node.hash.byteLength !== HASH_SIZE) {
        throw new WabridgeError('internal', `node (${node.level}, ${node.index}) is not a 32-byte hash`);
      }
      const existing = this.#levels[node.level]?.get(node.index);
      if (existing !== undefined) {
        if (!hashesEqual(existing, node.hash)) {
          throw new WabridgeError(
            'internal',
            `node (${node.level}, ${node.index}) exists with hash ${toHex(existing)}; nodes are written once`,
          );
        }
        continue;
      }
      const expected = next.get(node.level) ?? this.#levels[node.level]?.count ?? 0;
      if (node.index !== expected) {
        throw new WabridgeError(
          'internal',
          `node (${node.level}, ${node.index}) written out of order: level ${node.level} holds ${expected} nodes`,
        );
      }
      next.set(node.level, expected + 1);
      fresh.push(node);
    }
    for (const node of fresh) {
      while (this.#levels.length <= node.level) this.#levels.push(new Level());
      (this.#levels[node.level] as Level).push(node.hash);
    }
    this.#size = toSize;
    return true;
  }
}
