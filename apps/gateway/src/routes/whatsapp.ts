import { timingSafeEqual } from 'node:crypto';
import { isWabridgeError } from '@wabridge/core';
import {
  DEFAULT_APP,
  identifyMetaSigner,
  type MetaSignerResult,
  type WebhookApp,
  type WebhookView,
} from '@wabridge/whatsapp';
import { type Context, Hono } from 'hono';
import type { BodyGate } from '../body-gate.ts';
import { BodyTooLarge, errorResponse, GateFull, gateFullResponse, readGated, retryAfter } from '../http.ts';
import type { Runtime } from '../runtime.ts';
import { phoneNumberIdsOf } from './whatsapp-numbers.ts';

/**
 * Meta's webhook edge. POST order matters: size limit, then the signature over the raw bytes
 * (which registered app signed), then that app's claim on the numbers in the body, then parsing,
 * then one durable write; 200 only after the commit. Nothing else happens inline.
 *
 * `/webhooks/whatsapp/<app-id>` accepts only that Meta app's signature; the bare path tries the
 * environment's app and every registered one (all of them, in constant time).
 */
export function whatsappWebhook(runtime: Runtime, gate: BodyGate) {
  const { env, metrics, logger, whatsappApps } = runtime;
  if ((env.WHATSAPP_APP_SECRET ?? []).length === 0)
    logger.warn(
      {},
      'WHATSAPP_APP_SECRET is not set: WhatsApp webhook POSTs are refused with 503 unless a Meta app is registered (wabridge whatsapp add-app)',
    );
  const app = new Hono();

  /** Why a signed body is refused, before anything is stored. */
  type Refusal =
    | { refusal: 'unknown_app' | 'not_configured' }
    | { refusal: 'signature'; reason: Exclude<MetaSignerResult<string>, { ok: true }>['reason'] }
    | { refusal: 'app_mismatch'; phoneNumberId: string; owner: string; signer: string };

  /** The apps a request may be signed by: the one of its path, or all of them. */
  const candidatesFor = (view: WebhookView, appId: string | null): readonly WebhookApp[] | 'unknown' => {
    if (appId === null) return view.apps;
    const one = view.app(appId);
    return one && one.appId !== DEFAULT_APP ? [one] : 'unknown';
  };

  // Meta's subscription handshake: echo hub.challenge when the verify token matches.
  const handshake = async (c: Context, appId: string | null) => {
    const mode = c.req.query('hub.mode');
    const token = c.req.query('hub.verify_token') ?? '';
    const challenge = c.req.query('hub.challenge') ?? '';
    const check = (view: WebhookView): 'unknown' | boolean => {
      const candidates = candidatesFor(view, appId);
      if (candidates === 'unknown') return 'unknown';
      // The bare path keeps WHATSAPP_VERIFY_TOKEN; an app's path takes its own token, else that one.
      const expected =
        appId === null
          ? [env.WHATSAPP_VERIFY_TOKEN, ...candidates.map((a) => a.verifyToken)]
          : [candidates[0]?.verifyToken ?? env.WHATSAPP_VERIFY_TOKEN];
      const tokens = expected.filter((t): t is string => typeof t === 'string' && t !== '');
      let matched = false;
      for (const candidate of tokens) matched = constantTimeEqual(token, candidate) || matched;
      return matched;
    };
    // The cached look may be up to a second (and one store call) old: a refusal looks again, as
    // for POSTs, so an app registered a moment ago by another process is found.
    let matched = check(await whatsappApps.webhookView());
    if (matched !== true) matched = check(await whatsappApps.webhookView({ fresh: true }));
    if (matched === 'unknown') return unknownApp(c.req.param('appId') ?? '');
    if (mode !== 'subscribe' || !matched) {
      metrics.increment('webhooks_rejected_total', { source: 'whatsapp', reason: 'verify_token' });
      return errorResponse(
        403,
        'verification_failed',
        appId === null
          ? 'hub.mode must be "subscribe" and hub.verify_token must match WHATSAPP_VERIFY_TOKEN'
          : `hub.mode must be "subscribe" and hub.verify_token must match Meta app ${appId}'s verify token`,
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
  };

  const receive = async (c: Context, appId: string | null) => {
    const reject = (status: number, reason: string, message: string, headers?: Record<string, string>) => {
      metrics.increment('webhooks_rejected_total', { source: 'whatsapp', reason });
      logger.warn({ reason, status, ...(appId ? { appId } : {}) }, 'WhatsApp webhook rejected');
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
    // The apps are looked up with the body held by the gate, so a slow store fills the gate (503)
    // instead of queueing requests nobody bounds. One look for the whole request: the signature
    // and the numbers' owners agree. The look is the apps' cached snapshot; a refusal looks again
    // at the store at once, so an app or number another process registered a moment ago is never
    // the reason a webhook is refused.
    // The numbers are read from the body only when some number belongs to another app than the
    // signer: every body was parsed here on the HTTP thread (~3 µs of CPU for a 0.5 KB webhook,
    // plus its garbage), and the store parses it again anyway. Read at most once, even when a
    // refusal looks again.
    let phoneNumberIds: string[] | undefined;
    const decide = (view: WebhookView): Refusal | { verdict: MetaSignerResult<string> & { ok: true } } => {
      const candidates = candidatesFor(view, appId);
      if (candidates === 'unknown') return { refusal: 'unknown_app' };
      if (candidates.length === 0) return { refusal: 'not_configured' };
      const verdict = identifyMetaSigner(
        raw,
        c.req.header('x-hub-signature-256'),
        candidates.map((a) => ({ key: a.appId, secrets: a.secrets })),
      );
      if (!verdict.ok) return { refusal: 'signature', reason: verdict.reason };
      // A valid signature proves which app sent the body, not that the app may speak for the
      // numbers in it: each routed number is accepted only from its own app.
      if (view.owners.size === 0 || (view.owners.size === 1 && view.owners.has(verdict.key)))
        return { verdict };
      phoneNumberIds ??= phoneNumberIdsOf(raw);
      for (const phoneNumberId of phoneNumberIds) {
        const owner = view.ownerOf(phoneNumberId);
        if (owner !== null && owner !== verdict.key) {
          return { refusal: 'app_mismatch', phoneNumberId, owner, signer: verdict.key };
        }
      }
      return { verdict };
    };
    let decision: ReturnType<typeof decide>;
    try {
      try {
        decision = decide(await whatsappApps.webhookView());
        if ('refusal' in decision) decision = decide(await whatsappApps.webhookView({ fresh: true }));
      } catch (error) {
        if (isWabridgeError(error) && error.code === 'unavailable')
          return reject(503, 'store_busy', error.message, retryAfter(error));
        throw error;
      }
    } finally {
      read.release();
    }
    if ('refusal' in decision) {
      switch (decision.refusal) {
        case 'unknown_app':
          metrics.increment('webhooks_rejected_total', { source: 'whatsapp', reason: 'unknown_app' });
          return unknownApp(c.req.param('appId') ?? '');
        case 'not_configured':
          return reject(
            503,
            'not_configured',
            'WHATSAPP_APP_SECRET is not configured; Meta will retry later',
          );
        case 'signature':
          return reject(
            decision.reason === 'missing' ? 401 : 403,
            `signature_${decision.reason}`,
            SIGNATURE_MESSAGES[decision.reason],
          );
        case 'app_mismatch':
          return reject(
            403,
            'app_mismatch',
            `phone_number_id ${decision.phoneNumberId} belongs to ${describeApp(decision.owner)}; this webhook was signed by ${describeApp(decision.signer)}`,
          );
      }
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
  };

  const notAllowed = (c: Context) =>
    errorResponse(
      405,
      'method_not_allowed',
      `${c.req.method} is not used here: Meta verifies the endpoint with GET and delivers webhooks with POST`,
      { allow: 'GET, HEAD, POST' },
    );

  app.get('/', (c) => handshake(c, null));
  app.post('/', (c) => receive(c, null));
  app.all('/', notAllowed);
  app.get('/:appId{[0-9]+}', (c) => handshake(c, c.req.param('appId')));
  app.post('/:appId{[0-9]+}', (c) => receive(c, c.req.param('appId')));
  app.all('/:appId{[0-9]+}', notAllowed);

  return app;
}

const SIGNATURE_MESSAGES = {
  missing: 'X-Hub-Signature-256 header is missing',
  malformed: 'X-Hub-Signature-256 must be sha256= followed by 64 hex digits',
  wrong_prefix: 'X-Hub-Signature-256 must start with sha256=',
  mismatch: 'X-Hub-Signature-256 does not match the body (HMAC-SHA256 with the app secret)',
} as const;

const describeApp = (appId: string) =>
  appId === DEFAULT_APP ? 'the default Meta app (WHATSAPP_APP_SECRET)' : `Meta app ${appId}`;

function unknownApp(appId: string) {
  return errorResponse(
    404,
    'unknown_app',
    `Meta app ${appId} is not registered here (wabridge whatsapp add-app ${appId} --secret-env VAR)`,
  );
}

function constantTimeEqual(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}
