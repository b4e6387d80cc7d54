import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker as ThreadWorker } from 'node:worker_threads';
import { afterAll, describe, expect, it } from 'vitest';
import { hydrateEvent } from '../../queue/hydrate.ts';
import { identity, inboundMessage, messagesUnit, seedWorkspace } from '../../testing/fixtures.ts';
import { describeStoreConformance } from '../../testing/store-conformance.ts';
import { openSqliteStore } from './index.ts';
import { openThreadedSqliteStore } from './threaded.ts';

const dir = mkdtempSync(join(tmpdir(), 'wabridge-sqlite-'));
let n = 0;
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// A real file (WAL, fsync) rather than :memory:, so the suite exercises what production runs.
describeStoreConformance('sqlite', (options) =>
  openSqliteStore({ path: join(dir, `store-${n++}.db`), ...options }),
);

// The same suite through the store thread, which is what the gateway runs.
// Not its erasure part: the thread keeps its own clock (a function cannot cross to it), and those
// cases move an injected one; erase travels to the thread like every other call.
describeStoreConformance(
  'sqlite (threaded)',
  () => openThreadedSqliteStore({ path: join(dir, `threaded-${n++}.db`) }),
  { erasure: false },
);

describe('sqlite store internals', () => {
  it('a batch rolled back after a new customer was seen leaves no message pointing at rolled-back rows', async () => {
    const store = await openSqliteStore({ path: join(dir, `rollback-${n++}.db`) });
    try {
      const ws = await seedWorkspace(store, { connectors: ['slack'] });
      const good = messagesUnit(ws, {
        messages: [inboundMessage({ wamid: 'w.good', contact: identity({ waId: '15550009999' }) })],
      });
      // No identifier at all: this write throws, so the optimistic batch rolls back and each write
      // is retried alone.
      const bad = messagesUnit(ws, { messages: [inboundMessage({ wamid: 'w.bad', contact: identity({}) })] });
      const [first, second] = await Promise.allSettled([store.ingest(good), store.ingest(bad)]);
      expect(first.status).toBe('fulfilled');
      expect(second).toMatchObject({ status: 'rejected', reason: { code: 'bad_request' } });
      const message = await store.getMessageByWamid(ws, 'w.good');
      expect(await store.getConversation(ws, message?.conversationId ?? '')).not.toBeNull();
      const again = await store.ingest(
        messagesUnit(ws, {
          messages: [inboundMessage({ wamid: 'w.next', contact: identity({ waId: '15550009999' }) })],
        }),
      );
      expect(again.messagesStored).toBe(1);
      const next = await store.getMessageByWamid(ws, 'w.next');
      expect(next?.conversationId).toBe(message?.conversationId);
    } finally {
      await store.close();
    }
  });

  // The conversation of a customer seen before is answered from memory; the memory must not
  // outlive a change of workspaces, whichever connection made it and whenever it committed.
  it.each([
    'another connection (the CLI in another process)',
    'this store, in earlier transactions',
    'this store, in the same group commit',
  ])('a workspace deleted and made again by %s gets new rows for a known customer', async (by) => {
    const path = join(dir, `identities-${n++}.db`);
    const store = await openSqliteStore({ path });
    const admin = by.startsWith('another') ? await openSqliteStore({ path }) : store;
    try {
      const customer = identity({ waId: '15550004444' });
      await seedWorkspace(store, { id: 'acme', connectors: ['slack'] });
      const first = messagesUnit('acme', { messages: [inboundMessage({ wamid: 'w.1', contact: customer })] });
      const again = messagesUnit('acme', { messages: [inboundMessage({ wamid: 'w.2', contact: customer })] });
      if (by.endsWith('same group commit')) {
        // Called in one turn of the loop: all five writes share one transaction.
        await Promise.all([
          store.ingest(first),
          store.deleteWorkspace('acme'),
          store.createWorkspace({ id: 'acme', name: 'Again' }),
          store.addPhoneNumber({
            workspaceId: 'acme',
            phoneNumberId: '106540352242922',
            displayPhoneNumber: null,
            wabaId: null,
          }),
          store.ingest(again),
        ]);
      } else {
        await store.ingest(first);
        await admin.deleteWorkspace('acme');
        await seedWorkspace(admin, { id: 'acme', connectors: ['slack'] });
        await store.ingest(again);
      }
      const message = await store.getMessageByWamid('acme', 'w.2');
      const conversation = await store.getConversation('acme', message?.conversationId ?? '');
      expect(conversation).not.toBeNull();
      expect(await store.getContact('acme', conversation?.contactId ?? '')).not.toBeNull();
    } finally {
      if (admin !== store) await admin.close();
      await store.close();
    }
  });

  // Where a fan-out goes is remembered per workspace and event type; like the customer cache, it
  // must follow connector changes whichever connection makes them.
  it.each(['another connection (the CLI in another process)', 'this store'])(
    'a connector enabled or disabled by %s gets the jobs of the next webhook, or none',
    async (by) => {
      const path = join(dir, `targets-${n++}.db`);
      const store = await openSqliteStore({ path });
      const admin = by.startsWith('another') ? await openSqliteStore({ path }) : store;
      try {
        const ws = await seedWorkspace(store, { connectors: ['slack'] });
        const connector = (connectorId: string, enabled: boolean) =>
          admin.setConnector({
            workspaceId: ws,
            connectorId,
            enabled,
            events: ['message.inbound'],
            config: {},
            encryptedSecrets: null,
          });
        const webhook = (wamid: string) =>
          store.ingest(
            messagesUnit(ws, {
              messages: [inboundMessage({ wamid, contact: identity({ waId: '15550004444' }) })],
            }),
          );
        expect((await webhook('w.1')).jobsQueued).toBe(1);
        await connector('teams', true);
        expect((await webhook('w.2')).jobsQueued).toBe(2);
        await connector('slack', false);
        expect((await webhook('w.3')).jobsQueued).toBe(1);
        const jobs = await store.claimJobs({ limit: 10, leaseMs: 30_000, workerId: 'w1', now: Date.now() });
        const message = async (wamid: string) => (await store.getMessageByWamid(ws, wamid))?.id;
        // Heads only: one job per queue, each its queue's first message.
        expect(jobs.map((job) => [job.connectorId, job.entityId])).toEqual([
          ['slack', await message('w.1')],
          ['teams', await message('w.2')],
        ]);
        expect((await store.jobStats()).ready).toBe(2);
      } finally {
        if (admin !== store) await admin.close();
        await store.close();
      }
    },
  );

  it('lists conversations created in the same millisecond in one total order: created_at, then id', async () => {
    const at = Date.now();
    const store = await openSqliteStore({ path: join(dir, `order-${n++}.db`), now: () => at });
    try {
      const ws = await seedWorkspace(store, { connectors: ['slack'] });
      await store.ingest(
        messagesUnit(ws, {
          messages: Array.from({ length: 8 }, (_, i) =>
            inboundMessage({ wamid: `tie-${i}`, contact: identity({ waId: `15550001${i}00` }) }),
          ),
        }),
      );
      const listed = (await store.listConversations(ws)).map((c) => c.id);
      expect(listed).toHaveLength(8);
      expect(listed).toEqual([...listed].sort());
    } finally {
      await store.close();
    }
  });

  it('rewrites a connector’s last success at most once a second, in the transaction that completes the job', async () => {
    // An hour ahead, so that every job the fixture queues (due now) is due for the claims.
    const start = Date.now() + 3_600_000;
    let now = start;
    const store = await openSqliteStore({ path: join(dir, `health-${n++}.db`), now: () => now });
    try {
      const ws = await seedWorkspace(store, { connectors: ['slack'] });
      await store.ingest(
        messagesUnit(ws, {
          messages: ['a', 'b', 'c', 'd'].map((wamid, i) =>
            inboundMessage({ wamid, contact: identity({ waId: `155500000${i}0` }) }),
          ),
        }),
      );
      const jobs = await store.claimJobs({ limit: 10, leaseMs: 30_000, workerId: 'w1', now });
      expect(jobs).toHaveLength(4);
      const lastSuccess = async () => (await store.connectorHealth())[0]?.lastSuccessAt;
      const before = store.db.transactions;
      await store.completeJob(jobs[0]!.lease, []);
      now += 500;
      await store.completeJob(jobs[1]!.lease, []);
      expect(await lastSuccess()).toBe(start);
      now += 600;
      await store.completeJob(jobs[2]!.lease, []);
      expect(await lastSuccess()).toBe(start + 1100);
      // No commit of its own: one transaction per completion, as before.
      expect(store.db.transactions - before).toBe(3);
      // A failure, then a success within the same second: the recovery shows at once.
      await store.retryJob(jobs[3]!.lease, { runAt: now, error: 'transient: x', countAttempt: true });
      now += 10;
      const [retried] = await store.claimJobs({ limit: 10, leaseMs: 30_000, workerId: 'w1', now });
      await store.completeJob(retried!.lease, []);
      expect(await lastSuccess()).toBe(start + 1110);
    } finally {
      await store.close();
    }
  });

  it('hydrates a message job from one statement, into the event the reads one by one build', async () => {
    const start = Date.now() + 3_600_000;
    const store = await openSqliteStore({ path: join(dir, `hydrate-${n++}.db`), now: () => start });
    try {
      const ws = await seedWorkspace(store, { connectors: ['slack'] });
      const ada = identity({ waId: '15550001111', profileName: 'Ada' });
      await store.ingest(
        messagesUnit(ws, {
          messages: [
            inboundMessage({ wamid: 'w.plain', contact: ada }),
            // An opt-out: its contact has a consent row, which the event's snapshot shows.
            inboundMessage({
              wamid: 'w.stop',
              contact: ada,
              text: 'STOP',
              timestamp: 1_750_000_001_000,
              consent: { category: 'marketing', state: 'opted_out', entryId: 'consent-1' },
            }),
            // An edit of the first message: that one now has a revision, and the edit's event
            // shows the message it changes (a related message, read apart).
            inboundMessage({
              wamid: 'w.edit',
              contact: ada,
              type: 'edit',
              text: 'hello again',
              relatesTo: 'w.plain',
              timestamp: 1_750_000_002_000,
            }),
          ],
        }),
      );
      const statements: string[] = [];
      const reads = new Map<string, number>();
      const db = store.db as unknown as Record<
        'get' | 'all' | 'allArrays' | 'iterate',
        (sql: string) => unknown
      >;
      for (const name of ['get', 'all', 'allArrays', 'iterate'] as const) {
        const original = db[name].bind(store.db);
        db[name] = (sql: string, ...rest: unknown[]) => {
          statements.push(sql);
          return (original as (...args: unknown[]) => unknown)(sql, ...rest);
        };
      }
      // One conversation: its jobs run one after another (the opt-out's consent.changed among them).
      for (;;) {
        const [job] = await store.claimJobs({ limit: 10, leaseMs: 30_000, workerId: 'w1', now: start });
        if (!job) break;
        if (job.eventType !== 'message.inbound') {
          await store.completeJob(job.lease, []);
          continue;
        }
        statements.length = 0;
        const event = await store.hydrateEvent(job, start);
        const read = statements.length;
        // core's hydrateEvent on the store itself: each read its own statement.
        expect(event).toEqual(await hydrateEvent(store, job, start));
        expect(event).not.toBeNull();
        if (event?.type !== 'message.inbound') throw new Error('not a message event');
        reads.set(event.message.wamid ?? '', read);
        expect(event.consent.marketing.state).toBe('opted_out');
        await store.completeJob(job.lease, []);
      }
      // One statement, and the rare reads apart: the edited message its revisions; the edit the
      // message it changes, and that message's revisions. Each read on its own was six or more.
      expect(Object.fromEntries(reads)).toEqual({ 'w.plain': 2, 'w.stop': 1, 'w.edit': 3 });
    } finally {
      await store.close();
    }
  });

  describe('jobs arrive in jobs_new and enter their queues when a claim admits them', () => {
    const claimAll = (store: Awaited<ReturnType<typeof openSqliteStore>>, now = Date.now()) =>
      store.claimJobs({ limit: 10_000, leaseMs: 30_000, workerId: 'w1', now });
    const count = (store: Awaited<ReturnType<typeof openSqliteStore>>, table: string) =>
      store.db.get<{ n: number }>(`SELECT count(*) AS n FROM ${table}`)?.n;
    const from = (waId: string, wamid: string, timestamp: number) =>
      inboundMessage({ wamid, timestamp, contact: identity({ waId }) });

    it('a backlog of 2,500 jobs is admitted in arrival order, and queue order holds across admissions', async () => {
      const store = await openSqliteStore({ path: join(dir, `admit-${n++}.db`) });
      try {
        const ws = await seedWorkspace(store, { connectors: ['slack'] });
        // 2,499 messages from 100 customers, then one that Ada sent first but that reached us last:
        // it arrives two admission batches after her other messages and must still run first.
        const backlog = Array.from({ length: 2499 }, (_, i) =>
          from(`1555${String(i % 100).padStart(7, '0')}`, `w.${i}`, 1_750_000_000_000 + (i + 1) * 1000),
        );
        for (let i = 0; i < backlog.length; i += 500)
          await store.ingest(messagesUnit(ws, { messages: backlog.slice(i, i + 500) }));
        await store.ingest(
          messagesUnit(ws, { messages: [from('15550000000', 'w.late', 1_750_000_000_000)] }),
        );
        expect([count(store, 'jobs'), count(store, 'jobs_new')]).toEqual([0, 2500]);
        expect((await store.jobStats()).ready).toBe(2500);
        expect(await store.nextRunAt()).toBeLessThanOrEqual(Date.now());

        const before = store.db.transactions;
        const heads = await claimAll(store);
        // A thousand jobs_new rows (here one job each) per transaction, the last one with the claim.
        expect(store.db.transactions - before).toBe(3);
        expect([count(store, 'jobs'), count(store, 'jobs_new')]).toEqual([2500, 0]);
        // One head per customer's queue, each the customer's earliest message.
        expect(heads).toHaveLength(100);
        const ada = await store.getMessageByWamid(ws, 'w.late');
        expect(heads.find((job) => job.conversationId === ada?.conversationId)?.entityId).toBe(ada?.id);
        const second = await store.getMessageByWamid(ws, 'w.1');
        expect(heads.find((job) => job.conversationId === second?.conversationId)?.entityId).toBe(second?.id);
        expect((await store.jobStats()).running).toBe(100);
      } finally {
        await store.close();
      }
    });

    it('webhooks commit between admission batches, and what they queue is admitted before the claim', async () => {
      const store = await openSqliteStore({ path: join(dir, `admit-${n++}.db`) });
      try {
        const ws = await seedWorkspace(store, { connectors: ['slack'] });
        await store.ingest(
          messagesUnit(ws, {
            messages: Array.from({ length: 1500 }, (_, i) =>
              from('15550000001', `w.${i}`, 1_750_000_000_000 + i),
            ),
          }),
        );
        const settled: string[] = [];
        // A claim "a minute from now": the webhook's job is due even when it is stored in a later
        // millisecond than the claim was asked in (this test is about admission, not due times).
        const claiming = claimAll(store, Date.now() + 60_000).then((jobs) => {
          settled.push('claim');
          return jobs;
        });
        // Queued in the same turn as the claim: it shares the first admission batch's commit.
        const ingesting = store
          .ingest(messagesUnit(ws, { messages: [from('15550000002', 'w.other', 1_750_000_000_000)] }))
          .then(() => settled.push('webhook'));
        const [jobs] = await Promise.all([claiming, ingesting]);
        expect(settled).toEqual(['webhook', 'claim']);
        // Both customers' heads: the webhook's job was admitted before the claim ran.
        expect(new Set(jobs.map((job) => job.conversationId)).size).toBe(2);
        expect(count(store, 'jobs_new')).toBe(0);
      } finally {
        await store.close();
      }
    });
  });
});

