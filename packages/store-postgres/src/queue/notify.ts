import type { JobWatch } from '@wabridge/core';
import pg from 'pg';

/**
 * Wakes an idle worker when jobs are queued: the commit that queues them notifies the queue's channel
 * (see PgJobQueue.enqueueIn), so a worker need not poll the table to start within milliseconds.
 * Notifications are a hint, not the queue: one lost while the connection was down costs a poll
 * interval (`nextRunAt`), never a job. LISTEN needs a session of its own, so this is a dedicated
 * connection, not one from the pool, and must not go through a transaction-mode pooler.
 * `onEnd` is called once when the connection is gone (an error, the server closing it, `close`).
 */
export async function listenForJobs(
  config: pg.ClientConfig,
  channel: string,
  onJobs: () => void,
  onError: (error: Error) => void = () => {},
  onEnd: () => void = () => {},
): Promise<{ close: () => Promise<void> }> {
  const client = new pg.Client(config);
  client.on('notification', (message) => {
    if (message.channel === channel) onJobs();
  });
  client.on('error', onError);
  client.once('end', onEnd);
  try {
    await client.connect();
    await client.query(`LISTEN ${client.escapeIdentifier(channel)}`);
  } catch (error) {
    await client.end().catch(() => {});
    throw error;
  }
  return { close: () => client.end() };
}

export interface WatchJobsOptions {
  config: pg.ClientConfig;
  channel: string;
  /** New jobs may be ready: after a notification, and after each LISTEN that follows a gap. */
  onJobs: () => void;
  /** A connection attempt failed or the connection broke (the watch retries). */
  onError?: (error: Error) => void;
  /** Each time a LISTEN is in place (the first and every reconnection). */
  onListening?: () => void;
  /** Wait before the first retry, doubling to `maxRetryMs` (defaults 250 ms and 5 s). */
  retryMs?: number;
  maxRetryMs?: number;
}

/**
 * A LISTEN that stays: when the connection drops (a server restart, a failover, an idle timeout in
 * between) it reconnects, with back-off, and then calls `onJobs` once, since notifications sent
 * while it was away are gone. The first LISTEN does not call it: whoever started the watch claims
 * after `listening` anyway.
 */
export function watchJobs(options: WatchJobsOptions): JobWatch {
  const retryMs = options.retryMs ?? 250;
  const maxRetryMs = options.maxRetryMs ?? 5000;
  let closed = false;
  let current: { close: () => Promise<void> } | null = null;
  let timer: NodeJS.Timeout | null = null;
  let delay = retryMs;
  let everListened = false;
  let settle: () => void = () => {};
  const listening = new Promise<void>((resolve) => {
    settle = resolve;
  });

  const retry = () => {
    if (closed || timer) return;
    timer = setTimeout(() => {
      timer = null;
      void connect();
    }, delay);
    timer.unref();
    delay = Math.min(maxRetryMs, delay * 2);
  };

  async function connect(): Promise<void> {
    if (closed) return;
    let gone = false;
    let connection: { close: () => Promise<void> } | null = null;
    try {
      connection = await listenForJobs(
        options.config,
        options.channel,
        options.onJobs,
        (error) => options.onError?.(error),
        () => {
          gone = true;
          if (connection && current === connection) current = null;
          retry();
        },
      );
      if (closed) return void (await connection.close());
      if (gone) return;
      current = connection;
      delay = retryMs;
      options.onListening?.();
      if (everListened) options.onJobs();
      everListened = true;
    } catch (error) {
      options.onError?.(error as Error);
      retry();
    } finally {
      settle();
    }
  }

  void connect();
  return {
    listening,
    async close() {
      closed = true;
      if (timer) clearTimeout(timer);
      await current?.close().catch(() => {});
    },
  };
}
