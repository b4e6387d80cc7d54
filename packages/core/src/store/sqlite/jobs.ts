import { randomUUID } from 'node:crypto';
import type { DomainEvent } from '../../domain/events.ts';
import type { ExternalRef, MessageError } from '../../domain/types.ts';
import { WabridgeError } from '../../errors/index.ts';
import { newId } from '../../ids/index.ts';
import { hydrateEvent } from '../../queue/hydrate.ts';
import type { ClaimOptions, ConnectorHealth, Job, JobStats, JobStore, Lease } from '../types.ts';
import { ADMIT_PER_TRANSACTION, untilAdmitted } from './admission.ts';
import { confirmErasure } from './governance/erasure.ts';
import { HYDRATE_MESSAGE_SQL, type HydrateRow, prefetchedReads } from './hydrate.ts';
import { SqliteIngest } from './ingest.ts';
import {
  type DeadJobRow,
  type JobRow,
  json,
  type MessageRow,
  type StatusRow,
  toDeadJob,
  toJob,
} from './rows.ts';

// Is there a job before `j` in its (conversation, connector) queue? One seek in `jobs_queue`.
const EARLIER_IN_QUEUE = `SELECT 1 FROM jobs p WHERE p.workspace_id = j.workspace_id AND p.conversation_id = j.conversation_id
  AND p.connector_id = j.connector_id AND (p.sort_ts < j.sort_ts OR (p.sort_ts = j.sort_ts AND p.id < j.id))`;

// Is another job of `j`'s queue running on a live lease? Heading the queue is not enough: a message
// WhatsApp timestamped earlier can arrive after a later one of its conversation was claimed, and
// becomes the head while that one still runs (waiting on a 429, say). Claimed then, the two would
// run at once and each find no thread yet: two roots for one conversation. One seek in the partial
// `jobs_running` index, which holds only the jobs in flight.
const IN_FLIGHT_IN_QUEUE = `SELECT 1 FROM jobs r WHERE r.state = 'running' AND r.workspace_id = j.workspace_id
  AND r.conversation_id = j.conversation_id AND r.connector_id = j.connector_id AND r.lease_until >= :now AND r.id <> j.id`;

/**
 * The oldest ready jobs a claim looks at first (`:window` of them), in (run_at, id) order. A claim
 * for some connectors reads only theirs, each through the partial index `jobs_ready_connector` and
 * merged in order as read: reading the oldest jobs of every connector passed over another's deep
 * backlog row by row and then walked its queues (a campaign's 20,000 HubSpot jobs made each claim
 * for Slack, Teams and WhatsApp cost ~50 ms of the store thread once those had nothing left).
 * Parameters: `:now`, `:window`, and `:c0`… for the connectors, in the order given.
 */
export function readyWindowSql(connectorIds: readonly string[] | null): string {
  if (!connectorIds)
    return "SELECT * FROM jobs WHERE state = 'ready' AND run_at <= :now ORDER BY run_at, id LIMIT :window";
  if (connectorIds.length === 0) return 'SELECT * FROM jobs WHERE 0';
  return `${connectorIds
    .map((_, i) => `SELECT * FROM jobs WHERE connector_id = :c${i} AND state = 'ready' AND run_at <= :now`)
    .join(' UNION ALL ')} ORDER BY run_at, id LIMIT :window`;
}

// The statuses that supersede one another, and their order (see coalesceStatuses). `failed` is
// left out: it is never dropped and drops nothing.
const RANKED_STATUSES = "('sent', 'delivered', 'read', 'played')";
const STATUS_RANK_SQL =
  "CASE s.status WHEN 'sent' THEN 1 WHEN 'delivered' THEN 2 WHEN 'read' THEN 3 ELSE 4 END";

/**
 * The status jobs a batch of admitted statuses supersedes (see `coalesceStatuses`). The joins go
 * from the batch's messages to their statuses (`message_statuses_message`) to those statuses' jobs
 * (`jobs_status`), in that order: CROSS JOIN is SQLite's way to fix the order
 * (https://www.sqlite.org/optoverview.html#manual_control_of_query_plans_using_cross_join). Left to
 * itself, with no statistics (the store never runs ANALYZE), the planner read every ready job
 * through `jobs_ready` and matched each against the batch: with a campaign's backlog (120,000 ready
 * jobs) one admission took seconds of the store thread, which every other store call waited for.
 * `queued` is materialized once instead of being evaluated again for every row of the EXISTS.
 */
