import { expect, it } from 'vitest';
import { testDatabaseUrl } from '../testing/index.ts';
import { listenForJobs } from './notify.ts';
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
