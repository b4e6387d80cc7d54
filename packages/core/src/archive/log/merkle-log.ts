import { WabridgeError } from '../../errors/index.ts';
import { CompactRange, coveringNodes, foldRight, type NodeId, type StoredNode } from './compact-range.ts';
import { assertCount, type Hash, isHash, leafHash, splitPoint } from './hash.ts';
import type { LogNodeStore } from './node-store.ts';

/** A tree size and the root at that size: what a checkpoint signs. */
export interface TreeHead {
  readonly size: number;
  readonly root: Hash;
}

export interface AppendResult {
  /** The index the first appended leaf received; the others follow in order. */
  readonly firstIndex: number;
  /** The tree after the append. */
  readonly head: TreeHead;
}

/**
 * The nodes a range proof adds to the leaves [start, end) to recompute the root of a larger tree:
 * `left` covers [0, start), `right` covers [end, size), both as the hashes of `coveringNodes`.
 */
export interface RangeProof {
  readonly left: Hash[];
  readonly right: Hash[];
}

/**
 * An append-only Merkle log (RFC 9162 hashing) over a `LogNodeStore` that keeps every complete
 * subtree's hash. Appends read nothing (the right edge of the tree is held in memory) and write
 * about two nodes per leaf, in one commit per batch. The root at any past size and every proof are
 * built from O(log n) stored nodes fetched in a single read, never by rehashing leaves.
 *
 * @example
 *   const log = await MerkleLog.open(new MemoryNodeStore());
 *   await log.appendRecords([recordBytes]);
 *   const proof = await log.inclusionProof(0);
 */
export class MerkleLog {
  readonly #store: LogNodeStore;
  #edge: CompactRange;
  // Appends run one at a time: each starts from the edge the previous one left.
  #appending: Promise<unknown> = Promise.resolve();

  private constructor(store: LogNodeStore, edge: CompactRange) {
    this.#store = store;
    this.#edge = edge;
  }

  /** Opens the log kept in `store`, reading its size and the O(log n) nodes of its right edge. */
  static async open(store: LogNodeStore): Promise<MerkleLog> {
    return new MerkleLog(store, await loadEdge(store));
  }

  /** The number of leaves committed, as far as this instance knows. */
  get size(): number {
    return this.#edge.size;
  }

  /** The current size and root, from memory. */
  head(): TreeHead {
    return { size: this.#edge.size, root: this.#edge.root() };
  }

  /** Appends records (their leaf hashes are SHA-256(0x00 ‖ record)) in one commit. */
  appendRecords(records: readonly Uint8Array[]): Promise<AppendResult> {
    return this.append(records.map(leafHash));
  }

  /**
   * Appends leaf hashes in one commit. If another writer committed to the same store since this
   * instance last looked, nothing is written, the instance reloads, and a retryable `conflict` is
   * thrown: the caller appends again and gets the next indexes.
   */
  append(leaves: readonly Hash[]): Promise<AppendResult> {
    const run = this.#appending.then(() => this.#append(leaves));
    this.#appending = run.catch(() => {});
    return run;
  }

  async #append(leaves: readonly Hash[]): Promise<AppendResult> {
    if (!leaves.every(isHash)) throw new WabridgeError('bad_request', 'every leaf hash must be 32 bytes');
    const edge = this.#edge.clone();
    const nodes: StoredNode[] = [];
    const keep = (level: number, index: number, hash: Hash) => nodes.push({ level, index, hash });
    for (const leaf of leaves) edge.append(leaf, keep);
    const firstIndex = this.#edge.size;
    if (leaves.length > 0) {
      const committed = await this.#store.commit({ fromSize: firstIndex, toSize: edge.size, nodes });
      if (!committed) {
        this.#edge = await loadEdge(this.#store);
        throw new WabridgeError(
          'conflict',
          `the log grew to ${this.#edge.size} leaves elsewhere while ${firstIndex} were expected; append again`,
          { retryable: true },
        );
      }
      this.#edge = edge;
    }
    return { firstIndex, head: { size: edge.size, root: edge.root() } };
  }

  /** Re-reads the size and right edge, e.g. after another process appended. */
  async refresh(): Promise<void> {
    await this.#appending;
    this.#edge = await loadEdge(this.#store);
  }

