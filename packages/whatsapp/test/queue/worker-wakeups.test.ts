import type { ConnectorManifest, Store } from '@wabridge/core';
import { silentLogger, Worker } from '@wabridge/core';
import { afterEach, expect, it } from 'vitest';
import { z } from 'zod';
import { createTestBridge, type TestBridge } from '../../src/testing/bridge.ts';

/** A connector for the worker to claim jobs for; none is queued here. */
const idleConnector: ConnectorManifest = {
  id: 'idle',
  displayName: 'idle',
  configSchema: z.object({}),
  secretFields: [],
  capabilities: { events: ['message.inbound'], inbound: false },
  create: () => ({ deliver: async () => ({ refs: [] }) }),
};

let bridge: TestBridge | null = null;
let worker: Worker | null = null;
afterEach(async () => {
  await worker?.stop(1000);
  await bridge?.close();
  worker = null;
  bridge = null;
});

// The race a notification of another process's jobs meets: it arrives while a claim runs, whose
// snapshot may predate those jobs. It used to find no sleep to cut short and be dropped, leaving
// the jobs to the poll; on Postgres that poll is only a fallback.
it('a notification that arrives while a claim runs is kept: the worker claims again instead of sleeping out its poll', async () => {
  bridge = await createTestBridge({ manifests: [idleConnector], connectors: { idle: {} } });
  const store = bridge.store;
  // claimStarted[n] resolves when the worker's n-th claim begins.
  const claimStarted: Array<() => void> = [];
  const claimBegins = (n: number) =>
    new Promise<void>((resolve) => {
      claimStarted[n] = resolve;
    });
  const first = claimBegins(1);
  const second = claimBegins(2);
  let release: () => void = () => {};
  const released = new Promise<void>((resolve) => {
    release = resolve;
  });
  let claims = 0;
  let nextRunReads = 0;
  // The first claim waits until the test has notified the worker; later ones answer at once.
  const observed = new Proxy(store, {
    get(target, property, receiver) {
      if (property === 'claimJobs')
        return async (...args: Parameters<Store['claimJobs']>) => {
          claims++;
          claimStarted[claims]?.();
          if (claims === 1) await released;
          return target.claimJobs(...args);
        };
      if (property === 'nextRunAt')
        return () => {
          nextRunReads++;
          return target.nextRunAt();
        };
      const value = Reflect.get(target, property, receiver);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
  const wakeups: string[] = [];
  worker = new Worker({
    store: observed,
    host: bridge.host,
    logger: silentLogger,
    metrics: {
      increment: (name, labels) => {
        if (name === 'worker_wakeups_total') wakeups.push(String(labels?.reason));
      },
      observe: () => {},
    },
    // An hour: only a wake-up can bring a second claim within the test.
    pollIntervalMs: 3_600_000,
  });
  worker.start();
  await first;
  worker.notify();
  release();
  await second;
  expect(wakeups).toEqual(['notified']);
  // Woken already, the worker claims again at once: asking the store when to wake first cost every
  // job queued during a claim one more round trip to the store (bench:e2e --stages).
  expect(nextRunReads).toBe(0);
});

// stop() used to find no sleep to cut short when it came while the worker was reading when to wake
// (nextRunAt): the worker then slept out its poll, which on Postgres is 5 s, before stopping.
it('stop() called while the worker is about to sleep returns without waiting out the poll', async () => {
  bridge = await createTestBridge({ manifests: [idleConnector], connectors: { idle: {} } });
  const store = bridge.store;
  let reading: () => void = () => {};
  const readingNextRun = new Promise<void>((resolve) => {
    reading = resolve;
  });
  let release: () => void = () => {};
  const released = new Promise<void>((resolve) => {
    release = resolve;
  });
  const observed = new Proxy(store, {
    get(target, property, receiver) {
      if (property === 'nextRunAt')
        return async () => {
          reading();
          await released;
          return target.nextRunAt();
        };
      const value = Reflect.get(target, property, receiver);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
  const stopping = new Worker({
    store: observed,
    host: bridge.host,
    logger: silentLogger,
    metrics: { increment: () => {}, observe: () => {} },
    pollIntervalMs: 3_600_000,
  });
  worker = stopping;
  stopping.start();
  await readingNextRun;
  const stopped = stopping.stop(1000);
  release();
  await stopped;
});
