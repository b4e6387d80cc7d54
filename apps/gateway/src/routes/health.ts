import { Hono } from 'hono';
import { errorResponse } from '../app.ts';
import type { Runtime } from '../runtime.ts';

/** Liveness, readiness and Prometheus metrics. */
export function health(runtime: Runtime, registry?: { metrics(): Promise<string>; contentType: string }) {
  const app = new Hono();
  app.get('/healthz', (c) => c.json({ status: 'ok' }));
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
