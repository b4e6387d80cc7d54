import type { Lease } from '@wabridge/core';
import pg from 'pg';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Within } from './pg-queue.ts';
import { openTestQueue } from './testing.ts';

// A job is settled in one statement (settle.ts). Its lease check must stay exact when a takeover
// commits while the statement waits for the job's row, and the statement's relaxed commit must not
// outlive it on the pooled connection.

let opened: Awaited<ReturnType<typeof openTestQueue>>;
let clock: number;

beforeEach(async () => {
  clock = 1_700_000_000_000;
  opened = await openTestQueue({ now: () => clock, max: 1 });
  // The store's part of a settlement writes a row per settled job (as its refs do).
  await opened.pool.query('CREATE TABLE settled (job_id BIGINT NOT NULL)');
});
afterEach(async () => {
  await opened.close();
});

const noted: Within = () => ['noted AS (INSERT INTO settled (job_id) SELECT id FROM job)'];
const notes = async () => Number((await opened.pool.query('SELECT count(*) AS n FROM settled')).rows[0].n);

async function claimOne(entityId: string) {
  await opened.queue.enqueue([
    {
      workspaceId: 'ws',
      connectorId: 'slack',
      conversationId: entityId,
      eventType: 'message.inbound',
      entityId,
      sortTs: 1000,
    },
  ]);
  const [job] = await opened.queue.claimJobs({ limit: 1, leaseMs: 30_000, workerId: 'w1', now: clock });
  if (!job) throw new Error('nothing claimed');
  return job;
}

/** A connection of its own on the queue's schema, outside the queue's pool. */
async function side(): Promise<pg.Client> {
  const client = new pg.Client({
    connectionString: opened.pool.options.connectionString,
    options: `-c search_path=${opened.schema}`,
  });
  await client.connect();
  return client;
}

const settlements: [string, (lease: Lease) => Promise<boolean>][] = [
  ['completeJob', (lease) => opened.queue.completeJob(lease, noted)],
  ['checkpoint', (lease) => opened.queue.checkpoint(lease, 'ws', noted)],
  ['retryJob', (lease) => opened.queue.retryJob(lease, { runAt: clock, error: 'x', countAttempt: true })],
  ['deadLetterJob', (lease) => opened.queue.deadLetterJob(lease, 'x')],
  ['extendLease', (lease) => opened.queue.extendLease(lease, clock + 90_000)],
];

describe('settling a job in one statement', () => {
  it.each(settlements)(
    '%s settles nothing for a lease taken over while it waited for the row',
    async (_, run) => {
      const job = await claimOne('c1');
      const takeover = await side();
      const watcher = await side();
      try {
        // Another worker's takeover holds the row, uncommitted, when the settlement arrives.
        await takeover.query('BEGIN');
        await takeover.query(
          "UPDATE jobs SET lease_token = 'taken-over', attempts = attempts + 1 WHERE id = $1",
          [job.id],
        );
        let done = false;
        const settling = run(job.lease).finally(() => {
          done = true;
        });
        const pid = (await takeover.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]?.pid;
        const blocked = async () =>
          (await watcher.query('SELECT 1 FROM pg_stat_activity WHERE $1 = ANY(pg_blocking_pids(pid))', [pid]))
            .rows.length > 0;
        while (!done && !(await blocked())) await new Promise((resolve) => setTimeout(resolve, 5));
        expect(done).toBe(false);
        await takeover.query('COMMIT');
        // The row is checked again in its committed version: the lease is no longer this worker's.
        expect(await settling).toBe(false);
        expect(await notes()).toBe(0);
        const { rows } = await opened.pool.query(
          'SELECT lease_token, state, last_error FROM jobs WHERE id = $1 UNION ALL SELECT NULL, NULL, reason FROM dead_jobs',
          [job.id],
        );
        expect(rows).toEqual([{ lease_token: 'taken-over', state: 'running', last_error: null }]);
        expect(await opened.queue.connectorHealth()).toEqual([]);
      } finally {
        await takeover.end();
        await watcher.end();
      }
    },
  );

  it('the relaxed commit of a completion or a heartbeat (synchronous_commit off) ends with its statement', async () => {
    const job = await claimOne('c1');
    // One pooled connection: what the settlement set would show on the next statement.
    expect(await opened.queue.extendLease(job.lease, clock + 90_000)).toBe(true);
    expect((await opened.pool.query('SHOW synchronous_commit')).rows[0].synchronous_commit).toBe('on');
    expect(await opened.queue.completeJob(job.lease, noted)).toBe(true);
    expect((await opened.pool.query('SHOW synchronous_commit')).rows[0].synchronous_commit).toBe('on');
    expect(await notes()).toBe(1);
  });
});
