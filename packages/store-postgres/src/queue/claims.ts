import { randomUUID } from 'node:crypto';
import type { ClaimOptions, Job } from '@wabridge/core';
import type pg from 'pg';
import { type JobRow, toJob } from './rows.ts';
import { claimable, EARLIER_IN_QUEUE, inFlightInQueue, queueLock } from './sql.ts';

/** A queue's place in `jobs_queue` order: (workspace, conversation, connector). */
export interface QueueKey {
  workspaceId: string;
  conversationId: string;
  connectorId: string;
}

const keyOf = (row: JobRow): QueueKey => ({
  workspaceId: row.workspace_id,
  conversationId: row.conversation_id,
  connectorId: row.connector_id,
});

/** Locks one candidate's queue; true when this transaction holds it. */
const LOCK_QUEUES = `
SELECT c.ord FROM unnest($1::text[], $2::text[], $3::text[]) WITH ORDINALITY AS c(workspace_id, conversation_id, connector_id, ord)
WHERE ${queueLock('c')} ORDER BY c.ord LIMIT $4`;

/**
 * Claims the given jobs if they may still run, in a statement that starts after their queue locks
 * were granted (so it sees every claim committed before): ready and due or on an expired lease,
 * heading their queue, and no other job of their queue on a live lease.
 */
const lockJobs = (check: 'head' | 'prefix') => `
UPDATE jobs j SET state = 'running', attempts = j.attempts + 1, lease_token = c.token, lease_until = $3,
  locked_by = $4
FROM unnest($1::bigint[], $2::text[]) AS c(id, token)
WHERE j.id = c.id AND ${claimable('$5')}
  ${check === 'head' ? `AND NOT EXISTS (${EARLIER_IN_QUEUE}) AND NOT EXISTS (${inFlightInQueue('$5')})` : ''}
RETURNING j.*`;

/** Tries the queue locks of `rows` in order and returns those held, at most `limit`. */
export async function lockQueues(tx: pg.ClientBase, rows: JobRow[], limit: number): Promise<JobRow[]> {
  if (rows.length === 0 || limit <= 0) return [];
  const { rows: held } = await tx.query<{ ord: string }>(LOCK_QUEUES, [
    rows.map((r) => r.workspace_id),
    rows.map((r) => r.conversation_id),
    rows.map((r) => r.connector_id),
    limit,
  ]);
  return held.map(({ ord }) => rows[Number(ord) - 1] as JobRow);
}

/**
 * Leases `rows` (whose queues this transaction has locked) that may still run; in `rows` order.
 * `head`: each must still head its queue with nothing of it in flight; `prefix`: the rows are a
 * batch's prefixes, read after the locks were granted, and need only still be claimable.
 */
export async function leaseJobs(
  tx: pg.ClientBase,
  rows: readonly JobRow[],
  options: ClaimOptions,
  now: number,
  check: 'head' | 'prefix',
): Promise<Job[]> {
  if (rows.length === 0) return [];
  const { rows: leased } = await tx.query<JobRow>(lockJobs(check), [
    rows.map((r) => r.id),
    rows.map(() => randomUUID()),
    now + options.leaseMs,
    options.workerId,
    now,
  ]);
  const order = new Map(rows.map((r, i) => [r.id, i]));
  return leased.sort((a, b) => (order.get(a.id) ?? 0) - (order.get(b.id) ?? 0)).map(toJob);
}

/**
 * Expired leases that head their queue, then at most $3 heads among the window of $2 oldest
 * ready jobs whose queue locks this transaction took ($1 the claim's clock, $4 the connectors
 * wanted or null): see firstCandidates. A head's lock is tried only once the checks passed (the
 * `CASE` fixes the order), so only the queues of heads are locked, and a queue another claim
 * holds is skipped for the next head. Each
 * row also carries `ready`, the ready jobs counted up to $3 + 1 (the same first index entries the
 * heads were read from); with no candidate it is the one row, its job columns null.
 */