export const COALESCE_STATUSES_SQL = `WITH hit AS (
         SELECT DISTINCT s.message_id FROM jobs_new n JOIN message_statuses s ON s.id = n.entity_id
         WHERE n.id <= :last AND n.event_type = 'message.status' AND s.message_id IS NOT NULL
           AND s.status IN ${RANKED_STATUSES}),
       queued AS MATERIALIZED (
         SELECT j.id, j.workspace_id, j.conversation_id, j.connector_id, ${STATUS_RANK_SQL} AS rank
         FROM hit CROSS JOIN message_statuses s ON s.message_id = hit.message_id
           CROSS JOIN jobs j ON j.entity_id = s.id AND j.event_type = 'message.status'
         WHERE j.state = 'ready' AND s.status IN ${RANKED_STATUSES})
       SELECT q.id, q.connector_id FROM queued q WHERE EXISTS (
         SELECT 1 FROM queued l WHERE l.workspace_id = q.workspace_id AND l.conversation_id = q.conversation_id
           AND l.connector_id = q.connector_id AND l.rank > q.rank)`;

/**
 * Writes that need no fsync before they answer (see SqliteDatabase.write): claims, leases and
 * completions, which a power cut at worst makes the worker redo. Checkpoints, ingest and
 * everything else stay durable.
 */
const NOT_DURABLE = { durable: false } as const;

/** A queue's place in `jobs_queue` order: (workspace, conversation, connector). */
interface QueueKey {
  workspaceId: string;
  conversationId: string;
  connectorId: string;
}

function compareQueues(a: QueueKey, b: QueueKey): number {
  for (const field of ['workspaceId', 'conversationId', 'connectorId'] as const) {
    if (a[field] !== b[field]) return a[field] < b[field] ? -1 : 1;
  }
  return 0;
}

function stripBlocked(row: JobRow & { blocked?: number }): JobRow {
  const { blocked: _, ...job } = row;
  return job;
}

/** Whether a job may be claimed at `now`: ready and due, or running on a lease that has expired. */
function claimableAt(row: JobRow, now: number): boolean {
  return (
    (row.state === 'ready' && row.run_at <= now) || (row.state === 'running' && (row.lease_until ?? 0) < now)
  );
}

/** The delivery queue: claims, leases, settling, dead jobs, health; send outcomes (JobStore). */
export abstract class SqliteJobs extends SqliteIngest implements JobStore {
  /** Where the last walk over job queues stopped (see `walkQueueHeads`). */
  private queueCursor: QueueKey | null = null;
  /** Per (workspace, connector): the conversation the last batch claim stopped at. */
  private readonly batchCursors = new Map<string, string | null>();

  // --- Outbound send results -----------------------------------------------------------------

  markAccepted(lease: Lease, messageId: string, wamid: string): Promise<void> {
    return this.db.write(() => {
      const job = this.requireLease(lease);
      this.db.run(
        'UPDATE messages SET wamid = coalesce(wamid, :wamid) WHERE id = :id AND workspace_id = :ws',
        {
          wamid,
          id: messageId,
          ws: job.workspace_id,
        },
      );
      // Statuses that overtook the send response (and had no callback data) are linked now.
      const orphans = this.db.all<StatusRow>(
        'SELECT * FROM message_statuses WHERE wamid = :wamid AND workspace_id = :ws AND message_id IS NULL ORDER BY ts, id',
        { wamid, ws: job.workspace_id },
      );
      for (const orphan of orphans) {
        const message = this.db.get<MessageRow>('SELECT * FROM messages WHERE id = :id', { id: messageId });
        if (!message) break;
        this.db.run('UPDATE message_statuses SET message_id = :message WHERE id = :id', {
          message: messageId,
          id: orphan.id,
        });
        this.applyStatus(
          message,
          orphan.id,
          orphan.wamid,
          orphan.status,
          orphan.ts,
          orphan.error ? JSON.parse(orphan.error) : null,
        );
      }
    });
  }

  markFailed(lease: Lease, messageId: string, error: MessageError): Promise<void> {
    return this.db.write(() => {
      const job = this.requireLease(lease);
      const message = this.db.get<MessageRow>(
        'SELECT * FROM messages WHERE id = :id AND workspace_id = :ws',
        {
          id: messageId,
          ws: job.workspace_id,
        },
      );
      if (!message) throw new WabridgeError('not_found', `message ${messageId} does not exist`);
      const statusId = newId('st');
      const wamid = message.wamid ?? `local:${message.id}`;
      const failedAt = this.now();
      const inserted = this.db.run(
        `INSERT INTO message_statuses (id, workspace_id, wamid, message_id, status, ts, error, raw)
         VALUES (:id, :ws, :wamid, :message, 'failed', :ts, :error, '{}') ON CONFLICT (wamid, status) DO NOTHING`,
        {
          id: statusId,
          ws: message.workspace_id,
          wamid,
          message: message.id,
          ts: failedAt,
          error: json(error),
        },
      );
      if (inserted.changes > 0) {
        // Keys in sorted order: the record is then written by JSON.stringify (see canonicalJson).
        this.archiveStatus(message.workspace_id, {
          error,
          id: statusId,
          message_id: message.id,
          raw: {},
          status: 'failed',
          ts: failedAt,
          wamid,
        });
        this.applyStatus(message, statusId, wamid, 'failed', this.now(), error);
      }
    });
  }

