import type { ConnectorManifest, JobEvent } from '@wabridge/core';
import { Pacer, silentLogger, Worker } from '@wabridge/core';
import { afterEach, expect, it } from 'vitest';
import { z } from 'zod';
import { createTestBridge, type TestBridge } from '../../src/testing/bridge.ts';

// A delivery waiting for its pace lane used to hold its worker slot for the whole wait: in the
// campaign bench, Teams deliveries sleeping up to 3 s per pacer (50 channels at 3 requests/s)
// filled most of the worker's slots and starved the sends and the other connectors. A paced wait
// now steps out of its slot (core's WorkSlot), so other jobs run meanwhile.

/**
 * A connector whose delivery of the text `paced` waits for a lane whose next slot is a minute away
 * (within the pacer's wait, so it is not handed back) and of any other text records it and ends.
 */
function pacedConnector(pacer: Pacer, delivered: (text: string) => void): ConnectorManifest {
  return {
    id: 'paced',
    displayName: 'paced',
    configSchema: z.object({}),
    secretFields: [],
    capabilities: { events: ['message.inbound'], inbound: false },
    create: () => ({
      async deliver(event: JobEvent, ctx) {
        const text = event.type === 'message.inbound' ? (event.message.text ?? '') : '';
        if (text === 'paced') {
          delivered('paced: waiting');
          await pacer.acquire('lane', ctx.signal);
        }
        delivered(text);
        return { refs: [] };
      },
    }),
  };
}

let bridge: TestBridge | null = null;
let worker: Worker | null = null;
afterEach(async () => {
  await worker?.stop(0);
  await bridge?.close();
  worker = null;
  bridge = null;
});

it('a delivery waiting for its pace lane holds no worker slot: with one slot, the next job runs meanwhile', async () => {
  // One call a minute, and the lane's slot taken: the paced delivery waits a minute for the next.
  const pacer = new Pacer({ label: 'test calls', ratePerSecond: 1 / 60, burst: 1, maxWaitMs: 120_000 });
  await pacer.acquire('lane');
  const delivered: string[] = [];
  let other: () => void = () => {};
  const otherDelivered = new Promise<void>((resolve) => {
    other = resolve;
  });
  bridge = await createTestBridge({
    manifests: [
      pacedConnector(pacer, (text) => {
        delivered.push(text);
        if (text === 'not paced') other();
      }),
    ],
    connectors: { paced: {} },
  });
  await bridge.customerText('paced', { waId: '15550001111' });
  await bridge.customerText('not paced', { waId: '15550002222' });
  worker = new Worker({
    store: bridge.store,
    host: bridge.host,
    logger: silentLogger,
    metrics: bridge.metrics,
    concurrency: 1,
    pollIntervalMs: 20,
  });
  worker.start();
  // Before, the one slot slept with the paced delivery for the minute and this timed out.
  await otherDelivered;
  // The paced delivery ran first, and waits still.
  expect(delivered).toEqual(['paced: waiting', 'not paced']);
}, 30_000);
