import type { PgMigration } from '../migrate.ts';

/**
 * Status jobs by the status they show, so ingest can find the queued statuses of a message (from
 * message_statuses by message) and drop those a newer one supersedes (see `coalesceStatuses` in
 * fan-out.ts), at a cost that does not grow with the backlog. Partial: other jobs cost nothing.
 * SQLite's version 11.
 */
export const statusJobsSchema: PgMigration = {
  version: 9,
  name: 'status jobs by status, for coalescing',
  sql: `CREATE INDEX jobs_status ON jobs (entity_id) WHERE event_type = 'message.status';`,
};
