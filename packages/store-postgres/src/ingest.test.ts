import type { IngestResult } from '@wabridge/core';
import { identity, inboundMessage, messagesUnit, seedWorkspace, status } from '@wabridge/core/testing';
import pg from 'pg';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { PG_UNIQUE_VIOLATION, pgErrorCode } from './database.ts';
import { FIND_PLAIN_CONTACTS_SQL } from './schema/ingest-batch.ts';
import { openPostgresStore, type PostgresStore } from './store.ts';
import { testDatabaseUrl } from './testing/index.ts';
import { asConformanceStore, openTestStore } from './testing/open.ts';
import { statementsSent } from './testing/statements.ts';

// Ingest on Postgres beyond the conformance part: what N gateways on one database change, and group
// commit. Each "gateway" is a store of its own (its own pool) on the test's schema.

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

it('answers 50 concurrent ingests each on its own, in shared commits, whatever some of them carry', async () => {
  const earlier = inboundMessage({ wamid: 'wamid.earlier', contact: identity({ waId: '15550009999' }) });
  await store.ingest(messagesUnit(ws, { messages: [earlier] }));
  const batchesBefore = store.ingestBatches;
  const contact = (i: number) => identity({ waId: `1555100${String(i).padStart(4, '0')}` });
  const fresh = (i: number) =>
    messagesUnit(ws, { messages: [inboundMessage({ wamid: `wamid.burst.${i}`, contact: contact(i) })] });
  // 50 webhooks at once: 40 new messages (4 of them twice: Meta's retry in the same burst), one
  // already stored, 3 without wa_id or BSUID (refused), 2 whose message id is taken (a constraint:
  // it fails a statement the whole batch shares, so each webhook is stored again alone).
  const units = [
    ...Array.from({ length: 40 }, (_, i) => fresh(i)),
    ...[0, 1, 2, 3].map((i) => fresh(i)),
    messagesUnit(ws, { messages: [earlier] }),
    ...[0, 1, 2].map((i) =>
      messagesUnit(ws, {
        // Its first message is valid: the webhook fails whole, so that one is not stored either.
        messages: [
          inboundMessage({ wamid: `wamid.half.${i}`, contact: contact(100 + i) }),
          inboundMessage({ wamid: `wamid.anonymous.${i}`, contact: identity() }),
        ],
      }),
    ),
    ...[0, 1].map((i) =>
      messagesUnit(ws, {
        messages: [inboundMessage({ id: earlier.id, wamid: `wamid.taken.${i}`, contact: contact(200 + i) })],
      }),
    ),
  ];
  const settled = await Promise.allSettled(units.map((unit) => store.ingest(unit)));
  const stored = (r: PromiseSettledResult<IngestResult> | undefined) =>
    r?.status === 'fulfilled' ? r.value.messagesStored : -1;
  const duplicate = (r: PromiseSettledResult<IngestResult> | undefined) =>
    r?.status === 'fulfilled' ? r.value.messagesDuplicate : -1;
  expect(settled.slice(0, 40).map(stored)).toEqual(Array(40).fill(1));
  expect(settled.slice(0, 40).map((r) => (r.status === 'fulfilled' ? r.value.jobsQueued : -1))).toEqual(
    Array(40).fill(2),
  );
  expect(settled.slice(40, 45).map(duplicate)).toEqual([1, 1, 1, 1, 1]);
  for (const r of settled.slice(45, 48)) {
    expect(r.status).toBe('rejected');
    expect(r.status === 'rejected' && r.reason).toMatchObject({ code: 'bad_request' });
  }
  for (const r of settled.slice(48)) {
    expect(r.status).toBe('rejected');
    expect(r.status === 'rejected' && pgErrorCode(r.reason)).toBe(PG_UNIQUE_VIOLATION);
  }
  // One group commit for the burst (the counter counts batches, not time).
  expect(store.ingestBatches - batchesBefore).toBe(1);
  // Without the constraint failures the batch commits as one: refused webhooks leave it alone.
  const again = await Promise.allSettled(
    [...Array.from({ length: 10 }, (_, i) => fresh(300 + i)), ...units.slice(45, 48)].map((unit) =>
      store.ingest(unit),
    ),
  );
  expect(again.map((r) => r.status)).toEqual([...Array(10).fill('fulfilled'), ...Array(3).fill('rejected')]);
  expect(store.ingestBatches - batchesBefore).toBe(2);
  // Only what was answered stored is stored: nothing of the refused webhooks.
  expect(await count('messages')).toBe(51);
  expect(await count("messages WHERE wamid LIKE 'wamid.half.%'")).toBe(0);
  expect(await count('contacts')).toBe(51);
  expect(await count('jobs')).toBe(102);
  const seqs = await store.db.all<{ seq: number }>(
    'SELECT seq FROM archive_records WHERE workspace_id = $1 ORDER BY seq',
    [ws],
  );
  expect(seqs.map((r) => r.seq)).toEqual(Array.from({ length: 51 }, (_, i) => i));
});

