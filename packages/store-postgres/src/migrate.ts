import type { PgDatabase, Queryable } from './database.ts';

/** One step of the Postgres schema: applied once, in version order, in one transaction with the rest. */
export interface PgMigration {
  version: number;
  name: string;
  sql: string;
}

/**
 * The advisory lock class of migrations (the first key of pg_advisory_xact_lock(int, int)); the
 * second key is the schema's hash, so stores in different schemas (tests) migrate side by side.
 */
export const MIGRATION_LOCK_CLASS = 0x7762_6d31;

/**
 * Applies the migrations not yet recorded in `schema_migrations`, in version order, all in one
 * transaction (Postgres DDL is transactional: a failed step leaves the schema as it was). Several
 * processes starting together on one database (N gateways, M workers) take a transaction-scoped
 * advisory lock first: one migrates, the others wait for it and then find nothing left to do.
 * Answers the versions it applied.
 */
export async function runMigrations(db: PgDatabase, migrations: readonly PgMigration[]): Promise<number[]> {
  const ordered = [...migrations].sort((a, b) => a.version - b.version);
  for (let i = 1; i < ordered.length; i++) {
    if (ordered[i]?.version === ordered[i - 1]?.version) {
      throw new Error(`two Postgres migrations have version ${ordered[i]?.version}`);
    }
  }
  return db.transaction(async (tx) => {
    // Keyed by the schema's name as configured: current_schema() is NULL until the schema exists.
    await tx.run(
      "SELECT pg_advisory_xact_lock($1, hashtext(coalesce($2::text, current_schema()::text, '')))",
      [MIGRATION_LOCK_CLASS, db.schema],
    );
    if (db.schema !== null) await tx.run(`CREATE SCHEMA IF NOT EXISTS ${db.schema}`);
    // Made under the lock: two processes creating it at once would collide on the catalog.
    await tx.run(`CREATE TABLE IF NOT EXISTS schema_migrations (
      version INTEGER PRIMARY KEY,
      name TEXT NOT NULL,
      applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
    )`);
    const applied = new Set(
      (await tx.all<{ version: number }>('SELECT version FROM schema_migrations')).map((r) => r.version),
    );
    const done: number[] = [];
    for (const migration of ordered) {
      if (applied.has(migration.version)) continue;
      await apply(tx, migration);
      done.push(migration.version);
    }
    return done;
  });
}

async function apply(tx: Queryable, migration: PgMigration): Promise<void> {
  // No parameters: node-postgres sends it as a simple query, so one migration may hold many statements.
  await tx.run(migration.sql);
  await tx.run('INSERT INTO schema_migrations (version, name) VALUES ($1, $2)', [
    migration.version,
    migration.name,
  ]);
}
