import { describe, expect, it } from 'vitest';
import { isWabridgeError, WabridgeError } from '../../errors/index.ts';
import { coveringNodes, type NodeId } from './compact-range.ts';
import { emptyRoot, type Hash, leafHash, toHex } from './hash.ts';
import { MerkleLog } from './merkle-log.ts';
import { type LogCommit, type LogNodeStore, MemoryNodeStore } from './node-store.ts';
import { merkleAuditPath, merkleConsistencyProof, merkleTreeHash } from './rfc9162.ts';
import { verifyConsistency, verifyInclusion } from './verify.ts';

const record = (i: number) => new TextEncoder().encode(`{"kind":"message","seq":${i}}`);
const leaves = (from: number, to: number) =>
  Array.from({ length: to - from }, (_, i) => leafHash(record(from + i)));
const hexes = (hashes: readonly Hash[]) => hashes.map(toHex);

/** A store that counts what the log asks of it. */
class CountingStore implements LogNodeStore {
  readonly inner = new MemoryNodeStore();
  commits: LogCommit[] = [];
  readCalls: NodeId[][] = [];
  readSize = () => this.inner.readSize();
  readNodes = (ids: readonly NodeId[]) => {
    this.readCalls.push([...ids]);
    return this.inner.readNodes(ids);
  };
  commit = (update: LogCommit) => {
    this.commits.push(update);
    return this.inner.commit(update);
  };
}

async function caught(promise: Promise<unknown>): Promise<WabridgeError> {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  if (!isWabridgeError(error)) throw new Error(`expected a WabridgeError, got ${String(error)}`);
  return error;
}

