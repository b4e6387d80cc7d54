import type { PgMigration } from '../migrate.ts';
import { accessSchema } from './access.ts';
import { archiveSchema } from './archive.ts';
import { archiveAppendSchema } from './archive-append.ts';
import { archiveAppendLockedSchema } from './archive-append-locked.ts';
import { configSchema } from './config.ts';
import { connectorStateSchema } from './connector-state.ts';
import { governanceSchema } from './governance.ts';
import { ingestSchema } from './ingest.ts';
import { ingestBatchSchema } from './ingest-batch.ts';
import { jobsSchema } from './jobs.ts';
import { paceLanesSchema } from './pace-lanes.ts';
import { refsSchema } from './refs.ts';
import { refsLookupsSchema } from './refs-lookups.ts';
import { statusJobsSchema } from './status-jobs.ts';

/**
 * The Postgres schema, as one list of migrations (its own numbering: SQLite's history of 22 steps
 * starts here as the schema it arrived at). One file per role; no table of one role has a foreign
 * key into another's, so the steps are independent of each other's order.
 *
 * Version 8 is the queue's tables (jobs, dead_jobs, jobs_coalesced, connector_health:
 * src/schema/jobs.ts); version 9 the index ingest's status coalescing reads (status-jobs.ts); version 10 the shared pace lanes (pace-lanes.ts); version 11 the archive append in one
 * statement (archive-append.ts); version 12 the refs' lookups on indexes of their own (refs-lookups.ts); version 13 the common webhook's batch stored in one statement (ingest-batch.ts); version 14 the archive append sent with its COMMIT behind it (archive-append-locked.ts). Later changes append new versions; a version once released is never edited.
 */
export const PG_MIGRATIONS: readonly PgMigration[] = [
  configSchema,
  accessSchema,
  ingestSchema,
  refsSchema,
  connectorStateSchema,
  archiveSchema,
  governanceSchema,
  jobsSchema,
  statusJobsSchema,
  paceLanesSchema,
  archiveAppendSchema,
  refsLookupsSchema,
  ingestBatchSchema,
  archiveAppendLockedSchema,
];
