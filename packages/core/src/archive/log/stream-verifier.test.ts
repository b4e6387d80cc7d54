import { describe, expect, it } from 'vitest';
import { openCheckpoint, signCheckpoint } from './checkpoint.ts';
import { type Hash, leafHash } from './hash.ts';
import { MerkleLog, type TreeHead } from './merkle-log.ts';
import { MemoryNodeStore } from './node-store.ts';
import { generateLogKey, noteSigner, noteVerifier } from './note.ts';
import {
  type LeafStreamVerdict,
  LeafStreamVerifier,
  verifyLeafStream,
  verifyRange,
} from './stream-verifier.ts';

const ORIGIN = 'wabridge.example.com/archive/acme';
const key = generateLogKey(ORIGIN);
const N = 40;
const encode = (text: string) => new TextEncoder().encode(text);
const RECORDS: Uint8Array[] = Array.from({ length: N }, (_, i) =>
  encode(`{"seq":${i},"kind":"message.in","body":"hello ${i}"}`),
);
const FORGED: Uint8Array = encode('{"seq":999,"kind":"message.in","body":"I never wrote this"}');

/** A log of the records, a signed checkpoint after every `every` appends, and the final one. */
async function build(records: readonly Uint8Array[], every: number) {
  const store = new MemoryNodeStore();
  const log = await MerkleLog.open(store);
  const signer = noteSigner(key.signerKey);
  const notes: string[] = [];
  for (let i = 0; i < records.length; i += every) {
    await log.appendRecords(records.slice(i, i + every));
    notes.push(signCheckpoint({ origin: ORIGIN, ...log.head() }, signer));
  }
  // What `archive verify` does with the checkpoints it is given: open each with the public key.
  const heads = notes.map((note) => {
    const verdict = openCheckpoint(note, { verifiers: [noteVerifier(key.verifierKey)], origin: ORIGIN });
    if (!verdict.ok) throw new Error(verdict.reason);
    return verdict.checkpoint;
  });
  return { log, store, heads };
}

type Tamper = { what: string; at: number; records: Uint8Array[] };

/** Every single-record change at every position: modified, deleted, swapped with the next, inserted. */
function tamperings(): Tamper[] {
  const out: Tamper[] = [];
  for (let at = 0; at < N; at++) {
    out.push({ what: `record ${at} modified`, at, records: RECORDS.map((r, i) => (i === at ? FORGED : r)) });
    out.push({ what: `record ${at} deleted`, at, records: RECORDS.filter((_, i) => i !== at) });
    if (at + 1 < N) {
      const swapped = [...RECORDS];
      [swapped[at], swapped[at + 1]] = [swapped[at + 1] as Uint8Array, swapped[at] as Uint8Array];
      out.push({ what: `records ${at} and ${at + 1} swapped`, at, records: swapped });
    }
  }
  for (let at = 0; at <= N; at++) {
    out.push({
      what: `a record inserted at ${at}`,
      at,
      records: [...RECORDS.slice(0, at), FORGED, ...RECORDS.slice(at)],
    });
  }
  return out;
}

async function* slowly<T>(items: readonly T[]): AsyncGenerator<T> {
  for (const item of items) {
    await Promise.resolve();
    yield item;
  }
}

const failure = (verdict: LeafStreamVerdict) => (verdict.ok ? null : verdict.disagreement);

