import { createHash, timingSafeEqual } from 'node:crypto';
import { Hono } from 'hono';
import { healthReport } from '../connector-health.ts';
import { errorResponse } from '../http.ts';
import type { Runtime } from '../runtime.ts';

/** Liveness, readiness and Prometheus metrics. */
export function health(runtime: Runtime, registry?: { metrics(): Promise<string>; contentType: string }) {
  const app = new Hono();
  app.get('/healthz', async (c) => {
    if (c.req.query('verbose') === undefined) return c.json({ status: 'ok' });
    // The connector view names workspaces and what failed where: for monitoring, not the public.
    const refused = monitoringRefusal(runtime, c.req.header('authorization'), '/healthz?verbose');
    if (refused) return refused;
    try {
      return c.json({ status: 'ok', ...(await healthReport(runtime.store)) });
    } catch (error) {
      runtime.logger.error({ err: error }, 'connector health could not be read');
      return errorResponse(503, 'not_ready', 'the store is not reachable');
    }
  });
  app.get('/readyz', async (c) => {
    // The store thread has been waiting (on a lock another process holds) for a while: webhooks
    // are being answered 503, so a balancer should send them elsewhere. The probe is not queued
    // behind the stalled work.
    const stalledMs = runtime.storeStalledForMs();
    if (stalledMs > READY_STALL_MS) {
      return errorResponse(
        503,
        'not_ready',
        `the store has not answered for ${Math.round(stalledMs / 1000)} s`,
        {
          'retry-after': '5',
        },
      );
    }
    try {
      // One indexed read: probes come every few seconds and must not cost the store a scan.
      // Queue depth is in /metrics (wabridge_jobs) and `wabridge status`.
      // Bounded like the stall: a read queued behind a lock wait would otherwise answer 10 s late.
      let timer: NodeJS.Timeout | undefined;
      const answered = await Promise.race([
        runtime.store.configVersion().then(() => true),
        new Promise<false>((resolve) => {
          timer = setTimeout(() => resolve(false), READY_STALL_MS);
        }),
      ]).finally(() => clearTimeout(timer));
      if (!answered)
        return errorResponse(503, 'not_ready', 'the store did not answer in time', { 'retry-after': '5' });
      return c.json({ status: 'ready' });
    } catch (error) {
      runtime.logger.error({ err: error }, 'readiness check failed');
      return errorResponse(503, 'not_ready', 'the store is not reachable');
    }
  });
  app.get('/metrics', async (c) => {
    if (!registry) return errorResponse(404, 'not_found', 'metrics are not enabled');
    // Queue depths, connector names and error codes: monitoring data, gated like /healthz?verbose.
    const refused = monitoringRefusal(runtime, c.req.header('authorization'), '/metrics');
    if (refused) return refused;
    return new Response(await registry.metrics(), { headers: { 'content-type': registry.contentType } });
  });
  return app;
}

/**
 * The one gate for monitoring endpoints. With METRICS_TOKEN set, the request needs
 * `Authorization: Bearer <token>`. Without one they are open only in development: in production
 * (NODE_ENV=production) an unset token means closed, with an answer that says how to open them,
 * never open by omission.
 */
function monitoringRefusal(
  runtime: Runtime,
  authorization: string | undefined,
  what: string,
): Response | null {
  const token = runtime.env.METRICS_TOKEN;
  if (token) {
    if (bearerMatches(authorization, token)) return null;
    return errorResponse(401, 'unauthorized', `${what} needs the bearer token from METRICS_TOKEN`, {
      'www-authenticate': 'Bearer',
    });
  }
  if (runtime.env.devMode) return null;
  return errorResponse(403, 'metrics_token_required', `set METRICS_TOKEN to read ${what} in production`);
}

/** How long the store may go without answering before /readyz says not ready. */
const READY_STALL_MS = 2000;

/**
 * `Bearer <token>`, compared in constant time: both sides are hashed first, so timingSafeEqual
 * always gets equal lengths and neither the token nor its length leaks through timing.
 */
function bearerMatches(header: string | undefined, token: string): boolean {
  const digest = (text: string) => createHash('sha256').update(text).digest();
  return timingSafeEqual(digest(header ?? ''), digest(`Bearer ${token}`));
}
