import { describe, expect, it } from 'vitest';
import { seededRandom } from '../../testing/random.ts';
import { type Hash, leafHash, toHex } from './hash.ts';
import { merkleAuditPath, merkleConsistencyProof, merkleTreeHash } from './rfc9162.ts';
import { verifyConsistency, verifyInclusion } from './verify.ts';

// Property tests of the verifiers against the RFC definitions: every proof of every tree up to 64
// leaves verifies, and a single flipped bit anywhere fails it.

const LEAVES = Array.from({ length: 64 }, (_, i) => leafHash(new TextEncoder().encode(`record ${i}`)));

function flipBit(hash: Hash, bit: number): Hash {
  const copy = hash.slice();
  copy[bit >> 3] = (copy[bit >> 3] as number) ^ (1 << (bit & 7));
  return copy;
}

/** `n` with bit `bit` flipped, for bits 0..52 (beyond 32, where `^` does not reach). */
const flipNumber = (n: number, bit: number): number => Number(BigInt(n) ^ (1n << BigInt(bit)));

/** Every bit for small trees, `perHash` random bits otherwise: all positions get hit across the suite. */
function bitsToFlip(next: () => number, exhaustive: boolean, perHash = 6): number[] {
  if (exhaustive) return Array.from({ length: 256 }, (_, i) => i);
  return Array.from({ length: perHash }, () => Math.floor(next() * 256));
}

describe('inclusion proofs, for every leaf of every tree up to 64 leaves', () => {
  it('verify', () => {
    for (let size = 1; size <= 64; size++) {
      const leaves = LEAVES.slice(0, size);
      const root = merkleTreeHash(leaves);
      for (let index = 0; index < size; index++) {
        const verdict = verifyInclusion(
          index,
          size,
          leaves[index] as Hash,
          merkleAuditPath(index, leaves),
          root,
        );
        expect(verdict, `leaf ${index} of ${size}`).toEqual({ ok: true });
      }
    }
  });

  it('fail when any bit of the proof, the leaf, the root or the index flips', () => {
    const next = seededRandom(9162);
    // Collected, not asserted one by one: a hundred thousand expect() calls cost more than the proofs.
    const accepted: string[] = [];
    let checked = 0;
    const check = (what: string, ok: boolean) => {
      checked++;
      if (ok) accepted.push(what);
    };
    for (let size = 1; size <= 64; size++) {
      const leaves = LEAVES.slice(0, size);
      const root = merkleTreeHash(leaves);
      const exhaustive = size <= 8;
      for (let index = 0; index < size; index++) {
        const leaf = leaves[index] as Hash;
        const proof = merkleAuditPath(index, leaves);
        proof.forEach((element, e) => {
          for (const bit of bitsToFlip(next, exhaustive)) {
            const bad = proof.map((h, i) => (i === e ? flipBit(element, bit) : h));
            check(
              `${index}/${size} proof[${e}] bit ${bit}`,
              verifyInclusion(index, size, leaf, bad, root).ok,
            );
          }
        });
        for (const bit of bitsToFlip(next, exhaustive)) {
          check(
            `${index}/${size} leaf bit ${bit}`,
            verifyInclusion(index, size, flipBit(leaf, bit), proof, root).ok,
          );
          check(
            `${index}/${size} root bit ${bit}`,
            verifyInclusion(index, size, leaf, proof, flipBit(root, bit)).ok,
          );
        }
        for (let bit = 0; bit < 53; bit++) {
          check(
            `${index}/${size} index bit ${bit}`,
            verifyInclusion(flipNumber(index, bit), size, leaf, proof, root).ok,
          );
        }
      }
    }
    expect(accepted).toEqual([]);
    expect(checked).toBeGreaterThan(50_000);
  });

  it('bind the tree size through the root: a flipped size passes only with the same path shape, and no tree of that size has this root', () => {
    const roots = Array.from({ length: 65 }, (_, n) => toHex(merkleTreeHash(LEAVES.slice(0, n))));
    // RFC 9162's algorithm recomputes a root from (index, size, path); sizes whose trees give the
    // leaf the same path shape (5 and 7 for leaf 0: three left turns) cannot be told apart by the
    // path. What binds a size is the root, and a root comes with its size in a signed checkpoint
    // (flipping a bit of a signed checkpoint fails: see checkpoint.test.ts).
    let sameShape = 0;
    const odd: string[] = [];
    for (let size = 1; size <= 64; size++) {
      const leaves = LEAVES.slice(0, size);
      const root = merkleTreeHash(leaves);
      for (let index = 0; index < size; index++) {
        const proof = merkleAuditPath(index, leaves);
        for (let bit = 0; bit < 53; bit++) {
          const other = flipNumber(size, bit);
          if (!verifyInclusion(index, other, leaves[index] as Hash, proof, root).ok) continue;
          sameShape++;
          const shape = other <= 64 ? merkleAuditPath(index, LEAVES.slice(0, other)).length : -1;
          if (shape !== proof.length || roots[other] === toHex(root))
            odd.push(`${index}/${size} as ${other}`);
        }
      }
    }
    expect(odd).toEqual([]);
    expect(sameShape).toBeGreaterThan(0);
  });
});

