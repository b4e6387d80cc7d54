import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { verifySlackSignature } from './verify.ts';

const secret = 'signing-secret';
const body = new TextEncoder().encode('{"type":"event_callback","text":"héllo"}');
const now = 1_800_000_000_000;

function headers(timestamp: number, key = secret, raw: Uint8Array = body) {
  const signature = `v0=${createHmac('sha256', key).update(`v0:${timestamp}:`).update(raw).digest('hex')}`;
  return new Headers({ 'x-slack-request-timestamp': String(timestamp), 'x-slack-signature': signature });
}

describe('Slack v0 signatures', () => {
  it('accepts a request signed with the signing secret over the raw bytes', () => {
    expect(verifySlackSignature(secret, headers(now / 1000), body, now)).toEqual({ ok: true });
  });

  it('accepts a timestamp up to 5 minutes old and refuses one older or further ahead', () => {
    expect(verifySlackSignature(secret, headers(now / 1000 - 299), body, now).ok).toBe(true);
    expect(verifySlackSignature(secret, headers(now / 1000 - 301), body, now)).toEqual({
      ok: false,
      reason: 'stale',
    });
    expect(verifySlackSignature(secret, headers(now / 1000 + 301), body, now)).toEqual({
      ok: false,
      reason: 'stale',
    });
  });

  it('refuses another secret, a changed body and missing headers', () => {
    expect(verifySlackSignature(secret, headers(now / 1000, 'other'), body, now)).toEqual({
      ok: false,
      reason: 'mismatch',
    });
    const changed = new TextEncoder().encode('{"type":"event_callback","text":"hello"}');
    expect(verifySlackSignature(secret, headers(now / 1000), changed, now)).toEqual({
      ok: false,
      reason: 'mismatch',
    });
    expect(verifySlackSignature(secret, new Headers(), body, now)).toEqual({ ok: false, reason: 'missing' });
  });
});
