import { isWabridgeError, type WabridgeError } from '@wabridge/core';
import { Hono } from 'hono';
import { HTTPException } from 'hono/http-exception';
import { adminConsole } from './admin/console/index.ts';
import type { SignInLinks } from './admin/console/sign-in-links.ts';
import { mountAdmin } from './admin/index.ts';
import { BodyGate } from './body-gate.ts';
import { ClientAborted, errorResponse, retryAfter } from './http.ts';
import { connectHubSpotRoutes } from './routes/connect-hubspot.ts';
import { connectSlackRoutes } from './routes/connect-slack.ts';
import { connectTeamsRoutes } from './routes/connect-teams.ts';
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
  // One gate for every body read before its sender is known (WhatsApp and connector callbacks).
  const gate = new BodyGate({
    maxBodies: runtime.env.WEBHOOK_UNVERIFIED_MAX,
    maxBytes: runtime.env.WEBHOOK_UNVERIFIED_MAX_BYTES,
  });
  // Every route but Meta's webhook. Some of its routes are ones Hono's RegExpRouter refuses
  // (`/hooks/slack-app/*` beside `/hooks/:connector/:workspace/*`, the Connect callbacks beside
  // `/:workspace/install`, `retention/run` beside `retention/:kind`), so its SmartRouter falls
  // back to the slower TrieRouter for every request it matches.
  const rest = new Hono();
  rest.route('/', health(runtime, options.metricsRegistry));
  // Before `/hooks/:connector/:workspace`, which would read `slack-app` as a connector.
  rest.route('/hooks/slack-app', slackAppHooks(runtime, gate));
  rest.route('/hooks', connectorHooks(runtime, gate));
  rest.route('/media', mediaRoutes(runtime));
  rest.route('/connect/slack', connectSlackRoutes(runtime));
  rest.route('/connect/hubspot', connectHubSpotRoutes(runtime));
  rest.route('/connect/teams', connectTeamsRoutes(runtime));
  mountAdmin(rest, runtime);
  // The console's pages, after the admin middleware and the API (which answers /admin/api first).
  rest.route(
    '/admin',
    adminConsole(runtime, options.signInLinks ? { signInLinks: options.signInLinks } : {}),
  );
  answerFailures(rest, runtime);

  // The app itself holds only Meta's webhook, the route every message comes through, and hands
  // everything else to `rest` unchanged: few enough routes that the RegExpRouter takes them (one
  // match per request, measured in docs/performance.md), whatever routes `rest` gains.
  const app = new Hono();
  app.route('/webhooks/whatsapp', whatsappWebhook(runtime, gate));
  app.all('*', (c) => rest.fetch(c.req.raw, c.env));
  answerFailures(app, runtime);
  return app;
}

/** The answers for no route and for a failure, the same from both of createApp's apps. */
function answerFailures(app: Hono, runtime: Runtime): void {
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
}
