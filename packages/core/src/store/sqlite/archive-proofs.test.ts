import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyProofDocument } from '../../archive/proof-document.ts';
import { createSecretBox } from '../../secrets/index.ts';
import { inboundMessage, messagesUnit, seedWorkspace } from '../../testing/fixtures.ts';
import { proveArchiveConsistency, proveArchiveRecord } from './archive-proofs.ts';
import { archiveVerifierKey, signArchiveCheckpoint } from './archive-verify.ts';
import { openSqliteStore, type SqliteStore } from './index.ts';

// `archive prove`, `archive consistency` and `archive verify-proof`: proofs from the stored tree,
// checked with the public key alone; any change to a proof document fails it.

const dir = mkdtempSync(join(tmpdir(), 'wabridge-proofs-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const box = createSecretBox(Buffer.alloc(32, 9));
const WS = 'acme';
let store: SqliteStore;
let key = '';
let first = 0;
let second = 0;

beforeAll(async () => {
  store = await openSqliteStore({ path: join(dir, 'store.db') });
  await seedWorkspace(store, { id: WS });
  for (let i = 0; i < 5; i++) {
    await store.ingest(
      messagesUnit(WS, { messages: [inboundMessage({ wamid: `w.${i}`, text: `text ${i}` })] }),
    );
  }
  first = (await signArchiveCheckpoint(store.db, box, WS, { now: () => 1 })).checkpoint.size;
  for (let i = 5; i < 12; i++) {
    await store.ingest(
      messagesUnit(WS, { messages: [inboundMessage({ wamid: `w.${i}`, text: `text ${i}` })] }),
    );
  }
  second = (await signArchiveCheckpoint(store.db, box, WS, { now: () => 2 })).checkpoint.size;
  key = await archiveVerifierKey(store.db, box, WS);
});
afterAll(() => store.close());

const flip = (hex: string) => `${hex.slice(0, -1)}${hex.endsWith('0') ? '1' : '0'}`;

describe('archive proofs', () => {
  it('proves every record against the newest checkpoint and against an older one that covers it', async () => {
    for (let seq = 0; seq < second; seq++) {
      const proof = await proveArchiveRecord(store.db, WS, seq);
      expect(verifyProofDocument(proof, key)).toMatchObject({ ok: true });
    }
    const old = await proveArchiveRecord(store.db, WS, first - 1, { size: first });
    expect(verifyProofDocument(old, key)).toMatchObject({ ok: true });
    await expect(proveArchiveRecord(store.db, WS, first, { size: first })).rejects.toThrow(
      /not covered by the checkpoint of size/,
    );
    await expect(proveArchiveRecord(store.db, WS, 0, { size: 3 })).rejects.toThrow(
      /no stored checkpoint of size 3/,
    );
  });

  it('rejects a changed record, a changed content, a changed proof, another seq, another checkpoint and another key', async () => {
    // The record commits to its content; the proof carries the content opened, with its salt.
    const proof = await proveArchiveRecord(store.db, WS, 6, { keyring: store.keyring });
    expect(proof.content).toContain('text 6');
    expect(verifyProofDocument(proof, key)).toMatchObject({
      ok: true,
      summary: expect.stringMatching(/with the content it commits to/),
    });
    expect(
      verifyProofDocument({ ...proof, content: proof.content?.replace('text ', 'TEXT ') }, key),
    ).toMatchObject({
      ok: false,
      seq: 6,
      reason: expect.stringMatching(/not the content its record commits to/),
    });
    expect(verifyProofDocument({ ...proof, salt: flip(proof.salt ?? '') }, key)).toMatchObject({
      ok: false,
      seq: 6,
    });
    expect(
      verifyProofDocument({ ...proof, record: proof.record.replace('"type":"text"', '"type":"TEXT"') }, key),
    ).toMatchObject({ ok: false, seq: 6 });
    // Without the content the record still proves, and says the content is not included.
    const { content: _content, salt: _salt, ...bare } = proof;
    expect(verifyProofDocument(bare, key)).toMatchObject({
      ok: true,
      summary: expect.stringMatching(/content is not included/),
    });
    for (let i = 0; i < proof.proof.length; i++) {
      const bad = proof.proof.map((h, j) => (j === i ? flip(h) : h));
      expect(verifyProofDocument({ ...proof, proof: bad }, key).ok).toBe(false);
    }
    expect(verifyProofDocument({ ...proof, proof: proof.proof.slice(1) }, key).ok).toBe(false);
    expect(verifyProofDocument({ ...proof, seq: 7 }, key).ok).toBe(false);
    const older = await proveArchiveRecord(store.db, WS, 2, { size: first });
    expect(verifyProofDocument({ ...proof, checkpoint: older.checkpoint }, key).ok).toBe(false);
    expect(verifyProofDocument(proof, await archiveVerifierKey(store.db, box, 'other'))).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/checkpoint does not verify/),
    });
    expect(verifyProofDocument({ ...proof, type: 'something' }, key).ok).toBe(false);
  });

  it('proves two stored checkpoints consistent, and rejects a changed or swapped proof', async () => {
    const proof = await proveArchiveConsistency(store.db, WS, first, second);
    expect(verifyProofDocument(proof, key)).toMatchObject({ ok: true });
    expect(verifyProofDocument({ ...proof, proof: proof.proof.map(flip) }, key).ok).toBe(false);
    expect(verifyProofDocument({ ...proof, from: proof.to, to: proof.from }, key).ok).toBe(false);
    await expect(proveArchiveConsistency(store.db, WS, second, first)).rejects.toThrow(/no larger than --to/);
    await expect(proveArchiveConsistency(store.db, WS, 2, second)).rejects.toThrow(
      /no stored checkpoint of size 2/,
    );
  });
});