it('stores a burst two gateways both take (in opposite orders) once, contacts and conversations too', async () => {
  const webhooks = Array.from({ length: 30 }, (_, i) =>
    messagesUnit(ws, {
      messages: [
        inboundMessage({
          wamid: `wamid.both.${i}`,
          // Ten customers, new to both gateways, three messages each.
          contact: identity({ waId: `1555200${i % 10}000`, profileName: `P${i % 10}` }),
          timestamp: 1_750_000_000_000 + i * 1000,
        }),
      ],
    }),
  );
  const [mine, theirs] = await Promise.all([
    Promise.all(webhooks.map((w) => store.ingest(w))),
    Promise.all(webhooks.toReversed().map((w) => other.ingest(w))),
  ]);
  const all = [...mine, ...theirs];
  expect(all.reduce((n, r) => n + r.messagesStored, 0)).toBe(30);
  expect(all.reduce((n, r) => n + r.messagesDuplicate, 0)).toBe(30);
  expect(all.reduce((n, r) => n + r.jobsQueued, 0)).toBe(60);
  expect(await count('contacts')).toBe(10);
  expect(await count('conversations')).toBe(10);
  expect(await count('messages')).toBe(30);
  expect(await count('jobs')).toBe(60);
  expect(await count("contacts WHERE profile_name LIKE 'P%'")).toBe(10);
});

it('sends a plain batch as BEGIN and ingest_plain, then archive_append_locked and COMMIT (pipelined pairs)', async () => {
  await store.ingest(messagesUnit(ws, { messages: [inboundMessage({ wamid: 'wamid.first' })] }));
  const { result, sent } = await statementsSent(() =>
    Promise.all(
      [1, 2, 3].map((i) =>
        store.ingest(messagesUnit(ws, { messages: [inboundMessage({ wamid: `wamid.${i}` })] })),
      ),
    ),
  );
  expect(result.map((r) => r.messagesStored)).toEqual([1, 1, 1]);
  // The head is the transaction's (ingest_plain locked it), so the append is sent with COMMIT
  // pipelined behind it, in the form that raises rather than answers a moved head.
  expect(sent.map((sql) => sql.trim().split('(')[0])).toEqual([
    'BEGIN',
    'SELECT * FROM ingest_plain',
    'SELECT * FROM archive_append_locked',
    'COMMIT',
  ]);
  expect(await count('archive_records WHERE workspace_id = $1', [ws])).toBe(4);
});

