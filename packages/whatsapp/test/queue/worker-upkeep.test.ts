import { noopMetrics, silentLogger, Worker } from '@wabridge/core';
import { afterEach, describe, expect, it } from 'vitest';
import { createTestBridge, type TestBridge } from '../../src/testing/bridge.ts';

// The archive upkeep (the retention purge) runs from the workers' periodic maintenance: one worker
// at a time, at most once per interval, at the worker's own clock (injected here).

describe('archive upkeep', () => {
  let bridge: TestBridge | null = null;
  afterEach(async () => {
    await bridge?.close();
    bridge = null;
  });

  it('runs on one worker at a time, at most once per interval, at the injected time', async () => {
    let clock = 1_000_000;
    bridge = await createTestBridge({ manifests: [], connectors: {}, now: () => clock });
    const runs: [string, number][] = [];
    const worker = (id: string) =>
      new Worker({
        store: bridge?.store as TestBridge['store'],
        host: bridge?.host as TestBridge['host'],
        logger: silentLogger,
        metrics: noopMetrics,
        workerId: id,
        now: () => clock,
        upkeepIntervalMs: 3_600_000,
        upkeep: async (at) => {
          runs.push([id, at]);
        },
      });
    // Maintenance is what the worker's timer calls; called directly here, so no timer races the test.
    const maintain = (w: Worker) => (w as unknown as { maintain(): Promise<void> }).maintain();
    const [a, b] = [worker('a'), worker('b')];
    (a as unknown as { running: boolean }).running = true;
    (b as unknown as { running: boolean }).running = true;
    await maintain(a);
    await maintain(b);
    clock += 60_000;
    await maintain(a);
    expect(runs).toEqual([['a', 1_000_000]]);
    clock += 3_600_000;
    await maintain(b);
    await maintain(a);
    expect(runs).toEqual([
      ['a', 1_000_000],
      ['b', 4_660_000],
    ]);
  });
});
