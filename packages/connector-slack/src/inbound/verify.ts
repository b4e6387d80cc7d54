import { createHmac, timingSafeEqual } from 'node:crypto';

/** Slack refuses requests older than this (replay protection), and so do we. */
export const SIGNATURE_WINDOW_MS = 5 * 60_000;

export type SignatureCheck = { ok: true } | { ok: false; reason: 'missing' | 'stale' | 'mismatch' };

/**
 * Slack's v0 request signature: `X-Slack-Signature: v0=<hex HMAC-SHA256>` of
 * `v0:<X-Slack-Request-Timestamp>:<raw body>` keyed with the signing secret, compared in constant
 * time, with the timestamp within 5 minutes of now (https://docs.slack.dev/authentication/verifying-requests-from-slack). Computed on the raw bytes
 * the gateway read, never on a re-serialised body.
 *
 * Written here rather than taken from Bolt's `verifySlackRequest` so the check uses the injected
 * clock (the 5-minute window is testable) and runs on the bytes the gateway read under its body
 * limit, before Bolt's `App` sees a parsed body (see handler.ts).
 */
export function verifySlackSignature(
  signingSecret: string,
  headers: Headers,
  rawBody: Uint8Array,
  nowMs: number,
): SignatureCheck {
  const timestamp = headers.get('x-slack-request-timestamp');
  const signature = headers.get('x-slack-signature');
  if (!timestamp || !signature || !/^\d+$/.test(timestamp)) return { ok: false, reason: 'missing' };
  if (Math.abs(nowMs - Number(timestamp) * 1000) > SIGNATURE_WINDOW_MS) return { ok: false, reason: 'stale' };
  const expected = Buffer.from(
    `v0=${createHmac('sha256', signingSecret).update(`v0:${timestamp}:`).update(rawBody).digest('hex')}`,
  );
  const given = Buffer.from(signature);
  return expected.length === given.length && timingSafeEqual(expected, given)
    ? { ok: true }
    : { ok: false, reason: 'mismatch' };
}
