import { createHash } from 'node:crypto';
import type { ClaimOptions, ConnectorHealth, DeadJob, Job, JobStats, Lease } from '@wabridge/core';
import type pg from 'pg';
import {
  compareQueues,
  firstCandidates,
  leaseJobs,
  lockQueues,
  type QueueKey,
  walkQueueHeads,
} from './claims.ts';
import { type DeadJobRow, type JobRow, type NewJob, toDeadJob } from './rows.ts';
import { recordFailure, recordSuccess, settle, settleMany, together, type Within } from './settle.ts';
import { inFlightInQueue } from './sql.ts';

/**
 * Channel a commit that queues jobs notifies, so idle workers claim at once instead of polling.
 * Channels are per database, so a store in a schema of its own uses `jobsChannel(schema)`.
 */
export const JOBS_CHANNEL = 'wabridge_jobs';

/**
 * The channel of the store whose tables are in `schema` (null: the server's search_path), so the
 * workers of deployments that share a database (a schema each) are not woken by each other's jobs.
 */
export function jobsChannel(schema: string | null): string {
  if (schema === null) return JOBS_CHANNEL;
  const named = `${JOBS_CHANNEL}_${schema}`;
  // A channel name is an identifier: 63 bytes at most (schema names here are ASCII).
  return named.length <= 63
    ? named
    : `${JOBS_CHANNEL}_${createHash('sha256').update(schema).digest('hex').slice(0, 40)}`;
}

/** The store's part of a settlement (refs, an erasure's confirmation): see settle.ts. */
export type { Within } from './settle.ts';

/** Conversations a batch claim walks to, locks and reads in its first round (see claimBatch). */
const BATCH_CONVERSATIONS = 8;

/**
 * Claims, heartbeats and completions commit without waiting for the WAL flush (as SQLite writes
 * them without fsync): a crash can lose the last few hundred milliseconds of them, which only makes
 * a worker redo a delivery (its effects are exactly-once through refs). Retries, dead letters,
 * checkpoints and enqueues stay durable. (Settlements are single statements: see settle.ts.)
 */
const NOT_DURABLE = { durable: false } as const;

/**
 * A claim's transaction: not durable (above), and planned for reading the oldest ready jobs in
 * index order. Without statistics on `jobs` (a new deployment; a queue table autovacuum has not
 * analyzed since it grew; the test server, which runs with autovacuum off) the planner takes the
 * partial index jobs_ready for a handful of rows and reads it as a bitmap: every ready job's heap
 * row, then a sort, to keep the first few dozen (all 4,000 of a 4,000-job backlog, 83 buffers,
 * growing with it). Bitmap scans are of no use to a claim's other statements either (each is a
 * seek per key), so they are off for the transaction; an ordered scan of jobs_ready stops at the
 * claim's window.
 */
export const CLAIM_TRANSACTION = { ...NOT_DURABLE, orderedScans: true } as const;

export interface PgJobQueueOptions {
  pool: pg.Pool;
  /** The clock (tests inject one). */
  now?: () => number;
  /** The LISTEN/NOTIFY channel (default JOBS_CHANNEL). */
  channel?: string;
}

/**
 * The delivery queue on Postgres: the SQLite store's queue SQL (packages/core/src/store/sqlite/
 * jobs.ts) ported, with queue locks so claims from many processes keep per-queue order (see
 * `queueLock` in sql.ts). Claims, enqueues and replays are each one transaction on a pooled
 * connection; a job is settled (completed, checkpointed, retried, dead-lettered, its lease
 * extended) in one statement (settle.ts).
 */
export class PgJobQueue {
  private readonly pool: pg.Pool;
  private readonly now: () => number;
  /** The channel its enqueues notify (see JOBS_CHANNEL). */
  readonly channel: string;
  /** Where the last walk over queues stopped; per process, so workers spread over the queues. */
  private queueCursor: QueueKey | null = null;
  /** Per (workspace, connector): the queue the last batch claim's walk stopped at. */
  private readonly batchCursors = new Map<string, QueueKey | null>();

