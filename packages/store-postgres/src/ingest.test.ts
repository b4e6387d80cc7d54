import { identity, inboundMessage, messagesUnit, seedWorkspace, status } from '@wabridge/core/testing';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { openPostgresStore, type PostgresStore } from './store.ts';
import { testDatabaseUrl } from './testing/index.ts';
import { asConformanceStore, openTestStore } from './testing/open.ts';

// Ingest on Postgres beyond the conformance part: what N gateways on one database change. Each
// "gateway" is a store of its own (its own pool) on the test's schema.

let store: PostgresStore;
let other: PostgresStore;
let ws: string;

beforeEach(async () => {
  store = await openTestStore();
  other = await openPostgresStore({ url: testDatabaseUrl, schema: store.db.schema ?? '', poolSize: 4 });
  ws = await seedWorkspace(asConformanceStore(store), { connectors: ['slack', 'teams'] });
});

afterEach(async () => {
  await other.close();
  await store.close();
});

const count = async (sql: string, params: unknown[] = []) =>
  (await store.db.get<{ n: number }>(`SELECT count(*)::int AS n FROM ${sql}`, params))?.n ?? -1;

it("stores a webhook two gateways take at once (Meta's retries) once: contact, messages, jobs, archive", async () => {
  for (let round = 0; round < 8; round++) {
    // A customer new to both gateways: they race on the contact and conversation too.
    const contact = identity({ waId: `1555000${round}000`, profileName: `C${round}` });
    const webhook = () =>
      messagesUnit(ws, {
        messages: [0, 1, 2].map((i) =>
          inboundMessage({ wamid: `wamid.${round}.${i}`, contact, timestamp: 1_750_000_000_000 + i * 1000 }),
        ),
        statuses: [status({ wamid: `wamid.out.${round}`, status: 'delivered' })],
      });
    const results = await Promise.all([
      store.ingest(webhook()),
      other.ingest(webhook()),
      other.ingest(webhook()),
    ]);
    expect(results.reduce((n, r) => n + r.messagesStored, 0)).toBe(3);
    expect(results.reduce((n, r) => n + r.messagesDuplicate, 0)).toBe(6);
    expect(results.reduce((n, r) => n + r.statusesStored, 0)).toBe(1);
  }
  expect(await count('contacts')).toBe(8);
  expect(await count('conversations')).toBe(8);
  expect(await count('messages')).toBe(24);
  expect(await count('message_statuses')).toBe(8);
  // One job per message and connector (the statuses are of no message we know: none).
  expect(await count('jobs')).toBe(48);
  // One archive record per message and status, at gapless seqs.
  const seqs = await store.db.all<{ seq: number }>(
    'SELECT seq FROM archive_records WHERE workspace_id = $1 ORDER BY seq',
    [ws],
  );
  expect(seqs.map((r) => r.seq)).toEqual(Array.from({ length: 32 }, (_, i) => i));
});

it('keeps a conversation in order when its messages arrive through two gateways in any order', async () => {
  const contact = identity({ waId: '15550001111' });
  // Twelve messages, one per second; each gateway takes every other one, all at once.
  const messages = Array.from({ length: 12 }, (_, i) =>
    inboundMessage({ wamid: `wamid.${i}`, contact, timestamp: 1_750_000_000_000 + i * 1000 }),
  );
  await Promise.all(
    messages
      .slice()
      .reverse()
      .map((m, i) =>
        (i % 2 === 0 ? store : other).ingest(messagesUnit(ws, { messages: [m] }, 1_750_000_000_000)),
      ),
  );
  const delivered: string[] = [];
  for (let i = 0; i < 20 && delivered.length < 12; i++) {
    const jobs = await other.claimJobs({
      limit: 10,
      leaseMs: 30_000,
      workerId: 'w',
      now: 1_750_000_100_000,
      connectorIds: ['slack'],
    });
    // One queue: never more than its head at a time.
    expect(jobs.length).toBeLessThanOrEqual(1);
    for (const job of jobs) {
      delivered.push(job.entityId);
      await store.completeJob(job.lease, []);
    }
  }
  expect(delivered).toEqual(messages.map((m) => m.id));
});
