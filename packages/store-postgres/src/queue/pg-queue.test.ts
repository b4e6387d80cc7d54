import type { Job } from '@wabridge/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { PgJobQueue, Within } from './pg-queue.ts';
import type { NewJob } from './rows.ts';
import { openTestQueue } from './testing.ts';

// The cases of describeJobsConformance (packages/core/src/testing/store-conformance.ts) that do
// not need ingest: jobs are queued directly, one per (message, connector), and named by entity id.

const WS = 'ws_1';
let opened: Awaited<ReturnType<typeof openTestQueue>>;
let queue: PgJobQueue;
let clock: number;

beforeEach(async () => {
  clock = 1_700_000_000_000;
  opened = await openTestQueue({ now: () => clock });
  queue = opened.queue;
});
afterEach(async () => {
  await opened.close();
});

/** Messages of one conversation (entity ids `<conversation>.<i>`), fanned out to `connectors`. */
function messages(
  conversation: string,
  count: number,
  connectors: string[] = ['slack'],
  firstSort = 1000,
): NewJob[] {
  return Array.from({ length: count }, (_, i) =>
    connectors.map((connectorId) => ({
      workspaceId: WS,
      connectorId,
      conversationId: conversation,
      eventType: 'message.inbound' as const,
      entityId: `${conversation}.${i}`,
      sortTs: firstSort + i,
    })),
  ).flat();
}

const claim = (limit = 10, now = clock) => queue.claimJobs({ limit, leaseMs: 30_000, workerId: 'w1', now });
const batch = (connectorId: string, limit = 100, now = clock) =>
  queue.claimBatch({ workspaceId: WS, connectorId, limit, leaseMs: 30_000, workerId: 'w', now });
const entities = (jobs: Job[]) => jobs.map((job) => job.entityId);