describe('consistency proofs, between every pair of sizes up to 64', () => {
  it('verify', () => {
    for (let second = 0; second <= 64; second++) {
      const leaves = LEAVES.slice(0, second);
      const root2 = merkleTreeHash(leaves);
      for (let first = 0; first <= second; first++) {
        const root1 = merkleTreeHash(LEAVES.slice(0, first));
        const verdict = verifyConsistency(first, second, root1, root2, merkleConsistencyProof(first, leaves));
        expect(verdict, `${first} → ${second}`).toEqual({ ok: true });
      }
    }
  });

  it('fail when any bit of the proof, either root or the first size flips', () => {
    const next = seededRandom(6962);
    const accepted: string[] = [];
    let checked = 0;
    const check = (what: string, ok: boolean) => {
      checked++;
      if (ok) accepted.push(what);
    };
    for (let second = 1; second <= 64; second++) {
      const leaves = LEAVES.slice(0, second);
      const root2 = merkleTreeHash(leaves);
      const exhaustive = second <= 8;
      for (let first = 1; first <= second; first++) {
        const root1 = merkleTreeHash(LEAVES.slice(0, first));
        const proof = merkleConsistencyProof(first, leaves);
        proof.forEach((element, e) => {
          for (const bit of bitsToFlip(next, exhaustive)) {
            const bad = proof.map((h, i) => (i === e ? flipBit(element, bit) : h));
            check(
              `${first}→${second} proof[${e}] bit ${bit}`,
              verifyConsistency(first, second, root1, root2, bad).ok,
            );
          }
        });
        for (const bit of bitsToFlip(next, exhaustive)) {
          const what = `${first}→${second} bit ${bit}`;
          check(`${what} of root 1`, verifyConsistency(first, second, flipBit(root1, bit), root2, proof).ok);
          check(`${what} of root 2`, verifyConsistency(first, second, root1, flipBit(root2, bit), proof).ok);
        }
        for (let bit = 0; bit < 53; bit++) {
          const flipped = flipNumber(first, bit);
          check(
            `${first}→${second} first size bit ${bit}`,
            verifyConsistency(flipped, second, root1, root2, proof).ok,
          );
        }
      }
    }
    expect(accepted).toEqual([]);
    expect(checked).toBeGreaterThan(50_000);
  });

  it('bind the second size through its root, as inclusion proofs do', () => {
    const roots = Array.from({ length: 65 }, (_, n) => toHex(merkleTreeHash(LEAVES.slice(0, n))));
    const odd: string[] = [];
    for (let second = 2; second <= 64; second++) {
      const leaves = LEAVES.slice(0, second);
      const root2 = merkleTreeHash(leaves);
      for (let first = 1; first < second; first++) {
        const root1 = merkleTreeHash(LEAVES.slice(0, first));
        const proof = merkleConsistencyProof(first, leaves);
        for (let bit = 0; bit < 53; bit++) {
          const other = flipNumber(second, bit);
          if (!verifyConsistency(first, other, root1, root2, proof).ok) continue;
          if (other > 64 || roots[other] === toHex(root2)) odd.push(`${first}→${second} as →${other}`);
        }
      }
    }
    expect(odd).toEqual([]);
  });
});

describe('proofs in larger trees', () => {
  it('verify, and fail with a flipped bit, at random sizes up to 10,000 leaves', () => {
    // (The stored log is checked against these definitions at sizes up to a million.)
    const next = seededRandom(2024);
    const many = Array.from({ length: 10_000 }, (_, i) => leafHash(new TextEncoder().encode(`r${i}`)));
    for (let round = 0; round < 8; round++) {
      const size = 65 + Math.floor(next() * (many.length - 65));
      const leaves = many.slice(0, size);
      const root = merkleTreeHash(leaves);
      for (let probe = 0; probe < 5; probe++) {
        const index = Math.floor(next() * size);
        const proof = merkleAuditPath(index, leaves);
        expect(verifyInclusion(index, size, leaves[index] as Hash, proof, root)).toEqual({ ok: true });
        const e = Math.floor(next() * proof.length);
        const bad = proof.map((h, i) => (i === e ? flipBit(h, Math.floor(next() * 256)) : h));
        expect(verifyInclusion(index, size, leaves[index] as Hash, bad, root).ok).toBe(false);

        const first = 1 + Math.floor(next() * (size - 1));
        const root1 = merkleTreeHash(leaves.slice(0, first));
        const consistency = merkleConsistencyProof(first, leaves);
        expect(verifyConsistency(first, size, root1, root, consistency)).toEqual({ ok: true });
        const c = Math.floor(next() * consistency.length);
        const badC = consistency.map((h, i) => (i === c ? flipBit(h, Math.floor(next() * 256)) : h));
        expect(verifyConsistency(first, size, root1, root, badC).ok).toBe(false);
      }
    }
  });
});
