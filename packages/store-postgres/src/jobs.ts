import {
  type ClaimOptions,
  type DomainEvent,
  type ExternalRef,
  hydrateEvent,
  type Job,
  type JobStore,
  type JobWatch,
  type Lease,
} from '@wabridge/core';
import { StatementBatch } from './batch.ts';
import { confirmErasurePart, PgErasure } from './erasure.ts';
import { HYDRATE_MESSAGE_SQL, HYDRATE_MESSAGES_SQL, type HydrateRow, prefetchedReads } from './hydrate.ts';
import { watchJobs } from './queue/notify.ts';
import { together } from './queue/settle.ts';

interface Completion {
  lease: Lease;
  refs: ExternalRef[];
}

interface Checkpoint {
  lease: Lease;
  workspaceId: string;
  ref: ExternalRef;
}

type HydrateKey = readonly [workspaceId: string, conversationId: string, messageId: string];

/**
 * The queue's part of JobStore, on the store's pool: PgJobQueue's claims and settlements, with the
 * refs a completion or checkpoint stores (and an erasure's confirmation) written in the
 * statement that checks the lease (queue/settle.ts).
 * markAccepted and markFailed are sends.ts's (they move a message's state as a status does).
 */
export abstract class PgJobs extends PgErasure implements JobStore {
  /** Message jobs' reads asked for together go as one statement (a claim's jobs start together). */
  #hydrates: StatementBatch<HydrateKey, HydrateRow | null> | undefined;
  /** Completions, and checkpoints, asked for together settle in one statement each (see batch.ts). */
  #completions: StatementBatch<Completion, boolean> | undefined;
  #checkpoints: StatementBatch<Checkpoint, boolean> | undefined;

  claimJobs(options: ClaimOptions) {
    return this.queue.claimJobs(options);
  }

  claimBatch(options: ClaimOptions & { workspaceId: string; connectorId: string }) {
    return this.queue.claimBatch(options);
  }

  completeJob(lease: Lease, refs: ExternalRef[]): Promise<boolean> {
    this.#completions ??= new StatementBatch((all) => this.completeJobs(all));
    return this.#completions.get({ lease, refs });
  }

  private completeOne({ lease, refs }: Completion): Promise<boolean> {
    // An erasure's certificate shows each connector's confirmation (see erasure.ts).
    return this.queue.completeJob(lease, together(this.refsPart(refs), confirmErasurePart(this.now())));
  }

  /**
   * Completions asked for together, in one statement and one commit: each job's lease is checked
   * on its own row, and its refs are written only if it held. A statement that fails (two of them
   * writing the same ref, a deadlock with another process) rolled back every one of them: they
   * are then completed one at a time, as each would have been alone.
   */
  private async completeJobs(all: Completion[]): Promise<boolean[]> {
    if (all.length === 1) return [await this.completeOne(all[0] as Completion)];
    try {
      const parts = together(
        this.refsOfJobsPart(all.map(({ lease, refs }) => ({ jobId: lease.jobId, refs }))),
        confirmErasurePart(this.now()),
      );
      const done = new Set(
        await this.queue.completeJobs(
          all.map((c) => c.lease),
          parts,
        ),
      );
      return all.map((c) => done.has(c.lease.jobId));
    } catch (error) {
      this.logger.debug({ err: error, jobs: all.length }, 'completions settled one at a time');
      return Promise.all(all.map((c) => this.completeOne(c)));
    }
  }

  retryJob(lease: Lease, retry: { runAt: number; error: string; countAttempt: boolean }) {
    return this.queue.retryJob(lease, retry);
  }

  deadLetterJob(lease: Lease, reason: string) {
    return this.queue.deadLetterJob(lease, reason);
  }

  checkpointRef(lease: Lease, workspaceId: string, ref: ExternalRef): Promise<boolean> {
    this.#checkpoints ??= new StatementBatch((all) => this.checkpointRefs(all));
    return this.#checkpoints.get({ lease, workspaceId, ref });
  }

  private checkpointOne({ lease, workspaceId, ref }: Checkpoint): Promise<boolean> {
    return this.queue.checkpoint(lease, workspaceId, this.refsPart([ref]));
  }

