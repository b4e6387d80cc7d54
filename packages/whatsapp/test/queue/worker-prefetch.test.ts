import { deliveryContext, type Job, type Store, silentLogger, Worker } from '@wabridge/core';
import { type LedgerTarget, ledgerConnector, startLedgerTarget } from '@wabridge/core/testing';
import { afterEach, expect, it } from 'vitest';
import { createTestBridge, type TestBridge } from '../../src/testing/bridge.ts';

// A delivery's first reads (its event, the refs its connector declares in `prefetchRefs`) come
// with its claim: each was a round trip of its own to the store, and on the store thread each
// waited for a batch, most of them ending in a webhook's commit and fsync (bench:e2e --stages).

let target: LedgerTarget | null = null;
let bridge: TestBridge | null = null;
let worker: Worker | null = null;
afterEach(async () => {
  await worker?.stop(1000);
  await bridge?.close();
  await target?.close();
  worker = null;
  bridge = null;
  target = null;
});

it('delivers with the event and refs read by the claim: no hydration or ref read of its own, each effect once, retries included', async () => {
  target = await startLedgerTarget();
  bridge = await createTestBridge({
    manifests: [ledgerConnector],
    connectors: { ledger: { url: target.url, secret: 'ledger-secret-123' } },
  });
  const reads: string[] = [];
  const observed = new Proxy(bridge.store, {
    get(store, property, receiver) {
      if (property === 'hydrateEvent' || property === 'getRef')
        return (...args: unknown[]) => {
          reads.push(String(property));
          return (Reflect.get(store, property, receiver) as (...a: unknown[]) => unknown).apply(store, args);
        };
      const value = Reflect.get(store, property, receiver);
      return typeof value === 'function' ? value.bind(store) : value;
    },
  }) as Store;
  worker = new Worker({
    store: observed,
    host: bridge.host,
    logger: silentLogger,
    metrics: bridge.metrics,
    backoff: { baseMs: 1, factor: 1, capMs: 1, maxAttempts: 5 },
  });
  // The first attempt of the first delivery fails: its retry reads its pending checkpoint from
  // the claim, looks the effect up on the platform (none), and makes it once.
  target.failNext(503);
  for (const text of ['one', 'two', 'three']) await bridge.customerText(text, { waId: '15550001234' });
  while (target.effects.length < 3 || (await bridge.store.jobStats()).ready > 0) {
    await worker.drain();
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
  expect(target.effects.map((e) => e.text)).toEqual(['one', 'two', 'three']);
  expect(bridge.metrics.counters.get('jobs_retried_total')).toBe(1);
  expect(reads).toEqual([]);
});

it('a prefetched ref answers without the store until the delivery checkpoints it', async () => {
  const calls: string[] = [];
  const store = {
    getRef: async (_ws: string, connectorId: string, kind: string, entityId: string) => {
      calls.push(`get ${connectorId} ${kind} ${entityId}`);
      return { connectorId, kind, entityId, externalId: 'from-store', data: {} };
    },
    checkpointRef: async () => {
      calls.push('checkpoint');
      return true;
    },
  } as unknown as Store;
  const job = {
    id: 1,
    workspaceId: 'ws',
    connectorId: 'ledger',
    conversationId: 'c1',
    eventType: 'message.inbound',
    entityId: 'm1',
    sortTs: 0,
    attempts: 1,
    runAt: 0,
    createdAt: 0,
    lease: { jobId: 1, token: 't' },
  } as Job;
  const thread = { connectorId: 'ledger', kind: 'conversation', entityId: 'c1', externalId: 'T1', data: {} };
  const ctx = deliveryContext(
    store,
    job,
    new AbortController().signal,
    silentLogger,
    [],
    [
      { kind: 'conversation', entityId: 'c1', ref: thread },
      { kind: 'event', entityId: 'm1', ref: null },
    ],
  );
  expect(await ctx.refs.get('conversation', 'c1')).toEqual(thread);
  expect(await ctx.refs.get('event', 'm1')).toBeNull();
  expect(calls).toEqual([]);
  // Not prefetched: another kind, another entity, another connector's.
  await ctx.refs.get('message', 'm1');
  await ctx.refs.get('conversation', 'c2');
  await ctx.refs.get('conversation', 'c1', 'slack');
  expect(calls).toEqual(['get ledger message m1', 'get ledger conversation c2', 'get slack conversation c1']);
  calls.length = 0;
  await ctx.refs.checkpoint({ kind: 'event', entityId: 'm1', externalId: 'pending:1', data: {} });
  expect((await ctx.refs.get('event', 'm1'))?.externalId).toBe('from-store');
  expect(calls).toEqual(['checkpoint', 'get ledger event m1']);
});
