export { listenForJobs } from './queue/notify.ts';
export { JOBS_CHANNEL, PgJobQueue, type PgJobQueueOptions, type Within } from './queue/pg-queue.ts';
export type { JobRow, NewJob } from './queue/rows.ts';
export { JOBS_SCHEMA } from './schema/jobs.ts';
export { freshSchema, testDatabaseUrl } from './testing/index.ts';
