import { ledgerConnector } from '@wabridge/core/testing';
import { parseWebhookPayload } from '@wabridge/whatsapp';
import { customerMessage } from '@wabridge/whatsapp/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { createTestApp } from '../testing/harness.ts';

type TestApp = Awaited<ReturnType<typeof createTestApp>>;

describe('health endpoints', () => {
  let t: TestApp | null = null;
  afterEach(async () => {
    await t?.close();
    t = null;
  });

  /** A message whose delivery failed with refused credentials, as the worker records it. */
  async function failedDelivery(app: TestApp) {
    const parsed = parseWebhookPayload(
      customerMessage('wamid.health.1', { type: 'text', text: { body: 'hi' } }),
    );
    if (!parsed.ok) throw new Error(parsed.issues.join('; '));
    await app.runtime.ingestor.ingest(parsed.changes);
    const [job] = await app.runtime.store.claimJobs({
      limit: 1,
      leaseMs: 30_000,
      workerId: 'w',
      now: Date.now(),
    });
    expect(job).toBeDefined();
    await app.runtime.store.retryJob(job!.lease, {
      runAt: Date.now() + 60_000,
      error: 'auth_failed: the ledger refused the secret',
      countAttempt: true,
    });
  }

  it('/healthz?verbose shows a failing connector while /readyz, about the process, stays ready', async () => {
    t = await createTestApp({
      connectors: [
        { manifest: ledgerConnector, config: { url: 'http://127.0.0.1:9', secret: 'ledger-secret-123' } },
      ],
    });
    await failedDelivery(t);
    expect(await (await t.app.request('/healthz')).json()).toEqual({ status: 'ok' });
    expect((await t.app.request('/readyz')).status).toBe(200);
    const verbose = await t.app.request('/healthz?verbose');
    expect(verbose.status).toBe(200);
    const body = (await verbose.json()) as { connectors: unknown[]; jobs: { ready: number } };
    expect(body.jobs.ready).toBe(1);
    expect(body.connectors).toEqual([
      {
        workspace: t.workspaceId,
        connector: 'ledger',
        enabled: true,
        state: 'failing',
        lastSuccessAt: null,
        lastErrorAt: expect.any(String),
        lastError: expect.stringMatching(
          /^The ledger refused the secret\. The credentials were refused: check them with wabridge connector test acme ledger/,
        ),
        lastErrorCode: 'auth_failed',
        retrying: 1,
        dead: 0,
      },
    ]);
  });

  it('/healthz?verbose needs the METRICS_TOKEN bearer when one is set, and one in production', async () => {
    t = await createTestApp({ env: { METRICS_TOKEN: 'monitor-token' } });
    expect((await t.app.request('/healthz?verbose')).status).toBe(401);
    expect(
      (await t.app.request('/healthz?verbose', { headers: { authorization: 'Bearer nope' } })).status,
    ).toBe(401);
    const allowed = await t.app.request('/healthz?verbose', {
      headers: { authorization: 'Bearer monitor-token' },
    });
    expect(allowed.status).toBe(200);
    await t.close();
    t = await createTestApp({
      env: {
        NODE_ENV: 'production',
        WHATSAPP_APP_SECRET: 'x',
        WHATSAPP_VERIFY_TOKEN: 'x',
        WHATSAPP_ACCESS_TOKEN: 'x',
      },
    });
    const refused = await t.app.request('/healthz?verbose');
    expect(refused.status).toBe(403);
    expect(await refused.json()).toMatchObject({
      error: {
        code: 'metrics_token_required',
        message: 'set METRICS_TOKEN to read /healthz?verbose in production',
      },
    });
    // Plain liveness stays open: probes carry no token.
    expect((await t.app.request('/healthz')).status).toBe(200);
  });

  const production = {
    NODE_ENV: 'production',
    WHATSAPP_APP_SECRET: 'x',
    WHATSAPP_VERIFY_TOKEN: 'x',
    WHATSAPP_ACCESS_TOKEN: 'x',
  };

  it('/metrics is closed in production when METRICS_TOKEN is not set, and says how to open it', async () => {
    t = await createTestApp({ env: production });
    const refused = await t.app.request('/metrics');
    expect(refused.status).toBe(403);
    expect(await refused.json()).toEqual({
      error: { code: 'metrics_token_required', message: 'set METRICS_TOKEN to read /metrics in production' },
    });
    // Any bearer is refused too: there is no token it could match.
    expect((await t.app.request('/metrics', { headers: { authorization: 'Bearer ' } })).status).toBe(403);
  });

  it('/metrics stays open without a token in development (a laptop scrape needs no setup)', async () => {
    t = await createTestApp();
    const open = await t.app.request('/metrics');
    expect(open.status).toBe(200);
    expect(await open.text()).toContain('wabridge_');
  });

  it('/metrics with METRICS_TOKEN answers only the exact bearer: not a prefix, an extension or another scheme', async () => {
    t = await createTestApp({ env: { ...production, METRICS_TOKEN: 'monitor-token' } });
    for (const authorization of [
      undefined,
      'Bearer monitor-toke',
      'Bearer monitor-token2',
      'bearer monitor-token',
      'Basic monitor-token',
      'monitor-token',
    ]) {
      const response = await t.app.request('/metrics', authorization ? { headers: { authorization } } : {});
      expect(response.status, String(authorization)).toBe(401);
      expect(response.headers.get('www-authenticate')).toBe('Bearer');
    }
    const allowed = await t.app.request('/metrics', { headers: { authorization: 'Bearer monitor-token' } });
    expect(allowed.status).toBe(200);
    expect(await allowed.text()).toContain('wabridge_');
  });
});
