import pg from 'pg';
import { JOBS_SCHEMA } from '../schema/jobs.ts';
import { freshSchema, testDatabaseUrl } from '../testing/index.ts';
import { PgJobQueue } from './pg-queue.ts';

/**
 * A queue on a schema of its own (tests and the bench): the pool's connections use it through
 * search_path, so the queue's SQL names no schema.
 */
export async function openTestQueue(options: { now?: () => number; max?: number } = {}) {
  const { schema, drop } = await freshSchema('wb_queue');
  const pool = new pg.Pool({
    connectionString: testDatabaseUrl,
    options: `-c search_path=${schema}`,
    max: options.max ?? 4,
  });
  await pool.query(JOBS_SCHEMA);
  // A channel of its own too: notifications are per database, and test files run in parallel.
  const channel = schema;
  const queue = new PgJobQueue({ pool, channel, ...(options.now ? { now: options.now } : {}) });
  return {
    schema,
    channel,
    pool,
    queue,
    /** Another process's queue on the same tables (its own pool and walk cursors). */
    another: () => {
      const other = new pg.Pool({
        connectionString: testDatabaseUrl,
        options: `-c search_path=${schema}`,
        max: 4,
      });
      return {
        pool: other,
        queue: new PgJobQueue({ pool: other, channel, ...(options.now ? { now: options.now } : {}) }),
      };
    },
    close: async () => {
      await pool.end();
      await drop();
    },
  };
}