describe('verifyLeafStream', () => {
  it('verifies an untouched log against its checkpoints, from an async source', async () => {
    const { heads } = await build(RECORDS, 8);
    const verdict = await verifyLeafStream(slowly(RECORDS), { heads });
    expect(verdict).toEqual({ ok: true, leaves: N, verifiedSize: N });
  });

  it('names the exact record of every single-record change when every append is checkpointed', async () => {
    const { heads } = await build(RECORDS, 1);
    for (const t of tamperings()) {
      const found = failure(await verifyLeafStream(t.records, { heads }));
      if (t.at === N) {
        // A record added after the last checkpoint: nothing proves it.
        expect(found, t.what).toMatchObject({ kind: 'unanchored-leaves', index: N, end: N + 1 });
      } else if (t.what === `record ${N - 1} deleted`) {
        expect(found, t.what).toMatchObject({ kind: 'missing-leaves', index: N - 1, end: N });
      } else {
        expect(found, t.what).toMatchObject({ kind: 'root-mismatch', index: t.at, end: t.at + 1 });
      }
    }
  });

  it('names the exact record of every single-record change with one checkpoint and the stored tree', async () => {
    const { heads, log } = await build(RECORDS, N);
    expect(heads).toHaveLength(1);
    for (const t of tamperings()) {
      const found = failure(await verifyLeafStream(t.records, { heads, stored: log, batchSize: 7 }));
      if (t.what === `record ${N - 1} deleted`) {
        expect(found, t.what).toMatchObject({ kind: 'missing-leaves', index: N - 1, end: N });
      } else {
        expect(found, t.what).toMatchObject({ kind: 'leaf-mismatch', index: t.at, end: t.at + 1 });
      }
    }
  });

  it('detects every single-record change with only a final checkpoint, naming the range it proves', async () => {
    const { heads } = await build(RECORDS, N);
    for (const t of tamperings()) {
      const found = failure(await verifyLeafStream(t.records, { heads }));
      expect(found, t.what).not.toBeNull();
      if (t.at === N) expect(found).toMatchObject({ kind: 'unanchored-leaves', index: N });
      else if (t.records.length < N) expect(found?.kind, t.what).toMatch(/root-mismatch|missing-leaves/);
      else expect(found, t.what).toMatchObject({ kind: 'root-mismatch', index: 0, end: N });
    }
  });

  it('catches a record rewritten together with the stored tree, between the checkpoints around it', async () => {
    const { heads } = await build(RECORDS, 8);
    for (const at of [0, 7, 8, 21, 39]) {
      const forged = RECORDS.map((r, i) => (i === at ? FORGED : r));
      // The attacker rebuilt the whole stored tree to match, but cannot sign a checkpoint.
      const rewritten = await MerkleLog.open(new MemoryNodeStore());
      await rewritten.appendRecords(forged);
      const found = failure(await verifyLeafStream(forged, { heads, stored: rewritten }));
      const from = Math.floor(at / 8) * 8;
      expect(found, `record ${at}`).toMatchObject({ kind: 'root-mismatch', index: from, end: from + 8 });
    }
  });

  it('treats leaves after the last checkpoint as unproven, or allows them for a live log', async () => {
    const { heads, log } = await build(RECORDS.slice(0, 32), 8);
    await log.appendRecords(RECORDS.slice(32));
    expect(failure(await verifyLeafStream(RECORDS, { heads, stored: log }))).toMatchObject({
      kind: 'unanchored-leaves',
      index: 32,
      end: N,
    });
    expect(await verifyLeafStream(RECORDS, { heads, stored: log, unanchored: 'allow' })).toEqual({
      ok: true,
      leaves: N,
      verifiedSize: 32,
    });
  });

  it('starts in the middle of the log from a range proof’s left part', async () => {
    const { heads, log } = await build(RECORDS, 8);
    const { left } = await log.rangeProof(13, N);
    const later = heads.filter((h) => h.size >= 13);
    expect(await verifyLeafStream(RECORDS.slice(13), { heads: later, start: { index: 13, left } })).toEqual({
      ok: true,
      leaves: N - 13,
      verifiedSize: N,
    });
    const forgedLeft = left.map((h, i) => (i === 0 ? leafHash(FORGED) : h));
    const found = failure(
      await verifyLeafStream(RECORDS.slice(13), { heads: later, start: { index: 13, left: forgedLeft } }),
    );
    expect(found).toMatchObject({ kind: 'root-mismatch', index: 13, end: 16 });
  });

  it('reads the stored tree in batches and takes leaf hashes as input', async () => {
    const { heads, log, store } = await build(RECORDS, N);
    const leaves = RECORDS.map(leafHash);
    const before = store.stats.readCalls;
    const verdict = await verifyLeafStream(leaves, {
      heads,
      stored: log,
      input: 'leaf-hashes',
      batchSize: 16,
    });
    expect(verdict.ok).toBe(true);
    expect(store.stats.readCalls - before).toBe(3);
    const short = [...leaves.slice(0, 5), new Uint8Array(31), ...leaves.slice(6)];
    expect(failure(await verifyLeafStream(short, { heads, input: 'leaf-hashes' }))).toMatchObject({
      kind: 'leaf-mismatch',
      index: 5,
    });
  });

  it('copes with a source that refills one buffer for every leaf hash', async () => {
    const { heads, log } = await build(RECORDS, N);
    const reused = new Uint8Array(32);
    function* refilled() {
      for (const record of RECORDS) {
        reused.set(leafHash(record));
        yield reused;
      }
    }
    const verdict = await verifyLeafStream(refilled(), {
      heads,
      stored: log,
      input: 'leaf-hashes',
      batchSize: 16,
    });
    expect(verdict).toEqual({ ok: true, leaves: N, verifiedSize: N });
  });

  it('refuses heads before the start, which it cannot check', () => {
    const head: TreeHead = { size: 3, root: leafHash(FORGED) };
    expect(() => new LeafStreamVerifier([head], { index: 4, left: [leafHash(FORGED)] })).toThrow(/precedes/);
  });
});

describe('verifyRange', () => {
  it('proves every range of a 20-leaf tree against its head, and fails for any change to leaves or proof', async () => {
    const records = RECORDS.slice(0, 20);
    const { log, heads } = await build(records, 20);
    const head = heads[0] as TreeHead;
    for (let start = 0; start <= 20; start++) {
      for (let end = start; end <= 20; end++) {
        const proof = await log.rangeProof(start, end);
        const part = records.slice(start, end);
        expect(await verifyRange(part, { start, head, proof }), `[${start}, ${end})`).toEqual({
          ok: true,
          leaves: end - start,
        });
        for (let i = 0; i < part.length; i++) {
          const changed = part.map((r, j) => (j === i ? FORGED : r));
          expect(
            (await verifyRange(changed, { start, head, proof })).ok,
            `[${start}, ${end}) leaf ${i}`,
          ).toBe(false);
        }
        const flip = (hashes: Hash[], i: number) =>
          hashes.map((h, j) => (j === i ? h.map((b, k) => (k ? b : b ^ 1)) : h));
        for (let i = 0; i < proof.left.length; i++) {
          const bad = { ...proof, left: flip(proof.left, i) };
          expect((await verifyRange(part, { start, head, proof: bad })).ok).toBe(false);
        }
        for (let i = 0; i < proof.right.length; i++) {
          const bad = { ...proof, right: flip(proof.right, i) };
          expect((await verifyRange(part, { start, head, proof: bad })).ok).toBe(false);
        }
        if (part.length > 0) {
          expect((await verifyRange(part.slice(1), { start, head, proof })).ok).toBe(false);
          expect((await verifyRange(part, { start: start + 1, head, proof })).ok).toBe(false);
        }
      }
    }
  });
});
