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
    try {
      // One indexed read: probes come every few seconds and must not cost the store a scan.
      // Queue depth is in /metrics (wabridge_jobs) and `wabridge status`.
      await runtime.store.configVersion();
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

/** `Bearer <token>`, compared in constant time (digests, so lengths do not leak either). */
function bearerMatches(header: string | undefined, token: string): boolean {
  const digest = (text: string) => createHash('sha256').update(text).digest();
  return timingSafeEqual(digest(header ?? ''), digest(`Bearer ${token}`));
}
