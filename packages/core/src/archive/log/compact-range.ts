import { WabridgeError } from '../../errors/index.ts';
import { copyHash, emptyRoot, type Hash, isHash, nodeHash } from './hash.ts';

/** A node of the tree: level 0 holds the leaf hashes; node (l, i) covers leaves [i·2^l, (i+1)·2^l). */
export interface NodeId {
  readonly level: number;
  readonly index: number;
}

export interface StoredNode extends NodeId {
  readonly hash: Hash;
}

/**
 * The perfect subtrees that cover leaves [start, end), left to right, each as large as its
 * alignment allows. For a prefix [0, n) they are one subtree per set bit of n, largest first, and
 * MTH(D[n]) is their fold from the right: H(a, H(b, H(c, d))). It is the same for every range the
 * RFC's recursion splits a tree into, which is how proofs are built from stored nodes alone.
 */
export function coveringNodes(start: number, end: number): NodeId[] {
  const nodes: NodeId[] = [];
  let at = start;
  while (at < end) {
    let width = 1;
    let level = 0;
    while (at % (width * 2) === 0 && at + width * 2 <= end) {
      width *= 2;
      level++;
    }
    nodes.push({ level, index: at / width });
    at += width;
  }
  return nodes;
}

/** Folds the hashes of `coveringNodes` of an RFC range into its Merkle Tree Hash. */
export function foldRight(hashes: readonly Hash[]): Hash {
  let root = hashes[hashes.length - 1];
  if (root === undefined) return emptyRoot();
  if (hashes.length === 1) return copyHash(root);
  for (let i = hashes.length - 2; i >= 0; i--) root = nodeHash(hashes[i] as Hash, root);
  return root;
}

/**
 * The right edge of a growing tree of leaves [0, size): the roots of its perfect subtrees, one per
 * set bit of size (a "compact range", O(log n) hashes). Appending a leaf merges equal subtrees like
 * a binary counter carries, and reports every node it completes, so a log can store them; the root
 * of the tree is the fold of the subtrees. It is how the log appends without reading anything and
 * how a verifier recomputes a root from millions of leaves in a few kilobytes.
 */
export class CompactRange {
  #size: number;
  // Parallel stacks, largest (leftmost) subtree first.
  readonly #hashes: Hash[];
  readonly #levels: number[];

  private constructor(size: number, hashes: Hash[], levels: number[]) {
    this.#size = size;
    this.#hashes = hashes;
    this.#levels = levels;
  }

  static empty(): CompactRange {
    return new CompactRange(0, [], []);
  }

  /** The range of [0, size) from the hashes of `coveringNodes(0, size)`, e.g. a range proof's left part. */
  static ofPrefix(size: number, hashes: readonly Hash[]): CompactRange {
    const nodes = coveringNodes(0, size);
    if (nodes.length !== hashes.length || !hashes.every(isHash)) {
      throw new WabridgeError(
        'bad_request',
        `the tree of ${size} leaves has ${nodes.length} subtrees, and ${hashes.length} hashes were given`,
      );
    }
    return new CompactRange(
      size,
      hashes.map(copyHash),
      nodes.map((n) => n.level),
    );
  }

  get size(): number {
    return this.#size;
  }

  /** The hashes of `coveringNodes(0, size)`, largest subtree first (copies). */
  get hashes(): Hash[] {
    return this.#hashes.map(copyHash);
  }

  /** Appends one leaf hash; `onNode` receives the leaf and every interior node it completes. */
  append(leaf: Hash, onNode?: (level: number, index: number, hash: Hash) => void): void {
    this.appendSubtree(0, leaf, onNode);
  }

  /**
   * Appends the root of a perfect subtree of 2^level leaves; the range must end on a multiple of
   * 2^level (the subtree is aligned). This is how a range proof's right part is added.
   */
  appendSubtree(
    level: number,
    hash: Hash,
    onNode?: (level: number, index: number, hash: Hash) => void,
  ): void {
    const width = 2 ** level;
    const lowest = this.#levels[this.#levels.length - 1];
    if (this.#size % width !== 0 || (lowest !== undefined && lowest < level)) {
      throw new WabridgeError(
        'bad_request',
        `a subtree of 2^${level} leaves cannot start at leaf ${this.#size}`,
      );
    }
    const start = this.#size;
    // A copy: the caller may reuse its buffer (a driver's row buffer) for the next leaf.
    let h = copyHash(hash);
    let l = level;
    onNode?.(l, start / width, h);
    while (this.#levels[this.#levels.length - 1] === l) {
      this.#levels.pop();
      h = nodeHash(this.#hashes.pop() as Hash, h);
      l++;
      onNode?.(l, Math.floor(start / 2 ** l), h);
    }
    this.#hashes.push(h);
    this.#levels.push(l);
    this.#size += width;
  }

  /** MTH(D[size]). */
  root(): Hash {
    return foldRight(this.#hashes);
  }

  clone(): CompactRange {
    return new CompactRange(this.#size, [...this.#hashes], [...this.#levels]);
  }
}
