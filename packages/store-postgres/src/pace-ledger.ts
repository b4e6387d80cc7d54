import type { PaceGrant, PaceLedger, PaceRule } from '@wabridge/core';
import type { Queryable } from './database.ts';

/** The database's clock, epoch ms: every lane's times are on it, whichever host asks. */
const NOW_MS = '(extract(epoch FROM clock_timestamp()) * 1000)';
const DB_NOW = `(SELECT ${NOW_MS} AS t) AS c`;

/**
 * The pace ledger of every process on the database (`pace_lanes`, schema/pace-lanes.ts): each
 * operation is one statement, so one round trip, on the pool (no transaction, no session state:
 * it works behind a transaction pooler). Times are the database's; callers get durations.
 */
export class PgPaceLedger implements PaceLedger {
  readonly #db: Queryable;

  constructor(db: Queryable) {
    this.#db = db;
  }

  async reserve(lane: string, rule: PaceRule, maxWaitMs: number): Promise<PaceGrant> {
    const row = await this.#db.get<{ granted: boolean; wait_ms: number }>(
      'SELECT granted, wait_ms FROM pace_reserve($1, $2, $3, $4, $5)',
      [lane, rule.intervalMs, rule.burst, rule.windowMs, maxWaitMs],
    );
    if (!row) throw new Error('pace_reserve answered no row');
    return { granted: row.granted, waitMs: Math.max(0, row.wait_ms) };
  }

  async claimSend(lane: string, spacingMs: number): Promise<number> {
    // The clock is read again after the row lock (SET and RETURNING run once the row is ours): a
    // send claimed after queueing for the lane is timed from then, not from when it asked.
    const row = await this.#db.get<{ wait_ms: number }>(
      `INSERT INTO pace_lanes AS l (lane, tat, last_sent, touched) SELECT $1, c.t, c.t, c.t FROM ${DB_NOW}
       ON CONFLICT (lane) DO UPDATE SET last_sent = greatest(${NOW_MS}, l.last_sent + $2::float8),
         touched = ${NOW_MS}
       RETURNING l.last_sent - ${NOW_MS} AS wait_ms`,
      [lane, spacingMs],
    );
    return Math.max(0, row?.wait_ms ?? 0);
  }

  async block(lane: string, rule: PaceRule, retryAfterMs: number): Promise<void> {
    await this.#db.run(
      `INSERT INTO pace_lanes AS l (lane, tat, blocked_until, touched)
       SELECT $1, c.t + $2::float8 + ($3::int - 1) * $4::float8, c.t + $2::float8, c.t FROM ${DB_NOW}
       ON CONFLICT (lane) DO UPDATE SET
         blocked_until = greatest(l.blocked_until, ${NOW_MS} + $2::float8),
         tat = greatest(l.tat, greatest(l.blocked_until, ${NOW_MS} + $2::float8) + ($3::int - 1) * $4::float8),
         touched = ${NOW_MS}`,
      [lane, retryAfterMs, rule.burst, rule.intervalMs],
    );
  }
}
