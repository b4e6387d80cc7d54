import { describe, expect, it } from 'vitest';
import { isWabridgeError } from '../../errors/index.ts';
import { formatCheckpoint, openCheckpoint, parseCheckpoint, signCheckpoint } from './checkpoint.ts';
import { type Hash, leafHash, toHex } from './hash.ts';
import { MerkleLog } from './merkle-log.ts';
import { MemoryNodeStore } from './node-store.ts';
import { generateLogKey, noteSigner, noteVerifier } from './note.ts';

const ORIGIN = 'wabridge.example.com/archive/acme';
const key = generateLogKey(ORIGIN);
const signer = noteSigner(key.signerKey);
const verifiers = [noteVerifier(key.verifierKey)];

async function signedHead(size: number): Promise<{ note: string; root: Hash }> {
  const log = await MerkleLog.open(new MemoryNodeStore());
  await log.appendRecords(Array.from({ length: size }, (_, i) => new TextEncoder().encode(`record ${i}`)));
  const { root } = log.head();
  return { note: signCheckpoint({ origin: ORIGIN, size, root }, signer), root };
}

describe('checkpoints (C2SP tlog-checkpoint)', () => {
  it('are the origin, the decimal size and the base64 root, one per line, then the signature', async () => {
    const { note, root } = await signedHead(1000);
    const [text, signatures] = note.split('\n\n') as [string, string];
    expect(text.split('\n')).toEqual([ORIGIN, '1000', Buffer.from(root).toString('base64')]);
    expect(signatures).toMatch(new RegExp(`^— ${ORIGIN.replace(/\./g, '\\.')} [A-Za-z0-9+/]{91}=\\n$`));
  });

  it('open to the same origin, size and root they were signed with', async () => {
    const { note, root } = await signedHead(42);
    const verdict = openCheckpoint(note, { verifiers, origin: ORIGIN });
    expect(verdict.ok).toBe(true);
    if (verdict.ok) {
      expect(verdict.checkpoint.origin).toBe(ORIGIN);
      expect(verdict.checkpoint.size).toBe(42);
      expect(toHex(verdict.checkpoint.root)).toBe(toHex(root));
    }
  });

  it('fail when any bit of any byte changes', async () => {
    const { note } = await signedHead(300);
    const bytes = new TextEncoder().encode(note);
    let rejected = 0;
    for (let i = 0; i < bytes.length; i++) {
      for (let bit = 0; bit < 8; bit++) {
        const altered = bytes.slice();
        altered[i] = (altered[i] as number) ^ (1 << bit);
        const verdict = openCheckpoint(altered, { verifiers, origin: ORIGIN });
        expect(verdict.ok, `byte ${i} bit ${bit}`).toBe(false);
        rejected++;
      }
    }
    expect(rejected).toBe(bytes.length * 8);
  });

  it('fail when signed by another key, even one with the same name', async () => {
    const { note } = await signedHead(5);
    const other = generateLogKey(ORIGIN);
    expect(openCheckpoint(note, { verifiers: [noteVerifier(other.verifierKey)], origin: ORIGIN })).toEqual({
      ok: false,
      reason: 'no signature from a trusted key',
    });
  });

  it('fail for another origin, even when signed by the trusted key', async () => {
    const { root } = await signedHead(5);
    const otherWorkspace = signCheckpoint(
      { origin: 'wabridge.example.com/archive/globex', size: 5, root },
      signer,
    );
    const verdict = openCheckpoint(otherWorkspace, { verifiers, origin: ORIGIN });
    expect(verdict).toEqual({
      ok: false,
      reason:
        'the checkpoint is for "wabridge.example.com/archive/globex", not "wabridge.example.com/archive/acme"',
    });
  });

  it('verify the example in the README, made from the CT test vectors’ eight leaves', () => {
    const note = [
      ORIGIN,
      '8',
      'XcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=',
      '',
      `— ${ORIGIN} R1v6ViKWyb8hi/GkeZ0G7gN+exFYP/TZyR9jWDNBXFS0Fx6JGaOajnnZFWtrDAH/J3VjV37+KggONROUiTGIzUHV7AQ=`,
      '',
    ].join('\n');
    const readme = noteVerifier(`${ORIGIN}+475bfa56+AQhAROdJchN93OnHLENOgVySPZ1supth+i6xv6oGLkP1`);
    const verdict = openCheckpoint(note, { verifiers: [readme], origin: ORIGIN });
    expect(verdict.ok && toHex(verdict.checkpoint.root)).toBe(
      '5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328',
    );
  });

  it('read the C2SP example checkpoint', () => {
    const text = 'example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n';
    const checkpoint = parseCheckpoint(text);
    expect(checkpoint.origin).toBe('example.com/behind-the-sofa');
    expect(checkpoint.size).toBe(20852163);
    expect(formatCheckpoint(checkpoint)).toBe(text);
  });

  it('keep extension lines, which are signed with the rest', () => {
    const root = leafHash(new Uint8Array(0));
    const checkpoint = { origin: ORIGIN, size: 1, root, extensions: ['x-ext one'] };
    const verdict = openCheckpoint(signCheckpoint(checkpoint, signer), { verifiers, origin: ORIGIN });
    expect(verdict.ok && verdict.checkpoint.extensions).toEqual(['x-ext one']);
  });

  it('reject malformed checkpoint texts with the reason', () => {
    const root = Buffer.from(leafHash(new Uint8Array(0))).toString('base64');
    const bad: Array<[string, RegExp]> = [
      [`${ORIGIN}\n007\n${root}\n`, /leading zeros/],
      [`${ORIGIN}\n-1\n${root}\n`, /decimal/],
      [`${ORIGIN}\n99999999999999999999\n${root}\n`, /decimal/],
      [`${ORIGIN}\n1\n${root.slice(0, -4)}\n`, /32 bytes/],
      [`${ORIGIN}\n1\n${root.replace('=', 'A')}\n`, /32 bytes/],
      [`\n1\n${root}\n`, /origin is empty/],
      [`${ORIGIN}\n1\n`, /needs an origin, a tree size and a root/],
    ];
    for (const [text, reason] of bad) {
      let error: unknown;
      try {
        parseCheckpoint(text);
      } catch (e) {
        error = e;
      }
      expect(isWabridgeError(error) && error.code, text).toBe('bad_request');
      expect((error as Error).message, text).toMatch(reason);
    }
    expect(() =>
      formatCheckpoint({ origin: 'two\nlines', size: 1, root: leafHash(new Uint8Array(0)) }),
    ).toThrow(/one non-empty line/);
  });
});
