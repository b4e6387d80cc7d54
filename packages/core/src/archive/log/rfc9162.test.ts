import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { emptyRoot, type Hash, hashFromHex, leafHash, nodeHash, toHex } from './hash.ts';
import { merkleAuditPath, merkleConsistencyProof, merkleTreeHash } from './rfc9162.ts';
import { rootFromInclusionProof, verifyConsistency, verifyInclusion } from './verify.ts';

// The test vectors the Certificate Transparency implementations share (the C++ log's
// merkle_tree_test.cc, Go's github.com/transparency-dev/merkle proof/verify_test.go): eight
// leaves of growing length, the roots of their first 0..8 leaves, and a few proofs.
const LEAVES = [
  '',
  '00',
  '10',
  '2021',
  '3031',
  '40414243',
  '5051525354555657',
  '606162636465666768696a6b6c6d6e6f',
]
  .map((hex) => new Uint8Array(Buffer.from(hex, 'hex')))
  .map(leafHash);
const ROOTS = [
  'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
  '6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d',
  'fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125',
  'aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77',
  'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
  '4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4',
  '76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef',
  'ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c',
  '5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328',
].map(hashFromHex);
const root = (size: number): Hash => ROOTS[size] as Hash;

const INCLUSION = [
  {
    index: 0,
    size: 8,
    proof: [
      '96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7',
      '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e',
      '6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4',
    ],
  },
  {
    index: 5,
    size: 8,
    proof: [
      'bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b',
      'ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0',
      'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
    ],
  },
  { index: 2, size: 3, proof: ['fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125'] },
  {
    index: 1,
    size: 5,
    proof: [
      '6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d',
      '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e',
      'bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b',
    ],
  },
].map((v) => ({ ...v, proof: v.proof.map(hashFromHex) }));

const CONSISTENCY = [
  {
    first: 1,
    second: 8,
    proof: [
      '96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7',
      '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e',
      '6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4',
    ],
  },
  {
    first: 6,
    second: 8,
    proof: [
      '0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a',
      'ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0',
      'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
    ],
  },
  {
    first: 2,
    second: 5,
    proof: [
      '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e',
      'bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b',
    ],
  },
  {
    first: 6,
    second: 7,
    proof: [
      '0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a',
      'b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f',
      'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
    ],
  },
].map((v) => ({ ...v, proof: v.proof.map(hashFromHex) }));

const SOME_HASH = hashFromHex('abacaba000000000000000000000000000000000000000000060061e00123456');
const hexes = (hashes: readonly Hash[]) => hashes.map(toHex);

describe('RFC 9162 Merkle Tree Hash', () => {
  it('gives the published roots of the first 0 to 8 reference leaves', () => {
    for (let size = 0; size <= 8; size++) {
      expect(toHex(merkleTreeHash(LEAVES.slice(0, size))), `size ${size}`).toBe(toHex(root(size)));
    }
  });

  it('hashes the empty tree as SHA-256 of nothing, and one leaf as SHA-256(0x00 ‖ data)', () => {
    expect(toHex(emptyRoot())).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    expect(toHex(leafHash(new Uint8Array(0)))).toBe(toHex(root(1)));
  });

  it('hashes leaves and nodes exactly as SHA-256 over the prefixed bytes, for every byte value', () => {
    const sha = (...parts: Uint8Array[]) => {
      const h = createHash('sha256');
      for (const part of parts) h.update(part);
      return h.digest('hex');
    };
    for (let length = 0; length < 300; length += 7) {
      const data = Uint8Array.from({ length }, (_, i) => (i * 97 + length) % 256);
      const leaf = leafHash(data);
      expect(leaf).toBeInstanceOf(Uint8Array);
      expect(Buffer.isBuffer(leaf)).toBe(false);
      expect(toHex(leaf)).toBe(sha(new Uint8Array([0]), data));
      const other = leafHash(data.map((b) => 255 - b));
      expect(toHex(nodeHash(leaf, other))).toBe(sha(new Uint8Array([1]), leaf, other));
    }
  });

  it('hashes a record larger than the scratch buffer the same way as the streaming hash would', () => {
    const big = new Uint8Array(100_000).map((_, i) => i % 251);
    const expected = createHash('sha256')
      .update(new Uint8Array([0]))
      .update(big)
      .digest('hex');
    expect(toHex(leafHash(big))).toBe(expected);
    expect(toHex(leafHash(big.subarray(0, 16 * 1024)))).toBe(
      createHash('sha256')
        .update(new Uint8Array([0]))
        .update(big.subarray(0, 16 * 1024))
        .digest('hex'),
    );
  });
});

