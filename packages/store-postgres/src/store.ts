import type { PostgresStoreOptions } from './context.ts';
import { PgJobs } from './jobs.ts';

/**
 * The Postgres store, one class per role on top of the ones before it, as the SQLite store is
 * (packages/core/src/store/sqlite/index.ts):
 *   context.ts → config.ts → access.ts → refs.ts → connector-state.ts → reads.ts →
 *   command-keys.ts → notes.ts → fan-out.ts → contacts.ts → ingest.ts → commands.ts → sends.ts →
 *   audit.ts → holds.ts → retention.ts → jobs.ts → this class (archive.ts: the archive appender;
 *   queue/: PgJobQueue, which fan-out.ts enqueues with and jobs.ts delegates to).
 * Built so far: the lifecycle, ConfigStore, AccessStore, RefStore, ConnectorStateStore, ReadStore,
 * IngestStore, JobStore; of GovernanceStore the audit trail, archive
 * content (read, purge), legal holds and retention. Still to come: erasure. Until it is, it is not
 * a `Store`, and the gateway cannot select it.
 */
export class PostgresStore extends PgJobs {
  readonly kind = 'postgres' as const;
}

/** Opens (and migrates) a Postgres store: `openPostgresStore({ url: process.env.DATABASE_URL })`. */
export async function openPostgresStore(options: PostgresStoreOptions): Promise<PostgresStore> {
  const store = new PostgresStore(options);
  try {
    await store.migrate();
  } catch (error) {
    await store.close();
    throw error;
  }
  return store;
}
