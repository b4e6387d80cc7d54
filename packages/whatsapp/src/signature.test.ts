import { createHmac } from 'node:crypto';
import { isWabridgeError } from '@wabridge/core';
import { describe, expect, it } from 'vitest';
import { signMetaPayload, verifyMetaSignature } from './signature.ts';

const SECRET = 'app-secret-current';
const OLD_SECRET = 'app-secret-previous';
// Meta signs the escaped-unicode form of the body; these are the exact bytes received.
const RAW = new TextEncoder().encode(
  '{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"value":{"messages":[{"type":"text","text":{"body":"Caf\\u00e9 \\ud83d\\ude00"}}]},"field":"messages"}]}]}',
);
const HEX = signMetaPayload(RAW, SECRET).slice('sha256='.length);

describe('verifyMetaSignature', () => {
  it('accepts the signature of the exact raw bytes, in lower- or upper-case hex', () => {
    expect(verifyMetaSignature(RAW, `sha256=${HEX}`, [SECRET])).toEqual({ ok: true });
    expect(verifyMetaSignature(RAW, `sha256=${HEX.toUpperCase()}`, [SECRET])).toEqual({ ok: true });
    expect(verifyMetaSignature(RAW, `  sha256=${HEX} `, [SECRET])).toEqual({ ok: true });
  });

  it.each([
    ['absent header', undefined, 'missing'],
    ['null header', null, 'missing'],
    ['empty header', '', 'missing'],
    ['no algorithm prefix', HEX, 'malformed'],
    ['prefix without digest', 'sha256=', 'malformed'],
    ['non-hex digest', `sha256=${'z'.repeat(64)}`, 'malformed'],
    ['truncated digest', `sha256=${HEX.slice(0, 63)}`, 'malformed'],
    ['over-long digest', `sha256=${HEX}00`, 'malformed'],
    ['sha1 (the old X-Hub-Signature)', `sha1=${'a'.repeat(40)}`, 'wrong_prefix'],
    ['other algorithm with a sha256-sized digest', `md5=${HEX}`, 'wrong_prefix'],
  ] as const)('rejects %s as %s', (_title, header, reason) => {
    expect(verifyMetaSignature(RAW, header, [SECRET])).toEqual({ ok: false, reason });
  });

  it('rejects a signature made with another secret as a mismatch', () => {
    expect(verifyMetaSignature(RAW, signMetaPayload(RAW, 'not-the-secret'), [SECRET])).toEqual({
      ok: false,
      reason: 'mismatch',
    });
  });

  it('rejects the body with any single bit flipped', () => {
    for (const index of [0, Math.floor(RAW.length / 2), RAW.length - 1]) {
      for (const bit of [0, 7]) {
        const tampered = RAW.slice();
        tampered[index] = (tampered[index] ?? 0) ^ (1 << bit);
        expect(verifyMetaSignature(tampered, `sha256=${HEX}`, [SECRET])).toEqual({
          ok: false,
          reason: 'mismatch',
        });
      }
    }
  });

  it('rejects a re-serialised body (same JSON, different bytes): verify the raw bytes, never JSON.stringify', () => {
    const reserialised = new TextEncoder().encode(JSON.stringify(JSON.parse(new TextDecoder().decode(RAW))));
    expect(reserialised).not.toEqual(RAW);
    expect(verifyMetaSignature(reserialised, `sha256=${HEX}`, [SECRET])).toEqual({
      ok: false,
      reason: 'mismatch',
    });
  });

  it('during a secret rotation, a signature by either configured secret is accepted, and no other', () => {
    const secrets = [SECRET, OLD_SECRET];
    expect(verifyMetaSignature(RAW, signMetaPayload(RAW, OLD_SECRET), secrets)).toEqual({ ok: true });
    expect(verifyMetaSignature(RAW, signMetaPayload(RAW, SECRET), secrets)).toEqual({ ok: true });
    expect(verifyMetaSignature(RAW, signMetaPayload(RAW, 'third'), secrets)).toEqual({
      ok: false,
      reason: 'mismatch',
    });
  });

  it('refuses to run without a usable secret instead of rejecting every webhook silently', () => {
    for (const secrets of [[], [''], [SECRET, '']]) {
      try {
        verifyMetaSignature(RAW, `sha256=${HEX}`, secrets);
        expect.unreachable('should throw');
      } catch (error) {
        expect(isWabridgeError(error) && error.code).toBe('config_invalid');
      }
    }
  });
});

describe('signMetaPayload', () => {
  it('produces sha256=<hex HMAC-SHA256> (RFC 4231 test case 2)', () => {
    expect(signMetaPayload('what do ya want for nothing?', 'Jefe')).toBe(
      'sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843',
    );
  });

  it('signs strings as their UTF-8 bytes, matching node:crypto on the same bytes', () => {
    const text = 'Café 😀';
    expect(signMetaPayload(text, SECRET)).toBe(
      `sha256=${createHmac('sha256', SECRET).update(new TextEncoder().encode(text)).digest('hex')}`,
    );
  });
});
