import { describe, expect, it } from 'vitest';
import { type Hash, leafHash, toHex } from './hash.ts';
import { InclusionMemo } from './inclusion-memo.ts';
import { merkleAuditPath, merkleTreeHash } from './rfc9162.ts';
import { verifyInclusion } from './verify.ts';

// The memo's verdict is the full check's, for sound proofs in any order and for every defect.

const leavesOf = (n: number): Hash[] =>
  Array.from({ length: n }, (_, i) => leafHash(new TextEncoder().encode(`record ${i}`)));

const full = (index: number, size: number, leaf: Hash, proof: string[], root: Hash) =>
  verifyInclusion(
    index,
    size,
    leaf,
    proof.map((p) => new Uint8Array(Buffer.from(p, 'hex'))),
    root,
  );

describe('InclusionMemo', () => {
  it.each([1, 2, 3, 5, 8, 13, 31, 32, 33, 100])(
    'proves every leaf of a tree of %i, in order, backwards and again',
    (size) => {
      const leaves = leavesOf(size);
      const root = merkleTreeHash(leaves);
      const proofs = leaves.map((_, i) => merkleAuditPath(i, leaves).map(toHex));
      const memo = new InclusionMemo(size, root);
      const order = [...leaves.keys(), ...[...leaves.keys()].reverse(), ...leaves.keys()];
      for (const i of order) expect(memo.check(i, leaves[i] as Hash, proofs[i])).toEqual({ ok: true });
    },
  );

  it('answers what the full check answers for every defect, between sound proofs', () => {
    const size = 37;
    const leaves = leavesOf(size);
    const root = merkleTreeHash(leaves);
    const proofs = leaves.map((_, i) => merkleAuditPath(i, leaves).map(toHex));
    const memo = new InclusionMemo(size, root);
    const flip = (hex: string) => (hex[0] === '0' ? '1' : '0') + hex.slice(1);
    let defects = 0;
    for (let i = 0; i < size; i++) {
      const proof = proofs[i] as string[];
      const leaf = leaves[i] as Hash;
      const cases: Array<[number, Hash, string[]]> = [
        ...proof.map((_, k): [number, Hash, string[]] => [
          i,
          leaf,
          proof.map((p, j) => (j === k ? flip(p) : p)),
        ]),
        [i, leaf, proof.slice(0, -1)],
        [i, leaf, [...proof, proof[0] ?? toHex(leaf)]],
        [(i + 1) % size, leaf, proof],
        [i, leaves[(i + 1) % size] as Hash, proof],
        [size, leaf, proof],
      ];
      for (const [index, l, p] of cases) {
        const verdict = memo.check(index, l, p);
        expect(verdict).toEqual(full(index, size, l, p, root));
        if (verdict && !verdict.ok) defects++;
        // A sound proof still passes after a defect.
        expect(memo.check(i, leaf, proof)).toEqual({ ok: true });
      }
    }
    expect(defects).toBeGreaterThan(size * 5);
    expect(memo.check(0, leaves[0] as Hash, ['xyz'])).toBeNull();
    // Not hex past the point where the path meets the last one: still not a proof.
    for (let i = 0; i < size; i++) {
      const proof = [...(proofs[i] as string[])];
      proof[proof.length - 1] = 'g'.repeat(64);
      expect(memo.check(i, leaves[i] as Hash, proof)).toBeNull();
    }
    expect(memo.check(0, leaves[0] as Hash, 'not a list')).toBeNull();
  });
});
