import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { freePort, type LedgerTarget, seededRandom, startLedgerTarget } from '@wabridge/core/testing';
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
 * Kill -9 at seeded points, many times, while Meta (this test) keeps sending webhooks and retrying
 * until it gets a 200. Afterwards the ledger platform must show every acknowledged message exactly
 * once, in order per conversation. The platform is not idempotent, so a duplicate would show.
 * The same on Postgres with two gateways and two workers: crash-ledger-postgres.test.ts.
 */
const APP_SECRET = 'crash-app-secret';
const CONVERSATIONS = 25;
const PER_CONVERSATION = 42; // 1,050 webhooks
const MIN_KILLS = 20;

describe('crash safety', () => {
  let dir: string;
  let ledger: LedgerTarget;
  let port: number;
  let env: Record<string, string>;
  const children = new CrashChildren(() => env);

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'wabridge-crash-'));
    ledger = await startLedgerTarget();
    port = await freePort();
    env = childEnv({
      port: port,
      dataDir: dir,
      appSecret: APP_SECRET,
      keyByte: 9,
      extra: {
        JOB_LEASE_MS: '1000',
        LEDGER_URL: ledger.url,
      },
    });
    expect(await children.setup()).toBe(0);
  });

  afterAll(async () => {
    await children.killAll();
    await ledger?.close();
    if (dir && !process.env.KEEP_CRASH_DIR) rmSync(dir, { recursive: true, force: true });
    else process.stdout.write(`crash data kept in ${dir}\n`);
  });

  it('every acknowledged message is delivered exactly once, in order, across 20+ SIGKILLs', async () => {
    const processes: Record<'gateway' | 'worker', ChildProcess> = {
      gateway: children.spawn('gateway'),
      worker: children.spawn('worker'),
    };
    // Meta's side: every conversation's messages are sent in order, each retried until a 200.
    const acknowledged: string[] = [];
    const base = Math.floor(Date.now() / 1000) - 10_000;
    const senders = Array.from({ length: 8 }, async (_, lane) => {
      for (let c = lane; c < CONVERSATIONS; c += 8) {
        for (let seq = 0; seq < PER_CONVERSATION; seq++) {
          await postUntilAcknowledged([`http://127.0.0.1:${port}`], ledgerWebhook(c, seq, base, APP_SECRET));
          acknowledged.push(`c${c}:${seq}`);
        }
      }
    });
    // Each process is killed after a seeded number of further webhooks acknowledged (the gateway)
    // or messages delivered (the worker), 50–110 apart.
    const expected = CONVERSATIONS * PER_CONVERSATION;
    const delivered = inboundCounter(ledger.effects);
    const restart = (victim: 'gateway' | 'worker') => async () => {
      await children.ready(processes[victim]);
      await kill9(processes[victim]);
      processes[victim] = children.spawn(victim);
    };
    const chaos = killAtProgress({
      victims: {
        gateway: { progress: () => acknowledged.length, restart: restart('gateway') },
        worker: { progress: delivered, restart: restart('worker') },
      },
      random: seededRandom(20_261_206),
      total: expected,
      gap: [50, 110],
    });
    await Promise.all(senders);
    const kills = await chaos;
    await Promise.all(Object.values(processes).map((child) => children.ready(child)));

    expect(acknowledged).toHaveLength(expected);
    await until(() => delivered() >= expected);
    // A job whose completion a kill interrupted runs again once its lease expires; only when the
    // queue is empty can no duplicate still be on its way.
    await until(() => queued(join(dir, 'wabridge.db')) === 0);
    for (const child of Object.values(processes)) child.kill('SIGKILL');

    const effects = inboundEffects(ledger.effects);
    expectExactlyOnceInOrder(effects, acknowledged, PER_CONVERSATION);
    expect(kills).toBeGreaterThanOrEqual(MIN_KILLS);
    process.stdout.write(
      `crash test: ${expected} webhooks acknowledged, ${kills} SIGKILLs, ${effects.length} deliveries, 0 lost, 0 duplicated\n`,
    );
  }, 600_000);
});

/** Jobs still queued or in flight, read from the gateway's database file. */
function queued(path: string): number {
  const db = new DatabaseSync(path, { readOnly: true, timeout: 5000 });
  try {
    const row = db.prepare('SELECT (SELECT count(*) FROM jobs) + (SELECT count(*) FROM jobs_new) AS n').get();
    return Number(row?.n);
  } finally {
    db.close();
  }
}
