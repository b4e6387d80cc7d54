import type { PostgresStoreOptions } from './context.ts';
import { PgReads } from './reads.ts';

/**
 * The Postgres store, one class per role on top of the ones before it, as the SQLite store is
 * (packages/core/src/store/sqlite/index.ts):
 *   context.ts → config.ts → access.ts → refs.ts → connector-state.ts → reads.ts → this class.
 * Built so far: the lifecycle, ConfigStore, AccessStore, RefStore, ConnectorStateStore, ReadStore.
 * Still to come: IngestStore (with the archive appender), JobStore (the queue's branch),
 * GovernanceStore. Until they are, it is not a `Store`, and the gateway cannot select it.
 */
export class PostgresStore extends PgReads {
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
