import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { decodeUri, MAX_SKEW_MS, signV3, verifyV3 } from './verify.ts';

const secret = 'client-secret';
const uri = 'https://bridge.example.com/hooks/hubspot/ws-1/webhooks';
const body = new TextEncoder().encode('[{"eventId":1,"propertyValue":"opted_out — café"}]');
const now = 1_760_000_000_000;

function signed(timestamp: number, on = uri, key = secret) {
  return signV3(key, 'POST', on, body, String(timestamp));
}

describe('HubSpot v3 request validation', () => {
  it("matches HubSpot's recipe: base64 HMAC-SHA256 of method + URI + body + timestamp", () => {
    const expected = createHmac('sha256', secret)
      .update(`POST${uri}${new TextDecoder().decode(body)}${now}`)
      .digest('base64');
    expect(signed(now)).toBe(expected);
  });

  it('accepts a fresh, correctly signed request', () => {
    const verdict = verifyV3({
      secret,
      method: 'POST',
      uris: [uri],
      body,
      signature: signed(now),
      timestamp: String(now),
      now,
    });
    expect(verdict).toBe('valid');
  });

  it('refuses requests older or newer than five minutes even when correctly signed', () => {
    for (const timestamp of [now - MAX_SKEW_MS - 1, now + MAX_SKEW_MS + 1]) {
      const verdict = verifyV3({
        secret,
        method: 'POST',
        uris: [uri],
        body,
        signature: signed(timestamp),
        timestamp: String(timestamp),
        now,
      });
      expect(verdict).toBe('stale');
    }
  });

  it('refuses a wrong secret, another URI, a changed body, or missing headers', () => {
    const base = { secret, method: 'POST', uris: [uri], body, timestamp: String(now), now };
    expect(verifyV3({ ...base, signature: signed(now, uri, 'other') })).toBe('mismatch');
    expect(
      verifyV3({ ...base, signature: signed(now, 'https://evil.test/hooks/hubspot/ws-1/webhooks') }),
    ).toBe('mismatch');
    expect(verifyV3({ ...base, body: new TextEncoder().encode('[]'), signature: signed(now) })).toBe(
      'mismatch',
    );
    expect(verifyV3({ ...base, signature: null })).toBe('missing');
    expect(verifyV3({ ...base, signature: signed(now), timestamp: null })).toBe('missing');
    expect(verifyV3({ ...base, signature: 'not base64 at all' })).toBe('mismatch');
  });

  it('accepts the signature for any of the candidate URIs (as received, or under the public URL)', () => {
    const verdict = verifyV3({
      secret,
      method: 'POST',
      uris: ['http://127.0.0.1:3000/hooks/hubspot/ws-1/webhooks', uri],
      body,
      signature: signed(now),
      timestamp: String(now),
      now,
    });
    expect(verdict).toBe('valid');
  });

  it('decodes the escapes HubSpot decodes before signing, and no others', () => {
    expect(decodeUri('https://x.test/a%3Ab%2Fc%3Fd%40e%21%24%27%28%29%2A%2C%3B?q=%20')).toBe(
      "https://x.test/a:b/c?d@e!$'()*,;?q=%20",
    );
  });
});
