import { createHmac } from 'node:crypto';
import { type Metrics, type Store, Worker } from '@wabridge/core';
import { type LedgerTarget, ledgerConnector, startLedgerTarget } from '@wabridge/core/testing';
import { freshSchema, testDatabaseUrl } from '@wabridge/store-postgres/testing';
import { customerMessage, TEST_PHONE_NUMBER_ID } from '@wabridge/whatsapp/testing';
import { afterEach, expect, it, vi } from 'vitest';
import { createLogger } from './logger.ts';
import { startTestGateway, TEST_APP_SECRET } from './testing/harness.ts';

/** The store as it is, with `asleep` called each time an idle worker looks when to wake (nextRunAt). */
function watchingSleep(store: Store, asleep: () => void): Store {
  return new Proxy(store, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver);
      if (property === 'nextRunAt')
        return async () => {
          const at = await target.nextRunAt();
          asleep();
          return at;
        };
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

let cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const step of cleanup.reverse()) await step();
  cleanup = [];
});

it('a worker asleep on its fallback poll claims a job another process queued, woken by the notification', async () => {
  const fresh = await freshSchema('wb_wake');
  cleanup.push(fresh.drop);
  const ledger: LedgerTarget = await startLedgerTarget();
  cleanup.push(() => ledger.close());
  const env = { DATABASE_URL: testDatabaseUrl, DATABASE_SCHEMA: fresh.schema };
  // Two processes' worth: a gateway without a worker takes the webhook; the worker runs on the
  // other's store and connectors, so nothing in the gateway's process can wake it directly.
  const gateway = await startTestGateway({ env, connectors: [ledgerConnector], worker: false });
  cleanup.push(() => gateway.close());
  const other = await startTestGateway({ env, connectors: [ledgerConnector], worker: false });
  cleanup.push(() => other.close());
  await gateway.runtime.admin.createWorkspace('test', { id: 'acme', name: 'Acme' });
  await gateway.runtime.admin.addPhoneNumber('test', 'acme', { phoneNumberId: TEST_PHONE_NUMBER_ID });
  await gateway.runtime.admin.setConnector('test', 'acme', 'ledger', {
    enabled: true,
    config: { url: ledger.url, secret: 'ledger-secret-123' },
  });

  const wakeups: string[] = [];
  const metrics: Metrics = {
    increment: (name, labels) => {
      if (name === 'worker_wakeups_total') wakeups.push(String(labels?.reason));
    },
    observe: () => {},
  };
  let asleep: () => void = () => {};
  const sleeping = new Promise<void>((resolve) => {
    asleep = resolve;
  });
  // The fallback poll is an hour: only a wake-up can make this worker claim within the test.
  const worker = new Worker({
    store: watchingSleep(other.runtime.store, () => asleep()),
    host: other.runtime.host,
    logger: createLogger('silent'),
    metrics,
    pollIntervalMs: 3_600_000,
  });
  worker.start();
  cleanup.push(() => worker.stop(1000));
  await sleeping;

  const body = JSON.stringify(customerMessage('wamid.WAKE1', { type: 'text', text: { body: 'wake up' } }));
  const res = await fetch(gateway.webhookUrl, {
    method: 'POST',
    body,
    headers: {
      'content-type': 'application/json',
      'x-hub-signature-256': `sha256=${createHmac('sha256', TEST_APP_SECRET).update(body).digest('hex')}`,
    },
  });
  expect(res.status).toBe(200);
  await vi.waitFor(() => expect(ledger.effects.map((e) => e.text)).toEqual(['wake up']), {
    timeout: 30_000,
    interval: 50,
  });
  expect(wakeups).toContain('notified');
  expect(wakeups).not.toContain('timer');
}, 60_000);
