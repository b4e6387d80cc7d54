import { WabridgeError } from '../../errors/index.ts';
import { CompactRange, coveringNodes } from './compact-range.ts';
import { assertCount, copyHash, type Hash, hashesEqual, isHash, leafHash } from './hash.ts';
import type { RangeProof, TreeHead } from './merkle-log.ts';

/** Where a stream of leaves and the trusted tree disagree, as precisely as the evidence allows. */
export interface LogDisagreement {
  /**
   * `leaf-mismatch`: one leaf differs from the stored tree's leaf at its index (or has none);
   * `root-mismatch`: the leaves since the last matching head do not give a trusted head's root;
   * `missing-leaves`: the stream ended before a trusted head's (or the stored tree's) size;
   * `unanchored-leaves`: leaves beyond the largest trusted head, which nothing proves.
   */
  readonly kind: 'leaf-mismatch' | 'root-mismatch' | 'missing-leaves' | 'unanchored-leaves';
  /** The first leaf that may be wrong. */
  readonly index: number;
  /** The disagreement lies in the leaves [index, end); end = index + 1 names one leaf. */
  readonly end: number;
  readonly message: string;
}

export type LeafStreamVerdict = {
  /** Leaves read from the stream (all of them when ok). */
  readonly leaves: number;
  /** The largest trusted head matched: leaves [0, verifiedSize) are proven. */
  readonly verifiedSize: number;
} & ({ readonly ok: true } | { readonly ok: false; readonly disagreement: LogDisagreement });

/**
 * Recomputes a log's root leaf by leaf in O(log n) memory and checks it against trusted tree heads
 * (from checkpoints opened with `openCheckpoint`) as the stream passes their sizes. A root only
 * says that something in its leaves changed: localising a change to one record needs a head per
 * few records (or the stored comparison of `verifyLeafStream`), so a log should sign often.
 */
export class LeafStreamVerifier {
  readonly #range: CompactRange;
  readonly #heads: TreeHead[];
  readonly #startIndex: number;
  #next = 0;
  #verifiedSize = 0;
  #failure: LogDisagreement | null = null;

  /**
   * @param heads trusted heads, in any order; none may be smaller than the start
   * @param start begin at leaf `index`, given the hashes covering [0, index) (`RangeProof.left`)
   */
  constructor(
    heads: readonly TreeHead[],
    start?: { readonly index: number; readonly left: readonly Hash[] },
  ) {
    for (const head of heads) {
      assertCount(head.size, 'a head size');
      if (!isHash(head.root)) throw new WabridgeError('bad_request', 'a head root must be a 32-byte hash');
    }
    this.#startIndex = start?.index ?? 0;
    this.#range = start ? CompactRange.ofPrefix(start.index, start.left) : CompactRange.empty();
    this.#heads = [...heads].sort((a, b) => a.size - b.size);
    const early = this.#heads.find((head) => head.size < this.#startIndex);
    if (early) {
      throw new WabridgeError(
        'bad_request',
        `a head of size ${early.size} precedes the start ${this.#startIndex}`,
      );
    }
    this.#checkHeads();
  }

  /** The index the next leaf must have. */
  get size(): number {
    return this.#range.size;
  }

  get failure(): LogDisagreement | null {
    return this.#failure;
  }

