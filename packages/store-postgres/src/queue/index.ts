// The queue on Postgres (see "The queue on Postgres" in docs/architecture.md): its tables,
// PgJobQueue, and the LISTEN side of its notifications. One line in the package's index.ts.
export { JOBS_SCHEMA } from '../schema/jobs.ts';
export { listenForJobs, type WatchJobsOptions, watchJobs } from './notify.ts';
export { JOBS_CHANNEL, jobsChannel, PgJobQueue, type PgJobQueueOptions, type Within } from './pg-queue.ts';
export type { JobRow, NewJob } from './rows.ts';