  constructor(options: PgJobQueueOptions) {
    this.pool = options.pool;
    this.now = options.now ?? Date.now;
    this.channel = options.channel ?? JOBS_CHANNEL;
  }

  /** Runs `fn` in a transaction (READ COMMITTED: each statement sees what committed before it). */
  async transaction<T>(
    fn: (tx: pg.PoolClient) => Promise<T>,
    options: { durable: boolean; orderedScans?: boolean } = { durable: true },
  ): Promise<T> {
    const tx = await this.pool.connect();
    let broken: Error | undefined;
    try {
      // One round trip: the settings go in the same string as BEGIN (SET LOCAL ends with the
      // transaction, so none outlives it on a pooled connection).
      const begin = ['BEGIN'];
      if (!options.durable) begin.push('SET LOCAL synchronous_commit TO off');
      if (options.orderedScans) begin.push('SET LOCAL enable_bitmapscan TO off');
      await tx.query(begin.join('; '));
      const result = await fn(tx);
      await tx.query('COMMIT');
      return result;
    } catch (error) {
      // A connection that cannot even roll back is dropped, not handed to the next caller.
      await tx.query('ROLLBACK').catch((rollback: Error) => {
        broken = rollback;
      });
      throw error;
    } finally {
      tx.release(broken);
    }
  }

  /**
   * Queues jobs, in order (ids break `sort_ts` ties in arrival order), and notifies `JOBS_CHANNEL`
   * at commit. Ingest calls `enqueueIn` inside its own transaction; this is the direct way (tests,
   * the bench).
   */
  enqueue(jobs: readonly NewJob[]): Promise<number[]> {
    return this.transaction((tx) => this.enqueueIn(tx, jobs));
  }

  async enqueueIn(tx: pg.ClientBase, jobs: readonly NewJob[]): Promise<number[]> {
    if (jobs.length === 0) return [];
    const now = this.now();
    // The notification in the same statement (a round trip fewer per transaction), once: the
    // jobs' insert runs whole and yields a row at least, so the CTE that notifies is read, and
    // being volatile it is evaluated once, not inlined. Postgres folds identical notifications of
    // a transaction, and delivers them at its commit.
    const { rows } = await tx.query<{ id: string }>(
      `WITH notified AS (SELECT pg_notify($9, '')),
       inserted AS (
         INSERT INTO jobs (workspace_id, connector_id, conversation_id, event_type, entity_id, sort_ts, run_at, created_at)
         SELECT ws, connector, conversation, type, entity, sort, run, $8
         FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bigint[], $7::bigint[])
           WITH ORDINALITY AS n(ws, connector, conversation, type, entity, sort, run, ord)
         ORDER BY ord RETURNING id)
       SELECT inserted.id FROM inserted CROSS JOIN notified`,
      [
        jobs.map((j) => j.workspaceId),
        jobs.map((j) => j.connectorId),
        jobs.map((j) => j.conversationId),
        jobs.map((j) => j.eventType),
        jobs.map((j) => j.entityId),
        jobs.map((j) => j.sortTs),
        jobs.map((j) => j.runAt ?? now),
        now,
        this.channel,
      ],
    );
    return rows.map((r) => Number(r.id)).sort((a, b) => a - b);
  }

