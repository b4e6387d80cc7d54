import { type Hash, half, hashesEqual, isEmptyRoot, isHash, isOdd, isPowerOfTwo, nodeHash } from './hash.ts';

// The verification algorithms of RFC 9162 §2.1.3.2 and §2.1.4.2, step by step as the RFC numbers
// them (https://www.rfc-editor.org/rfc/rfc9162#section-2.1.3.2). They never throw on bad input: a
// proof from an untrusted source is data, and any defect in it is a failed verification.

/** The outcome of checking a proof: why it failed, when it did (for `archive verify` to print). */
export type ProofVerdict = { ok: true } | { ok: false; reason: string };

const pass: ProofVerdict = { ok: true };
const fail = (reason: string): ProofVerdict => ({ ok: false, reason });

const isCount = (n: number): boolean => Number.isSafeInteger(n) && n >= 0;

/**
 * Recomputes the root an inclusion proof leads to (§2.1.3.2 steps 1–5 without the comparison), or
 * null when the proof cannot belong to a leaf at `index` in a tree of `size` leaves.
 */
export function rootFromInclusionProof(
  index: number,
  size: number,
  leaf: Hash,
  proof: readonly Hash[],
): Hash | null {
  if (!isCount(index) || !isCount(size) || !isHash(leaf) || !proof.every(isHash)) return null;
  // 1. leaf_index must be smaller than tree_size.
  if (index >= size) return null;
  // 2. fn = leaf_index, sn = tree_size − 1.
  let fn = index;
  let sn = size - 1;
  // 3. r = hash.
  let r = leaf;
  // 4. For each p in inclusion_path:
  for (const p of proof) {
    // a. sn = 0 with elements left: the path is too long.
    if (sn === 0) return null;
    // b. The node is a right child, or the last node of its level (its sibling is to the left).
    if (isOdd(fn) || fn === sn) {
      r = nodeHash(p, r);
      // Climb past the levels where the node has no sibling (the ragged right edge).
      if (!isOdd(fn)) {
        while (!isOdd(fn) && fn !== 0) {
          fn = half(fn);
          sn = half(sn);
        }
      }
    } else {
      r = nodeHash(r, p);
    }
    // c.
    fn = half(fn);
    sn = half(sn);
  }
  // 5. sn must be 0: a path that stops early does not reach the root.
  return sn === 0 ? r : null;
}

/** Verifies that `leaf` is the leaf at `index` of the tree of `size` leaves whose root is `root`. */
export function verifyInclusion(
  index: number,
  size: number,
  leaf: Hash,
  proof: readonly Hash[],
  root: Hash,
): ProofVerdict {
  if (!isHash(root)) return fail('the root is not a 32-byte hash');
  const computed = rootFromInclusionProof(index, size, leaf, proof);
  if (computed === null) return fail(`the proof does not fit leaf ${index} of a tree of ${size}`);
  return hashesEqual(computed, root)
    ? pass
    : fail(`the proof of leaf ${index} leads to another root than the tree of ${size}'s`);
}

/**
 * Verifies that the tree of `secondSize` leaves with root `secondRoot` extends the tree of
 * `firstSize` leaves with root `firstRoot` (it holds the same first leaves, in the same order).
 *
 * The RFC defines the algorithm for 0 < first < second. For the other cases, as the CT verifiers
 * do: equal sizes are consistent only with an empty proof and equal roots; the empty tree is
 * consistent with any tree, with an empty proof, provided its root is really the empty tree's.
 */
export function verifyConsistency(
  firstSize: number,
  secondSize: number,
  firstRoot: Hash,
  secondRoot: Hash,
  proof: readonly Hash[],
): ProofVerdict {
  if (!isCount(firstSize) || !isCount(secondSize)) return fail('tree sizes must be whole numbers');
  if (!isHash(firstRoot) || !isHash(secondRoot) || !proof.every(isHash)) {
    return fail('roots and proof elements must be 32-byte hashes');
  }
  if (firstSize > secondSize)
    return fail(`a tree of ${firstSize} cannot be a prefix of one of ${secondSize}`);
  if (firstSize === 0) {
    if (proof.length > 0) return fail('the proof from the empty tree must be empty');
    if (!isEmptyRoot(firstRoot)) return fail('the first root is not the empty tree’s');
    if (secondSize === 0 && !isEmptyRoot(secondRoot)) return fail('the second root is not the empty tree’s');
    return pass;
  }
  if (firstSize === secondSize) {
    if (proof.length > 0) return fail('the proof between equal sizes must be empty');
    return hashesEqual(firstRoot, secondRoot)
      ? pass
      : fail(`two different roots for the tree of ${firstSize}`);
  }
  // 1. An empty consistency_path fails.
  if (proof.length === 0) return fail('the consistency proof is empty');
  // 2. When first is a power of two, its root is a node of the second tree: prepend it.
  const path = isPowerOfTwo(firstSize) ? [firstRoot, ...proof] : proof;
  // 3.
  let fn = firstSize - 1;
  let sn = secondSize - 1;
  // 4. Skip the levels where the first tree's last node is a right child.
  while (isOdd(fn)) {
    fn = half(fn);
    sn = half(sn);
  }
  // 5. fr and sr start at the first element.
  let fr = path[0] as Hash;
  let sr = fr;
  // 6. For each subsequent element c:
  for (let i = 1; i < path.length; i++) {
    const c = path[i] as Hash;
    // a.
    if (sn === 0) return fail('the consistency proof is longer than the trees allow');
    // b.
    if (isOdd(fn) || fn === sn) {
      fr = nodeHash(c, fr);
      sr = nodeHash(c, sr);
      if (!isOdd(fn)) {
        while (!isOdd(fn) && fn !== 0) {
          fn = half(fn);
          sn = half(sn);
        }
      }
    } else {
      sr = nodeHash(sr, c);
    }
    // c.
    fn = half(fn);
    sn = half(sn);
  }
  // 7.
  if (sn !== 0) return fail('the consistency proof is shorter than the trees need');
  if (!hashesEqual(fr, firstRoot))
    return fail(`the proof does not lead to the root of the tree of ${firstSize}`);
  if (!hashesEqual(sr, secondRoot))
    return fail(`the proof does not lead to the root of the tree of ${secondSize}`);
  return pass;
}
