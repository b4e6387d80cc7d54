import { createHash, timingSafeEqual } from 'node:crypto';
import { Hono } from 'hono';
import { errorResponse } from '../app.ts';
import { healthReport } from '../connector-health.ts';
import type { Runtime } from '../runtime.ts';

/** Liveness, readiness and Prometheus metrics. */
export function health(runtime: Runtime, registry?: { metrics(): Promise<string>; contentType: string }) {
  const app = new Hono();
  app.get('/healthz', async (c) => {
    if (c.req.query('verbose') === undefined) return c.json({ status: 'ok' });
    // The connector view names workspaces and what failed where: for monitoring, not the public.
    const token = runtime.env.METRICS_TOKEN;
    if (token ? !bearerMatches(c.req.header('authorization'), token) : !runtime.env.devMode) {
      return errorResponse(
        401,
        'unauthorized',
        token
          ? '/healthz?verbose needs the bearer token from METRICS_TOKEN'
          : 'set METRICS_TOKEN to read /healthz?verbose in production',
      );
    }
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
    const token = runtime.env.METRICS_TOKEN;
    if (token && c.req.header('authorization') !== `Bearer ${token}`) {
      return errorResponse(401, 'unauthorized', 'metrics need the bearer token from METRICS_TOKEN');
    }
    return new Response(await registry.metrics(), { headers: { 'content-type': registry.contentType } });
  });
  return app;
}

/** How long the store may go without answering before /readyz says not ready. */
const READY_STALL_MS = 2000;

/** `Bearer <token>`, compared in constant time (digests, so lengths do not leak either). */
function bearerMatches(header: string | undefined, token: string): boolean {
  const digest = (text: string) => createHash('sha256').update(text).digest();
  return timingSafeEqual(digest(header ?? ''), digest(`Bearer ${token}`));
}
