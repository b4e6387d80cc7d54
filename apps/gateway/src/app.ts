import { isWabridgeError, type WabridgeError } from '@wabridge/core';
import { Hono } from 'hono';
import { HTTPException } from 'hono/http-exception';
import { adminConsole } from './admin/console/index.ts';
import type { SignInLinks } from './admin/console/sign-in-links.ts';
import { mountAdmin } from './admin/index.ts';
import { BodyGate } from './body-gate.ts';
import { ClientAborted, errorResponse, retryAfter } from './http.ts';
import { connectSlackRoutes } from './routes/connect-slack.ts';
import { health } from './routes/health.ts';
import { connectorHooks } from './routes/hooks.ts';
import { mediaRoutes } from './routes/media.ts';
import { slackAppHooks } from './routes/slack-app-hooks.ts';
import { whatsappWebhook } from './routes/whatsapp.ts';
import type { Runtime } from './runtime.ts';

const STATUS_BY_CODE: Partial<Record<WabridgeError['code'], number>> = {
  bad_request: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  payload_too_large: 413,
  config_invalid: 400,
  // The store is locked by another process or its queue is full: every platform retries a 503.
  unavailable: 503,
};

/** The HTTP surface of the gateway. Tests call `app.request()` without opening a port. */
export function createApp(
  runtime: Runtime,
  options: {
    metricsRegistry?: { metrics(): Promise<string>; contentType: string };
    /** One-time sign-in links of the demo (nothing else makes them). */
    signInLinks?: SignInLinks;
  } = {},
) {
  const app = new Hono();
  // One gate for every body read before its sender is known (WhatsApp and connector callbacks).
  const gate = new BodyGate({
    maxBodies: runtime.env.WEBHOOK_UNVERIFIED_MAX,
    maxBytes: runtime.env.WEBHOOK_UNVERIFIED_MAX_BYTES,
  });
  app.route('/', health(runtime, options.metricsRegistry));
  app.route('/webhooks/whatsapp', whatsappWebhook(runtime, gate));
  // Before `/hooks/:connector/:workspace`, which would read `slack-app` as a connector.
  app.route('/hooks/slack-app', slackAppHooks(runtime, gate));
  app.route('/hooks', connectorHooks(runtime, gate));
  app.route('/media', mediaRoutes(runtime));
  app.route('/connect/slack', connectSlackRoutes(runtime));
  mountAdmin(app, runtime);
  // The console's pages, after the admin middleware and the API (which answers /admin/api first).
  app.route('/admin', adminConsole(runtime, options.signInLinks ? { signInLinks: options.signInLinks } : {}));

  app.notFound((c) =>
    c.json({ error: { code: 'not_found', message: `no route for ${c.req.method} ${c.req.path}` } }, 404),
  );
  app.onError((error, c) => {
    if (error instanceof HTTPException) return error.getResponse();
    if (error instanceof ClientAborted) {
      // Nothing failed here: the client went away (a timeout, a closed tab, a proxy giving up).
      // One quiet line, no stack: at error level, a flood of these would bury real failures.
      runtime.logger.debug(
        { path: c.req.path, code: 'client_aborted' },
        'client closed the connection before its request body arrived',
      );
      return c.json({ error: { code: 'client_aborted', message: error.message } }, 400);
    }
    if (isWabridgeError(error)) {
      const status = error.status ?? STATUS_BY_CODE[error.code] ?? 500;
      // A busy store is a state to report (once per request would flood the log at error level).
      if (error.code === 'unavailable')
        runtime.logger.warn({ code: error.code, path: c.req.path }, error.message);
      else if (status >= 500) runtime.logger.error({ err: error, path: c.req.path }, 'request failed');
      return errorResponse(status, error.code, error.message, retryAfter(error));
    }
    runtime.logger.error({ err: error, path: c.req.path }, 'request failed');
    return c.json({ error: { code: 'internal', message: 'internal error; see the gateway log' } }, 500);
  });
  return app;
}
