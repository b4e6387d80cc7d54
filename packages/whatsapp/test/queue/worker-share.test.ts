import type { ConnectorManifest, JobEvent } from '@wabridge/core';
import { silentLogger, Worker } from '@wabridge/core';
import { afterEach, expect, it } from 'vitest';
import { z } from 'zod';
import { createTestBridge, type TestBridge } from '../../src/testing/bridge.ts';

// A claim takes the oldest jobs that head their queue. In the campaign bench, Teams' jobs (a deep
// backlog at a few requests a second per channel) got nearly every freed slot, and 14 WhatsApp
// sends retried after a timeout waited 15 minutes behind them. Freed slots now go first to the
// connectors holding less than their share of the worker.

/** A connector that records each text it is handed and ends its delivery when `release` says. */
function gatedConnector(id: string, seen: (text: string) => void, gate: Promise<void>): ConnectorManifest {
  return {
    id,
    displayName: id,
    configSchema: z.object({}),
    secretFields: [],
    capabilities: { events: ['message.inbound'], inbound: false },
    create: () => ({
      async deliver(event: JobEvent, ctx) {
        seen(event.type === 'message.inbound' ? (event.message.text ?? '') : '');
        // Held until released, or until the worker stops (it aborts what is still in flight).
        await new Promise<void>((resolve, reject) => {
          void gate.then(resolve);
          ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason), { once: true });
        });
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

it("a slot freed while one connector holds more than its share goes to another connector's older-queued job", async () => {
  let releaseSlow: () => void = () => {};
  const slowGate = new Promise<void>((resolve) => {
    releaseSlow = resolve;
  });
  const started: string[] = [];
  let onStart: (text: string) => void = () => {};
  const seen = (connector: string) => (text: string) => {
    started.push(`${connector}: ${text}`);
    onStart(`${connector}: ${text}`);
  };
  bridge = await createTestBridge({
    manifests: [
      gatedConnector('slow', seen('slow'), slowGate),
      gatedConnector('other', seen('other'), Promise.resolve()),
    ],
    connectors: { slow: {}, other: {} },
  });
  // Every customer's message is a job for both connectors. The worker has 4 slots; the slow
  // connector's first four fill them and hold them until released.
  for (let i = 0; i < 8; i++) await bridge.customerText(`m${i}`, { waId: `1555000100${i}` });
  const nextStart = () =>
    new Promise<string>((resolve) => {
      onStart = resolve;
    });
  worker = new Worker({
    store: bridge.store,
    host: bridge.host,
    logger: silentLogger,
    metrics: bridge.metrics,
    concurrency: 4,
    pollIntervalMs: 20,
  });
  worker.start();
  // Claimed oldest first, the slow connector's jobs take slots and keep them. Before, the slots the
  // other connector's quick jobs freed went to the oldest jobs left, the slow connector's as often as
  // not, until it held all four and the other connector's last messages waited for its release (this
  // test timed out). Now, the slow connector holding its share (4 slots among the delivering
  // connectors), each freed slot goes to the other connector first: all eight of its messages are
  // handed over while the slow connector still holds what it took.
  while (started.filter((s) => s.startsWith('other')).length < 8) await nextStart();
  expect(started.filter((s) => s.startsWith('other'))).toHaveLength(8);
  releaseSlow();
}, 20_000);