  /** Adds the next leaf hash; returns the disagreement once one is found (then ignores more leaves). */
  push(leaf: Hash): LogDisagreement | null {
    if (this.#failure) return this.#failure;
    this.#range.append(leaf);
    this.#next++;
    return this.#checkHeads();
  }

  /** Records a disagreement found outside the tree arithmetic (the stored comparison). */
  fail(disagreement: LogDisagreement): LogDisagreement {
    this.#failure ??= disagreement;
    return this.#failure;
  }

  /**
   * The verdict once the stream has ended: heads beyond its end mean leaves are missing; leaves
   * beyond the last head fail too, unless `unanchored` is 'allow' (a live log's newest leaves,
   * not yet in a checkpoint; they are then counted in `leaves` but not in `verifiedSize`).
   */
  finish(unanchored: 'fail' | 'allow' = 'fail'): LeafStreamVerdict {
    const missing = this.#heads[0];
    if (!this.#failure && missing) {
      this.#failure = {
        kind: 'missing-leaves',
        index: this.#range.size,
        end: missing.size,
        message: `the log ends at ${this.#range.size} leaves, and a trusted checkpoint covers ${missing.size}`,
      };
    }
    const proven = Math.max(this.#verifiedSize, this.#startIndex);
    if (!this.#failure && unanchored === 'fail' && this.#range.size > proven) {
      this.#failure = {
        kind: 'unanchored-leaves',
        index: proven,
        end: this.#range.size,
        message: `the leaves [${proven}, ${this.#range.size}) are beyond every trusted checkpoint`,
      };
    }
    const counts = { leaves: this.#next, verifiedSize: this.#verifiedSize };
    return this.#failure ? { ...counts, ok: false, disagreement: this.#failure } : { ...counts, ok: true };
  }

  /**
   * The root of the larger tree these leaves belong to, given the hashes covering what follows
   * them (`RangeProof.right` for a tree of `size` leaves).
   */
  rootWith(right: readonly Hash[], size: number): Hash {
    const nodes = coveringNodes(this.#range.size, size);
    if (nodes.length !== right.length || !right.every(isHash)) {
      throw new WabridgeError('bad_request', `the range proof's right part needs ${nodes.length} hashes`);
    }
    const range = this.#range.clone();
    nodes.forEach((node, i) => {
      range.appendSubtree(node.level, right[i] as Hash);
    });
    return range.root();
  }

  #checkHeads(): LogDisagreement | null {
    while (this.#heads[0] && this.#heads[0].size === this.#range.size) {
      const head = this.#heads.shift() as TreeHead;
      if (!hashesEqual(this.#range.root(), head.root)) {
        const from = Math.max(this.#verifiedSize, this.#startIndex);
        this.#failure = {
          kind: 'root-mismatch',
          index: from,
          end: head.size,
          message:
            head.size - from === 1
              ? `leaf ${from} does not give the root of the trusted tree of ${head.size}`
              : `the leaves [${from}, ${head.size}) do not give the root of the trusted tree of ${head.size}`,
        };
        return this.#failure;
      }
      this.#verifiedSize = head.size;
    }
    return null;
  }
}

/** Where the stored tree's own leaf hashes come from, e.g. a `MerkleLog`. */
export interface StoredLeaves {
  readonly size: number;
  leafHashes(start: number, count: number): Promise<Hash[]>;
}

export interface LeafStreamOptions {
  /** Trusted heads, from checkpoints opened with `openCheckpoint`. */
  readonly heads: readonly TreeHead[];
  /** What the source yields: record bytes (hashed as leaves; the default) or leaf hashes. */
  readonly input?: 'records' | 'leaf-hashes';
  /** Start at leaf `index` rather than 0, given `RangeProof.left` for it. */
  readonly start?: { readonly index: number; readonly left: readonly Hash[] };
  /**
   * The stored tree. Each leaf is compared with the stored leaf at its index, which names the exact
   * record that was changed, inserted or reordered in place; a stream shorter than the stored tree
   * means records were deleted. The stored tree is not trusted: the heads are what prove.
   */
  readonly stored?: StoredLeaves;
  /** Leaves per stored read (default 4,096): memory stays bounded by this. */
  readonly batchSize?: number;
  /** Leaves beyond the largest head: a failure (the default) or allowed (see `finish`). */
  readonly unanchored?: 'fail' | 'allow';
}

/**
 * Verifies a log's leaves in order from any (async) iterable, in bounded memory, and reports the
 * first place it disagrees with the trusted heads or the stored tree. For `archive verify`.
 */
export async function verifyLeafStream(
  source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
  options: LeafStreamOptions,
): Promise<LeafStreamVerdict> {
  const verifier = new LeafStreamVerifier(options.heads, options.start);
  const hashOf = options.input === 'leaf-hashes' ? asLeafHash : leafHash;
  const batchSize = options.batchSize ?? 4096;
  const stored = options.stored;
  // A leaf hash of the wrong length (in an export) is null: it cannot match anything.
  let batch: Array<Hash | null> = [];

  const flush = async (): Promise<LogDisagreement | null> => {
    const first = verifier.size;
    const inStore = stored ? Math.max(0, Math.min(batch.length, stored.size - first)) : 0;
    const expected = stored && inStore > 0 ? await stored.leafHashes(first, inStore) : [];
    for (const [i, leaf] of batch.entries()) {
      const index = first + i;
      if (leaf === null) {
        return verifier.fail({
          kind: 'leaf-mismatch',
          index,
          end: index + 1,
          message: `leaf ${index} is not a 32-byte hash`,
        });
      }
      if (stored) {
        const want = expected[i];
        if (want === undefined) {
          return verifier.fail({
            kind: 'leaf-mismatch',
            index,
            end: index + 1,
            message: `leaf ${index} is not in the stored tree of ${stored.size} (a record was added)`,
          });
        }
        if (!hashesEqual(leaf, want)) {
          return verifier.fail({
            kind: 'leaf-mismatch',
            index,
            end: index + 1,
            message: `leaf ${index} differs from the stored tree's (the record, or the stored leaf, was changed, moved or replaced)`,
          });
        }
      }
      const failure = verifier.push(leaf);
      if (failure) return failure;
    }
    batch = [];
    return null;
  };

  for await (const item of source) {
    batch.push(hashOf(item));
    if (batch.length >= batchSize && (await flush())) return verifier.finish(options.unanchored);
  }
  if (batch.length > 0 && (await flush())) return verifier.finish(options.unanchored);
  if (stored && verifier.size < stored.size) {
    verifier.fail({
      kind: 'missing-leaves',
      index: verifier.size,
      end: stored.size,
      message: `the log ends at ${verifier.size} leaves, and the stored tree has ${stored.size} (records were deleted)`,
    });
  }
  return verifier.finish(options.unanchored);
}

export interface RangeCheck {
  /** The index of the first leaf in the stream. */
  readonly start: number;
  /** The trusted head of the tree the range belongs to. */
  readonly head: TreeHead;
  readonly proof: RangeProof;
  readonly input?: 'records' | 'leaf-hashes';
}

export type RangeVerdict = { ok: true; leaves: number } | { ok: false; leaves: number; reason: string };

/**
 * Verifies that the leaves streamed are the leaves [start, start + count) of the tree of a trusted
 * head, with a proof from `MerkleLog.rangeProof`: a part of the log (an export, a day) is checked
 * against a checkpoint without reading the rest. A failure cannot say which leaf is wrong.
 */
export async function verifyRange(
  source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
  check: RangeCheck,
): Promise<RangeVerdict> {
  const hashOf = check.input === 'leaf-hashes' ? asLeafHash : leafHash;
  if (!Number.isSafeInteger(check.start) || check.start < 0 || check.start > check.head.size) {
    return { ok: false, leaves: 0, reason: `leaf ${check.start} is not in the tree of ${check.head.size}` };
  }
  let verifier: LeafStreamVerifier;
  try {
    verifier = new LeafStreamVerifier([], { index: check.start, left: check.proof.left });
  } catch (error) {
    return { ok: false, leaves: 0, reason: error instanceof Error ? error.message : String(error) };
  }
  let leaves = 0;
  for await (const item of source) {
    if (check.start + leaves >= check.head.size) {
      return {
        ok: false,
        leaves,
        reason: `more leaves than the tree of ${check.head.size} has after ${check.start}`,
      };
    }
    const leaf = hashOf(item);
    if (leaf === null)
      return { ok: false, leaves, reason: `leaf ${check.start + leaves} is not a 32-byte hash` };
    verifier.push(leaf);
    leaves++;
  }
  let root: Hash;
  try {
    root = verifier.rootWith(check.proof.right, check.head.size);
  } catch (error) {
    return { ok: false, leaves, reason: error instanceof Error ? error.message : String(error) };
  }
  if (!hashesEqual(root, check.head.root)) {
    return {
      ok: false,
      leaves,
      reason: `the leaves [${check.start}, ${check.start + leaves}) and the proof do not give the trusted root of ${check.head.size}`,
    };
  }
  return { ok: true, leaves };
}

// Copied: a source may hand out one buffer, refilled for each leaf, and a batch holds many.
const asLeafHash = (value: Uint8Array): Hash | null => (isHash(value) ? copyHash(value) : null);