  /**
   * A job runs only when it heads its (conversation, connector) queue and no other job of that
   * queue runs on a live lease. Three bounded reads, as in SQLite: expired leases, the window of
   * the oldest ready jobs (`limit × 8`, 64 to 1024), and only when that window held nothing but
   * blocked followers, the queues themselves in index order from where this process's last walk
   * stopped. Then the chosen queues are locked and the choice is checked again (see sql.ts).
   */
  claimJobs(options: ClaimOptions): Promise<Job[]> {
    return this.transaction(async (tx) => {
      const now = options.now ?? this.now();
      const only = options.connectorIds ? [...options.connectorIds].sort() : null;
      const window = Math.min(1024, Math.max(64, options.limit * 8));
      // The window's heads come back with their queues locked; expired leases (rare) and the
      // walk's heads are locked after, in a statement of their own, expired ones first.
      const { expired, heads, windowFull } = await firstCandidates(tx, now, window, options.limit, only);
      const picked = new Map<string, JobRow>();
      for (const row of await lockQueues(tx, expired, options.limit)) picked.set(row.id, row);
      for (const row of heads) if (picked.size < options.limit) picked.set(row.id, row);
      if (picked.size < options.limit && windowFull) {
        const need = options.limit - picked.size;
        const budget = Math.max(1024, options.limit * 64);
        const more = (await this.walk(tx, now, need, budget, only, null)).filter((r) => !picked.has(r.id));
        for (const row of await lockQueues(tx, more, need)) picked.set(row.id, row);
      }
      const locked = [...picked.values()];
      return leaseJobs(tx, locked, options, now, 'head');
    }, CLAIM_TRANSACTION);
  }

  /**
   * Each conversation's claimable prefix, in order, for one connector of one workspace: walks the
   * workspace's conversations that have jobs for the connector, from where the previous batch
   * stopped, locks their queues, then reads each prefix in a statement that sees every claim
   * committed before the locks were granted.
   */
  claimBatch(options: ClaimOptions & { workspaceId: string; connectorId: string }): Promise<Job[]> {
    return this.transaction(async (tx) => {
      const now = options.now ?? this.now();
      const scope = { workspaceId: options.workspaceId, connectorId: options.connectorId };
      const leased: Job[] = [];
      // A few conversations at first, twice as many each round: how many jobs each prefix holds is
      // known only once read, and walking, locking and reading `limit` conversations to fill a
      // batch from five costs 20× more, while rounds of a fixed few cost a dozen round trips when
      // every conversation holds one job. Each round's jobs are leased before the next walk, which
      // then sees them running.
      for (let round = 0; leased.length < options.limit; round++) {
        const need = Math.min(BATCH_CONVERSATIONS * 2 ** round, options.limit - leased.length);
        const heads = await this.walk(tx, now, need, options.limit * 64, null, scope);
        const locked = await lockQueues(tx, heads, heads.length);
        if (locked.length === 0) break;
        const chosen: JobRow[] = [];
        const { rows } = await tx.query<JobRow & { ord: string; busy: boolean }>(
          `SELECT j.*, c.ord, EXISTS (${inFlightInQueue('$5')}) AS busy
           FROM unnest($3::text[]) WITH ORDINALITY AS c(conversation_id, ord) CROSS JOIN LATERAL (
             SELECT * FROM jobs j WHERE j.workspace_id = $1 AND j.conversation_id = c.conversation_id
               AND j.connector_id = $2 ORDER BY j.sort_ts, j.id LIMIT $4) j
           ORDER BY c.ord, j.sort_ts, j.id`,
          [
            options.workspaceId,
            options.connectorId,
            locked.map((h) => h.conversation_id),
            options.limit - leased.length,
            now,
          ],
        );
        let conversation: string | null = null;
        let open = false;
        for (const { ord: _o, busy, ...row } of rows) {
          if (row.conversation_id !== conversation) {
            conversation = row.conversation_id;
            // Skipped while another job of the conversation runs on a live lease (issue 15).
            open = !busy;
          }
          // The conversation's claimable prefix; order holds because the batch is applied in order.
          open = open && claimableAt(row, now) && leased.length + chosen.length < options.limit;
          if (open) chosen.push(row);
        }
        if (chosen.length === 0) break;
        leased.push(...(await leaseJobs(tx, chosen, options, now, 'prefix')));
      }
      return leased;
    }, CLAIM_TRANSACTION);
  }