  /** MTH of the first `size` leaves (default: all), from at most log2(size) stored nodes. */
  async root(size = this.size): Promise<Hash> {
    this.#checkSize(size);
    if (size === this.#edge.size) return this.#edge.root();
    return foldRight(await this.#read(coveringNodes(0, size)));
  }

  /** The leaf hashes [start, start + count), from the store. */
  async leafHashes(start: number, count: number): Promise<Hash[]> {
    assertCount(start, 'start');
    assertCount(count, 'count');
    this.#checkSize(start + count);
    return this.#read(Array.from({ length: count }, (_, i) => ({ level: 0, index: start + i })));
  }

  /** The audit path of leaf `index` in the tree of `size` leaves (RFC 9162 §2.1.3.1). */
  async inclusionProof(index: number, size = this.size): Promise<Hash[]> {
    this.#checkLeaf(index, size);
    return this.#hashRanges(auditRanges(index, size));
  }

  /**
   * The audit paths of many leaves in the tree of `size` leaves, in the order of `indexes`: what
   * `inclusionProof` answers for each, from ONE read of the distinct nodes they need, in key order.
   * Proofs against one tree share their upper levels, and the store walks its nodes in order rather
   * than seeking ~log2(size) random places per leaf (an export of 1,004 records out of 10 million:
   * 8,666 distinct nodes in one read, where one proof at a time read 33,549).
   */
  async inclusionProofs(indexes: readonly number[], size = this.size): Promise<Hash[][]> {
    for (const index of indexes) this.#checkLeaf(index, size);
    const paths = indexes.map((index) => auditRanges(index, size));
    // Each distinct range folded once, from its covering nodes, each distinct node read once.
    const ranges = new Map<string, { ids: NodeId[]; hash?: Hash }>();
    const nodes = new Map<string, NodeId>();
    for (const path of paths) {
      for (const [start, end] of path) {
        const key = `${start}:${end}`;
        if (ranges.has(key)) continue;
        const ids = coveringNodes(start, end);
        ranges.set(key, { ids });
        for (const id of ids) nodes.set(`${id.level}:${id.index}`, id);
      }
    }
    const ids = [...nodes.values()].sort((a, b) => a.level - b.level || a.index - b.index);
    const hashes = await this.#read(ids);
    const byNode = new Map(ids.map((id, i) => [`${id.level}:${id.index}`, hashes[i] as Hash]));
    const rangeHash = (start: number, end: number): Hash => {
      const range = ranges.get(`${start}:${end}`) as { ids: NodeId[]; hash?: Hash };
      range.hash ??= foldRight(range.ids.map((id) => byNode.get(`${id.level}:${id.index}`) as Hash));
      return range.hash;
    };
    return paths.map((path) => path.map(([start, end]) => rangeHash(start, end)));
  }

  /** The consistency proof between the trees of `oldSize` and `newSize` leaves (RFC 9162 §2.1.4.1). */
  async consistencyProof(oldSize: number, newSize = this.size): Promise<Hash[]> {
    assertCount(oldSize, 'oldSize');
    this.#checkSize(newSize);
    if (oldSize > newSize) {
      throw new WabridgeError('bad_request', `a tree of ${oldSize} is not a prefix of one of ${newSize}`);
    }
    if (oldSize === 0 || oldSize === newSize) return [];
    // SUBPROOF(m, D[n], true) walked from the top.
    const ranges: Array<[number, number]> = [];
    let start = 0;
    let end = newSize;
    let m = oldSize;
    let whole = true;
    while (m !== end - start) {
      const k = splitPoint(end - start);
      if (m <= k) {
        ranges.push([start + k, end]);
        end = start + k;
      } else {
        ranges.push([start, start + k]);
        start += k;
        m -= k;
        whole = false;
      }
    }
    // The old tree's last subtree, unless the old tree is itself a subtree the verifier knows.
    if (!whole) ranges.push([start, end]);
    return this.#hashRanges(ranges.reverse());
  }

  /**
   * The nodes that, with the leaves [start, end), recompute the root of the tree of `size` leaves
   * (see `verifyRange`): a way to check part of the log, such as one export, against a checkpoint.
   */
  async rangeProof(start: number, end: number, size = this.size): Promise<RangeProof> {
    assertCount(start, 'start');
    assertCount(end, 'end');
    this.#checkSize(size);
    if (start > end || end > size) {
      throw new WabridgeError('bad_request', `[${start}, ${end}) is not a range of a tree of ${size}`);
    }
    const left = coveringNodes(0, start);
    const right = coveringNodes(end, size);
    const hashes = await this.#read([...left, ...right]);
    return { left: hashes.slice(0, left.length), right: hashes.slice(left.length) };
  }

  #checkLeaf(index: number, size: number): void {
    assertCount(index, 'index');
    this.#checkSize(size);
    if (index >= size) {
      throw new WabridgeError('bad_request', `leaf ${index} is not in a tree of ${size} leaves`);
    }
  }

  #checkSize(size: number): void {
    assertCount(size, 'size');
    if (size > this.#edge.size) {
      throw new WabridgeError('bad_request', `the log has ${this.#edge.size} leaves, not ${size}`);
    }
  }

  // The Merkle Tree Hash of each range, from one batched read of their covering nodes.
  async #hashRanges(ranges: ReadonlyArray<readonly [number, number]>): Promise<Hash[]> {
    const groups = ranges.map(([start, end]) => coveringNodes(start, end));
    const hashes = await this.#read(groups.flat());
    let at = 0;
    return groups.map((group) => {
      at += group.length;
      return foldRight(hashes.slice(at - group.length, at));
    });
  }

  async #read(ids: readonly NodeId[]): Promise<Hash[]> {
    if (ids.length === 0) return [];
    return missingIsCorruption(ids, await this.#store.readNodes(ids));
  }
}

// The ranges whose hashes make the audit path of leaf `index` in a tree of `size` leaves, leaf
// upwards: PATH(m, D[n]) walked from the top, at each split the sibling range goes into the proof.
function auditRanges(index: number, size: number): Array<[number, number]> {
  const siblings: Array<[number, number]> = [];
  let start = 0;
  let end = size;
  while (end - start > 1) {
    const k = splitPoint(end - start);
    if (index < start + k) {
      siblings.push([start + k, end]);
      end = start + k;
    } else {
      siblings.push([start, start + k]);
      start += k;
    }
  }
  return siblings.reverse();
}

async function loadEdge(store: LogNodeStore): Promise<CompactRange> {
  const size = await store.readSize();
  assertCount(size, 'the stored size');
  const ids = coveringNodes(0, size);
  const hashes = ids.length === 0 ? [] : missingIsCorruption(ids, await store.readNodes(ids));
  return CompactRange.ofPrefix(size, hashes);
}

// Every node below the committed size was written by the commit that reached it: a gap is damage.
function missingIsCorruption(ids: readonly NodeId[], hashes: ReadonlyArray<Hash | undefined>): Hash[] {
  return ids.map((id, i) => {
    const hash = hashes[i];
    if (hash === undefined || !isHash(hash)) {
      throw new WabridgeError(
        'internal',
        `the log's store has no node (${id.level}, ${id.index}) below its committed size`,
        { details: { level: id.level, index: id.index } },
      );
    }
    return hash;
  });
}
