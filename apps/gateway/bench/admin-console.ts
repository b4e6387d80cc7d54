// npm run bench:admin — how long the admin console takes to render each page, server side, with
// 100 workspaces (each with a number, Slack, HubSpot and Teams enabled, an audit trail, messages
// and dead letters). Requests go through the whole Hono app (session middleware, CSRF, the page)
// with `app.request()`, no socket: the figure is the server's share of a page load.
// Options: --workspaces <n> (default 100), --rounds <n> (default 50)
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { identity, inboundMessage, messagesUnit } from '@wabridge/core/testing';
import { createApp } from '../src/app.ts';
import { defaultRegistry } from '../src/connectors.ts';
import { loadEnv } from '../src/env.ts';
import { createLogger } from '../src/logger.ts';
import { createMetrics } from '../src/metrics.ts';
import { createRuntime } from '../src/runtime.ts';

const { values } = parseArgs({
  options: { workspaces: { type: 'string', default: '100' }, rounds: { type: 'string', default: '50' } },
});
const WORKSPACES = Number(values.workspaces);
const ROUNDS = Number(values.rounds);
if (!Number.isInteger(WORKSPACES) || WORKSPACES < 1 || !Number.isInteger(ROUNDS) || ROUNDS < 1)
  throw new Error('--workspaces and --rounds take positive whole numbers');
const out = (line: string) => process.stdout.write(`${line}\n`);

const dir = mkdtempSync(join(tmpdir(), 'wabridge-bench-admin-'));
const env = loadEnv({
  NODE_ENV: 'test',
  LOG_LEVEL: 'silent',
  WABRIDGE_DATA_DIR: dir,
  WABRIDGE_MASTER_KEY: Buffer.alloc(32, 7).toString('base64'),
  WHATSAPP_APP_SECRET: 'bench',
  WHATSAPP_VERIFY_TOKEN: 'bench',
  WHATSAPP_ACCESS_TOKEN: 'bench',
});
const runtime = await createRuntime({
  env,
  registry: defaultRegistry(),
  logger: createLogger('silent'),
  metrics: createMetrics(() => null),
  worker: false,
});
const app = createApp(runtime);
try {
  out(`seeding ${WORKSPACES} workspaces…`);
  const owner = { email: 'owner@bench.example', password: 'bench owner password' };
  await runtime.access.createAccount('bench', { ...owner, name: 'Owner', owner: true });
  for (let w = 0; w < WORKSPACES; w++) {
    const id = `ws-${String(w).padStart(3, '0')}`;
    const number = `1065403522${String(w).padStart(5, '0')}`;
    await runtime.admin.createWorkspace('bench', { id, name: `Workspace ${w}` });
    await runtime.admin.addPhoneNumber('bench', id, { phoneNumberId: number });
    await runtime.admin.setConnector('bench', id, 'slack', {
      enabled: true,
      config: {
        botToken: 'xoxb-1111-2222-benchbenchbench',
        signingSecret: 'bench-signing-secret',
        teamId: 'T0BENCH01',
        defaultChannel: 'C0BENCH01',
      },
    });
    await runtime.admin.setConnector('bench', id, 'hubspot', {
      enabled: true,
      config: { accessToken: 'pat-na1-bench', clientSecret: 'bench-client-secret' },
    });
    await runtime.admin.setConnector('bench', id, 'teams', {
      enabled: true,
      config: {
        tenantId: '5f1c1f4e-5a7d-4b8e-9c1a-0b5ad5b0c0de',
        clientId: '8d0b1a3c-2f4e-4a6b-9c8d-7e6f5a4b3c2d',
        clientSecret: 'bench-client-secret',
        refreshToken: 'bench-refresh-token',
        teamId: 'fbe2bf47-16c8-47cf-b4a5-4b9b187c508b',
        channelId: '19:4a1f5b2c8d6e4f0a9b3c7d1e2f3a4b5c@thread.tacv2',
      },
    });
    await runtime.store.ingest(
      messagesUnit(id, {
        phoneNumberId: number,
        messages: Array.from({ length: 50 }, (_, i) =>
          inboundMessage({
            wamid: `wamid.bench.${w}.${i}`,
            timestamp: 1_750_000_000_000 + i,
            contact: identity({ waId: `1555${String(i % 10).padStart(7, '0')}` }),
          }),
        ),
      }),
    );
  }
  // Sign in through the console's own form, as a browser does.
  const signIn = await app.request('/admin/sign-in', {
    method: 'POST',
    body: new URLSearchParams(owner),
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
  });
  const cookie = (signIn.headers.get('set-cookie') ?? '').split(';')[0] ?? '';
  if (signIn.status !== 303 || !cookie) throw new Error(`sign-in failed: ${signIn.status}`);

  const target = 'ws-050';
  const pages = [
    '/admin/workspaces',
    `/admin/workspaces/${target}`,
    `/admin/workspaces/${target}/connectors/slack`,
    `/admin/workspaces/${target}/connectors/teams`,
    `/admin/workspaces/${target}/policies`,
    `/admin/workspaces/${target}/health`,
    `/admin/workspaces/${target}/audit`,
  ];
  out(`\n${WORKSPACES} workspaces, ${ROUNDS} renders per page (after 5 warm-up renders):\n`);
  out('page                                          median     p95      max   bytes');
  for (const path of pages) {
    const times: number[] = [];
    let bytes = 0;
    for (let round = 0; round < ROUNDS + 5; round++) {
      const started = performance.now();
      const response = await app.request(path, { headers: { cookie } });
      const body = await response.text();
      const elapsed = performance.now() - started;
      if (response.status !== 200) throw new Error(`${path} answered ${response.status}`);
      if (round >= 5) times.push(elapsed);
      bytes = body.length;
    }
    times.sort((a, b) => a - b);
    const at = (q: number) => times[Math.min(times.length - 1, Math.floor(q * times.length))] ?? 0;
    out(
      `${path.padEnd(44)} ${at(0.5).toFixed(1).padStart(6)} ms ${at(0.95).toFixed(1).padStart(6)} ms ${(times.at(-1) ?? 0).toFixed(1).padStart(6)} ms ${String(bytes).padStart(7)}`,
    );
  }
} finally {
  await runtime.close();
  rmSync(dir, { recursive: true, force: true });
}
