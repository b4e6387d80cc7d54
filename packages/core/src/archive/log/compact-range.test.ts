import { describe, expect, it } from 'vitest';
import { CompactRange, coveringNodes } from './compact-range.ts';
import { type Hash, leafHash, toHex } from './hash.ts';
import { merkleTreeHash } from './rfc9162.ts';

const leaves = Array.from({ length: 300 }, (_, i) => leafHash(new Uint8Array([i % 256, i >> 8])));

describe('coveringNodes', () => {
  it('covers a prefix with one perfect subtree per set bit of its size, largest first', () => {
    expect(coveringNodes(0, 0)).toEqual([]);
    expect(coveringNodes(0, 13)).toEqual([
      { level: 3, index: 0 },
      { level: 2, index: 2 },
      { level: 0, index: 12 },
    ]);
  });

  it('covers any range with aligned subtrees, growing then shrinking', () => {
    expect(coveringNodes(3, 13)).toEqual([
      { level: 0, index: 3 },
      { level: 2, index: 1 },
      { level: 2, index: 2 },
      { level: 0, index: 12 },
    ]);
    for (let start = 0; start < 70; start++) {
      for (let end = start; end < 70; end++) {
        let at = start;
        for (const { level, index } of coveringNodes(start, end)) {
          expect(index * 2 ** level).toBe(at);
          at += 2 ** level;
        }
        expect(at).toBe(end);
      }
    }
  });
});

describe('CompactRange', () => {
  it('gives the Merkle Tree Hash of every prefix as leaves are appended', () => {
    const range = CompactRange.empty();
    expect(toHex(range.root())).toBe(toHex(merkleTreeHash([])));
    leaves.forEach((leaf, i) => {
      range.append(leaf);
      expect(toHex(range.root()), `size ${i + 1}`).toBe(toHex(merkleTreeHash(leaves.slice(0, i + 1))));
    });
  });

  it('reports every complete subtree exactly once, at its level and index', () => {
    const range = CompactRange.empty();
    const seen: string[] = [];
    for (const leaf of leaves.slice(0, 8))
      range.append(leaf, (level, index) => seen.push(`${level}:${index}`));
    expect(seen).toEqual([
      '0:0',
      '0:1',
      '1:0',
      '0:2',
      '0:3',
      '1:1',
      '2:0',
      '0:4',
      '0:5',
      '1:2',
      '0:6',
      '0:7',
      '1:3',
      '2:1',
      '3:0',
    ]);
  });

  it('resumes from the hashes of a prefix and completes a tree from a range’s right part', () => {
    const left = CompactRange.empty();
    for (const leaf of leaves.slice(0, 77)) left.append(leaf);
    const resumed = CompactRange.ofPrefix(77, left.hashes);
    for (const leaf of leaves.slice(77, 100)) resumed.append(leaf);
    const rightNodes = coveringNodes(100, 300);
    const whole = CompactRange.empty();
    const nodeHashes = new Map<string, Hash>();
    for (const leaf of leaves)
      whole.append(leaf, (level, index, hash) => nodeHashes.set(`${level}:${index}`, hash));
    for (const { level, index } of rightNodes)
      resumed.appendSubtree(level, nodeHashes.get(`${level}:${index}`) as Hash);
    expect(resumed.size).toBe(300);
    expect(toHex(resumed.root())).toBe(toHex(whole.root()));
  });

  it('keeps its own copy of each leaf, so a caller reusing one buffer for every leaf gets the right root', () => {
    const reused = new Uint8Array(32);
    const range = CompactRange.empty();
    for (const leaf of leaves.slice(0, 13)) {
      reused.set(leaf);
      range.append(reused);
    }
    reused.fill(0);
    expect(toHex(range.root())).toBe(toHex(merkleTreeHash(leaves.slice(0, 13))));
  });

  it('refuses a misaligned subtree and a prefix with the wrong number of hashes', () => {
    const range = CompactRange.empty();
    range.append(leaves[0] as Hash);
    expect(() => range.appendSubtree(1, leaves[1] as Hash)).toThrow(/cannot start at leaf 1/);
    expect(() => CompactRange.ofPrefix(3, [leaves[0] as Hash])).toThrow(/2 subtrees/);
  });
});