describe('RFC 9162 inclusion proofs', () => {
  it.each(INCLUSION)(
    'builds and verifies the published audit path of leaf $index in a tree of $size',
    (v) => {
      const leaves = LEAVES.slice(0, v.size);
      expect(hexes(merkleAuditPath(v.index, leaves))).toEqual(hexes(v.proof));
      expect(verifyInclusion(v.index, v.size, LEAVES[v.index] as Hash, v.proof, root(v.size))).toEqual({
        ok: true,
      });
      expect(toHex(rootFromInclusionProof(v.index, v.size, LEAVES[v.index] as Hash, v.proof) as Hash)).toBe(
        toHex(root(v.size)),
      );
    },
  );

  it.each(INCLUSION)('rejects every corruption of the published path of leaf $index in $size', (v) => {
    const leaf = LEAVES[v.index] as Hash;
    const probes: Array<[string, number, number, Hash, Hash[], Hash]> = [
      ['index − 1', v.index - 1, v.size, leaf, v.proof, root(v.size)],
      ['index + 1', v.index + 1, v.size, leaf, v.proof, root(v.size)],
      ['index ^ 2', v.index ^ 2, v.size, leaf, v.proof, root(v.size)],
      ['size × 2', v.index, v.size * 2, leaf, v.proof, root(v.size)],
      ['size ÷ 2', v.index, Math.floor(v.size / 2), leaf, v.proof, root(v.size)],
      ['another leaf', v.index, v.size, SOME_HASH, v.proof, root(v.size)],
      ['the empty root', v.index, v.size, leaf, v.proof, emptyRoot()],
      ['another root', v.index, v.size, leaf, v.proof, SOME_HASH],
      ['a trailing root', v.index, v.size, leaf, [...v.proof, root(v.size)], root(v.size)],
      ['a leading root', v.index, v.size, leaf, [root(v.size), ...v.proof], root(v.size)],
      ['a short element', v.index, v.size, leaf, [...v.proof, new Uint8Array(0)], root(v.size)],
      ['the last element removed', v.index, v.size, leaf, v.proof.slice(0, -1), root(v.size)],
    ];
    if (v.proof.length > 1) {
      probes.push([
        'an element inserted',
        v.index,
        v.size,
        leaf,
        [v.proof[0] as Hash, SOME_HASH, ...v.proof.slice(1)],
        root(v.size),
      ]);
    }
    for (const [what, index, size, l, proof, r] of probes) {
      expect(verifyInclusion(index, size, l, proof, r).ok, what).toBe(false);
    }
  });

  it('rejects a leaf beyond the tree and trees of no leaves', () => {
    for (const [index, size] of [
      [0, 0],
      [1, 0],
      [1, 1],
      [2, 1],
    ] as const) {
      expect(verifyInclusion(index, size, SOME_HASH, [], emptyRoot()).ok).toBe(false);
      expect(verifyInclusion(index, size, SOME_HASH, [], SOME_HASH).ok).toBe(false);
    }
    expect(verifyInclusion(0, 1, SOME_HASH, [], SOME_HASH)).toEqual({ ok: true });
    expect(verifyInclusion(-1, 1, SOME_HASH, [], SOME_HASH).ok).toBe(false);
    expect(verifyInclusion(0.5, 1, SOME_HASH, [], SOME_HASH).ok).toBe(false);
  });
});

