import type { DeadJob, Job } from '@wabridge/core';

/**
 * A `jobs` row as node-postgres returns it. BIGINT columns arrive as strings (a 64-bit integer
 * does not fit a JS number in general); ids and epoch milliseconds do, so they are converted here
 * rather than by a process-wide type parser that would change every other query's results.
 */
export interface JobRow {
  id: string;
  workspace_id: string;
  connector_id: string;
  conversation_id: string;
  event_type: string;
  entity_id: string;
  sort_ts: string;
  state: 'ready' | 'running';
  attempts: number;
  run_at: string;
  lease_token: string | null;
  lease_until: string | null;
  locked_by: string | null;
  last_error: string | null;
  created_at: string;
}

export const toJob = (r: JobRow): Job => ({
  id: Number(r.id),
  workspaceId: r.workspace_id,
  connectorId: r.connector_id,
  conversationId: r.conversation_id,
  eventType: r.event_type as Job['eventType'],
  entityId: r.entity_id,
  sortTs: Number(r.sort_ts),
  attempts: r.attempts,
  runAt: Number(r.run_at),
  createdAt: Number(r.created_at),
  lease: { jobId: Number(r.id), token: r.lease_token ?? '' },
});

export interface DeadJobRow {
  id: string;
  workspace_id: string;
  connector_id: string;
  conversation_id: string;
  event_type: string;
  entity_id: string;
  attempts: number;
  reason: string;
  failed_at: string;
  created_at: string;
}

export const toDeadJob = (r: DeadJobRow): DeadJob => ({
  id: Number(r.id),
  workspaceId: r.workspace_id,
  connectorId: r.connector_id,
  conversationId: r.conversation_id,
  eventType: r.event_type,
  entityId: r.entity_id,
  attempts: r.attempts,
  reason: r.reason,
  failedAt: Number(r.failed_at),
  createdAt: Number(r.created_at),
});

/** A job to queue (see `PgJobQueue.enqueue`): ingest's fan-out, one per connector. */
export interface NewJob {
  workspaceId: string;
  connectorId: string;
  conversationId: string;
  eventType: Job['eventType'];
  entityId: string;
  sortTs: number;
  /** Defaults to now. */
  runAt?: number;
}