  /** Walks queues from this process's cursor, wrapping round once (see walkQueueHeads). */
  private async walk(
    tx: pg.ClientBase,
    now: number,
    need: number,
    budget: number,
    connectorIds: readonly string[] | null,
    scope: { workspaceId: string; connectorId: string } | null,
  ): Promise<JobRow[]> {
    const cursorKey = scope ? `${scope.workspaceId}\u0000${scope.connectorId}` : '';
    const start = scope ? (this.batchCursors.get(cursorKey) ?? null) : this.queueCursor;
    const first = await walkQueueHeads(tx, {
      now,
      after: start,
      until: null,
      budget,
      need,
      connectorIds,
      ...(scope ? { scope } : {}),
    });
    let { heads, last } = first;
    if (last === null && start !== null && heads.length < need) {
      const again = await walkQueueHeads(tx, {
        now,
        after: null,
        until: start,
        budget,
        need: need - heads.length,
        connectorIds,
        ...(scope ? { scope } : {}),
      });
      heads = [...heads, ...again.heads.filter((h) => compareQueues(keyOfRow(h), start) <= 0)];
      last = again.last;
    }
    if (scope) this.batchCursors.set(cursorKey, last);
    else this.queueCursor = last;
    return heads;
  }

  /** Extends a lease; false when it was lost (the heartbeat then aborts the delivery). */
  extendLease(lease: Lease, until: number): Promise<boolean> {
    return settle(this.pool, {
      job: (p) => `UPDATE jobs SET lease_until = ${p(until)}
        WHERE id = ${p(lease.jobId)} AND lease_token = ${p(lease.token)} AND state = 'running' RETURNING id`,
      durable: false,
    });
  }

  /**
   * Completes a job, with `within`'s writes (the store's refs) in the same statement: the DELETE
   * matches the lease, so a worker that lost it deletes nothing and writes nothing.
   */
  completeJob(lease: Lease, within?: Within): Promise<boolean> {
    return settle(this.pool, {
      job: (p) => `DELETE FROM jobs
        WHERE id = ${p(lease.jobId)} AND lease_token = ${p(lease.token)} AND state = 'running' RETURNING *`,
      parts: together(recordSuccess(this.now()), within),
      durable: false,
    });
  }

  /**
   * Runs `within` (a ref checkpoint) only while the lease is held on a job of `workspaceId`; false
   * when it was lost (or the job is another workspace's: a ref never crosses workspaces). The row
   * is locked (`FOR UPDATE`) until the statement commits, so a takeover waits for it.
   */
  checkpoint(lease: Lease, workspaceId: string, within: Within): Promise<boolean> {
    return settle(this.pool, {
      job: (p) => `SELECT * FROM jobs
        WHERE id = ${p(lease.jobId)} AND lease_token = ${p(lease.token)} AND state = 'running'
          AND workspace_id = ${p(workspaceId)} FOR UPDATE`,
      parts: within,
      durable: true,
    });
  }

  /**
   * Completes several jobs in one statement (see completeJob), each only if its own lease holds:
   * the ids of those completed. `within` reads `job`, one row per job completed.
   */
  completeJobs(leases: readonly Lease[], within?: Within): Promise<number[]> {
    return settleMany(this.pool, {
      job: (p) => `DELETE FROM jobs WHERE ${leasesHeld(p, leases)} RETURNING *`,
      parts: together(recordSuccess(this.now()), within),
      durable: false,
    });
  }

  /**
   * Several checkpoints in one statement and one durable commit (see checkpoint), each only while
   * its own lease holds: the ids of those whose lease held. The rows are locked in id order, as
   * any other statement locking several jobs (a claim's lease update) may lock them.
   */
  checkpoints(leases: readonly Lease[], workspaceIds: readonly string[], within: Within): Promise<number[]> {
    return settleMany(this.pool, {
      job: (p) => `SELECT * FROM jobs WHERE ${leasesHeld(p, leases)}
          AND workspace_id = (${p(workspaceIds)}::text[])[array_position(${p(leases.map((l) => l.jobId))}::bigint[], id)]
        ORDER BY id FOR UPDATE`,
      parts: within,
      durable: true,
    });
  }