describe('the queue on Postgres', () => {
  it('runs the jobs of one conversation strictly one after another, in order', async () => {
    await queue.enqueue(messages('c1', 3));
    const first = await claim();
    expect(entities(first)).toEqual(['c1.0']);
    expect(await claim()).toEqual([]);
    expect(await queue.completeJob(first[0]!.lease)).toBe(true);
    expect(entities(await claim())).toEqual(['c1.1']);
  });

  it('orders a conversation by its sort key, not arrival', async () => {
    await queue.enqueue(messages('late', 1, ['slack'], 2000).map((j) => ({ ...j, conversationId: 'c1' })));
    await queue.enqueue(messages('early', 1, ['slack'], 1000).map((j) => ({ ...j, conversationId: 'c1' })));
    expect(entities(await claim())).toEqual(['early.0']);
  });

  it('a failing conversation does not block the others', async () => {
    await queue.enqueue([...messages('a', 2), ...messages('b', 2)]);
    const jobs = await claim();
    expect(entities(jobs)).toEqual(['a.0', 'b.0']);
    await queue.retryJob(jobs[0]!.lease, { runAt: clock + 60_000, error: 'down', countAttempt: true });
    await queue.completeJob(jobs[1]!.lease);
    expect(entities(await claim())).toEqual(['b.1']);
  });

  it('a stale worker cannot settle a job it lost', async () => {
    await queue.enqueue(messages('c1', 1));
    const [stale] = await claim();
    // The lease expires and another worker takes the job over.
    const [fresh] = await queue.claimJobs({
      limit: 10,
      leaseMs: 30_000,
      workerId: 'w2',
      now: clock + 60_000,
    });
    expect(fresh?.id).toBe(stale?.id);
    expect(fresh?.attempts).toBe(2);
    expect(fresh?.lease.token).not.toBe(stale?.lease.token);
    // The store's part of a settlement writes a row per settled job (as its refs do).
    await opened.pool.query('CREATE TABLE settled (job_id BIGINT NOT NULL)');
    const within: Within = () => ['noted AS (INSERT INTO settled (job_id) SELECT id FROM job)'];
    const ran = async () => Number((await opened.pool.query('SELECT count(*) AS n FROM settled')).rows[0].n);
    expect(await queue.completeJob(stale!.lease, within)).toBe(false);
    expect(await queue.retryJob(stale!.lease, { runAt: 0, error: 'x', countAttempt: true })).toBe(false);
    expect(await queue.deadLetterJob(stale!.lease, 'x')).toBe(false);
    expect(await queue.checkpoint(stale!.lease, WS, within)).toBe(false);
    expect(await queue.extendLease(stale!.lease, clock + 120_000)).toBe(false);
    expect(await ran()).toBe(0);
    expect(await queue.checkpoint(fresh!.lease, 'another-workspace', within)).toBe(false);
    expect(await queue.checkpoint(fresh!.lease, WS, within)).toBe(true);
    expect(await queue.completeJob(fresh!.lease, within)).toBe(true);
    expect(await ran()).toBe(2);
    expect(await queue.jobStats()).toMatchObject({ ready: 0, running: 0 });
  });

  it('a heartbeat keeps the lease: the job is not taken over while it is extended', async () => {
    await queue.enqueue(messages('c1', 1));
    const [job] = await claim();
    expect(await queue.extendLease(job!.lease, clock + 90_000)).toBe(true);
    expect(await claim(10, clock + 60_000)).toEqual([]);
    expect(entities(await claim(10, clock + 90_001))).toEqual(['c1.0']);
  });

  it('a rate-limit retry (Retry-After) does not count as an attempt, and is not a failure', async () => {
    await queue.enqueue(messages('c1', 1));
    const [job] = await claim();
    await queue.retryJob(job!.lease, {
      runAt: clock + 5_000,
      error: 'rate_limited: wait',
      countAttempt: false,
    });
    expect(await claim()).toEqual([]);
    expect(await queue.nextRunAt()).toBe(clock + 5_000);
    const [again] = await claim(10, clock + 5_000);
    expect(again?.attempts).toBe(1);
    expect(await queue.connectorHealth()).toEqual([]);
  });

  it('dead-letters with the reason and replays a dead job exactly once, in its place', async () => {
    await queue.enqueue(messages('c1', 2));
    const [job] = await claim();
    await queue.deadLetterJob(job!.lease, 'permanent: channel_not_found');
    expect(await queue.listDeadJobs()).toEqual([
      expect.objectContaining({ id: job!.id, reason: 'permanent: channel_not_found', connectorId: 'slack' }),
    ]);
    // The next message of the conversation is no longer blocked.
    const [next] = await claim();
    expect(next?.entityId).toBe('c1.1');
    const other = opened.another();
    const replays = await Promise.all([queue.replayDeadJobs('all'), other.queue.replayDeadJobs('all')]);
    await other.pool.end();
    expect(replays.sort()).toEqual([0, 1]);
    // Replayed with its old sort key: it heads the queue again, behind the job in flight.
    expect(await claim()).toEqual([]);
    await queue.completeJob(next!.lease);
    const [replayed] = await claim();
    expect(replayed?.entityId).toBe(job!.entityId);
    expect(await queue.listDeadJobs()).toEqual([]);
  });

  it('does not claim a late older message while a newer one of its conversation runs', async () => {
    await queue.enqueue(messages('c1', 1, ['slack'], 2000).map((j) => ({ ...j, entityId: 'new' })));
    const [running] = await claim();
    await queue.enqueue(messages('c1', 1, ['slack'], 1000).map((j) => ({ ...j, entityId: 'old' })));
    expect(await claim()).toEqual([]);
    // Settled (here, a 429 sends it back to wait): the older message now goes first.
    await queue.retryJob(running!.lease, {
      runAt: clock + 5_000,
      error: 'rate_limited',
      countAttempt: false,
    });
    expect(entities(await claim(10, clock + 2))).toEqual(['old']);
    expect(await claim(10, clock + 10_000)).toEqual([]);
  });

  it('does not claim a late older message while a newer one runs, past a backlog of blocked jobs', async () => {
    // 300 jobs of another conversation fill the window, all behind their head in flight: the
    // claim walks the queues instead (the third read).
    await queue.enqueue(messages('busy', 300));
    expect(entities(await claim(1))).toEqual(['busy.0']);
    await queue.enqueue(messages('c1', 1, ['slack'], 2000).map((j) => ({ ...j, entityId: 'new' })));
    expect(entities(await claim(1))).toEqual(['new']);
    await queue.enqueue(messages('c1', 1, ['slack'], 1000).map((j) => ({ ...j, entityId: 'old' })));
    expect(await claim(1)).toEqual([]);
    expect(await claim(1)).toEqual([]);
  });

  it('takes over an expired lease only when no other job of its queue runs', async () => {
    await queue.enqueue(messages('c1', 1, ['slack'], 2000).map((j) => ({ ...j, entityId: 'new' })));
    const [newer] = await queue.claimJobs({ limit: 10, leaseMs: 1_000, workerId: 'w1', now: clock });
    await queue.enqueue(messages('c1', 1, ['slack'], 1000).map((j) => ({ ...j, entityId: 'old' })));
    // The newer job's lease has expired: its worker is gone, so the older message may run.
    const [older] = await queue.claimJobs({ limit: 10, leaseMs: 30_000, workerId: 'w2', now: clock + 2_000 });
    expect(older?.entityId).toBe('old');
    // While the older one runs, the expired newer one is not taken over.
    expect(await claim(10, clock + 3_000)).toEqual([]);
    await queue.completeJob(older!.lease);
    const [again] = await claim(10, clock + 4_000);
    expect(again?.id).toBe(newer!.id);
  });

  it('a batch claim skips a conversation while a newer message of it runs, even behind an older arrival', async () => {
    await queue.enqueue(messages('c1', 1, ['hubspot'], 2000).map((j) => ({ ...j, entityId: 'new' })));
    const [running] = await batch('hubspot');
    expect(running?.entityId).toBe('new');
    await queue.enqueue(messages('c1', 1, ['hubspot'], 1000).map((j) => ({ ...j, entityId: 'old' })));
    expect(await batch('hubspot')).toEqual([]);
    await queue.completeJob(running!.lease);
    expect(entities(await batch('hubspot'))).toEqual(['old']);
  });

  it('finds a ready conversation behind hundreds of jobs waiting on their conversation’s head', async () => {
    await queue.enqueue(messages('c1', 300));
    await queue.enqueue(messages('c2', 1));
    expect(entities(await claim(1))).toEqual(['c1.0']);
    expect(entities(await claim(1))).toEqual(['c2.0']);
    expect(await claim(1)).toEqual([]);
  });

  it('claims for some connectors past an older backlog of another connector’s', async () => {
    await queue.enqueue(
      Array.from({ length: 300 }, (_, i) =>
        messages(`h${String(i).padStart(4, '0')}`, 1, ['hubspot']),
      ).flat(),
    );
    await queue.enqueue(messages('zz', 1, ['slack']));
    const jobs = await queue.claimJobs({
      limit: 1,
      leaseMs: 30_000,
      workerId: 'w1',
      connectorIds: ['slack', 'whatsapp'],
      now: clock,
    });
    expect(jobs.map((job) => [job.connectorId, job.entityId])).toEqual([['slack', 'zz.0']]);
  });

  it('gives every conversation its turn, one claim at a time, and keeps each in order', async () => {
    await queue.enqueue([...messages('c1', 120), ...messages('c2', 120), ...messages('c3', 120)]);
    const heads: Job[] = [];
    for (let i = 0; i < 3; i++) heads.push(...(await claim(1)));
    expect(entities(heads).sort()).toEqual(['c1.0', 'c2.0', 'c3.0']);
    expect(await claim(1)).toEqual([]);
    for (const job of heads) await queue.completeJob(job.lease);
    expect(entities(await claim(10)).sort()).toEqual(['c1.1', 'c2.1', 'c3.1']);
  });

  it('takes the queues in turn while the oldest jobs all wait on a head in flight', async () => {
    // c0's head runs and its 299 followers fill the window of oldest jobs, so each claim walks the
    // queues; it must resume after the queue it served last, or c1 would be served every time.
    await queue.enqueue(messages('c0', 300));
    await queue.enqueue([...messages('c1', 20), ...messages('c2', 20), ...messages('c3', 20)]);
    expect(entities(await claim(1))).toEqual(['c0.0']);
    const served: string[] = [];
    for (let i = 0; i < 6; i++) {
      const [job] = await claim(1);
      served.push(job?.entityId ?? 'none');
      if (job) await queue.completeJob(job.lease);
    }
    expect(served).toEqual(['c1.0', 'c2.0', 'c3.0', 'c1.1', 'c2.1', 'c3.1']);
  });

  it('claims a batch as each conversation’s ready prefix, skipping conversations in flight', async () => {
    await queue.enqueue([...messages('a', 3, ['hubspot', 'slack']), ...messages('b', 2, ['hubspot'])]);
    expect(entities(await batch('hubspot'))).toEqual(['a.0', 'a.1', 'a.2', 'b.0', 'b.1']);
    expect(await batch('hubspot')).toEqual([]);
    // Slack's queues are their own.
    expect(entities(await batch('slack'))).toEqual(['a.0', 'a.1', 'a.2']);
  });

  it('stops a batch prefix at a job that is not due', async () => {
    await queue.enqueue(messages('a', 3, ['hubspot']));
    const [first] = await claim(1);
    await queue.retryJob(first!.lease, { runAt: clock + 60_000, error: 'x', countAttempt: true });
    expect(await batch('hubspot')).toEqual([]);
    expect(entities(await batch('hubspot', 2, clock + 60_000))).toEqual(['a.0', 'a.1']);
  });

  it('fills a batch from ready conversations behind hundreds of jobs waiting on a head in flight', async () => {
    await queue.enqueue(messages('c1', 700, ['hubspot']));
    await queue.enqueue([...messages('c2', 2, ['hubspot']), ...messages('c3', 2, ['hubspot'])]);
    expect(entities(await claim(1))).toEqual(['c1.0']);
    expect(entities(await batch('hubspot', 10)).sort()).toEqual(['c2.0', 'c2.1', 'c3.0', 'c3.1']);
  });

  it('counts jobs by connector and state: ready, running, dead', async () => {
    await queue.enqueue([
      ...messages('c1', 3, ['slack', 'hubspot']),
      ...messages('c2', 2, ['slack', 'hubspot']),
    ]);
    const claimed = await queue.claimJobs({
      limit: 3,
      leaseMs: 30_000,
      workerId: 'w1',
      connectorIds: ['slack'],
      now: clock,
    });
    expect(claimed).toHaveLength(2);
    await queue.deadLetterJob(claimed[0]!.lease, 'permanent: test');
    expect(await queue.jobStats()).toEqual({
      ready: 8,
      running: 1,
      dead: 1,
      coalesced: 0,
      byConnector: {
        slack: { ready: 3, running: 1, dead: 1, coalesced: 0 },
        hubspot: { ready: 5, running: 0, dead: 0, coalesced: 0 },
      },
    });
  });

  it('records per workspace and connector the last success, the last failure and its reason', async () => {
    expect(await queue.connectorHealth()).toEqual([]);
    await queue.enqueue([
      ...messages('c1', 2, ['slack', 'hubspot']),
      ...messages('c2', 1, ['slack', 'hubspot']),
    ]);
    const first = await claim();
    const slack = first.filter((j) => j.connectorId === 'slack');
    const hubspot = first.filter((j) => j.connectorId === 'hubspot');
    expect(slack).toHaveLength(2);
    await queue.completeJob(slack[0]!.lease);
    clock += 10;
    await queue.retryJob(slack[1]!.lease, {
      runAt: clock + 60_000,
      error: 'auth_failed: invalid_auth',
      countAttempt: true,
    });
    await queue.retryJob(hubspot[0]!.lease, { runAt: 0, error: 'rate_limited: wait', countAttempt: false });
    await queue.deadLetterJob(hubspot[1]!.lease, 'permanent: no such property');
    expect(await queue.connectorHealth()).toEqual([
      {
        workspaceId: WS,
        connectorId: 'hubspot',
        lastSuccessAt: null,
        lastErrorAt: clock,
        lastError: 'permanent: no such property',
        // The rate-limited job waits too, but it did not fail.
        retrying: 0,
        dead: 1,
      },
      {
        workspaceId: WS,
        connectorId: 'slack',
        lastSuccessAt: clock - 10,
        lastErrorAt: clock,
        lastError: 'auth_failed: invalid_auth',
        retrying: 1,
        dead: 0,
      },
    ]);
  });

  it('shows a recovery: the first success after a failure is recorded at once', async () => {
    await queue.enqueue([...messages('c1', 1), ...messages('c2', 1)]);
    const [one, two] = await claim();
    await queue.completeJob(one!.lease);
    clock += 100; // within the second in which successes are not rewritten
    await queue.retryJob(two!.lease, { runAt: 0, error: 'transient: Slack unreachable', countAttempt: true });
    const failing = (await queue.connectorHealth())[0]!;
    expect(failing.retrying).toBe(1);
    const [again] = await claim();
    expect(again?.attempts).toBe(2);
    // While its retry runs, the job still counts as retrying.
    expect((await queue.connectorHealth())[0]?.retrying).toBe(1);
    clock += 100;
    await queue.completeJob(again!.lease);
    const recovered = (await queue.connectorHealth())[0]!;
    expect(recovered.retrying).toBe(0);
    expect(recovered.lastSuccessAt).toBe(clock);
    expect(recovered.lastError).toBe('transient: Slack unreachable');
  });

  it('reports the next time a job becomes ready', async () => {
    expect(await queue.nextRunAt()).toBeNull();
    await queue.enqueue(messages('c1', 1));
    const [job] = await claim();
    expect(await queue.nextRunAt()).toBe(clock + 30_000); // the lease's expiry
    await queue.retryJob(job!.lease, { runAt: 123_456, error: 'x', countAttempt: true });
    expect(await queue.nextRunAt()).toBe(123_456);
  });
});
