export { PgLogNodeStore } from './archive.ts';
export type { PostgresStoreOptions } from './context.ts';
export {
  type MigrationReport,
  migrateSqliteToPostgres,
  planCopy,
  SQLITE_ONLY_TABLES,
  SqliteSource,
  type SqliteToPostgresOptions,
  type TableReport,
} from './from-sqlite/index.ts';
export { type PgMigration, runMigrations } from './migrate.ts';
export * from './queue/index.ts';
export { PG_MIGRATIONS } from './schema/index.ts';
export { openPostgresStore, PostgresStore } from './store.ts';
export { freshSchema, testDatabaseUrl } from './testing/index.ts';