  /**
   * Back to ready at `runAt`. A rate limit (`countAttempt: false`, the platform's Retry-After)
   * refunds the attempt the claim counted and is not recorded as a failure.
   */
  retryJob(lease: Lease, retry: { runAt: number; error: string; countAttempt: boolean }): Promise<boolean> {
    return settle(this.pool, {
      job: (
        p,
      ) => `UPDATE jobs SET state = 'ready', run_at = ${p(retry.runAt)}, last_error = ${p(retry.error)},
          attempts = attempts - ${p(retry.countAttempt ? 0 : 1)}::int,
          lease_token = NULL, lease_until = NULL, locked_by = NULL
        WHERE id = ${p(lease.jobId)} AND lease_token = ${p(lease.token)} AND state = 'running' RETURNING *`,
      parts: retry.countAttempt ? recordFailure(this.now(), retry.error) : undefined,
      durable: true,
    });
  }

  /** Moves a job to `dead_jobs` with the reason; the next job of its queue may run. */
  deadLetterJob(lease: Lease, reason: string): Promise<boolean> {
    const now = this.now();
    return settle(this.pool, {
      job: (p) => `DELETE FROM jobs
        WHERE id = ${p(lease.jobId)} AND lease_token = ${p(lease.token)} AND state = 'running' RETURNING *`,
      parts: together(
        (p) => [
          `dead AS (INSERT INTO dead_jobs (id, workspace_id, connector_id, conversation_id, event_type, entity_id,
           sort_ts, attempts, reason, failed_at, created_at)
         SELECT id, workspace_id, connector_id, conversation_id, event_type, entity_id, sort_ts, attempts,
           ${p(reason)}, ${p(now)}, created_at FROM job)`,
        ],
        recordFailure(now, reason),
      ),
      durable: true,
    });
  }

  async listDeadJobs(
    options: { workspaceId?: string; connectorId?: string; limit?: number } = {},
  ): Promise<DeadJob[]> {
    const { rows } = await this.pool.query<DeadJobRow>(
      `SELECT * FROM dead_jobs WHERE ($1::text IS NULL OR workspace_id = $1) AND ($2::text IS NULL OR connector_id = $2)
       ORDER BY id LIMIT $3`,
      [options.workspaceId ?? null, options.connectorId ?? null, options.limit ?? 1000],
    );
    return rows.map(toDeadJob);
  }

  /**
   * Puts dead jobs back with their `sort_ts`, so each takes its old place in its queue. The
   * DELETE ... RETURNING feeds the INSERT: two replays at once cannot both take a job.
   */
  async replayDeadJobs(
    ids: readonly number[] | 'all',
    options: { workspaceId?: string; connectorId?: string } = {},
  ): Promise<number> {
    const now = this.now();
    return this.transaction(async (tx) => {
      const { rowCount } = await tx.query(
        `WITH gone AS (
           DELETE FROM dead_jobs WHERE ($1::text IS NULL OR workspace_id = $1) AND ($2::text IS NULL OR connector_id = $2)
             AND ($3 OR id = ANY($4::bigint[])) RETURNING *)
         INSERT INTO jobs (workspace_id, connector_id, conversation_id, event_type, entity_id, sort_ts, run_at, created_at)
         SELECT workspace_id, connector_id, conversation_id, event_type, entity_id, sort_ts, $5, $5 FROM gone ORDER BY id`,
        [
          options.workspaceId ?? null,
          options.connectorId ?? null,
          ids === 'all',
          ids === 'all' ? [] : ids,
          now,
        ],
      );
      if ((rowCount ?? 0) > 0) await tx.query("SELECT pg_notify($1, '')", [this.channel]);
      return rowCount ?? 0;
    });
  }

  /** Counts by connector and state in one statement (one snapshot). */
  async jobStats(): Promise<JobStats> {
    const stats: JobStats = { ready: 0, running: 0, dead: 0, coalesced: 0, byConnector: {} };
    const { rows } = await this.pool.query<{ kind: string; connector_id: string; n: string }>(
      `SELECT state AS kind, connector_id, count(*) AS n FROM jobs GROUP BY state, connector_id
       UNION ALL SELECT 'dead', connector_id, count(*) FROM dead_jobs GROUP BY connector_id
       UNION ALL SELECT 'coalesced', connector_id, n FROM jobs_coalesced`,
    );
    for (const { kind, connector_id, n } of rows) {
      stats.byConnector[connector_id] ??= { ready: 0, running: 0, dead: 0, coalesced: 0 };
      const bucket = stats.byConnector[connector_id];
      const field = kind as 'ready' | 'running' | 'dead' | 'coalesced';
      bucket[field] += Number(n);
      stats[field] += Number(n);
    }
    return stats;
  }

