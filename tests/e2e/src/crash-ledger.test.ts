import { type ChildProcess, spawn } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { fileURLToPath } from 'node:url';
import { freePort, type LedgerTarget, seededRandom, startLedgerTarget } from '@wabridge/core/testing';
import { customerMessage } from '@wabridge/whatsapp/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { childEnv } from './support/child-env.ts';

/**
 * Kill -9 at seeded points, many times, while Meta (this test) keeps sending webhooks and retrying
 * until it gets a 200. Afterwards the ledger platform must show every acknowledged message exactly
 * once, in order per conversation. The platform is not idempotent, so a duplicate would show.
 */
const CHILD = fileURLToPath(new URL('./support/crash-child.ts', import.meta.url));
const APP_SECRET = 'crash-app-secret';
const CONVERSATIONS = 25;
const PER_CONVERSATION = 42; // 1,050 webhooks
const MIN_KILLS = 20;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Resolves once `done()` holds, checking every 20 ms (the test's timeout bounds the wait). */
async function until(done: () => boolean): Promise<void> {
  while (!done()) await sleep(20);
}

describe('crash safety', () => {
  let dir: string;
  let ledger: LedgerTarget;
  let port: number;
  let env: Record<string, string>;

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
    const setup = spawnChild('setup');
    const code = await new Promise<number | null>((resolve) => setup.once('exit', resolve));
    expect(code).toBe(0);
  });

  afterAll(async () => {
    await ledger?.close();
    if (dir && !process.env.KEEP_CRASH_DIR) rmSync(dir, { recursive: true, force: true });
    else process.stdout.write(`crash data kept in ${dir}\n`);
  });

  const readiness = new WeakMap<ChildProcess, Promise<void>>();
  const ready = (child: ChildProcess) => readiness.get(child) ?? Promise.resolve();

  function spawnChild(mode: 'setup' | 'gateway' | 'worker'): ChildProcess {
    const child = spawn(process.execPath, ['--disable-warning=ExperimentalWarning', CHILD, mode], {
      env,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    readiness.set(
      child,
      new Promise<void>((resolve) => {
        child.stdout?.on('data', (chunk: Buffer) => chunk.toString().includes('ready') && resolve());
        child.once('exit', () => resolve());
      }),
    );
    return child;
  }

  it('every acknowledged message is delivered exactly once, in order, across 20+ SIGKILLs', async () => {
    const processes: Record<'gateway' | 'worker', ChildProcess> = {
      gateway: spawnChild('gateway'),
      worker: spawnChild('worker'),
    };
    let kills = 0;
    // Meta's side: every conversation's messages are sent in order, each retried until a 200.
    const acknowledged: string[] = [];
    const base = Math.floor(Date.now() / 1000) - 10_000;
    const senders = Array.from({ length: 8 }, async (_, lane) => {
      for (let c = lane; c < CONVERSATIONS; c += 8) {
        for (let seq = 0; seq < PER_CONVERSATION; seq++) {
          const body = webhook(
            `wamid.crash.${c}.${seq}`,
            `c${c}:${seq}`,
            `1555040${String(c).padStart(4, '0')}`,
            base + seq,
          );
          const signature = `sha256=${createHmac('sha256', APP_SECRET).update(body).digest('hex')}`;
          for (;;) {
            const status = await fetch(`http://127.0.0.1:${port}/webhooks/whatsapp`, {
              method: 'POST',
              body,
              headers: { 'content-type': 'application/json', 'x-hub-signature-256': signature },
              signal: AbortSignal.timeout(5000),
            }).then(
              (r) => r.status,
              () => 0,
            );
            if (status === 200) break;
            await sleep(30);
          }
          acknowledged.push(`c${c}:${seq}`);
        }
      }
    });
    // The chaos: each process is killed -9 after a seeded number of further webhooks acknowledged
    // (the gateway) or messages delivered (the worker), 50–110 apart: mid-request and mid-delivery
    // alike, and as many kills on a slow machine as on a fast one, since no kill waits on the clock.
    const expected = CONVERSATIONS * PER_CONVERSATION;
    const random = seededRandom(20_261_206);
    const progress = { gateway: () => acknowledged.length, worker: () => inbound().length };
    const chaos = (['gateway', 'worker'] as const).map(async (victim) => {
      for (let at = 50 + Math.floor(random() * 60); at < expected; at += 50 + Math.floor(random() * 60)) {
        await until(() => progress[victim]() >= at);
        await ready(processes[victim]);
        const child = processes[victim];
        // A child that died on its own has already exited: never wait for an exit that passed.
        if (child.exitCode === null && child.signalCode === null) {
          const exited = new Promise((resolve) => child.once('exit', resolve));
          child.kill('SIGKILL');
          await exited;
        }
        kills++;
        processes[victim] = spawnChild(victim);
      }
    });
    await Promise.all(senders);
    await Promise.all(chaos);
    await Promise.all(Object.values(processes).map(ready));

    expect(acknowledged).toHaveLength(expected);
    await until(() => inbound().length >= expected);
    // A job whose completion a kill interrupted runs again once its lease expires; only when the
    // queue is empty can no duplicate still be on its way.
    await until(() => queued(join(dir, 'wabridge.db')) === 0);
    for (const child of Object.values(processes)) child.kill('SIGKILL');

    const delivered = inbound();
    const counts = new Map<string, number>();
    for (const effect of delivered) counts.set(effect.text ?? '', (counts.get(effect.text ?? '') ?? 0) + 1);
    const missing = acknowledged.filter((text) => !counts.has(text));
    const duplicated = [...counts].filter(([, n]) => n > 1).map(([text]) => text);
    expect({ missing, duplicated }).toEqual({ missing: [], duplicated: [] });
    expect(delivered).toHaveLength(expected);
    const byConversation = new Map<string, number[]>();
    for (const effect of delivered) {
      const [c, seq] = (effect.text ?? '').split(':');
      byConversation.set(c ?? '', [...(byConversation.get(c ?? '') ?? []), Number(seq)]);
    }
    for (const [conversation, sequence] of byConversation) {
      expect(sequence, conversation).toEqual(Array.from({ length: PER_CONVERSATION }, (_, i) => i));
    }
    expect(kills).toBeGreaterThanOrEqual(MIN_KILLS);
    process.stdout.write(
      `crash test: ${expected} webhooks acknowledged, ${kills} SIGKILLs, ${delivered.length} deliveries, 0 lost, 0 duplicated\n`,
    );
  }, 600_000);

  function inbound() {
    return ledger.effects.filter((e) => e.eventType === 'message.inbound');
  }
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

function webhook(wamid: string, text: string, waId: string, timestamp: number): string {
  return JSON.stringify(
    customerMessage(
      wamid,
      { type: 'text', text: { body: text } },
      { waId, name: `Customer ${waId}`, timestamp: timestamp * 1000 },
    ),
  );
}
