/**
 * `X-Hub-Signature-256` verification for Meta webhooks (https://developers.facebook.com/docs/graph-api/webhooks/getting-started/): HMAC-SHA256 of the
 * raw request bytes keyed with the App Secret. Verify before parsing; a re-serialised body
 * (key order, unicode escaping) never matches.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { WabridgeError } from '@wabridge/core';

export type MetaSignatureFailure = 'missing' | 'malformed' | 'wrong_prefix' | 'mismatch';
export type MetaSignatureResult = { ok: true } | { ok: false; reason: MetaSignatureFailure };

const SIGNATURE_HEX = /^[0-9a-fA-F]{64}$/;

/**
 * Checks the header against every configured app secret (several during a rotation). All
 * secrets are always tried so response timing does not reveal which one matched.
 *
 * Throws `config_invalid` when no secret is configured or one is empty: an empty HMAC key is
 * forgeable, and zero keys would reject every webhook silently.
 *
 * @example verifyMetaSignature(rawBody, req.header('x-hub-signature-256'), [env.META_APP_SECRET])
 */
export function verifyMetaSignature(
  rawBody: Uint8Array,
  header: string | undefined | null,
  appSecrets: readonly string[],
): MetaSignatureResult {
  assertSecrets(appSecrets);
  if (header === undefined || header === null || header.trim() === '')
    return { ok: false, reason: 'missing' };
  const value = header.trim();
  const separator = value.indexOf('=');
  if (separator <= 0) return { ok: false, reason: 'malformed' };
  if (value.slice(0, separator).toLowerCase() !== 'sha256') return { ok: false, reason: 'wrong_prefix' };
  const hex = value.slice(separator + 1);
  if (!SIGNATURE_HEX.test(hex)) return { ok: false, reason: 'malformed' };

  const provided = Buffer.from(hex, 'hex');
  let matched = false;
  for (const secret of appSecrets) {
    const expected = createHmac('sha256', secret).update(rawBody).digest();
    // Both are 32-byte SHA-256 digests, so timingSafeEqual's equal-length requirement holds.
    const equal = timingSafeEqual(expected, provided);
    matched = matched || equal;
  }
  return matched ? { ok: true } : { ok: false, reason: 'mismatch' };
}

/**
 * The `X-Hub-Signature-256` header value Meta would send for these bytes.
 *
 * @example fetch(url, { method: 'POST', body, headers: { 'x-hub-signature-256': signMetaPayload(body, secret) } })
 */
export function signMetaPayload(rawBody: Uint8Array | string, secret: string): string {
  assertSecrets([secret]);
  return `sha256=${createHmac('sha256', secret).update(rawBody).digest('hex')}`;
}

function assertSecrets(secrets: readonly string[]): void {
  if (secrets.length === 0) {
    throw new WabridgeError('config_invalid', 'No Meta app secret is configured for webhook verification');
  }
  if (secrets.some((secret) => typeof secret !== 'string' || secret === '')) {
    throw new WabridgeError('config_invalid', 'A configured Meta app secret is empty');
  }
}

/** One app's secrets under a key the caller chooses (e.g. its app id). */
export interface MetaSignerCandidate<K> {
  key: K;
  secrets: readonly string[];
}

export type MetaSignerResult<K> = { ok: true; key: K } | { ok: false; reason: MetaSignatureFailure };

/**
 * Which of several Meta apps signed a body. Every candidate's every secret is computed and
 * compared, with no early exit, so the answer's timing does not reveal which app (or whether
 * any) matched. When two apps share a secret the first listed wins.
 */
export function identifyMetaSigner<K>(
  rawBody: Uint8Array,
  header: string | undefined | null,
  candidates: readonly MetaSignerCandidate<K>[],
): MetaSignerResult<K> {
  for (const candidate of candidates) assertSecrets(candidate.secrets);
  const provided = parseSignatureHeader(header);
  if (!provided.ok) return provided;
  let found = -1;
  for (const [index, candidate] of candidates.entries()) {
    for (const secret of candidate.secrets) {
      const expected = createHmac('sha256', secret).update(rawBody).digest();
      const equal = timingSafeEqual(expected, provided.digest);
      // Arithmetic rather than a branch that stops looking: every HMAC is computed either way.
      found += Number(equal && found === -1) * (index + 1);
    }
  }
  const match = found >= 0 ? candidates[found] : undefined;
  return match ? { ok: true, key: match.key } : { ok: false, reason: 'mismatch' };
}

function parseSignatureHeader(
  header: string | undefined | null,
): { ok: true; digest: Buffer } | { ok: false; reason: MetaSignatureFailure } {
  if (header === undefined || header === null || header.trim() === '')
    return { ok: false, reason: 'missing' };
  const value = header.trim();
  const separator = value.indexOf('=');
  if (separator <= 0) return { ok: false, reason: 'malformed' };
  if (value.slice(0, separator).toLowerCase() !== 'sha256') return { ok: false, reason: 'wrong_prefix' };
  const hex = value.slice(separator + 1);
  if (!SIGNATURE_HEX.test(hex)) return { ok: false, reason: 'malformed' };
  return { ok: true, digest: Buffer.from(hex, 'hex') };
}
