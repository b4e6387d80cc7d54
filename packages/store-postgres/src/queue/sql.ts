/**
 * The claim's SQL, ported from the SQLite store (packages/core/src/store/sqlite/jobs.ts), with the
 * same three bounded reads: expired leases, a window of the oldest ready jobs, and, only when that
 * window held nothing but blocked followers, a walk over the queues themselves.
 */

/** Is there a job before `j` in its (conversation, connector) queue? One seek in `jobs_queue`. */
export const EARLIER_IN_QUEUE = `SELECT 1 FROM jobs p WHERE p.workspace_id = j.workspace_id
  AND p.conversation_id = j.conversation_id AND p.connector_id = j.connector_id AND (p.sort_ts, p.id) < (j.sort_ts, j.id)`;

/**
 * Does another job of `j`'s queue run on a live lease? A message WhatsApp timestamped earlier can
 * arrive while a later one of its conversation runs and head the queue: it must wait (issue 15).
 * `now` is the name of the parameter holding the claim's clock.
 */
export const inFlightInQueue = (now: string) => `SELECT 1 FROM jobs r WHERE r.state = 'running'
  AND r.workspace_id = j.workspace_id AND r.conversation_id = j.conversation_id
  AND r.connector_id = j.connector_id AND r.lease_until >= ${now} AND r.id <> j.id`;

/** Ready and due, or running on a lease that has expired. */
export const claimable = (now: string) =>
  `((j.state = 'ready' AND j.run_at <= ${now}) OR (j.state = 'running' AND j.lease_until < ${now}))`;

/**
 * Claims from different processes run at once, unlike SQLite's single writer, so "this job heads
 * its queue and nothing of its queue runs" read in one snapshot can be stale by commit time: a
 * worker whose snapshot predates another's claim of the head could claim a late older message of
 * the same queue, and the two would run together. So a claim takes a transaction-scoped advisory
 * lock per queue (try, never wait: a queue another claim holds is skipped) and checks its
 * candidates again in a later statement, whose snapshot sees every claim committed before the
 * lock was granted. The first key namespaces these locks away from any other advisory lock; two
 * queues whose names hash alike only take turns.
 */
export const QUEUE_LOCK_NAMESPACE = 0x7761_6a71; // 'wajq'
export const queueLock = (alias: string) =>
  `pg_try_advisory_xact_lock(${QUEUE_LOCK_NAMESPACE}, hashtext(concat_ws(chr(31), ${alias}.workspace_id, ${alias}.conversation_id, ${alias}.connector_id)))`;