  async connectorHealth(): Promise<ConnectorHealth[]> {
    // Retrying: failed jobs waiting for (or in) another attempt; a job only rate-limited had its
    // attempt refunded, so it is not counted.
    const { rows } = await this.pool.query<{
      kind: 'health' | 'retrying' | 'dead';
      workspace_id: string;
      connector_id: string;
      success: string | null;
      error_at: string | null;
      error: string | null;
      n: string;
    }>(
      `SELECT 'health' AS kind, workspace_id, connector_id, last_success_at AS success, last_error_at AS error_at,
         last_error AS error, 0::bigint AS n FROM connector_health
       UNION ALL SELECT 'retrying', workspace_id, connector_id, NULL, NULL, NULL, count(*) FROM jobs
         WHERE last_error IS NOT NULL AND attempts > (CASE state WHEN 'running' THEN 1 ELSE 0 END)
         GROUP BY workspace_id, connector_id
       UNION ALL SELECT 'dead', workspace_id, connector_id, NULL, NULL, NULL, count(*) FROM dead_jobs
         GROUP BY workspace_id, connector_id`,
    );
    const byKey = new Map<string, ConnectorHealth>();
    for (const row of rows) {
      const key = `${row.workspace_id}\u0000${row.connector_id}`;
      let entry = byKey.get(key);
      if (!entry) {
        entry = {
          workspaceId: row.workspace_id,
          connectorId: row.connector_id,
          lastSuccessAt: null,
          lastErrorAt: null,
          lastError: null,
          retrying: 0,
          dead: 0,
        };
        byKey.set(key, entry);
      }
      if (row.kind === 'health') {
        entry.lastSuccessAt = row.success === null ? null : Number(row.success);
        entry.lastErrorAt = row.error_at === null ? null : Number(row.error_at);
        entry.lastError = row.error;
      } else if (row.kind === 'retrying') entry.retrying = Number(row.n);
      else entry.dead = Number(row.n);
    }
    return [...byKey.values()].sort(
      (a, b) => a.workspaceId.localeCompare(b.workspaceId) || a.connectorId.localeCompare(b.connectorId),
    );
  }

  /** The earliest time a job becomes claimable: a ready job's run_at or a lease's expiry. */
  async nextRunAt(): Promise<number | null> {
    const { rows } = await this.pool.query<{ at: string | null }>(
      `SELECT least(
         (SELECT run_at FROM jobs WHERE state = 'ready' ORDER BY run_at, id LIMIT 1),
         (SELECT min(lease_until) FROM jobs WHERE state = 'running')) AS at`,
    );
    const at = rows[0]?.at;
    return at === null || at === undefined ? null : Number(at);
  }
}

/**
 * The jobs of `leases` that still run on them: an `id = ANY` the primary key answers (whatever the
 * table's statistics), each row's token matched against its own lease's.
 */
function leasesHeld(p: (value: unknown) => string, leases: readonly Lease[]): string {
  const ids = p(leases.map((l) => l.jobId));
  const tokens = p(leases.map((l) => l.token));
  return `id = ANY(${ids}::bigint[]) AND state = 'running'
    AND lease_token = (${tokens}::text[])[array_position(${ids}::bigint[], id)]`;
}

/** Whether a job may be claimed at `now`: ready and due, or running on a lease that has expired. */
function claimableAt(row: JobRow, now: number): boolean {
  return (
    (row.state === 'ready' && Number(row.run_at) <= now) ||
    (row.state === 'running' && Number(row.lease_until ?? 0) < now)
  );
}

const keyOfRow = (row: JobRow): QueueKey => ({
  workspaceId: row.workspace_id,
  conversationId: row.conversation_id,
  connectorId: row.connector_id,
});
