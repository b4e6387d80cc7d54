/**
 * Bytes on the wire between Meta and a webhook receiver: identifiers, JSON encoding and signatures.
 *
 * - Meta serialises webhook JSON with non-ASCII characters escaped as `\uXXXX` (lowercase hex) and
 *   signs those exact bytes (https://developers.facebook.com/docs/graph-api/webhooks/getting-started/). `metaJson` reproduces that, so a receiver that
 *   re-serialises a parsed body instead of hashing the raw bytes fails here as it would in production.
 * - `X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the raw body keyed with the App Secret>`.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

let counter = 0;

/** A fresh message id shaped like Meta's (`wamid.` + base64). */
export function newWamid(): string {
  counter = (counter + 1) % 0xffff;
  const bytes = Buffer.concat([
    Buffer.from([0x1c, 0x18, 0x0b]),
    randomBytes(24),
    Buffer.from([counter >> 8, counter & 255]),
  ]);
  return `wamid.${bytes.toString('base64')}`;
}

/** A numeric Graph object id (media, template, conversation …), 15–16 digits like Meta's. */
export function newNumericId(): string {
  const n = randomBytes(8).readBigUInt64BE(0) % 9_000_000_000_000_000n;
  return String(1_000_000_000_000_000n + n);
}

/** JSON with non-ASCII escaped as `\uXXXX` (lowercase), the form Meta signs. */
export function metaJson(value: unknown): string {
  return JSON.stringify(value).replace(
    /[\u007f-\uffff]/g,
    (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

/** `sha256=<hex>` for `X-Hub-Signature-256`. */
export function signWebhookBody(appSecret: string, rawBody: string | Uint8Array): string {
  return `sha256=${createHmac('sha256', appSecret).update(rawBody).digest('hex')}`;
}

/** Constant-time check of an `X-Hub-Signature-256` header against the raw body (for receivers and tests). */
export function verifyWebhookSignature(
  appSecret: string,
  rawBody: string | Uint8Array,
  header: string | null | undefined,
): boolean {
  if (typeof header !== 'string' || !header.startsWith('sha256=')) return false;
  const expected = Buffer.from(signWebhookBody(appSecret, rawBody));
  const actual = Buffer.from(header);
  return expected.length === actual.length && timingSafeEqual(expected, actual);
}

/** Digits only: `+1 (650) 555-1234` → `16505551234`. */
export const digitsOnly = (phone: string): string => phone.replace(/\D/g, '');

/** True for a business-scoped user id such as `US.13491208655302741918` or a parent id `US.ENT.…` (https://developers.facebook.com/documentation/business-messaging/whatsapp/business-scoped-user-ids/). */
export const isBsuid = (value: string): boolean => /^[A-Z]{2}\.[A-Za-z0-9.]{1,140}$/.test(value);