  // --- Jobs ----------------------------------------------------------------------------------

  /**
   * A job runs only when it heads its (conversation, connector) queue: nothing before it in
   * (sort_ts, id) order is still waiting or running. Expired leases are taken over.
   *
   * The cost of a claim must not grow with the backlog: after an outage there may be hundreds of
   * thousands of ready jobs, most of them waiting behind their conversation's head, and every
   * claim is a write that group-commits with ingest. So a claim looks at three bounded things:
   * expired leases (at most the jobs in flight), the oldest ready jobs (a window of `limit × 8`,
   * oldest first), and, only when that window was all blocked followers, the queues themselves,
   * one index seek each, resuming where the previous claim stopped so that every queue gets its
   * turn. `npm run bench:claims`, 400k queued jobs: 680-818 ms per claim before, 1.5-2.7 ms now.
   */
  claimJobs(options: ClaimOptions): Promise<Job[]> {
    return untilAdmitted(() => this.claimJobsStep(options));
  }

  /** One transaction of `claimJobs`: admits new jobs, then claims once none is left (else null). */
  claimJobsStep(options: ClaimOptions): Promise<Job[] | null> {
    return this.admittingThen(() => {
      const now = options.now ?? this.now();
      const connectors = options.connectorIds ? new Set(options.connectorIds) : null;
      const wanted = (row: JobRow) => !connectors || connectors.has(row.connector_id);
      const picked = new Map<number, JobRow>();
      const take = (row: JobRow) => {
        if (picked.size < options.limit && wanted(row) && !picked.has(row.id)) picked.set(row.id, row);
      };

      // Only jobs in flight are 'running', so this reads a few rows however long the backlog.
      const expired = this.db.all<JobRow>(
        `SELECT j.* FROM jobs j
         WHERE j.state = 'running' AND j.lease_until < :now AND NOT EXISTS (${EARLIER_IN_QUEUE})
           AND NOT EXISTS (${IN_FLIGHT_IN_QUEUE})
         ORDER BY j.lease_until, j.id`,
        { now },
      );
      for (const row of expired) take(row);

      // The window is read row by row and left as soon as the claim is full: each row costs two
      // index seeks (its EXISTS checks), and a worker claiming a few jobs at a time (a quarter of
      // its slots) mostly finds them among the first rows. Reading all 64 rows whatever the need
      // was a fifth of the store thread's CPU per delivered job (`npm run bench:drain`, perf).
      const window = Math.min(1024, Math.max(64, options.limit * 8));
      const only = options.connectorIds ? [...new Set(options.connectorIds)].sort() : null;
      let seen = 0;
      for (const row of this.db.iterate<JobRow & { blocked: number }>(
        `SELECT j.*, EXISTS (${EARLIER_IN_QUEUE}) OR EXISTS (${IN_FLIGHT_IN_QUEUE}) AS blocked
         FROM (${readyWindowSql(only)}) j`,
        { now, window, ...Object.fromEntries((only ?? []).map((id, i) => [`c${i}`, id])) },
      )) {
        seen++;
        if (!row.blocked) take(row);
        // Left as soon as the claim is full, not at the next row: reading it would cost its
        // EXISTS checks for nothing (a claim of 4 read 5 rows).
        if (picked.size >= options.limit) break;
      }

      // Only a window read to its end, all of it blocked or for other connectors, sends the claim
      // to the queues themselves.
      if (picked.size < options.limit && seen === window) {
        const need = options.limit - picked.size;
        const budget = Math.max(1024, options.limit * 64);
        for (const row of this.walkQueueHeads(now, need, budget, only, picked)) take(row);
      }
      return [...picked.values()].map((row) => this.lock(stripBlocked(row), options, now));
    });
  }

