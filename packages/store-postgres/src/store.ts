import { PgContext, type PostgresStoreOptions } from './context.ts';

/**
 * The Postgres store: the foundation (pool, migrations, transactions, clock, data keys) on which
 * its roles are built, one class per role, as in the SQLite store.
 */
export class PostgresStore extends PgContext {
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
