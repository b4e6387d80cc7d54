import { backoffDelay, DEFAULT_BACKOFF, type Logger, memoryLogger } from '@wabridge/core';
import { type LedgerTarget, ledgerConnector, startLedgerTarget } from '@wabridge/core/testing';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createTestBridge, type TestBridge } from '../../src/testing/bridge.ts';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Drains repeatedly (retries are scheduled a few ms ahead) until `done` holds. */
async function settle(
  bridge: TestBridge,
  done: () => Promise<boolean> | boolean,
  timeoutMs = 20_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await done())) {
    if (Date.now() > deadline) throw new Error('queue did not settle in time');
    await bridge.worker.drain();
    await sleep(5);
  }
}

describe('delivery worker', () => {
  let target: LedgerTarget;
  let bridge: TestBridge;

  beforeEach(async () => {
    target = await startLedgerTarget();
  });
  afterEach(async () => {
    await bridge?.close();
    await target.close();
  });

  async function open(maxAttempts: number) {
    bridge = await createTestBridge({
      manifests: [ledgerConnector],
      connectors: { ledger: { url: target.url, secret: 'ledger-secret-123' } },
      backoff: { baseMs: 2, capMs: 20, maxAttempts },
    });
    return bridge;
  }

  const customers = (n: number) =>
    Array.from({ length: n }, (_, i) => `1555030${String(i).padStart(4, '0')}`);

  async function ingestInterleaved(waIds: string[], perConversation: number) {
    const base = Date.now() - 60_000;
    for (let m = 0; m < perConversation; m++) {
      for (const waId of waIds)
        await bridge.customerText(`${waId} #${m}`, { waId, timestamp: base + m * 1000 });
    }
  }

  function texts(conversation: string) {
    return target.effects
      .filter((e) => e.conversation === conversation && e.eventType === 'message.inbound')
      .map((e) => e.text);
  }

  it('keeps each conversation in order, each message once, with 20% of attempts failing', async () => {
    await open(15);
    target.failRandomly(0.2);
    const waIds = customers(10);
    await ingestInterleaved(waIds, 10);
    await settle(bridge, () => target.effects.length === 100);
    expect(await bridge.store.listDeadJobs()).toEqual([]);
    for (const waId of waIds) {
      const conversation = await bridge.conversationOf(waId);
      expect(texts(conversation?.id ?? '')).toEqual(Array.from({ length: 10 }, (_, m) => `${waId} #${m}`));
    }
    expect(bridge.metrics.counters.get('jobs_retried_total') ?? 0).toBeGreaterThan(0);
  });

  it('makes no child logger for a job that logs nothing; a job that logs carries its fields', async () => {
    // A pino child serialises and redacts its bindings when made: one per job was the largest
    // allocation of the main thread per delivery after the HTTP client's (docs/performance.md).
    const base = memoryLogger();
    let children = 0;
    const counting = (logger: Logger): Logger => ({
      ...logger,
      child: (bindings) => {
        children++;
        return counting(logger.child(bindings));
      },
    });
    bridge = await createTestBridge({
      manifests: [ledgerConnector],
      connectors: { ledger: { url: target.url, secret: 'ledger-secret-123' } },
      backoff: { baseMs: 2, capMs: 20, maxAttempts: 5 },
      logger: counting(base),
    });
    const waIds = customers(10);
    // The first delivery builds the connector's instance, with a child logger of its own.
    await ingestInterleaved(waIds.slice(0, 1), 1);
    await settle(bridge, () => target.effects.length === 1);
    const before = children;
    await ingestInterleaved(waIds.slice(1), 1);
    await settle(bridge, () => target.effects.length === 10);
    expect(children - before).toBe(0);

    target.failNext(503);
    await ingestInterleaved(waIds.slice(0, 1), 1);
    await settle(bridge, () => target.effects.length === 11);
    const retried = base.records.find((r) => r.msg === 'delivery failed; will retry');
    expect(retried?.fields).toMatchObject({
      workspace: expect.any(String),
      connector: 'ledger',
      job: expect.anything(),
    });
  });

  it('one failing conversation does not hold up the others', async () => {
    await open(1000);
    const [stuck, ...others] = customers(4);
    await ingestInterleaved([stuck ?? ''], 1);
    const stuckConversation = await bridge.conversationOf(stuck);
    target.failWhere((body) => body.conversation === stuckConversation?.id);
    await ingestInterleaved([stuck ?? '', ...others], 3);
    await settle(bridge, () => target.effects.length === others.length * 3);
    for (const waId of others) expect(texts((await bridge.conversationOf(waId))?.id ?? '')).toHaveLength(3);
    expect(texts(stuckConversation?.id ?? '')).toEqual([]);
  });

  it('dead-letters exhausted jobs with the reason, and a replay delivers them once, in order', async () => {
    await open(3);
    const [stuck, fine] = customers(2);
    await bridge.customerText('stuck first', { waId: stuck, timestamp: Date.now() - 3000 });
    const conversation = await bridge.conversationOf(stuck);
    target.failWhere((body) => body.conversation === conversation?.id);
    await bridge.customerText('stuck second', { waId: stuck, timestamp: Date.now() - 2000 });
    await bridge.customerText('fine', { waId: fine });
    await bridge.customerText('stuck third', { waId: stuck, timestamp: Date.now() - 1000 });
    await settle(
      bridge,
      async () => (await bridge.store.listDeadJobs()).length === 3 && target.effects.length === 1,
    );
    const dead = await bridge.store.listDeadJobs();
    expect(dead.map((d) => d.attempts)).toEqual([3, 3, 3]);
    expect(dead.every((d) => d.reason.startsWith('gave up after 3 attempts: transient: '))).toBe(true);
    target.failWhere(null);
    expect(await bridge.store.replayDeadJobs('all')).toBe(3);
    expect(await bridge.store.replayDeadJobs('all')).toBe(0);
    await settle(bridge, () => target.effects.length === 4);
    await bridge.worker.drain();
    expect(texts(conversation?.id ?? '')).toEqual(['stuck first', 'stuck second', 'stuck third']);
    expect(target.effects).toHaveLength(4);
    expect(await bridge.store.listDeadJobs()).toEqual([]);
  });

  it('a permanent refusal is dead-lettered at once, without retries', async () => {
    await open(10);
    target.failNext(400);
    await bridge.customerText('refused');
    await settle(bridge, async () => (await bridge.store.listDeadJobs()).length === 1);
    const [dead] = await bridge.store.listDeadJobs();
    expect(dead?.attempts).toBe(1);
    expect(dead?.reason).toMatch(/^permanent: /);
  });

  it('a rate limit waits as long as asked and does not use up attempts', async () => {
    await open(1);
    target.failNext(429, 2);
    await bridge.customerText('slow down');
    const before = Date.now();
    await bridge.worker.drain();
    // Retry-After: 1 → the job is parked for a second, not retried with the millisecond back-off.
    expect((await bridge.store.nextRunAt()) ?? 0).toBeGreaterThanOrEqual(before + 1000);
    // With one attempt allowed, a counted attempt would have dead-lettered the job by now.
    await settle(bridge, () => target.effects.length === 1, 10_000);
    expect(await bridge.store.listDeadJobs()).toEqual([]);
  });
});

describe('back-off', () => {
  it('grows exponentially with jitter between half and all of the nominal delay, up to the cap', () => {
    expect(backoffDelay(1, DEFAULT_BACKOFF, () => 0)).toBe(500);
    expect(backoffDelay(1, DEFAULT_BACKOFF, () => 1)).toBe(1000);
    expect(backoffDelay(4, DEFAULT_BACKOFF, () => 1)).toBe(8000);
    expect(backoffDelay(30, DEFAULT_BACKOFF, () => 1)).toBe(300_000);
    const total = Array.from({ length: DEFAULT_BACKOFF.maxAttempts }, (_, i) =>
      backoffDelay(i + 1, DEFAULT_BACKOFF, () => 0),
    ).reduce((a, b) => a + b);
    // Even the shortest schedule rides out a 10-minute outage before giving up.
    expect(total).toBeGreaterThan(10 * 60_000);
  });
});
