// The two servers the ingest benchmark compares, each run in its own process:
//   bare     — a bare Hono server that reads the body and answers 200 (the baseline);
//   gateway  — the real wabridge gateway: size limit, signature check, zod parse, routing, one
//              durable write queuing jobs for two connectors: SQLite (WAL, synchronous=FULL, group
//              commit), or Postgres with DATABASE_URL (group commit per process). With
//              `--joining` it only serves: another gateway on the same database set it up.
import { serve } from '@hono/node-server';
import { createRegistry, noopMetrics } from '@wabridge/core';
// Its own entry, not `@wabridge/core/testing` (vitest and the conformance suites): see e2e-servers.ts.
import { ledgerConnector } from '@wabridge/core/testing/ledger';
import { Hono } from 'hono';
import { createLogger, createRuntime, loadEnv, startServer } from '../src/index.ts';

const mode = process.argv[2];
const port = Number(process.env.PORT);

if (mode === 'bare') {
  const app = new Hono();
  app.post('/webhooks/whatsapp', async (c) => {
    await c.req.arrayBuffer();
    return c.json({ ok: true });
  });
  serve({ fetch: app.fetch, port, hostname: '127.0.0.1' }, () => process.stdout.write('ready\n'));
} else if (mode === 'gateway') {
  const env = loadEnv();
  const registry = createRegistry([ledgerConnector, { ...ledgerConnector, id: 'mirror-b' }]);
  if (process.argv[3] !== '--joining') await setUp(env, registry);
  // Ingest only: the worker is off so delivery does not compete with the edge for the CPU.
  await startServer(env, { worker: false, http: true, registry });
  process.stdout.write('ready\n');
} else {
  throw new Error(`unknown server ${mode}`);
}
// An exit, not the signal's default, so that --cpu-prof writes its profiles.
process.once('SIGINT', () => process.exit(0));
process.once('SIGTERM', () => process.exit(0));

/** The bench's workspace: one number, two connectors that mirror every message. */
async function setUp(env: ReturnType<typeof loadEnv>, registry: ReturnType<typeof createRegistry>) {
  const setup = await createRuntime({
    env,
    registry,
    logger: createLogger('warn'),
    metrics: noopMetrics,
    worker: false,
  });
  await setup.admin.createWorkspace('bench', { id: 'bench', name: 'Bench' });
  await setup.admin.addPhoneNumber('bench', 'bench', { phoneNumberId: '106540352242922' });
  for (const id of ['ledger', 'mirror-b']) {
    await setup.admin.setConnector('bench', 'bench', id, {
      enabled: true,
      config: { url: 'http://127.0.0.1:9', secret: 'bench-secret-1' },
    });
  }
  await setup.close();
}
