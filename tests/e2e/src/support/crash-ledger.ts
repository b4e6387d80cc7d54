// The crash ledger's parts, shared by the SQLite test (one gateway, one worker) and the Postgres one
// (two of each): child processes killed -9 at seeded points, Meta's side resending each webhook until
// a 200, and the ledger's verdict. No gateway import, so it loads fast.
import { type ChildProcess, spawn } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { LedgerEffect } from '@wabridge/core/testing';
import { customerMessage } from '@wabridge/whatsapp/testing';
import { expect } from 'vitest';
import { crashPhoneNumberId } from './crash-numbers.ts';

const CHILD = fileURLToPath(new URL('./crash-child.ts', import.meta.url));
const COMPILE_CACHE = join(tmpdir(), 'wabridge-crash-compile-cache');
export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Resolves once `done()` holds, checking every 20 ms (the test's timeout bounds the wait). */
export async function until(done: () => boolean | Promise<boolean>): Promise<void> {
  while (!(await done())) await sleep(20);
}

export type CrashMode = 'setup' | 'gateway' | 'worker';

/** Spawns crash-child.ts processes and knows when each is ready (or gone). */
export class CrashChildren {
  private readonly readiness = new WeakMap<ChildProcess, Promise<void>>();
  /** Children not yet exited, for `killAll`. */
  private readonly alive = new Set<ChildProcess>();
  private readonly env: () => Record<string, string>;

  /** `env`: the children's environment, read at each spawn (tests set it in beforeAll). */
  constructor(env: () => Record<string, string>) {
    this.env = env;
  }

  spawn(mode: CrashMode, extra: Record<string, string> = {}): ChildProcess {
    const child = spawn(process.execPath, ['--disable-warning=ExperimentalWarning', CHILD, mode], {
      // Dozens of restarts: with V8's code cache kept on disk, each compiles the gateway's modules
      // once instead of every time (half the start-up CPU here).
      env: { NODE_COMPILE_CACHE: COMPILE_CACHE, ...this.env(), ...extra },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    this.alive.add(child);
    child.once('exit', () => this.alive.delete(child));
    this.readiness.set(
      child,
      new Promise<void>((resolve) => {
        child.stdout?.on('data', (chunk: Buffer) => chunk.toString().includes('ready') && resolve());
        child.once('exit', () => resolve());
      }),
    );
    return child;
  }

  /** Runs `setup` to its end; its exit code. */
  async setup(): Promise<number | null> {
    const setup = this.spawn('setup');
    return new Promise<number | null>((resolve) => setup.once('exit', resolve));
  }

  /** Kills -9 every child still running: a failed test must not leave gateways and workers behind. */
  async killAll(): Promise<void> {
    await Promise.all([...this.alive].map(kill9));
  }

  /** Resolves once the child printed `ready` or exited. */
  ready(child: ChildProcess): Promise<void> {
    return this.readiness.get(child) ?? Promise.resolve();
  }
}

/** Kills -9 and waits for the exit; a child that died on its own has exited already. */
export async function kill9(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGKILL');
  await exited;
}

/**
 * The chaos: each victim is killed -9 and restarted each time its progress (webhooks acknowledged,
 * messages delivered) has moved a seeded `gap` further, until `total`: mid-request and
 * mid-delivery alike, and as many kills on a slow machine as on a fast one, since no kill waits on
 * the clock. The kill points depend only on `random`, so the number of kills is the same every run
 * that delivers everything. `done`: once it holds, points not reached are skipped (a run that lost
 * messages never reaches its last delivery counts; it must fail on what is missing, not hang).
 * Resolves with the number of kills.
 */
export async function killAtProgress(options: {
  victims: Record<string, { progress: () => number; restart: () => Promise<void> }>;
  random: () => number;
  total: number;
  gap: readonly [min: number, max: number];
  done?: () => boolean;
}): Promise<number> {
  const [min, max] = options.gap;
  const next = () => min + Math.floor(options.random() * (max - min));
  // Drawn up front, victim by victim, so each run draws the same points whatever the interleaving.
  const schedule = Object.entries(options.victims).map(([name, victim]) => {
    const points: number[] = [];
    for (let at = next(); at < options.total; at += next()) points.push(at);
    return { name, victim, points };
  });
  let kills = 0;
  await Promise.all(
    schedule.map(async ({ victim, points }) => {
      for (const at of points) {
        await until(() => victim.progress() >= at || (options.done?.() ?? false));
        if (victim.progress() < at) return;
        await victim.restart();
        kills++;
      }
    }),
  );
  return kills;
}

/**
 * Meta's webhook for message `seq` of conversation `c`: text `c<c>:<seq>`, timestamped in order,
 * to the number of workspace `workspace` (see crashPhoneNumberId).
 */
export function ledgerWebhook(
  c: number,
  seq: number,
  base: number,
  appSecret: string,
  workspace = 0,
): { body: string; signature: string } {
  const waId = `1555040${String(c).padStart(4, '0')}`;
  const payload = customerMessage(
    `wamid.crash.${c}.${seq}`,
    { type: 'text', text: { body: `c${c}:${seq}` } },
    { waId, name: `Customer ${waId}`, timestamp: (base + seq) * 1000 },
  );
  const value = payload.entry[0]?.changes[0]?.value;
  if (value) value.metadata.phone_number_id = crashPhoneNumberId(workspace);
  const body = JSON.stringify(payload);
  return { body, signature: `sha256=${createHmac('sha256', appSecret).update(body).digest('hex')}` };
}

/**
 * Posts a webhook until a gateway answers 200, as Meta retries (and a load balancer sends the
 * retry to the next gateway when one refused or is down): `gateways[attempt % n]`.
 */
export async function postUntilAcknowledged(
  gateways: readonly string[],
  webhook: { body: string; signature: string },
  first = 0,
): Promise<void> {
  for (let attempt = first; ; attempt++) {
    const url = gateways[attempt % gateways.length];
    const status = await fetch(`${url}/webhooks/whatsapp`, {
      method: 'POST',
      body: webhook.body,
      headers: { 'content-type': 'application/json', 'x-hub-signature-256': webhook.signature },
      signal: AbortSignal.timeout(5000),
    }).then(
      (r) => r.status,
      () => 0,
    );
    if (status === 200) return;
    await sleep(30);
  }
}

/** The inbound messages the ledger platform shows (one effect per delivery). */
export const inboundEffects = (effects: readonly LedgerEffect[]) =>
  effects.filter((e) => e.eventType === 'message.inbound');

/**
 * How many inbound messages `effects` (which only grows) holds, counted as it grows: the chaos
 * reads it every 20 ms, and filtering 10,000 effects each time would cost the test's CPU.
 */
export function inboundCounter(effects: readonly LedgerEffect[]): () => number {
  let scanned = 0;
  let inbound = 0;
  return () => {
    for (; scanned < effects.length; scanned++)
      if (effects[scanned]?.eventType === 'message.inbound') inbound++;
    return inbound;
  };
}

/**
 * The verdict: every acknowledged message is on the ledger exactly once, and each conversation's
 * messages are there in the order they were sent.
 */
export function expectExactlyOnceInOrder(
  delivered: readonly LedgerEffect[],
  acknowledged: readonly string[],
  perConversation: number,
): void {
  const counts = new Map<string, number>();
  for (const effect of delivered) counts.set(effect.text ?? '', (counts.get(effect.text ?? '') ?? 0) + 1);
  const missing = acknowledged.filter((text) => !counts.has(text));
  const duplicated = [...counts].filter(([, n]) => n > 1).map(([text]) => text);
  expect({ missing, duplicated }).toEqual({ missing: [], duplicated: [] });
  expect(delivered).toHaveLength(acknowledged.length);
  const byConversation = new Map<string, number[]>();
  for (const effect of delivered) {
    const [c, seq] = (effect.text ?? '').split(':');
    byConversation.set(c ?? '', [...(byConversation.get(c ?? '') ?? []), Number(seq)]);
  }
  for (const [conversation, sequence] of byConversation) {
    expect(sequence, conversation).toEqual(Array.from({ length: perConversation }, (_, i) => i));
  }
}