  /**
   * One write transaction: admits up to `ADMIT_PER_TRANSACTION` rows of `jobs_new` (an event's
   * jobs each) into their queues in `jobs` and, once none is left, runs `claim` in the same transaction, so a claim
   * sees every job and queue order holds as if ingest had written `jobs` itself. Null while a
   * backlog (a burst no worker claimed) is still being admitted: the caller asks again, and the
   * webhooks committing meanwhile wait for one such batch at most, not for the whole backlog.
   */
  private admittingThen(claim: () => Job[]): Promise<Job[] | null> {
    return this.db.write(() => (this.admitNewJobs() ? claim() : null), NOT_DURABLE);
  }

  /** Moves the oldest rows of `jobs_new` (at most ADMIT_PER_TRANSACTION) into `jobs`; true when none is left. */
  private admitNewJobs(): boolean {
    const last = this.db.get<{ id: number | null }>(
      'SELECT max(id) AS id FROM (SELECT id FROM jobs_new ORDER BY id LIMIT :n)',
      { n: ADMIT_PER_TRANSACTION },
    )?.id;
    if (last === null || last === undefined) return true;
    // In arrival order, so `jobs` ids keep breaking sort_ts ties the way they did.
    this.db.run(
      `INSERT INTO jobs (workspace_id, connector_id, conversation_id, event_type, entity_id, sort_ts, run_at, created_at)
       SELECT n.workspace_id, c.value, n.conversation_id, n.event_type, n.entity_id, n.sort_ts, n.run_at, n.created_at
       FROM jobs_new n, json_each(n.connectors) c WHERE n.id <= :last ORDER BY n.id, c.key`,
      { last },
    );
    this.coalesceStatuses(last);
    this.db.run('DELETE FROM jobs_new WHERE id <= :last', { last });
    return this.db.get('SELECT 1 AS found FROM jobs_new LIMIT 1') === undefined;
  }

  /**
   * Status storms (a campaign's sent, delivered and read for every message, within minutes): a
   * queued status job is dropped when a status of the same message ranked after it (sent <
   * delivered < read < played) is queued for the same connector and queue, not yet running. Every
   * mirror renders a status from the message's current state (see hydrate), which a newer status
   * has already moved on, so the newest job shows what the dropped one would have, and more.
   *
   * Only `ready` jobs are dropped or count as superseding: a running job's lease holder completes
   * it, and a running newer job may still fail and retry. `failed` (a mirror explains it in the
   * thread, HubSpot rewrites the entry) and statuses without a rank are never dropped and supersede
   * nothing. Runs at admission, for the messages of the statuses being admitted (`jobs_new` rows up
   * to `last`): the other statuses of those messages come from message_statuses by message, and
   * their jobs from the partial index `jobs_status`, so the cost does not grow with the backlog.
   * Dropped jobs are counted per connector in `jobs_coalesced` (see jobStats).
   */
  private coalesceStatuses(last: number): void {
    const superseded = this.db.all<{ id: number; connector_id: string }>(COALESCE_STATUSES_SQL, { last });
    if (superseded.length === 0) return;
    const byConnector = new Map<string, number>();
    for (const row of superseded) {
      const { changes } = this.db.run("DELETE FROM jobs WHERE id = :id AND state = 'ready'", { id: row.id });
      byConnector.set(row.connector_id, (byConnector.get(row.connector_id) ?? 0) + changes);
    }
    for (const [connector, n] of byConnector) {
      this.db.run(
        `INSERT INTO jobs_coalesced (connector_id, n) VALUES (:connector, :n)
         ON CONFLICT (connector_id) DO UPDATE SET n = n + excluded.n`,
        { connector, n },
      );
    }
  }

  /**
   * Visits queues in index order from where the last walk stopped (wrapping once) and returns the
   * heads that can run now. The first entry of a queue in the `jobs_queue` index is its head, so
   * each queue costs one seek, however long it is. Queues of connectors this claim is not for are
   * passed over (a batch connector's, say); they share the visit budget.
   */
  private walkQueueHeads(
    now: number,
    need: number,
    maxQueues: number,
    only: readonly string[] | null,
    taken: ReadonlyMap<number, JobRow>,
  ): JobRow[] {
    const heads: JobRow[] = [];
    const start = this.queueCursor;
    let cursor = start;
    let wrapped = start === null;
    for (let visited = 0; visited < maxQueues && heads.length < need; visited++) {
      const row = cursor
        ? this.db.get<JobRow>(
            `SELECT * FROM jobs WHERE (workspace_id, conversation_id, connector_id) > (:ws, :conversation, :connector)
             ORDER BY workspace_id, conversation_id, connector_id, sort_ts, id LIMIT 1`,
            { ws: cursor.workspaceId, conversation: cursor.conversationId, connector: cursor.connectorId },
          )
        : this.db.get<JobRow>(
            'SELECT * FROM jobs ORDER BY workspace_id, conversation_id, connector_id, sort_ts, id LIMIT 1',
          );
      if (!row) {
        if (wrapped) break;
        wrapped = true;
        cursor = null;
        continue;
      }
      cursor = {
        workspaceId: row.workspace_id,
        conversationId: row.conversation_id,
        connectorId: row.connector_id,
      };
      // Round again past where this walk started: every queue has been seen.
      if (wrapped && start && compareQueues(cursor, start) > 0) break;
      if (only && !only.includes(row.connector_id)) continue;
      if (claimableAt(row, now) && !taken.has(row.id) && !this.queueInFlight(row, now)) heads.push(row);
    }
    this.queueCursor = cursor;
    return heads;
  }

