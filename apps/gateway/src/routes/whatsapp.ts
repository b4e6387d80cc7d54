import { timingSafeEqual } from 'node:crypto';
import { isWabridgeError, verifyMetaSignature } from '@wabridge/core';
import { Hono } from 'hono';
import type { BodyGate } from '../body-gate.ts';
import { BodyTooLarge, errorResponse, GateFull, gateFullResponse, readGated, retryAfter } from '../http.ts';
import type { Runtime } from '../runtime.ts';

/**
 * Meta's webhook edge. POST order matters: size limit, then the signature over the raw bytes,
 * then parsing, then one durable write; 200 only after the commit. Nothing else happens inline.
 */
export function whatsappWebhook(runtime: Runtime, gate: BodyGate) {
  const { env, metrics, logger } = runtime;
  const secrets = env.WHATSAPP_APP_SECRET ?? [];
  if (secrets.length === 0)
    logger.warn({}, 'WHATSAPP_APP_SECRET is not set: WhatsApp webhook POSTs are refused with 503');
  const app = new Hono();

  // Meta's subscription handshake: echo hub.challenge when the verify token matches.
  app.get('/', (c) => {
    const mode = c.req.query('hub.mode');
    const token = c.req.query('hub.verify_token') ?? '';
    const challenge = c.req.query('hub.challenge') ?? '';
    const expected = env.WHATSAPP_VERIFY_TOKEN;
    if (mode !== 'subscribe' || !expected || !constantTimeEqual(token, expected)) {
      metrics.increment('webhooks_rejected_total', { source: 'whatsapp', reason: 'verify_token' });
      return errorResponse(
        403,
        'verification_failed',
        'hub.mode must be "subscribe" and hub.verify_token must match WHATSAPP_VERIFY_TOKEN',
      );
    }
    if (challenge.length === 0 || challenge.length > 256) {
      return errorResponse(400, 'bad_challenge', 'hub.challenge must be 1 to 256 characters');
    }
    // Plain text with nosniff: the challenge is echoed, so it must never be interpreted as HTML.
    return new Response(challenge, {
      status: 200,
      headers: { 'content-type': 'text/plain; charset=utf-8', 'x-content-type-options': 'nosniff' },
    });
  });

  app.post('/', async (c) => {
    const reject = (status: number, reason: string, message: string, headers?: Record<string, string>) => {
      metrics.increment('webhooks_rejected_total', { source: 'whatsapp', reason });
      logger.warn({ reason, status }, 'WhatsApp webhook rejected');
      return errorResponse(status, reason, message, headers);
    };
    let read: { raw: Uint8Array; release(): void };
    try {
      read = await readGated(
        gate,
        c.req.raw,
        env.WEBHOOK_MAX_BODY_BYTES,
        (c.env as { incoming?: unknown } | undefined)?.incoming,
      );
    } catch (error) {
      if (error instanceof BodyTooLarge) {
        return reject(
          413,
          'payload_too_large',
          `webhook bodies are limited to ${env.WEBHOOK_MAX_BODY_BYTES} bytes`,
        );
      }
      if (error instanceof GateFull) {
        metrics.increment('webhooks_rejected_total', { source: 'whatsapp', reason: 'overloaded' });
        return gateFullResponse();
      }
      // Nobody is left to answer; the connection is gone.
      throw error;
    }
    const { raw } = read;
    // The body leaves the gate once its signature is checked: verified bodies are bounded by the
    // store's own queue (WEBHOOK_STORE_QUEUE_*), refused ones are dropped with the answer.
    let verdict: ReturnType<typeof verifyMetaSignature> | null = null;
    try {
      if (secrets.length > 0)
        verdict = verifyMetaSignature(raw, c.req.header('x-hub-signature-256'), secrets);
    } finally {
      read.release();
    }
    if (!verdict) {
      return reject(503, 'not_configured', 'WHATSAPP_APP_SECRET is not configured; Meta will retry later');
    }
    if (!verdict.ok) {
      const status = verdict.reason === 'missing' ? 401 : 403;
      return reject(status, `signature_${verdict.reason}`, SIGNATURE_MESSAGES[verdict.reason]);
    }
    // Parsed and stored where the data lives (the embedded store's own thread); 200 only after
    // commit. A busy store (locked by another process, or too much already waiting for it) is
    // answered 503 with Retry-After, and Meta sends the body again (see threaded.ts, ingestBody).
    let outcome: Awaited<ReturnType<typeof runtime.webhooks.ingestBody>>;
    try {
      outcome = await runtime.webhooks.ingestBody(raw);
    } catch (error) {
      if (isWabridgeError(error) && error.code === 'unavailable')
        return reject(503, 'store_busy', error.message, retryAfter(error));
      throw error;
    }
    if (!outcome.ok) return reject(400, 'invalid_json', 'the body is not valid UTF-8 JSON');
    metrics.increment('webhooks_received_total', { source: 'whatsapp' });
    if (outcome.result.jobsQueued > 0) runtime.worker?.notify();
    return c.json({ ok: true });
  });

  app.all('/', (c) =>
    errorResponse(
      405,
      'method_not_allowed',
      `${c.req.method} is not used here: Meta verifies the endpoint with GET and delivers webhooks with POST`,
      { allow: 'GET, HEAD, POST' },
    ),
  );

  return app;
}

const SIGNATURE_MESSAGES = {
  missing: 'X-Hub-Signature-256 header is missing',
  malformed: 'X-Hub-Signature-256 must be sha256= followed by 64 hex digits',
  wrong_prefix: 'X-Hub-Signature-256 must start with sha256=',
  mismatch: 'X-Hub-Signature-256 does not match the body (HMAC-SHA256 with the app secret)',
} as const;

function constantTimeEqual(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}
