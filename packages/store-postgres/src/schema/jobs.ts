import type { PgMigration } from '../migrate.ts';

/**
 * The queue's tables on Postgres (see "The queue on Postgres" in docs/architecture.md). Times are
 * epoch milliseconds in BIGINT, as in the SQLite store, so rows move between the two unchanged.
 *
 * There is no `jobs_new` admission stage here: SQLite has one writer, so ingest wrote one narrow
 * row and claims fanned it out; Postgres writes concurrently and a claim never holds up ingest, so
 * ingest inserts the jobs themselves and a claim sees them at once.
 */
export const JOBS_SCHEMA = `
CREATE TABLE IF NOT EXISTS jobs (
  id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  workspace_id TEXT NOT NULL,
  connector_id TEXT NOT NULL,
  conversation_id TEXT NOT NULL,
  event_type TEXT NOT NULL,
  entity_id TEXT NOT NULL,
  sort_ts BIGINT NOT NULL,
  state TEXT NOT NULL DEFAULT 'ready' CHECK (state IN ('ready', 'running')),
  attempts INTEGER NOT NULL DEFAULT 0,
  run_at BIGINT NOT NULL,
  lease_token TEXT,
  lease_until BIGINT,
  locked_by TEXT,
  last_error TEXT,
  created_at BIGINT NOT NULL
);
-- One queue per (workspace, conversation, connector) in (sort_ts, id) order: its first entry is the
-- queue's head, so finding a head, or walking from queue to queue, is one seek each.
CREATE INDEX IF NOT EXISTS jobs_queue ON jobs (workspace_id, conversation_id, connector_id, sort_ts, id);
-- The oldest ready jobs, for the claim's window. Partial: running jobs leave it.
CREATE INDEX IF NOT EXISTS jobs_ready ON jobs (run_at, id) WHERE state = 'ready';
-- Jobs in flight by queue: "does another job of this queue run on a live lease?" is one seek.
CREATE INDEX IF NOT EXISTS jobs_running ON jobs (workspace_id, conversation_id, connector_id, lease_until)
  WHERE state = 'running';
-- Jobs that failed and wait to retry, for connector health.
CREATE INDEX IF NOT EXISTS jobs_retrying ON jobs (workspace_id, connector_id) WHERE last_error IS NOT NULL;

CREATE TABLE IF NOT EXISTS dead_jobs (
  id BIGINT PRIMARY KEY,
  workspace_id TEXT NOT NULL,
  connector_id TEXT NOT NULL,
  conversation_id TEXT NOT NULL,
  event_type TEXT NOT NULL,
  entity_id TEXT NOT NULL,
  sort_ts BIGINT NOT NULL,
  attempts INTEGER NOT NULL,
  reason TEXT NOT NULL,
  failed_at BIGINT NOT NULL,
  created_at BIGINT NOT NULL
);

CREATE TABLE IF NOT EXISTS connector_health (
  workspace_id TEXT NOT NULL,
  connector_id TEXT NOT NULL,
  last_success_at BIGINT,
  last_error_at BIGINT,
  last_error TEXT,
  PRIMARY KEY (workspace_id, connector_id)
);

-- Status jobs dropped before they ran (ingest's coalescing), per connector, for jobStats.
CREATE TABLE IF NOT EXISTS jobs_coalesced (connector_id TEXT PRIMARY KEY, n BIGINT NOT NULL);
`;

/** The queue's tables as a step of the store's schema (src/schema/index.ts). */
export const jobsSchema: PgMigration = {
  version: 8,
  name: 'queue: jobs, dead letters, health',
  sql: JOBS_SCHEMA,
};