  /**
   * Each conversation's claimable prefix, in order, for one connector of one workspace. Like
   * `claimJobs`, it walks the workspace's conversations that have jobs for the connector, one
   * index seek each, from where the previous batch stopped, so a few conversations with long
   * backlogs waiting on a failing head cannot keep the others out of every batch.
   */
  claimBatch(options: ClaimOptions & { workspaceId: string; connectorId: string }): Promise<Job[]> {
    return untilAdmitted(() => this.claimBatchStep(options));
  }

  /** One transaction of `claimBatch`: admits new jobs, then claims once none is left (else null). */
  claimBatchStep(
    options: ClaimOptions & { workspaceId: string; connectorId: string },
  ): Promise<Job[] | null> {
    return this.admittingThen(() => {
      const now = options.now ?? this.now();
      const key = `${options.workspaceId}\u0000${options.connectorId}`;
      const start = this.batchCursors.get(key) ?? null;
      let cursor = start;
      let wrapped = start === null;
      const picked: JobRow[] = [];
      for (let visited = 0; visited < options.limit * 64 && picked.length < options.limit; visited++) {
        // The head of the next conversation of the workspace with a job for this connector. The
        // inner read is index-only; the workspace's other connectors' jobs sit beside these in the
        // index and are stepped over.
        const head = this.db.get<JobRow>(
          `SELECT * FROM jobs WHERE workspace_id = :ws AND connector_id = :connector AND conversation_id = (
             SELECT conversation_id FROM jobs WHERE workspace_id = :ws AND conversation_id > :after AND connector_id = :connector
             ORDER BY conversation_id LIMIT 1)
           ORDER BY sort_ts, id LIMIT 1`,
          { ws: options.workspaceId, connector: options.connectorId, after: cursor ?? '' },
        );
        if (!head) {
          if (wrapped) break;
          wrapped = true;
          cursor = null;
          continue;
        }
        cursor = head.conversation_id;
        if (wrapped && start !== null && cursor > start) break;
        if (!claimableAt(head, now) || this.queueInFlight(head, now)) continue;
        const queue = this.db.all<JobRow>(
          `SELECT * FROM jobs WHERE workspace_id = :ws AND conversation_id = :conversation AND connector_id = :connector
           ORDER BY sort_ts, id LIMIT :room`,
          {
            ws: options.workspaceId,
            conversation: cursor,
            connector: options.connectorId,
            room: options.limit - picked.length,
          },
        );
        // The conversation's claimable prefix; its order holds because the batch is applied in order.
        for (const row of queue) {
          if (!claimableAt(row, now)) break;
          picked.push(row);
        }
      }
      this.batchCursors.set(key, cursor);
      return picked.map((row) => this.lock(row, options, now));
    });
  }

  /** Whether another job of `row`'s queue runs on a live lease (see IN_FLIGHT_IN_QUEUE). */
  private queueInFlight(row: JobRow, now: number): boolean {
    return (
      this.db.get(
        `SELECT 1 AS found FROM (SELECT :ws AS workspace_id, :conversation AS conversation_id,
           :connector AS connector_id, :id AS id) j WHERE EXISTS (${IN_FLIGHT_IN_QUEUE})`,
        {
          ws: row.workspace_id,
          conversation: row.conversation_id,
          connector: row.connector_id,
          id: row.id,
          now,
        },
      ) !== undefined
    );
  }

  private lock(row: JobRow, options: ClaimOptions, now: number): Job {
    const token = randomUUID();
    this.db.run(
      `UPDATE jobs SET state = 'running', attempts = attempts + 1, lease_token = :token, lease_until = :until,
         locked_by = :worker WHERE id = :id`,
      { token, until: now + options.leaseMs, worker: options.workerId, id: row.id },
    );
    return toJob({
      ...row,
      state: 'running',
      attempts: row.attempts + 1,
      lease_token: token,
      lease_until: now + options.leaseMs,
    });
  }

