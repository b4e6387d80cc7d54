import { expect, it } from 'vitest';
import { testDatabaseUrl } from '../testing/index.ts';
import { listenForJobs, watchJobs } from './notify.ts';
import { JOBS_CHANNEL, jobsChannel } from './pg-queue.ts';
import { openTestQueue } from './testing.ts';

it('wakes a listener when a commit queues jobs, and not before the commit', async () => {
  const opened = await openTestQueue();
  let woken = 0;
  let wake: () => void = () => {};
  const notified = new Promise<void>((resolve) => {
    wake = resolve;
  });
  const listener = await listenForJobs({ connectionString: testDatabaseUrl }, opened.channel, () => {
    woken++;
    wake();
  });
  try {
    const job = {
      workspaceId: 'ws',
      connectorId: 'slack',
      conversationId: 'c1',
      eventType: 'message.inbound' as const,
      entityId: 'm1',
      sortTs: 1,
    };
    const rolledBack = await opened.pool.connect();
    try {
      await rolledBack.query('BEGIN');
      await opened.queue.enqueueIn(rolledBack, [job]);
      await rolledBack.query('ROLLBACK');
    } finally {
      rolledBack.release();
    }
    await opened.queue.enqueue([job, { ...job, entityId: 'm2' }]);
    await notified;
    // One notification for the committed transaction (however many jobs), none for the rolled back.
    // Notifications arrive in commit order on the listener's connection, so a second one sent now
    // is proof that nothing else was pending before it.
    const marker = new Promise<void>((resolve) => {
      wake = resolve;
    });
    await opened.pool.query("SELECT pg_notify($1, '')", [opened.channel]);
    await marker;
    expect(woken).toBe(2);
  } finally {
    await listener.close();
    await opened.close();
  }
});

it('keeps listening across a dropped connection, and wakes once after reconnecting for what it missed', async () => {
  const opened = await openTestQueue();
  const name = `listen-${opened.channel}`.slice(0, 63);
  const events: string[] = [];
  let changed: () => void = () => {};
  const next = () =>
    new Promise<void>((resolve) => {
      changed = resolve;
    });
  const watch = watchJobs({
    config: { connectionString: testDatabaseUrl, application_name: name },
    channel: opened.channel,
    onJobs: () => {
      events.push('jobs');
      changed();
    },
    onListening: () => {
      events.push('listening');
      changed();
    },
    retryMs: 10,
  });
  try {
    await watch.listening;
    expect(events).toEqual(['listening']);
    // The server ends the session (a restart, a failover, an idle timeout in between would).
    let event = next();
    const { rowCount } = await opened.pool.query(
      'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1',
      [name],
    );
    expect(rowCount).toBe(1);
    while (events.length < 3) {
      await event;
      event = next();
    }
    // Listening again, and one wake for the notifications sent while it was away.
    expect(events).toEqual(['listening', 'listening', 'jobs']);
    await opened.queue.enqueue([
      {
        workspaceId: 'ws',
        connectorId: 'slack',
        conversationId: 'c1',
        eventType: 'message.inbound',
        entityId: 'm1',
        sortTs: 1,
      },
    ]);
    await event;
    expect(events).toEqual(['listening', 'listening', 'jobs', 'jobs']);
  } finally {
    await watch.close();
    await opened.close();
  }
});

it('gives each schema its own channel, within the 63 bytes of an identifier', () => {
  expect(jobsChannel(null)).toBe(JOBS_CHANNEL);
  expect(jobsChannel('acme')).toBe('wabridge_jobs_acme');
  expect(jobsChannel('acme')).not.toBe(jobsChannel('globex'));
  const long = 'a'.repeat(63);
  expect(jobsChannel(long).length).toBeLessThanOrEqual(63);
  expect(jobsChannel(long)).not.toBe(jobsChannel(`${'a'.repeat(62)}b`));
});
