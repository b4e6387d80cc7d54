import { WabridgeError } from '../../errors/index.ts';
import { copyHash, emptyRoot, type Hash, nodeHash, splitPoint } from './hash.ts';

// The definitions of RFC 9162 §2.1.1, §2.1.3.1 and §2.1.4.1, written as the RFC states them, over
// a list of leaf hashes held in memory (https://www.rfc-editor.org/rfc/rfc9162#section-2.1). They
// are the reference the stored log (`MerkleLog`) is tested against, and they serve small trees
// built on the fly (an export's own tree). The recursion works on index ranges, not copies.

/** MTH(D[n]): the Merkle Tree Hash of the leaves, given as leaf hashes. */
export function merkleTreeHash(leaves: readonly Hash[]): Hash {
  // Copies, here and below: a proof must not alias the caller's leaves.
  return leaves.length === 0 ? emptyRoot() : copyHash(mth(leaves, 0, leaves.length));
}

/** PATH(m, D[n]): the audit path (inclusion proof) of leaf `index`, from the leaf's sibling up. */
export function merkleAuditPath(index: number, leaves: readonly Hash[]): Hash[] {
  if (!Number.isSafeInteger(index) || index < 0 || index >= leaves.length) {
    throw new WabridgeError('bad_request', `leaf ${index} is not in a tree of ${leaves.length} leaves`);
  }
  return path(index, leaves, 0, leaves.length).map(copyHash);
}

/**
 * PROOF(m, D[n]): the consistency proof between the first `size` leaves and all of them. The RFC
 * defines it for 0 < m < n; for m = 0 and m = n there is nothing to prove and the proof is empty.
 */
export function merkleConsistencyProof(size: number, leaves: readonly Hash[]): Hash[] {
  if (!Number.isSafeInteger(size) || size < 0 || size > leaves.length) {
    throw new WabridgeError(
      'bad_request',
      `size ${size} is not a prefix of a tree of ${leaves.length} leaves`,
    );
  }
  if (size === 0 || size === leaves.length) return [];
  return subproof(size, leaves, 0, leaves.length, true).map(copyHash);
}

// MTH(D[start:end]) for end − start ≥ 1.
function mth(leaves: readonly Hash[], start: number, end: number): Hash {
  if (end - start === 1) return leaves[start] as Hash;
  const k = splitPoint(end - start);
  return nodeHash(mth(leaves, start, start + k), mth(leaves, start + k, end));
}

// PATH(m, D[start:end]), m relative to start.
function path(m: number, leaves: readonly Hash[], start: number, end: number): Hash[] {
  if (end - start === 1) return [];
  const k = splitPoint(end - start);
  if (m < k) return [...path(m, leaves, start, start + k), mth(leaves, start + k, end)];
  return [...path(m - k, leaves, start + k, end), mth(leaves, start, start + k)];
}

// SUBPROOF(m, D[start:end], b), m relative to start.
function subproof(m: number, leaves: readonly Hash[], start: number, end: number, b: boolean): Hash[] {
  if (m === end - start) return b ? [] : [mth(leaves, start, end)];
  const k = splitPoint(end - start);
  if (m <= k) return [...subproof(m, leaves, start, start + k, b), mth(leaves, start + k, end)];
  return [...subproof(m - k, leaves, start + k, end, false), mth(leaves, start, start + k)];
}