  private requireLease(lease: Lease): JobRow {
    const row = this.db.get<JobRow>(
      "SELECT * FROM jobs WHERE id = :id AND lease_token = :token AND state = 'running'",
      {
        id: lease.jobId,
        token: lease.token,
      },
    );
    if (!row) throw new WabridgeError('stale_lease', `job ${lease.jobId} is no longer held by this worker`);
    return row;
  }

  private holds(lease: Lease): JobRow | undefined {
    return this.db.get<JobRow>(
      "SELECT * FROM jobs WHERE id = :id AND lease_token = :token AND state = 'running'",
      {
        id: lease.jobId,
        token: lease.token,
      },
    );
  }

  /**
   * The event a claimed job stands for, in one call (see queue/hydrate.ts), or null when there is
   * nothing to deliver: the entity is gone, or the job is a status superseded since admission (see
   * `statusSuperseded`). One round trip to the store thread instead of four or five.
   */
  async hydrateEvent(job: Job, now: number): Promise<DomainEvent | null> {
    if (job.eventType === 'message.status' && this.statusSuperseded(job)) return null;
    if (job.eventType === 'message.inbound' || job.eventType === 'message.outbound') {
      // The most common jobs: their six reads (workspace, conversation, contact, consent,
      // message, its revisions) as one statement. Each statement costs node:sqlite ~4-6 µs of
      // CPU whatever it reads (a bind, a step, an object per row); a hydration took a quarter
      // less CPU (docs/performance.md, "The store thread's CPU per delivered job: a message
      // job's reads and a checkpoint in one statement each").
      const row = this.db.get<HydrateRow>(HYDRATE_MESSAGE_SQL, {
        ws: job.workspaceId,
        conversation: job.conversationId,
        message: job.entityId,
      });
      if (row)
        return hydrateEvent(
          prefetchedReads(this, job, row, (r) => this.toMessage(r)),
          job,
          now,
        );
    }
    return hydrateEvent(this, job, now);
  }

  /**
   * Status coalescing after the claim. Admission drops a queued status job once a newer status of
   * its message is queued (see coalesceStatuses), but not one already running then, nor one whose
   * retry made it ready again: when such a job is about to run and a status of the same message
   * ranked after it has a job in the same queue (waiting or running), that job will render the
   * message's current state, which already includes this one, so this one needs no platform call.
   * Reads two small indexes (`message_statuses_message`, `jobs_status`).
   */
  private statusSuperseded(job: Job): boolean {
    const laterRank = STATUS_RANK_SQL.replaceAll('s.status', 'l.status');
    return (
      this.db.get(
        `SELECT 1 AS found FROM message_statuses s
           JOIN message_statuses l ON l.message_id = s.message_id AND l.status IN ${RANKED_STATUSES}
           JOIN jobs j ON j.entity_id = l.id AND j.event_type = 'message.status'
         WHERE s.id = :entity AND s.workspace_id = :ws AND s.status IN ${RANKED_STATUSES}
           AND ${laterRank} > ${STATUS_RANK_SQL}
           AND j.workspace_id = :ws AND j.conversation_id = :conversation AND j.connector_id = :connector
           AND j.id <> :id
         LIMIT 1`,
        {
          entity: job.entityId,
          ws: job.workspaceId,
          conversation: job.conversationId,
          connector: job.connectorId,
          id: job.id,
        },
      ) !== undefined
    );
  }

  completeJob(lease: Lease, refs: ExternalRef[]): Promise<boolean> {
    return this.db.write(() => {
      // The lease check and the delete in one statement: one seek instead of two per job.
      const job = this.db.get<JobRow>(
        "DELETE FROM jobs WHERE id = :id AND lease_token = :token AND state = 'running' RETURNING *",
        { id: lease.jobId, token: lease.token },
      );
      if (!job) return false;
      for (const ref of refs) this.upsertRef(job.workspace_id, ref);
      // An erasure's certificate shows each connector's confirmation (see governance/erasure.ts).
      if (job.event_type === 'conversation.erased') confirmErasure(this.db, job, this.now());
      this.recordSuccess(job);
      return true;
    }, NOT_DURABLE);
  }

  /**
   * Notes a completed job in `connector_health`, in the transaction that completes it. A busy
   * connector completes hundreds of jobs a second: the row is rewritten at most once a second,
   * except for the first success after a failure, which shows the recovery at once.
   */
  private recordSuccess(job: JobRow): void {
    this.db.run(
      `INSERT INTO connector_health (workspace_id, connector_id, last_success_at) VALUES (:ws, :connector, :at)
       ON CONFLICT (workspace_id, connector_id) DO UPDATE SET last_success_at = excluded.last_success_at
       WHERE last_success_at IS NULL OR last_success_at < excluded.last_success_at - 1000
         OR last_error_at >= last_success_at`,
      { ws: job.workspace_id, connector: job.connector_id, at: this.now() },
    );
  }