  /**
   * Checkpoints asked for together: one statement and one durable commit (one WAL flush) for all,
   * each ref written only while its own job's lease holds; one at a time if the statement fails
   * (see completeJobs).
   */
  private async checkpointRefs(all: Checkpoint[]): Promise<boolean[]> {
    if (all.length === 1) return [await this.checkpointOne(all[0] as Checkpoint)];
    try {
      const parts = this.refsOfJobsPart(all.map(({ lease, ref }) => ({ jobId: lease.jobId, refs: [ref] })));
      const held = new Set(
        await this.queue.checkpoints(
          all.map((c) => c.lease),
          all.map((c) => c.workspaceId),
          parts,
        ),
      );
      return all.map((c) => held.has(c.lease.jobId));
    } catch (error) {
      this.logger.debug({ err: error, jobs: all.length }, 'checkpoints settled one at a time');
      return Promise.all(all.map((c) => this.checkpointOne(c)));
    }
  }

  extendLease(lease: Lease, until: number) {
    return this.queue.extendLease(lease, until);
  }

  listDeadJobs(options?: { workspaceId?: string; connectorId?: string; limit?: number }) {
    return this.queue.listDeadJobs(options);
  }

  replayDeadJobs(...args: Parameters<JobStore['replayDeadJobs']>) {
    return this.queue.replayDeadJobs(...args);
  }

  jobStats() {
    return this.queue.jobStats();
  }

  connectorHealth() {
    return this.queue.connectorHealth();
  }

  nextRunAt() {
    return this.queue.nextRunAt();
  }

  /**
   * LISTEN for the queue's notifications on a connection of its own (outside the pool), kept up
   * across drops; `onJobs` also runs after each reconnection, for what was sent while it was down.
   */
  watchJobs(onJobs: () => void): JobWatch {
    return watchJobs({
      config: {
        connectionString: this.db.pool.options.connectionString,
        application_name: 'wabridge-listen',
      },
      channel: this.queue.channel,
      onJobs,
      onError: (error) =>
        this.logger.warn({ err: error }, 'job notifications: connection lost; reconnecting'),
    });
  }

  /**
   * The event a job delivers, built from the reads (core's hydrateEvent), or null for a status job
   * a newer status of its message has made needless: ingest's coalescing drops only queued jobs,
   * not one already running or made ready again by a retry; when such a job is about to run and a
   * status ranked after it has a job in the same queue, that job renders the message's current
   * state, which includes this one (as the SQLite store's statusSuperseded).
   */
  async hydrateEvent(job: Job, now: number): Promise<DomainEvent | null> {
    if (job.eventType === 'message.status' && (await this.statusSuperseded(job))) return null;
    if (job.eventType === 'message.inbound' || job.eventType === 'message.outbound') {
      // The most common jobs: their reads (workspace, conversation, contact, consent, message,
      // its revisions) in one statement, one round trip instead of six (four in sequence).
      this.#hydrates ??= new StatementBatch((keys) => this.readHydrateRows(keys));
      const row = await this.#hydrates.get([job.workspaceId, job.conversationId, job.entityId]);
      if (row) {
        const reads = await prefetchedReads(this, job, row, (r) => this.toMessage(this.db, r));
        return hydrateEvent(reads, job, now);
      }
    }
    return hydrateEvent(this, job, now);
  }

  private async readHydrateRows(keys: HydrateKey[]): Promise<(HydrateRow | null)[]> {
    if (keys.length === 1) return [await this.db.get<HydrateRow>(HYDRATE_MESSAGE_SQL, keys[0] as HydrateKey)];
    const rows = await this.db.all<HydrateRow & { ord: number }>(HYDRATE_MESSAGES_SQL, [
      keys.map((k) => k[0]),
      keys.map((k) => k[1]),
      keys.map((k) => k[2]),
    ]);
    const byPlace: (HydrateRow | null)[] = keys.map(() => null);
    for (const { ord, ...row } of rows) byPlace[Number(ord) - 1] = row;
    return byPlace;
  }

  private async statusSuperseded(job: Job): Promise<boolean> {
    const ranked = "('sent', 'delivered', 'read', 'played')";
    const rank = (t: string) =>
      `CASE ${t}.status WHEN 'sent' THEN 1 WHEN 'delivered' THEN 2 WHEN 'read' THEN 3 ELSE 4 END`;
    return (
      (await this.db.get(
        `SELECT 1 AS found FROM message_statuses s
           JOIN message_statuses l ON l.message_id = s.message_id AND l.status IN ${ranked}
           JOIN jobs j ON j.entity_id = l.id AND j.event_type = 'message.status'
         WHERE s.id = $1 AND s.workspace_id = $2 AND s.status IN ${ranked} AND ${rank('l')} > ${rank('s')}
           AND j.workspace_id = $2 AND j.conversation_id = $3 AND j.connector_id = $4 AND j.id <> $5
         LIMIT 1`,
        [job.entityId, job.workspaceId, job.conversationId, job.connectorId, job.id],
      )) !== null
    );
  }
}
