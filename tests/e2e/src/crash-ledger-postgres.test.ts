import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, type LedgerTarget, seededRandom, startLedgerTarget } from '@wabridge/core/testing';
import { openPostgresStore } from '@wabridge/store-postgres';
import { freshSchema, testDatabaseUrl } from '@wabridge/store-postgres/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { childEnv } from './support/child-env.ts';
import {
  CrashChildren,
  expectExactlyOnceInOrder,
  inboundCounter,
  inboundEffects,
  kill9,
  killAtProgress,
  ledgerWebhook,
  postUntilAcknowledged,
  until,
} from './support/crash-ledger.ts';

/**
 * The crash ledger on Postgres (issue 21): two gateways (`serve --no-worker`) and two workers
 * (`worker`) on one fresh schema. Meta (this test) sends 10,000 webhooks spread over both gateways,
 * each retried until a 200 and sent to the other gateway when one refused or is down, as a load
 * balancer would, while the four processes are killed -9 at seeded points and restarted. Then the
 * non-idempotent ledger platform must show every acknowledged message exactly once, in order per
 * conversation: no lost webhook, no duplicate effect, no two messages of a conversation at once.
 */
const APP_SECRET = 'crash-pg-app-secret';
const CONVERSATIONS = 50;
const PER_CONVERSATION = 200; // 10,000 webhooks
const LANES = 16;
// Appends to one workspace's archive log take turns (its head row is locked until commit), so the
// conversations are spread over five workspaces, as a deployment's numbers would be.
const WORKSPACES = 5;
const MIN_KILLS = 50;

describe('crash safety on Postgres, two gateways and two workers', () => {
  let dir: string;
  let schema: { schema: string; drop: () => Promise<void> };
  let ledger: LedgerTarget;
  let ports: number[];
  let env: Record<string, string>;
  const children = new CrashChildren(() => env);

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'wabridge-crash-pg-'));
    schema = await freshSchema('wb_crash');
    ledger = await startLedgerTarget();
    ports = [await freePort(), await freePort()];
    env = childEnv({
      port: ports[0] ?? 0,
      dataDir: dir,
      appSecret: APP_SECRET,
      keyByte: 11,
      extra: {
        DATABASE_URL: testDatabaseUrl,
        DATABASE_SCHEMA: schema.schema,
        JOB_LEASE_MS: '2000',
        CRASH_WORKSPACES: String(WORKSPACES),
        LEDGER_URL: ledger.url,
      },
    });
    expect(await children.setup()).toBe(0);
  }, 120_000);

  afterAll(async () => {
    await children.killAll();
    await ledger?.close();
    if (process.env.KEEP_CRASH_DIR) process.stdout.write(`crash schema kept: ${schema?.schema}\n`);
    else await schema?.drop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('every acknowledged message is delivered exactly once, in order, across 50+ SIGKILLs of gateways and workers', async () => {
    const spawners: Record<string, () => ChildProcess> = {
      gateway0: () => children.spawn('gateway', { PORT: String(ports[0]) }),
      gateway1: () => children.spawn('gateway', { PORT: String(ports[1]) }),
      worker0: () => children.spawn('worker'),
      worker1: () => children.spawn('worker'),
    };
    const started = Date.now();
    const processes = Object.fromEntries(Object.entries(spawners).map(([name, spawn]) => [name, spawn()]));
    const gateways = ports.map((port) => `http://127.0.0.1:${port}`);
    // Meta's side: each conversation's messages in order, each retried until a 200; the first try
    // of each alternates between the gateways.
    const acknowledged: string[] = [];
    const base = Math.floor(Date.now() / 1000) - 100_000;
    const senders = Array.from({ length: LANES }, async (_, lane) => {
      for (let c = lane; c < CONVERSATIONS; c += LANES) {
        for (let seq = 0; seq < PER_CONVERSATION; seq++) {
          await postUntilAcknowledged(
            gateways,
            ledgerWebhook(c, seq, base, APP_SECRET, c % WORKSPACES),
            c + seq,
          );
          acknowledged.push(`c${c}:${seq}`);
        }
      }
    });
    const expected = CONVERSATIONS * PER_CONVERSATION;
    const delivered = inboundCounter(ledger.effects);
    const restart = (name: string) => async () => {
      await children.ready(processes[name] as ChildProcess);
      await kill9(processes[name] as ChildProcess);
      processes[name] = (spawners[name] as () => ChildProcess)();
    };
    // Gateways die after a seeded number of further webhooks acknowledged, workers after further
    // messages delivered: 450–950 apart each, about 14 kills of each of the four processes.
    let drained = false;
    const chaos = killAtProgress({
      victims: Object.fromEntries(
        Object.keys(spawners).map((name) => [
          name,
          {
            progress: name.startsWith('gateway') ? () => acknowledged.length : delivered,
            restart: restart(name),
          },
        ]),
      ),
      random: seededRandom(21_021),
      total: expected,
      gap: [450, 950],
      done: () => drained,
    });
    await Promise.all(senders);
    const sentIn = (Date.now() - started) / 1000;
    expect(acknowledged).toHaveLength(expected);
    // Each acknowledged webhook's jobs committed with it. A job whose completion a kill interrupted
    // runs again once its lease expires: only when the queue is empty is no effect on its way, and
    // a lost message shows as missing below instead of as a wait that never ends.
    const store = await openPostgresStore({ url: testDatabaseUrl, schema: schema.schema });
    try {
      await until(async () => {
        const stats = await store.jobStats();
        return stats.ready + stats.running === 0;
      });
      expect((await store.jobStats()).dead).toBe(0);
    } finally {
      await store.close();
    }
    const drainedIn = (Date.now() - started) / 1000;
    drained = true;
    const kills = await chaos;
    await Promise.all(Object.values(processes).map((child) => children.ready(child)));
    await Promise.all(Object.values(processes).map(kill9));

    const effects = inboundEffects(ledger.effects);
    expectExactlyOnceInOrder(effects, acknowledged, PER_CONVERSATION);
    expect(kills).toBeGreaterThanOrEqual(MIN_KILLS);
    process.stdout.write(
      `crash test (Postgres): ${expected} webhooks acknowledged, ${kills} SIGKILLs, ${effects.length} deliveries, 0 lost, 0 duplicated; all acknowledged after ${sentIn} s, queue drained after ${drainedIn} s\n`,
    );
  }, 1_200_000);
});
