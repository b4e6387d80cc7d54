import type { ConnectorManifest, LogRecord, Store } from '@wabridge/core';
import { Worker } from '@wabridge/core';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createTestBridge, type TestBridge } from '../../src/testing/bridge.ts';

/**
 * The lease heartbeat of a delivery, single and batched alike. A store that cannot answer a
 * heartbeat (another process holds the write lock: SQLITE_BUSY) must neither end the process nor
 * stop the delivery; a store that says the lease is gone must abort it.
 */
interface Attempt {
  connector: string;
  aborted: boolean;
}

/** A connector whose delivery lasts `holdMs` unless its signal aborts first. */
function holdingConnector(
  id: string,
  holdMs: number,
  attempts: Attempt[],
  batch: boolean,
): ConnectorManifest {
  return {
    id,
    displayName: id,
    configSchema: z.object({}),
    secretFields: [],
    capabilities: {
      events: ['message.inbound'],
      inbound: false,
      ...(batch ? { batch: { maxSize: 10 } } : {}),
    },
    create() {
      return {
        async deliver(_event, ctx) {
          await new Promise<void>((resolve) => {
            const timer = setTimeout(resolve, holdMs);
            ctx.signal.addEventListener('abort', () => {
              clearTimeout(timer);
              resolve();
            });
          });
          attempts.push({ connector: id, aborted: ctx.signal.aborted });
          return { refs: [] };
        },
      };
    },
  };
}

/** The store as it is, except for `extendLease`. */
function withHeartbeat(store: Store, extendLease: Store['extendLease']): Store {
  return new Proxy(store, {
    get(target, property, receiver) {
      if (property === 'extendLease') return extendLease;
      const value = Reflect.get(target, property, receiver);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

/** The error node:sqlite throws when the busy timeout passes while another connection writes. */
function busyError(): Error {
  return Object.assign(new Error('database is locked'), { code: 'ERR_SQLITE_ERROR', errcode: 5 });
}

describe('lease heartbeat', () => {
  let bridge: TestBridge | null = null;
  let worker: Worker | null = null;
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown) => unhandled.push(reason);

  afterEach(async () => {
    process.off('unhandledRejection', onUnhandled);
    unhandled.length = 0;
    await worker?.stop(1000);
    await bridge?.close();
    worker = null;
    bridge = null;
  });

  async function run(holdMs: number, extendLease: Store['extendLease']) {
    const attempts: Attempt[] = [];
    const records: LogRecord[] = [];
    const logger = {
      debug: () => {},
      info: () => {},
      warn: (obj: object, msg?: string) => records.push({ level: 'warn', ...obj, msg } as LogRecord),
      error: (obj: object, msg?: string) => records.push({ level: 'error', ...obj, msg } as LogRecord),
      child: () => logger,
    };
    bridge = await createTestBridge({
      manifests: [
        holdingConnector('hold-single', holdMs, attempts, false),
        holdingConnector('hold-batch', holdMs, attempts, true),
      ],
      connectors: { 'hold-single': {}, 'hold-batch': {} },
    });
    process.on('unhandledRejection', onUnhandled);
    // A lease of 300 ms beats every 100 ms, so a delivery of a second sees several beats.
    worker = new Worker({
      store: withHeartbeat(bridge.store, extendLease),
      host: bridge.host,
      logger,
      metrics: bridge.metrics,
      leaseMs: 300,
      pollIntervalMs: 20,
    });
    await bridge.customerText('held');
    await worker.drain();
    // An unhandled rejection is reported after the turn it happened in: let one pass.
    await new Promise((resolve) => setTimeout(resolve, 50));
    return { attempts, records };
  }

  it('a heartbeat the busy store rejects is logged, does not end the process, and the delivery goes on (single and batch)', async () => {
    let beats = 0;
    const { attempts, records } = await run(1000, async () => {
      beats++;
      throw busyError();
    });
    expect(unhandled).toEqual([]);
    expect(beats).toBeGreaterThanOrEqual(2);
    expect([...new Set(attempts.map((a) => a.connector))].sort()).toEqual(['hold-batch', 'hold-single']);
    expect(attempts.every((a) => !a.aborted)).toBe(true);
    const warnings = records.filter((r) => r.msg === 'lease heartbeat failed; will try again');
    expect(warnings.length).toBeGreaterThanOrEqual(2);
    expect(warnings[0]).toMatchObject({ code: 'transient', reason: 'database is locked' });
  });

  it('a lease the store says is lost aborts the delivery, in a batch as for a single job', async () => {
    // Held for 20 s unless aborted: drain() returning well before is the abort working.
    const { attempts } = await run(20_000, async () => false);
    expect(unhandled).toEqual([]);
    const first = new Map<string, boolean>();
    for (const attempt of attempts)
      if (!first.has(attempt.connector)) first.set(attempt.connector, attempt.aborted);
    expect(Object.fromEntries(first)).toEqual({ 'hold-single': true, 'hold-batch': true });
  }, 60_000);
});
