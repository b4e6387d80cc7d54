import type { ClaimOptions, ExternalRef, JobStore, Lease } from '@wabridge/core';
import { queryable } from './database.ts';
import { PgRetention } from './retention.ts';

/**
 * The queue's part of JobStore, on the store's pool: PgJobQueue's claims and settlements, with the
 * refs a completion or checkpoint stores written in the transaction that checks the lease.
 * markAccepted and markFailed are sends.ts's (they move a message's state as a status does);
 * hydrateEvent, optional, is not built (the worker builds events from the reads).
 */
export abstract class PgJobs
  extends PgRetention
  implements Omit<JobStore, 'hydrateEvent'>
{
  claimJobs(options: ClaimOptions) {
    return this.queue.claimJobs(options);
  }

  claimBatch(options: ClaimOptions & { workspaceId: string; connectorId: string }) {
    return this.queue.claimBatch(options);
  }

  completeJob(lease: Lease, refs: ExternalRef[]): Promise<boolean> {
    return this.queue.completeJob(lease, async (client, job) => {
      for (const ref of refs) await this.upsertRef(queryable(client), job.workspace_id, ref);
    });
  }

  retryJob(lease: Lease, retry: { runAt: number; error: string; countAttempt: boolean }) {
    return this.queue.retryJob(lease, retry);
  }

  deadLetterJob(lease: Lease, reason: string) {
    return this.queue.deadLetterJob(lease, reason);
  }

  checkpointRef(lease: Lease, workspaceId: string, ref: ExternalRef): Promise<boolean> {
    return this.queue.checkpoint(lease, (client) => this.upsertRef(queryable(client), workspaceId, ref));
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
}
