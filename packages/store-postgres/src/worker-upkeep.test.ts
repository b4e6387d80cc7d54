import {
  ConnectorHost,
  createRegistry,
  createSecretBox,
  noopMetrics,
  RoutingCache,
  silentLogger,
  Worker,
} from '@wabridge/core';
import { afterEach, describe, expect, it } from 'vitest';
import { openPostgresStore, type PostgresStore } from './store.ts';
import { testDatabaseUrl } from './testing/index.ts';
import { openTestStore } from './testing/open.ts';

// The archive upkeep on Postgres: the lease says whose turn it is, the advisory lock (runExclusive)
// that no run overlaps another, even one that outlasts its lease. Two stores with their own pools
// on one schema are two worker processes; the clock is injected (leases compare it).

let stores: PostgresStore[] = [];
afterEach(async () => {
  for (const store of stores.reverse()) await store.close();
  stores = [];
});

describe('archive upkeep on Postgres', () => {
  it('never overlaps a run that outlasted its lease; the next holder runs once it is over', async () => {
    let clock = 1_000_000;
    const a = await openTestStore({ now: () => clock });
    const b = await openPostgresStore({
      url: testDatabaseUrl,
      schema: a.db.schema ?? undefined,
      now: () => clock,
    });
    stores = [a, b];
    const runs: string[] = [];
    let release!: () => void;
    const purgeGoesOn = new Promise<void>((resolve) => {
      release = resolve;
    });
    let started!: () => void;
    const purgeStarted = new Promise<void>((resolve) => {
      started = resolve;
    });
    const worker = (id: string, store: PostgresStore) =>
      new Worker({
        store,
        host: new ConnectorHost({
          store,
          registry: createRegistry([]),
          routing: new RoutingCache(store),
          secrets: createSecretBox(Buffer.alloc(32)),
          logger: silentLogger,
          metrics: noopMetrics,
          media: () => ({ fetch: () => Promise.reject(new Error('no media')), url: () => '' }),
          publicUrl: 'http://gateway.test',
        }),
        logger: silentLogger,
        metrics: noopMetrics,
        workerId: id,
        now: () => clock,
        upkeepIntervalMs: 3_600_000,
        upkeep: async () => {
          runs.push(id);
          if (id === 'a') {
            started();
            await purgeGoesOn;
          }
        },
      });
    // Maintenance is what the worker's timer calls; called directly here, so no timer races the test.
    const maintain = (w: Worker) => (w as unknown as { maintain(): Promise<void> }).maintain();
    const [wa, wb] = [worker('a', a), worker('b', b)];
    for (const w of [wa, wb]) (w as unknown as { running: boolean }).running = true;

    const long = maintain(wa);
    await purgeStarted;
    // An hour later a's purge still runs and its lease has lapsed: b takes the lease, not the lock.
    clock += 3_600_001;
    await maintain(wb);
    expect(runs).toEqual(['a']);
    release();
    await long;
    // The lease is b's: its next tick runs the upkeep.
    clock += 60_000;
    await maintain(wb);
    expect(runs).toEqual(['a', 'b']);
  });
});
