import type { ExclusiveOutcome } from '@wabridge/core';
import pg from 'pg';

/**
 * The advisory lock class of `runExclusive` (the first key of pg_try_advisory_lock(int, int));
 * the second is a hash of the schema and the work's name, so stores in different schemas (tests)
 * never exclude each other. Migrations use their own class (migrate.ts).
 */
export const EXCLUSIVE_LOCK_CLASS = 0x7762_7831;

/**
 * Runs `fn` while holding a session advisory lock named `name`, on a connection of its own (not
 * the pool's: a session lock must outlive no statement of someone else's, and a transaction
 * pooler would hand the session to another client). Another process asking for the same name
 * meanwhile is refused at once (`ran: false`). The lock goes when `fn` ends (unlocked, and the
 * connection closed), and when this process dies: the server ends the session and drops its locks.
 *
 * The lock also goes when the connection is lost while `fn` runs (a network cut, the server
 * restarted, the session terminated): another process may then start the same work. `fn` gets a
 * signal that aborts at that moment, and should stop at its next step.
 */
export async function runExclusive<T>(
  config: pg.ClientConfig,
  schema: string | null,
  name: string,
  fn: (lost: AbortSignal) => Promise<T>,
): Promise<ExclusiveOutcome<T>> {
  const client = new pg.Client(config);
  const lost = new AbortController();
  const onLost = () => lost.abort(new Error(`the lock of ${name} was lost with its connection`));
  // A connection lost while fn runs is an 'error' event (without a listener it would end the
  // process), or an 'end' when the server closed it cleanly.
  client.on('error', onLost);
  client.on('end', onLost);
  await client.connect();
  try {
    const { rows } = await client.query<{ locked: boolean }>(
      "SELECT pg_try_advisory_lock($1, hashtext(coalesce($2::text, current_schema()::text, '') || ':' || $3)) AS locked",
      [EXCLUSIVE_LOCK_CLASS, schema, name],
    );
    if (!rows[0]?.locked) return { ran: false };
    // No explicit unlock: closing the session below releases the lock, also when fn throws.
    return { ran: true, value: await fn(lost.signal) };
  } finally {
    client.off('end', onLost);
    await client.end().catch(() => {});
  }
}