describe('MerkleLog', () => {
  it('gives the RFC 9162 roots and proofs, at every past size, for every tree up to 64 leaves', async () => {
    const all = leaves(0, 64);
    const log = await MerkleLog.open(new MemoryNodeStore());
    for (const leaf of all) await log.append([leaf]);
    expect(toHex(await log.root(0))).toBe(toHex(emptyRoot()));
    for (let size = 1; size <= 64; size++) {
      const prefix = all.slice(0, size);
      expect(toHex(await log.root(size)), `root ${size}`).toBe(toHex(merkleTreeHash(prefix)));
      for (let index = 0; index < size; index++) {
        expect(hexes(await log.inclusionProof(index, size)), `leaf ${index} of ${size}`).toEqual(
          hexes(merkleAuditPath(index, prefix)),
        );
      }
      for (let first = 0; first <= size; first++) {
        expect(hexes(await log.consistencyProof(first, size)), `${first} → ${size}`).toEqual(
          hexes(merkleConsistencyProof(first, prefix)),
        );
      }
    }
  });

  it('agrees with the RFC definitions at random sizes up to 60,000 leaves', async () => {
    const all = leaves(0, 60_000);
    const log = await MerkleLog.open(new MemoryNodeStore());
    await log.append(all);
    let seed = 17;
    const next = () => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed / 2147483648;
    };
    for (let round = 0; round < 4; round++) {
      const size = 1 + Math.floor(next() * all.length);
      const prefix = all.slice(0, size);
      const root = merkleTreeHash(prefix);
      expect(toHex(await log.root(size))).toBe(toHex(root));
      const index = Math.floor(next() * size);
      const proof = await log.inclusionProof(index, size);
      expect(hexes(proof)).toEqual(hexes(merkleAuditPath(index, prefix)));
      expect(verifyInclusion(index, size, all[index] as Hash, proof, root)).toEqual({ ok: true });
      const first = Math.floor(next() * size);
      const consistency = await log.consistencyProof(first, size);
      expect(hexes(consistency)).toEqual(hexes(merkleConsistencyProof(first, prefix)));
      expect(verifyConsistency(first, size, merkleTreeHash(all.slice(0, first)), root, consistency)).toEqual({
        ok: true,
      });
    }
  });

  it('builds the same tree whatever the batch sizes of the appends', async () => {
    const all = leaves(0, 1000);
    const one = await MerkleLog.open(new MemoryNodeStore());
    await one.append(all);
    const many = await MerkleLog.open(new MemoryNodeStore());
    let at = 0;
    for (const batch of [1, 2, 3, 0, 7, 64, 100, 1, 500, 322]) {
      const result = await many.append(all.slice(at, at + batch));
      expect(result.firstIndex).toBe(at);
      at += batch;
    }
    expect(at).toBe(1000);
    expect(toHex(many.head().root)).toBe(toHex(one.head().root));
    expect(toHex(one.head().root)).toBe(toHex(merkleTreeHash(all)));
    for (const size of [1, 2, 3, 511, 512, 513, 999]) {
      expect(toHex(await many.root(size))).toBe(toHex(await one.root(size)));
    }
  });

  it('appends without reading, one commit per batch, about two nodes per leaf', async () => {
    const store = new CountingStore();
    const log = await MerkleLog.open(store);
    store.readCalls = [];
    for (let i = 0; i < 8; i++) await log.append(leaves(i * 1000, (i + 1) * 1000));
    expect(store.readCalls).toEqual([]);
    expect(store.commits).toHaveLength(8);
    const written = store.commits.reduce((n, c) => n + c.nodes.length, 0);
    // Every complete subtree of 8,000 leaves: 8000 + 4000 + 2000 + … = 2n − popcount(n).
    expect(written).toBe(2 * 8000 - 6);
  });

  it('computes a past root and any proof from O(log n) nodes in one read, never from the leaves', async () => {
    const size = 2 ** 16 + 12_345;
    const store = new CountingStore();
    const log = await MerkleLog.open(store);
    await log.append(leaves(0, size));
    const bound = 2 * Math.ceil(Math.log2(size));
    for (const [what, op] of [
      ['root', () => log.root(size - 7)],
      ['inclusion', () => log.inclusionProof(59_999)],
      ['inclusion at a past size', () => log.inclusionProof(5, size - 1000)],
      ['consistency', () => log.consistencyProof(77_777)],
      ['consistency at a past size', () => log.consistencyProof(1001, size - 3)],
      ['range', () => log.rangeProof(50_000, 50_100)],
    ] as const) {
      store.readCalls = [];
      await op();
      expect(store.readCalls, what).toHaveLength(1);
      const ids = store.readCalls[0] as NodeId[];
      // 2·⌈log2 n⌉ = 34 nodes here, of a tree of 77,881 leaves.
      expect(ids.length, what).toBeLessThanOrEqual(bound);
    }
  });

  it('proves many leaves at once: the same paths as one by one, from one read of each distinct node, in key order', async () => {
    const size = 2 ** 14 + 4_321;
    const all = leaves(0, size);
    const store = new CountingStore();
    const log = await MerkleLog.open(store);
    await log.append(all);
    // Leaves spread over the tree (as one contact's records are), a repeat, and the right edge.
    const indexes = [...Array.from({ length: 200 }, (_, i) => (i * 7_919) % size), 42, 42, size - 1, 0];
    for (const at of [size, size - 1_000]) {
      const wanted = indexes.filter((i) => i < at);
      const prefix = all.slice(0, at);
      const root = merkleTreeHash(prefix);
      store.readCalls = [];
      const proofs = await log.inclusionProofs(wanted, at);
      expect(store.readCalls).toHaveLength(1);
      const read = (store.readCalls[0] as NodeId[]).map((id) => `${id.level}:${id.index}`);
      // Each node once, level by level in index order (how the SQLite store walks its pages).
      expect(new Set(read).size).toBe(read.length);
      const sorted = [...(store.readCalls[0] as NodeId[])].sort(
        (a, b) => a.level - b.level || a.index - b.index,
      );
      expect(read).toEqual(sorted.map((id) => `${id.level}:${id.index}`));
      // Fewer nodes than the proofs hold between them: their upper levels are shared.
      expect(read.length).toBeLessThan(proofs.reduce((n, p) => n + p.length, 0));
      expect(proofs).toHaveLength(wanted.length);
      for (const [i, index] of wanted.entries()) {
        const proof = proofs[i] as Hash[];
        expect(hexes(proof)).toEqual(hexes(await log.inclusionProof(index, at)));
        if (i % 20 === 0) expect(hexes(proof)).toEqual(hexes(merkleAuditPath(index, prefix)));
        expect(verifyInclusion(index, at, all[index] as Hash, proof, root)).toEqual({ ok: true });
      }
    }
    expect(await log.inclusionProofs([])).toEqual([]);
  });

  it('reopens from its store with O(log n) reads and continues the same tree', async () => {
    const store = new CountingStore();
    const first = await MerkleLog.open(store);
    await first.append(leaves(0, 777));
    store.readCalls = [];
    const reopened = await MerkleLog.open(store);
    expect(reopened.size).toBe(777);
    expect(store.readCalls.flat()).toEqual(coveringNodes(0, 777));
    await reopened.append(leaves(777, 1500));
    expect(toHex(reopened.head().root)).toBe(toHex(merkleTreeHash(leaves(0, 1500))));
    expect(hexes(await reopened.inclusionProof(3, 777))).toEqual(hexes(merkleAuditPath(3, leaves(0, 777))));
  });

  it('refuses an append that lost a race to another writer, writes nothing, and takes the next indexes on retry', async () => {
    const store = new MemoryNodeStore();
    const a = await MerkleLog.open(store);
    const b = await MerkleLog.open(store);
    await a.append(leaves(0, 10));
    const error = await caught(b.append(leaves(100, 105)));
    expect(error.code).toBe('conflict');
    expect(error.retryable).toBe(true);
    expect(await store.readSize()).toBe(10);
    const retried = await b.append(leaves(100, 105));
    expect(retried.firstIndex).toBe(10);
    expect(toHex(retried.head.root)).toBe(toHex(merkleTreeHash([...leaves(0, 10), ...leaves(100, 105)])));
  });

  it('keeps its state when a commit fails, so the next append continues correctly', async () => {
    const store = new MemoryNodeStore();
    let failNext = false;
    const flaky: LogNodeStore = {
      readSize: () => store.readSize(),
      readNodes: (ids) => store.readNodes(ids),
      commit: async (update) => {
        if (failNext) {
          failNext = false;
          throw new WabridgeError('transient', 'disk full');
        }
        return store.commit(update);
      },
    };
    const log = await MerkleLog.open(flaky);
    await log.append(leaves(0, 5));
    failNext = true;
    expect((await caught(log.append(leaves(5, 9)))).code).toBe('transient');
    expect(log.size).toBe(5);
    await log.append(leaves(5, 9));
    expect(toHex(log.head().root)).toBe(toHex(merkleTreeHash(leaves(0, 9))));
  });

  it('runs concurrent appends one after the other, in call order', async () => {
    const log = await MerkleLog.open(new MemoryNodeStore());
    const results = await Promise.all([
      log.append(leaves(0, 3)),
      log.append(leaves(3, 4)),
      log.append(leaves(4, 9)),
    ]);
    expect(results.map((r) => r.firstIndex)).toEqual([0, 3, 4]);
    expect(toHex(log.head().root)).toBe(toHex(merkleTreeHash(leaves(0, 9))));
  });

  it('hashes records as RFC 9162 leaves', async () => {
    const log = await MerkleLog.open(new MemoryNodeStore());
    await log.appendRecords([record(0), record(1)]);
    expect(hexes(await log.leafHashes(0, 2))).toEqual(hexes(leaves(0, 2)));
  });

  it('answers a clear bad_request for leaves and sizes the log does not have', async () => {
    const log = await MerkleLog.open(new MemoryNodeStore());
    await log.append(leaves(0, 4));
    for (const promise of [
      log.inclusionProof(4),
      log.inclusionProof(0, 5),
      log.inclusionProofs([0, 4]),
      log.inclusionProofs([0], 5),
      log.consistencyProof(3, 2),
      log.consistencyProof(1, 5),
      log.root(5),
      log.root(-1),
      log.rangeProof(3, 2),
      log.leafHashes(2, 3),
      log.append([new Uint8Array(31)]),
    ]) {
      expect((await caught(promise)).code).toBe('bad_request');
    }
    expect(log.size).toBe(4);
  });

  it('reports a node missing below the committed size as damage to the store', async () => {
    const store = new MemoryNodeStore();
    const log = await MerkleLog.open(store);
    await log.append(leaves(0, 6));
    const holed: LogNodeStore = {
      readSize: () => store.readSize(),
      readNodes: async (ids) =>
        (await store.readNodes(ids)).map((h, i) => (ids[i]?.level === 2 ? undefined : h)),
      commit: (u) => store.commit(u),
    };
    const error = await caught(MerkleLog.open(holed));
    expect(error.code).toBe('internal');
    expect(error.message).toMatch(/no node \(2, 0\)/);
  });
});

