import type { Store } from '@wabridge/core';
import type { PostgresStoreOptions } from '../context.ts';
import { openPostgresStore, type PostgresStore } from '../store.ts';
import { freshSchema, testDatabaseUrl } from './index.ts';

/**
 * A migrated store in a schema of its own, for one test: closing it also drops the schema, so the
 * conformance suite (which closes the store after each test) leaves nothing behind.
 */
export async function openTestStore(
  options: Omit<PostgresStoreOptions, 'url' | 'schema'> = {},
): Promise<PostgresStore> {
  const { schema, drop } = await freshSchema();
  const store = await openPostgresStore({ url: testDatabaseUrl, schema, poolSize: 4, ...options });
  const close = store.close.bind(store);
  store.close = async () => {
    await close();
    await drop();
  };
  return store;
}

/** The store as the conformance suite's fixtures take it: a `Store` (every role is built). */
export const asConformanceStore = (store: PostgresStore): Store => store;