it("takes the workspace's archive head after the batch's rows, the jobs written before it", async () => {
  // A plain webhook's batch statement (ingest_plain) takes the head at its end, so the records are
  // built on the head as locked and the append (archive_append, the next statement) never finds it
  // moved by another gateway; the lock is held for that append and COMMIT.
  await store.ingest(messagesUnit(ws, { messages: [inboundMessage({ wamid: 'wamid.first' })] }));
  // Another gateway holding the head: the ingest waits on it, in the statement that takes it.
  const side = new pg.Client({
    connectionString: testDatabaseUrl,
    options: `-c search_path=${store.db.schema}`,
  });
  await side.connect();
  try {
    await side.query('BEGIN');
    await side.query('SELECT 1 FROM archive_log_heads WHERE log_id = $1 FOR UPDATE', [ws]);
    const sidePid = (await side.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]?.pid;
    const ingested = store.ingest(
      messagesUnit(ws, { messages: [inboundMessage({ wamid: 'wamid.second' })] }),
    );
    let waiting: Array<{ pid: number; query: string }> = [];
    while (waiting.length === 0) {
      await new Promise((resolve) => setTimeout(resolve, 5));
      // On the pool, not `side`: pg_stat_activity is a snapshot taken once per transaction.
      waiting = await store.db.all<{ pid: number; query: string }>(
        'SELECT pid, query FROM pg_stat_activity WHERE $1 = ANY(pg_blocking_pids(pid))',
        [sidePid],
      );
    }
    expect(waiting.map((w) => w.query.trim().split('(')[0])).toEqual(['SELECT * FROM ingest_plain']);
    // Its jobs already inserted (the table's row-exclusive lock is held from the INSERT to the end).
    const jobsWritten = await store.db.all(
      `SELECT 1 FROM pg_locks l JOIN pg_class c ON c.oid = l.relation
       WHERE l.pid = $1 AND c.relname = 'jobs' AND c.relnamespace = current_schema()::regnamespace
         AND l.mode = 'RowExclusiveLock' AND l.granted`,
      [waiting[0]?.pid],
    );
    expect(jobsWritten).toHaveLength(1);
    await side.query('ROLLBACK');
    expect((await ingested).messagesStored).toBe(1);
  } finally {
    await side.end();
  }
  expect(await count('archive_records WHERE workspace_id = $1', [ws])).toBe(
    await count('messages WHERE workspace_id = $1', [ws]),
  );
});

it("finds a batch's known customers by index probes, however many the workspace has, before any ANALYZE", async () => {
  // 1,000 customers, each with a conversation: the tables are new, so the planner has no
  // statistics of them (autovacuum's first ANALYZE comes a minute or more later).
  for (let unit = 0; unit < 50; unit++) {
    await store.ingest(
      messagesUnit(ws, {
        messages: Array.from({ length: 20 }, (_, i) =>
          inboundMessage({
            wamid: `wamid.seed.${unit}.${i}`,
            contact: identity({ waId: `1555${String(unit * 20 + i).padStart(7, '0')}` }),
          }),
        ),
      }),
    );
  }
  // The statement `ingest_plain` finds (and locks) the contacts of a webhook of five known
  // customers with, run as the function runs it.
  const sql = FIND_PLAIN_CONTACTS_SQL;
  const waIds = [3, 250, 512, 777, 999].map((n) => `1555${String(n).padStart(7, '0')}`);
  const params = [waIds.map(() => ws), waIds];
  // Rows the plan read (returned or filtered out, on every loop), over all its nodes.
  const [row] = await store.db.transaction((tx) =>
    tx.all<{ 'QUERY PLAN': Array<{ Plan: PlanNode }> }>(`EXPLAIN (ANALYZE, FORMAT JSON) ${sql}`, params),
  );
  const plan = (row as { 'QUERY PLAN': Array<{ Plan: PlanNode }> })['QUERY PLAN'][0]?.Plan as PlanNode;
  const read = (node: PlanNode): number =>
    ((node['Actual Rows'] ?? 0) +
      (node['Rows Removed by Filter'] ?? 0) +
      (node['Rows Removed by Join Filter'] ?? 0)) *
      (node['Actual Loops'] ?? 1) +
    (node.Plans ?? []).reduce((n, child) => n + read(child), 0);
  // A few rows per customer (its contact, its conversation, the joins'), not the workspace's 1,000.
  expect(read(plan)).toBeLessThan(100);
});

interface PlanNode {
  'Actual Rows'?: number;
  'Actual Loops'?: number;
  'Rows Removed by Filter'?: number;
  'Rows Removed by Join Filter'?: number;
  Plans?: PlanNode[];
}
