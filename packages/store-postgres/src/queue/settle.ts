import type pg from 'pg';

/**
 * Settling a job (complete, checkpoint, retry, dead letter, heartbeat) in one statement: a
 * data-modifying `WITH` whose first part, `job`, checks the lease and settles the job's row, and
 * whose other parts write what goes with it (the store's refs, connector_health) reading `job`, so
 * they are written only when the lease held. Sent through the pool in autocommit: one round trip
 * and one commit, where a transaction (`BEGIN`, the lease check, each write, `COMMIT`) was 4 to 8.
 *
 * Lease fencing stays exact: `job`'s UPDATE, DELETE or `SELECT … FOR UPDATE` matches the lease
 * token, and under READ COMMITTED a row another transaction changed meanwhile (a takeover after
 * the lease expired) is checked again in its newest version once that transaction ends, so a
 * stale lease settles nothing (https://www.postgresql.org/docs/current/transaction-iso.html#XACT-READ-COMMITTED).
 */

/** Binds a value as the statement's next parameter and answers its placeholder (`$n`). */
export type Param = (value: unknown) => string;

/**
 * What the store adds to a settlement: data-modifying parts of the `WITH` (`name AS (...)`), each
 * reading the settled job from `job` (its workspace_id, connector_id, conversation_id, event_type,
 * entity_id), so that they write nothing when the lease was lost. Names in use by the queue:
 * `job`, `relaxed`, `health`.
 */
export type Within = (param: Param) => string[];

export interface Settlement {
  /** The lease check and the job's change, reading `workspace_id, connector_id, conversation_id,
   * event_type, entity_id` (at least) as `job`. */
  job: (param: Param) => string;
  /** Further parts reading `job` (connector_health, the store's refs). */
  parts?: ((param: Param) => string[]) | undefined;
  /**
   * Whether the commit waits for the WAL flush. When not, `set_config(…, true)` turns
   * synchronous_commit off for this statement's own transaction (what `SET LOCAL` did in the
   * transaction), so it never outlives the statement on a pooled connection. Not a function's
   * `SET synchronous_commit = off` clause: that value is restored when the function returns,
   * before the commit reads it.
   */
  durable: boolean;
}

/** Sends the settlement as one statement; true when the lease held (the job was settled). */
export async function settle(pool: pg.Pool, settlement: Settlement): Promise<boolean> {
  return (await settleMany(pool, settlement)).length > 0;
}

/**
 * Sends the settlement as one statement and answers the ids of the jobs `job` settled: a
 * settlement of several jobs at once (see PgJobs's batches) checks each one's lease in its `job`
 * part and answers which held.
 */
export async function settleMany(pool: pg.Pool, settlement: Settlement): Promise<number[]> {
  const values: unknown[] = [];
  const param: Param = (value) => {
    values.push(value);
    return `$${values.length}`;
  };
  const parts = [`job AS (${settlement.job(param)})`, ...(settlement.parts?.(param) ?? [])];
  // A SELECT part runs only if read: the final SELECT reads `relaxed`.
  if (!settlement.durable)
    parts.push("relaxed AS (SELECT set_config('synchronous_commit', 'off', true) AS v)");
  const relaxed = settlement.durable ? '' : ', (SELECT v FROM relaxed) AS relaxed';
  const { rows } = await pool.query<{ settled: number[] }>(
    `WITH ${parts.join(',\n')}\nSELECT (SELECT coalesce(array_agg(id), '{}') FROM job) AS settled${relaxed}`,
    values,
  );
  return (rows[0]?.settled ?? []).map(Number);
}

/**
 * Notes the settled job's success in `connector_health`: rewritten at most once a second per
 * connector, except the first success after a failure, which shows the recovery at once (as the
 * SQLite store does). One row per connector however many of its jobs `job` settled (an upsert
 * cannot change a row twice), in key order, so two settlements of several connectors' jobs lock
 * the rows in the same order rather than deadlock. The row is read first, in the statement's
 * snapshot, and written only when due: most completions of a busy connector then neither write nor lock it; the upsert's own
 * condition covers a row another completion wrote meanwhile.
 */
export const recordSuccess =
  (now: number): ((param: Param) => string[]) =>
  (param) => {
    const at = param(now);
    return [
      `health AS (
        INSERT INTO connector_health AS h (workspace_id, connector_id, last_success_at)
        SELECT DISTINCT j.workspace_id, j.connector_id, ${at}::bigint FROM job j
        WHERE NOT EXISTS (SELECT 1 FROM connector_health c
          WHERE c.workspace_id = j.workspace_id AND c.connector_id = j.connector_id
            AND c.last_success_at >= ${at}::bigint - 1000
            AND (c.last_error_at IS NULL OR c.last_error_at < c.last_success_at))
        ORDER BY 1, 2
        ON CONFLICT (workspace_id, connector_id) DO UPDATE SET last_success_at = excluded.last_success_at
        WHERE h.last_success_at IS NULL OR h.last_success_at < excluded.last_success_at - 1000
          OR h.last_error_at >= h.last_success_at)`,
    ];
  };

/** Notes the settled job's failure and its reason in `connector_health`. */
export const recordFailure =
  (now: number, reason: string): ((param: Param) => string[]) =>
  (param) => [
    `health AS (
      INSERT INTO connector_health (workspace_id, connector_id, last_error_at, last_error)
      SELECT DISTINCT workspace_id, connector_id, ${param(now)}::bigint, ${param(reason)}::text FROM job
      ORDER BY 1, 2
      ON CONFLICT (workspace_id, connector_id) DO UPDATE SET last_error_at = excluded.last_error_at,
        last_error = excluded.last_error)`,
  ];

/** Both the queue's parts and the store's, in that order. */
export const together =
  (...all: (((param: Param) => string[]) | undefined)[]): ((param: Param) => string[]) =>
  (param) =>
    all.flatMap((parts) => parts?.(param) ?? []);