describe('the store thread', () => {
  /**
   * What the main thread sends the store thread and when answers reach callers, in order: `post n`
   * for a batch of n calls (threaded.ts posts one message of `calls` per batch), and the test's
   * own marks.
   */
  function recordBatches(): {
    events: string[];
    /** Runs once, right after the next batch is posted: before any answer can arrive. */
    afterNextPost(then: () => void): void;
    restore(): void;
  } {
    const events: string[] = [];
    let after: (() => void) | null = null;
    const post = ThreadWorker.prototype.postMessage;
    ThreadWorker.prototype.postMessage = function (this: ThreadWorker, value: unknown, transfer?: never) {
      if (typeof value !== 'object' || value === null || !('calls' in value))
        return post.call(this, value, transfer);
      events.push(`post ${(JSON.parse(String(value.calls)) as unknown[]).length}`);
      post.call(this, value, transfer);
      const then = after;
      after = null;
      then?.();
    };
    return {
      events,
      afterNextPost: (then) => {
        after = then;
      },
      restore: () => {
        ThreadWorker.prototype.postMessage = post;
      },
    };
  }

  /** A threaded store with one workspace, its batches recorded from here on. */
  async function withRecordedBatches(
    run: (
      store: Awaited<ReturnType<typeof openThreadedSqliteStore>>,
      ws: string,
      batches: ReturnType<typeof recordBatches>,
    ) => Promise<void>,
  ): Promise<void> {
    const store = await openThreadedSqliteStore({ path: join(dir, `threaded-batches-${n++}.db`) });
    const batches = recordBatches();
    try {
      const ws = await seedWorkspace(store, { connectors: ['slack'] });
      batches.events.length = 0;
      await run(store, ws, batches);
    } finally {
      batches.restore();
      await store.close();
    }
  }

  // At 200 connections a batch's answers resume a hundred or so HTTP handlers, which write their
  // responses before anything else runs: a batch that waited for them left a few ms late, and
  // the thread sat idle meanwhile.
  it('calls that waited for a batch leave when its answers arrive, before their callers run', async () => {
    await withRecordedBatches(async (store, ws, batches) => {
      // A call made once the first batch (the call below) has left waits for its answer.
      let waiting: Promise<unknown> = Promise.resolve();
      batches.afterNextPost(() => {
        waiting = store.getWorkspace(ws);
      });
      await store.getWorkspace(ws).then(() => batches.events.push('first answered'));
      await waiting;
      expect(batches.events).toEqual(['post 1', 'post 1', 'first answered']);
    });
  });

  // A delivery's steps are store calls one after another (claim, hydrate, the connector's refs, its
  // checkpoint). When the next batch left as soon as the answers arrived and a reaction waited for
  // the batch after, each step waited for a whole extra batch (with its commit and fsync) before it
  // could even leave: about half of a job's webhook → effect time at 500 msg/s.
  it('a call made in reaction to an answer leaves before any other answer arrives, however many awaits deep', async () => {
    await withRecordedBatches(async (store, ws, batches) => {
      let waiting: Promise<unknown> = Promise.resolve();
      batches.afterNextPost(() => {
        waiting = store.getWorkspace(ws).then(() => batches.events.push('waiting answered'));
      });
      const first = store.getWorkspace(ws);
      // The first call's caller reacts to its answer with another call, a few awaits later.
      const reaction = first.then(async () => {
        batches.events.push('first answered');
        await Promise.resolve();
        await Promise.resolve();
        return store.getWorkspace(ws);
      });
      await reaction;
      await waiting;
      expect(batches.events).toEqual(['post 1', 'post 1', 'first answered', 'post 1', 'waiting answered']);
    });
  });
});
