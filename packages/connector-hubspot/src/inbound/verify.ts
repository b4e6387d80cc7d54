/**
 * HubSpot request validation, v3 (https://developers.hubspot.com/docs/apps/developer-platform/build-apps/authentication/request-validation): `X-HubSpot-Signature-v3` is
 * base64(HMAC-SHA256(client secret, method + URI + raw body + timestamp)), with
 * `X-HubSpot-Request-Timestamp` in ms; requests older than 5 minutes are refused. The URI is the
 * full URL HubSpot called, with a few percent-escapes decoded (HubSpot's validation guide).
 *
 * Not the SDK's `Signature.isValid`: it compares with `===` (not constant-time), reads `Date.now()`
 * (no injectable clock) and accepts timestamps from the future.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export const MAX_SKEW_MS = 5 * 60 * 1000;

export type Verdict = 'valid' | 'missing' | 'stale' | 'mismatch';

const ESCAPES: Record<string, string> = {
  '%3A': ':',
  '%2F': '/',
  '%3F': '?',
  '%40': '@',
  '%21': '!',
  '%24': '$',
  '%27': "'",
  '%28': '(',
  '%29': ')',
  '%2A': '*',
  '%2C': ',',
  '%3B': ';',
};

export function decodeUri(uri: string): string {
  return uri.replace(/%(3A|2F|3F|40|21|24|27|28|29|2A|2C|3B)/gi, (m) => ESCAPES[m.toUpperCase()] ?? m);
}

export function signV3(
  secret: string,
  method: string,
  uri: string,
  body: Uint8Array | string,
  timestamp: string,
): string {
  const hmac = createHmac('sha256', secret);
  hmac.update(`${method.toUpperCase()}${decodeUri(uri)}`, 'utf8');
  hmac.update(typeof body === 'string' ? Buffer.from(body, 'utf8') : body);
  hmac.update(timestamp, 'utf8');
  return hmac.digest('base64');
}

/**
 * Checks a request against every URI it may have been signed for (the URL as received and the URL
 * under the gateway's public base, which differ behind a proxy).
 */
export function verifyV3(input: {
  secret: string;
  method: string;
  uris: readonly string[];
  body: Uint8Array;
  signature: string | null;
  timestamp: string | null;
  now: number;
}): Verdict {
  if (!input.signature || !input.timestamp || !/^\d+$/.test(input.timestamp)) return 'missing';
  if (Math.abs(input.now - Number(input.timestamp)) > MAX_SKEW_MS) return 'stale';
  const given = Buffer.from(input.signature, 'base64');
  // Base64 decoding skips what it does not understand (padding, spaces, base64url letters, any
  // stray character): take only the one spelling HubSpot sends, so that a signature names one
  // request and the replay check cannot be dodged by respelling it.
  if (given.toString('base64') !== input.signature) return 'mismatch';
  let valid = false;
  for (const uri of new Set(input.uris)) {
    const expected = Buffer.from(
      signV3(input.secret, input.method, uri, input.body, input.timestamp),
      'base64',
    );
    // Every candidate is compared, in constant time, so timing says nothing about which matched.
    if (expected.length === given.length && timingSafeEqual(expected, given)) valid = true;
  }
  return valid ? 'valid' : 'mismatch';
}