export const CLAIM_CANDIDATES = `SELECT c.*, n.ready FROM
  (SELECT count(*)::int AS ready FROM
    (SELECT 1 FROM jobs WHERE state = 'ready' AND run_at <= $1 ORDER BY run_at, id LIMIT $3::int + 1) r) n
  LEFT JOIN (
     SELECT j.*, 0 AS pass FROM jobs j
     WHERE j.state = 'running' AND j.lease_until < $1
       AND NOT EXISTS (${EARLIER_IN_QUEUE}) AND NOT EXISTS (${inFlightInQueue('$1')})
     UNION ALL
     (SELECT j.*, 1 AS pass
       FROM (SELECT * FROM jobs WHERE state = 'ready' AND run_at <= $1 ORDER BY run_at, id LIMIT $2) j
       WHERE CASE WHEN ($4::text[] IS NULL OR j.connector_id = ANY($4::text[]))
         AND NOT (EXISTS (${EARLIER_IN_QUEUE}) OR EXISTS (${inFlightInQueue('$1')}))
         THEN ${queueLock('j')} ELSE false END
       ORDER BY j.run_at, j.id LIMIT $3)) c ON true`;

/**
 * The claim's first two reads: expired leases, and the heads among the window of oldest ready
 * jobs (at most `limit` of them, for the connectors wanted). The window's rows are read in order
 * and checked one by one only until `limit` heads are found: under backlog a claim of 32 jobs had
 * read and checked its whole window of 256 to 1,024 (a heap fetch and two index probes each,
 * ~1,100 buffers a claim) to use the first few dozen. Only when fewer heads turn up than more
 * than `limit` ready jobs would give is the window counted, to tell whether it was full (of blocked
 * followers: the walk then looks further) or the queue simply has few ready jobs. The two checks are one `NOT (EXISTS … OR EXISTS …)`, which
 * the planner keeps as a seek per row in turn; as two NOT EXISTS it turned them into anti joins
 * and, without statistics, matched every window row against every running job.
 */