describe('MemoryNodeStore', () => {
  it('writes nodes once, in order, and all or nothing', async () => {
    const store = new MemoryNodeStore();
    const [a, b, c] = leaves(0, 3) as [Hash, Hash, Hash];
    expect(await store.commit({ fromSize: 0, toSize: 1, nodes: [{ level: 0, index: 0, hash: a }] })).toBe(
      true,
    );
    // Another size than the committed one: nothing happens.
    expect(await store.commit({ fromSize: 0, toSize: 1, nodes: [{ level: 0, index: 1, hash: b }] })).toBe(
      false,
    );
    // A node rewritten with another hash, or a gap: the whole commit fails and nothing is written.
    await expect(
      store.commit({
        fromSize: 1,
        toSize: 2,
        nodes: [
          { level: 0, index: 1, hash: b },
          { level: 0, index: 0, hash: c },
        ],
      }),
    ).rejects.toThrow(/written once/);
    await expect(
      store.commit({ fromSize: 1, toSize: 3, nodes: [{ level: 0, index: 2, hash: c }] }),
    ).rejects.toThrow(/out of order/);
    expect(await store.readSize()).toBe(1);
    expect(await store.readNodes([{ level: 0, index: 1 }])).toEqual([undefined]);
  });

  it('hands out copies: editing a returned hash does not change the store', async () => {
    const store = new MemoryNodeStore();
    const log = await MerkleLog.open(store);
    await log.append(leaves(0, 2));
    const [read] = (await store.readNodes([{ level: 0, index: 0 }])) as [Hash];
    read.fill(0);
    const proof = await log.inclusionProof(1);
    (proof[0] as Hash).fill(0);
    expect(hexes(await log.leafHashes(0, 1))).toEqual(hexes(leaves(0, 1)));
  });
});