describe('RFC 9162 consistency proofs', () => {
  it.each(CONSISTENCY)('builds and verifies the published proof from $first to $second leaves', (v) => {
    expect(hexes(merkleConsistencyProof(v.first, LEAVES.slice(0, v.second)))).toEqual(hexes(v.proof));
    expect(verifyConsistency(v.first, v.second, root(v.first), root(v.second), v.proof)).toEqual({
      ok: true,
    });
  });

  it.each(CONSISTENCY)('rejects every corruption of the published proof from $first to $second', (v) => {
    const [r1, r2, p] = [root(v.first), root(v.second), v.proof];
    const probes: Array<[string, number, number, Hash, Hash, Hash[]]> = [
      ['first − 1', v.first - 1, v.second, r1, r2, p],
      ['first + 1', v.first + 1, v.second, r1, r2, p],
      ['first ^ 2', v.first ^ 2, v.second, r1, r2, p],
      ['second × 2', v.first, v.second * 2, r1, r2, p],
      ['second ÷ 2', v.first, Math.floor(v.second / 2), r1, r2, p],
      ['another first root', v.first, v.second, SOME_HASH, r2, p],
      ['another second root', v.first, v.second, r1, SOME_HASH, p],
      ['swapped roots', v.first, v.second, r2, r1, p],
      ['an empty proof', v.first, v.second, r1, r2, []],
      ['a trailing first root', v.first, v.second, r1, r2, [...p, r1]],
      ['a trailing second root', v.first, v.second, r1, r2, [...p, r2]],
      ['a leading first root', v.first, v.second, r1, r2, [r1, ...p]],
      ['a leading second root', v.first, v.second, r1, r2, [r2, ...p]],
      ['the first element twice', v.first, v.second, r1, r2, [p[0] as Hash, ...p]],
      ['the last element removed', v.first, v.second, r1, r2, p.slice(0, -1)],
    ];
    for (const [what, first, second, a, b, proof] of probes) {
      expect(verifyConsistency(first, second, a, b, proof).ok, what).toBe(false);
    }
  });

  it('treats equal sizes and the empty tree as the CT verifiers do, and pins the empty root', () => {
    const [a, b] = [root(3), root(5)];
    expect(verifyConsistency(0, 0, emptyRoot(), emptyRoot(), [])).toEqual({ ok: true });
    expect(verifyConsistency(0, 5, emptyRoot(), b, [])).toEqual({ ok: true });
    expect(verifyConsistency(3, 3, a, a, [])).toEqual({ ok: true });
    // Equal sizes with two roots, a non-empty proof where none is due, going back in time.
    expect(verifyConsistency(3, 3, a, b, []).ok).toBe(false);
    expect(verifyConsistency(3, 3, a, a, [emptyRoot()]).ok).toBe(false);
    expect(verifyConsistency(0, 5, emptyRoot(), b, [emptyRoot()]).ok).toBe(false);
    expect(verifyConsistency(0, 0, emptyRoot(), a, []).ok).toBe(false);
    expect(verifyConsistency(5, 3, b, a, []).ok).toBe(false);
    // The RFC leaves size 0 undefined; a root claimed for it must still be the empty tree's.
    expect(verifyConsistency(0, 5, a, b, []).ok).toBe(false);
    // An empty proof between different sizes proves nothing.
    expect(verifyConsistency(1, 2, root(1), root(2), []).ok).toBe(false);
  });

  it('gives empty proofs where the RFC has nothing to prove', () => {
    expect(merkleConsistencyProof(0, LEAVES)).toEqual([]);
    expect(merkleConsistencyProof(8, LEAVES)).toEqual([]);
    expect(() => merkleConsistencyProof(9, LEAVES)).toThrow(/not a prefix/);
    expect(() => merkleAuditPath(8, LEAVES)).toThrow(/not in a tree of 8/);
  });
});