export async function firstCandidates(
  tx: pg.ClientBase,
  now: number,
  window: number,
  limit: number,
  connectorIds: readonly string[] | null,
): Promise<{ expired: JobRow[]; heads: JobRow[]; windowFull: boolean }> {
  const { rows } = await tx.query<JobRow & { pass: number | null; ready: number }>(CLAIM_CANDIDATES, [
    now,
    window,
    limit,
    connectorIds,
  ]);
  const wanted = (r: JobRow) => !connectorIds || connectorIds.includes(r.connector_id);
  const heads = rows.filter((r) => r.pass === 1).map(strip);
  const expired = rows
    .filter((r) => r.pass === 0)
    .sort((a, b) => cmpNum(a.lease_until, b.lease_until))
    .filter(wanted)
    .map(strip);
  // The window (at least 8 × limit) cannot be full when `limit` ready jobs or fewer are queued: the
  // common case without a backlog, answered without a round trip more.
  const ready = rows[0]?.ready ?? 0;
  if (heads.length >= limit || (ready <= limit && ready < window))
    return { expired, heads, windowFull: false };
  const { rows: counted } = await tx.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM (SELECT 1 FROM jobs WHERE state = 'ready' AND run_at <= $1 ORDER BY run_at, id LIMIT $2) w`,
    [now, window],
  );
  return { expired, heads, windowFull: (counted[0]?.n ?? 0) === window };
}

const cmpNum = (a: string | null, b: string | null) => Number(a ?? 0) - Number(b ?? 0);

function strip(
  row: JobRow & { pass?: number | null; ready?: number; blocked?: boolean; visited?: number; ok?: boolean },
): JobRow {
  const { pass: _p, ready: _r, blocked: _b, visited: _v, ok: _o, ...job } = row;
  return job;
}

/**
 * The third read: visits queues in `jobs_queue` order after `after` (up to `until`, both optional),
 * one index seek each, as a recursive CTE so the walk is one round trip. Stops after `budget`
 * queues or once `need` heads that can run now were found. Returns those heads and the last queue
 * visited, or null for the last when it ran off the end of the index.
 */
export async function walkQueueHeads(
  tx: pg.ClientBase,
  args: {
    now: number;
    after: QueueKey | null;
    until: QueueKey | null;
    budget: number;
    need: number;
    connectorIds: readonly string[] | null;
    /** Only the queues of one connector in one workspace (a batch claim walks its conversations). */
    scope?: { workspaceId: string; connectorId: string };
  },
): Promise<{ heads: JobRow[]; last: QueueKey | null }> {
  const all = 'h.workspace_id, h.conversation_id, h.connector_id';
  const order = `ORDER BY ${all}, h.sort_ts, h.id LIMIT 1`;
  const params: unknown[] = [args.now, args.budget, args.need, args.connectorIds];
  const param = (value: unknown) => {
    params.push(value);
    return `$${params.length}`;
  };
  // Scoped to one workspace and connector, the seek compares (conversation, connector) after an
  // equality on the workspace: with the whole row compared as well, Postgres starts the index scan
  // at the workspace's first entry and filters its way forward (74 ms a seek at 400k jobs).
  const scope = args.scope
    ? `AND h.workspace_id = ${param(args.scope.workspaceId)} AND h.connector_id = ${param(args.scope.connectorId)}`
    : '';
  const cols = args.scope ? 'h.conversation_id, h.connector_id' : all;
  const prev = args.scope
    ? 'w.conversation_id, w.connector_id'
    : 'w.workspace_id, w.conversation_id, w.connector_id';
  const bound = (key: QueueKey) =>
    args.scope
      ? `(${param(key.conversationId)}, ${param(key.connectorId)})`
      : `(${param(key.workspaceId)}, ${param(key.conversationId)}, ${param(key.connectorId)})`;
  const from = args.after ? `(${cols}) > ${bound(args.after)}` : 'true';
  const until = `${args.until ? `AND (${cols}) <= ${bound(args.until)}` : ''} ${scope}`;
  // 1 when the visited head can run now (and is for a wanted connector), else 0.
  const ok = `(${claimable('$1')} AND ($4::text[] IS NULL OR j.connector_id = ANY($4))
    AND NOT EXISTS (${inFlightInQueue('$1')}))::int`;
  const { rows } = await tx.query<JobRow & { visited: number; found: number; ok: boolean }>(
    `WITH RECURSIVE walk AS (
       SELECT j.*, 1 AS visited, ${ok} AS found FROM (SELECT h.* FROM jobs h WHERE ${from} ${until} ${order}) j
       UNION ALL
       SELECT j.*, w.visited + 1, w.found + ${ok} FROM walk w CROSS JOIN LATERAL (
         SELECT h.* FROM jobs h WHERE (${cols}) > (${prev}) ${until} ${order}) j
       WHERE w.visited < $2 AND w.found < $3
     )
     SELECT w.*, w.found > coalesce(lag(w.found) OVER (ORDER BY w.visited), 0) AS ok
     FROM walk w ORDER BY w.visited`,
    params,
  );
  const heads = rows.filter((r) => r.ok).map(strip);
  const lastRow = rows.at(-1);
  // Stopped early (budget spent or enough found): resume after the last queue seen. Ran off the
  // end of the index (or found none): null, and the caller wraps round.
  const stoppedEarly = lastRow && (lastRow.visited >= args.budget || lastRow.found >= args.need);
  return { heads, last: stoppedEarly && lastRow ? keyOf(lastRow) : null };
}

export const compareQueues = (a: QueueKey, b: QueueKey): number => {
  for (const field of ['workspaceId', 'conversationId', 'connectorId'] as const) {
    if (a[field] !== b[field]) return a[field] < b[field] ? -1 : 1;
  }
  return 0;
};