  private recordFailure(workspaceId: string, connectorId: string, reason: string): void {
    this.db.run(
      `INSERT INTO connector_health (workspace_id, connector_id, last_error_at, last_error) VALUES (:ws, :connector, :at, :reason)
       ON CONFLICT (workspace_id, connector_id) DO UPDATE SET last_error_at = excluded.last_error_at, last_error = excluded.last_error`,
      { ws: workspaceId, connector: connectorId, at: this.now(), reason },
    );
  }

  retryJob(lease: Lease, retry: { runAt: number; error: string; countAttempt: boolean }): Promise<boolean> {
    return this.db.write(() => {
      const job = retry.countAttempt ? this.holds(lease) : undefined;
      const changes = this.db.run(
        `UPDATE jobs SET state = 'ready', run_at = :run, last_error = :error, attempts = attempts - :refund,
           lease_token = NULL, lease_until = NULL, locked_by = NULL
         WHERE id = :id AND lease_token = :token AND state = 'running'`,
        {
          run: retry.runAt,
          error: retry.error,
          refund: retry.countAttempt ? 0 : 1,
          id: lease.jobId,
          token: lease.token,
        },
      ).changes;
      // A rate limit (no attempt counted) is the platform asking to wait, not a failure.
      if (changes > 0 && job) this.recordFailure(job.workspace_id, job.connector_id, retry.error);
      return changes > 0;
    });
  }

  deadLetterJob(lease: Lease, reason: string): Promise<boolean> {
    return this.db.write(() => {
      const job = this.holds(lease);
      if (!job) return false;
      this.db.run(
        `INSERT INTO dead_jobs (id, workspace_id, connector_id, conversation_id, event_type, entity_id, sort_ts, attempts,
           reason, failed_at, created_at)
         VALUES (:id, :ws, :connector, :conversation, :type, :entity, :sort, :attempts, :reason, :at, :created)`,
        {
          id: job.id,
          ws: job.workspace_id,
          connector: job.connector_id,
          conversation: job.conversation_id,
          type: job.event_type,
          entity: job.entity_id,
          sort: job.sort_ts,
          attempts: job.attempts,
          reason,
          at: this.now(),
          created: job.created_at,
        },
      );
      this.db.run('DELETE FROM jobs WHERE id = :id', { id: job.id });
      this.recordFailure(job.workspace_id, job.connector_id, reason);
      return true;
    });
  }

  checkpointRef(lease: Lease, workspaceId: string, ref: ExternalRef): Promise<boolean> {
    // The lease check and the write in one statement (see upsertRefHolding): one a job fewer.
    return this.db.write(() => this.upsertRefHolding(workspaceId, ref, lease));
  }

  extendLease(lease: Lease, until: number): Promise<boolean> {
    return this.db.write(
      () =>
        this.db.run(
          "UPDATE jobs SET lease_until = :until WHERE id = :id AND lease_token = :token AND state = 'running'",
          {
            until,
            id: lease.jobId,
            token: lease.token,
          },
        ).changes > 0,
      NOT_DURABLE,
    );
  }

  async listDeadJobs(options: { workspaceId?: string; connectorId?: string; limit?: number } = {}) {
    return this.db
      .all<DeadJobRow>(
        `SELECT * FROM dead_jobs WHERE (:ws IS NULL OR workspace_id = :ws) AND (:connector IS NULL OR connector_id = :connector)
         ORDER BY id LIMIT :limit`,
        {
          ws: options.workspaceId ?? null,
          connector: options.connectorId ?? null,
          limit: options.limit ?? 1000,
        },
      )
      .map(toDeadJob);
  }

