import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * Session ids and API tokens: 256 random bits, handed out once and stored only as their SHA-256
 * (a fast hash is enough for 256-bit random values: there is nothing to guess).
 */
export function randomSecret(): string {
  return randomBytes(32).toString('base64url');
}

export function hashSecret(secret: string): string {
  return createHash('sha256').update(secret).digest('base64url');
}

/** API tokens carry a prefix, so a leaked one is recognised by secret scanners and in logs. */
export const API_TOKEN_PREFIX = 'wbt_';

/**
 * The CSRF token of a session: an HMAC of the session id, so it is bound to the session (a token
 * from another session, or from before a login, fails) and needs no storage.
 */
export function csrfTokenFor(sessionId: string): string {
  return createHmac('sha256', sessionId).update('wabridge admin csrf v1').digest('base64url');
}

export function safeEqual(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}
