import pg from 'pg';

/**
 * Wakes an idle worker when jobs are queued: the commit that queues them notifies the queue's channel
 * (see PgJobQueue.enqueueIn), so a worker need not poll the table to start within milliseconds.
 * Notifications are a hint, not the queue: one lost while the connection was down costs a poll
 * interval (`nextRunAt`), never a job. LISTEN needs a session of its own, so this is a dedicated
 * connection, not one from the pool, and must not go through a transaction-mode pooler.
 */
export async function listenForJobs(
  config: pg.ClientConfig,
  channel: string,
  onJobs: () => void,
  onError: (error: Error) => void = () => {},
): Promise<{ close: () => Promise<void> }> {
  const client = new pg.Client(config);
  client.on('notification', (message) => {
    if (message.channel === channel) onJobs();
  });
  client.on('error', onError);
  await client.connect();
  await client.query(`LISTEN ${client.escapeIdentifier(channel)}`);
  return { close: () => client.end() };
}