  replayDeadJobs(
    ids: readonly number[] | 'all',
    options: { workspaceId?: string; connectorId?: string } = {},
  ): Promise<number> {
    return this.db.write(() => {
      const rows = this.db.all<DeadJobRow & { sort_ts: number }>(
        `SELECT * FROM dead_jobs WHERE (:ws IS NULL OR workspace_id = :ws) AND (:connector IS NULL OR connector_id = :connector)
           AND (:all = 1 OR id IN (SELECT value FROM json_each(:ids))) ORDER BY id`,
        {
          ws: options.workspaceId ?? null,
          connector: options.connectorId ?? null,
          all: ids === 'all' ? 1 : 0,
          ids: JSON.stringify(ids === 'all' ? [] : ids),
        },
      );
      const now = this.now();
      let replayed = 0;
      for (const row of rows) {
        replayed += this.db.run(
          `INSERT INTO jobs_new (workspace_id, connectors, conversation_id, event_type, entity_id, sort_ts, run_at, created_at)
           VALUES (:ws, json_array(:connector), :conversation, :type, :entity, :sort, :at, :at)`,
          {
            ws: row.workspace_id,
            connector: row.connector_id,
            conversation: row.conversation_id,
            type: row.event_type,
            entity: row.entity_id,
            sort: row.sort_ts,
            at: now,
          },
        ).changes;
        this.db.run('DELETE FROM dead_jobs WHERE id = :id', { id: row.id });
      }
      return replayed;
    });
  }

  async jobStats(): Promise<JobStats> {
    const stats: JobStats = { ready: 0, running: 0, dead: 0, coalesced: 0, byConnector: {} };
    const bucket = (connector: string) => {
      stats.byConnector[connector] ??= { ready: 0, running: 0, dead: 0, coalesced: 0 };
      return stats.byConnector[connector];
    };
    // Scrapes call this while the backlog may hold 400k jobs (~75 ms to count), so the counts run
    // aside, on the background thread's connection: writes do not wait for them. One statement,
    // so all come from one snapshot. Queued jobs are counted from the jobs_queue index alone (no
    // table rows; ~10x cheaper than grouping the table by state) plus those not yet admitted from
    // jobs_new; the running ones, which are few, from jobs_ready, and taken off the ready count.
    const counts = await this.db.readAside<{
      kind: 'queued' | 'running' | 'dead' | 'coalesced';
      connector_id: string;
      n: number;
    }>(
      `SELECT 'queued' AS kind, connector_id, count(*) AS n FROM jobs INDEXED BY jobs_queue GROUP BY connector_id
       UNION ALL SELECT 'running', connector_id, count(*) FROM jobs WHERE state = 'running' GROUP BY connector_id
       UNION ALL SELECT 'queued', c.value, count(*) FROM jobs_new n, json_each(n.connectors) c GROUP BY c.value
       UNION ALL SELECT 'dead', connector_id, count(*) FROM dead_jobs GROUP BY connector_id
       UNION ALL SELECT 'coalesced', connector_id, n FROM jobs_coalesced`,
    );
    for (const { kind, connector_id, n } of counts) {
      const connector = bucket(connector_id);
      switch (kind) {
        case 'queued':
          stats.ready += n;
          connector.ready += n;
          break;
        case 'running': // counted among the queued too
          stats.ready -= n;
          connector.ready -= n;
          stats.running += n;
          connector.running += n;
          break;
        case 'dead':
          stats.dead += n;
          connector.dead += n;
          break;
        case 'coalesced':
          stats.coalesced += n;
          connector.coalesced += n;
          break;
      }
    }
    return stats;
  }

  async connectorHealth(): Promise<ConnectorHealth[]> {
    // One statement on the background connection, like jobStats: one snapshot, and writes do not
    // wait. Retrying jobs come from the partial index jobs_retrying (only jobs that failed are in
    // it); a job only rate-limited (its attempt refunded) is not counted as retrying.
    const rows = await this.db.readAside<{
      kind: 'health' | 'retrying' | 'dead';
      workspace_id: string;
      connector_id: string;
      success: number | null;
      error_at: number | null;
      error: string | null;
      n: number;
    }>(
      `SELECT 'health' AS kind, workspace_id, connector_id, last_success_at AS success, last_error_at AS error_at,
         last_error AS error, 0 AS n FROM connector_health
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
        entry.lastSuccessAt = row.success;
        entry.lastErrorAt = row.error_at;
        entry.lastError = row.error;
      } else if (row.kind === 'retrying') entry.retrying = row.n;
      else entry.dead = row.n;
    }
    return [...byKey.values()].sort(
      (a, b) => a.workspaceId.localeCompare(b.workspaceId) || a.connectorId.localeCompare(b.connectorId),
    );
  }

  async nextRunAt(): Promise<number | null> {
    // Jobs not yet admitted may be due now; the next claim admits them and this answers exactly.
    if (this.db.get('SELECT 1 AS found FROM jobs_new LIMIT 1')) return this.now();
    const row = this.db.get<{ at: number | null }>(
      `SELECT min(at) AS at FROM (
         SELECT min(run_at) AS at FROM jobs WHERE state = 'ready'
         UNION ALL SELECT min(lease_until) AS at FROM jobs WHERE state = 'running')`,
    );
    return row?.at ?? null;
  }
}
