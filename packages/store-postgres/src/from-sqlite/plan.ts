import { WabridgeError } from '@wabridge/core';
import type { Queryable } from '../database.ts';
import type { PgMigration } from '../migrate.ts';
import { PG_MIGRATIONS } from '../schema/index.ts';
import type { SqliteSource } from './source.ts';

/** The Postgres column types the store uses, and how a SQLite value is turned into each. */
export type PgColumnType = 'bigint' | 'integer' | 'smallint' | 'boolean' | 'jsonb' | 'bytea' | 'text';

const COPYABLE_TYPES: ReadonlySet<string> = new Set<PgColumnType>([
  'bigint',
  'integer',
  'smallint',
  'boolean',
  'jsonb',
  'bytea',
  'text',
]);

export interface ColumnPlan {
  name: string;
  type: PgColumnType;
}

/** One table copied: its columns (SQLite's, in the Postgres table's order) and its primary key. */
export interface TablePlan {
  table: string;
  columns: ColumnPlan[];
  key: string[];
  /** A GENERATED ALWAYS identity column: written as copied, its sequence moved past SQLite's. */
  identity: string | null;
}

/**
 * SQLite tables that have no Postgres table of the same name, and what becomes of their rows.
 * Every other SQLite table must have one: a table added to the SQLite schema without a Postgres
 * counterpart (or an entry here) makes the plan, and the migration, fail.
 */
export const SQLITE_ONLY_TABLES: Readonly<Record<string, string>> = {
  jobs_new:
    'admission stage of the SQLite queue: each row becomes one job per connector in jobs, as a claim would admit it',
  schema_migrations: 'each store keeps its own migration history',
};

export interface MigrationPlan {
  /** In an order that satisfies the foreign keys (a workspace before its numbers). */
  tables: TablePlan[];
  /** The store's tables in the Postgres schema but its migration history (what `--force` empties). */
  targetTables: string[];
  /** Postgres tables no SQLite table fills: left empty. */
  postgresOnly: string[];
}

interface PgColumnRow {
  table_name: string;
  column_name: string;
  data_type: string;
  nullable: boolean;
  defaulted: boolean;
  identity: boolean;
}

/**
 * Matches the SQLite store's tables and columns with the migrated Postgres schema's, from both
 * catalogs (nothing listed by hand but `SQLITE_ONLY_TABLES`): every SQLite column must have a
 * Postgres column of a type the copy can write, and every Postgres column SQLite lacks must be
 * nullable or have a default.
 */
export async function planCopy(source: SqliteSource, target: Queryable): Promise<MigrationPlan> {
  const storeTables = new Set(tablesOf(PG_MIGRATIONS));
  const pgColumns = await target.all<PgColumnRow>(
    `SELECT c.table_name, c.column_name, c.data_type,
            c.is_nullable = 'YES' AS nullable,
            (c.column_default IS NOT NULL OR c.is_identity = 'YES') AS defaulted,
            c.is_identity = 'YES' AS identity
     FROM information_schema.columns c
     JOIN information_schema.tables t ON t.table_schema = c.table_schema AND t.table_name = c.table_name
     WHERE c.table_schema = current_schema() AND t.table_type = 'BASE TABLE'
     ORDER BY c.table_name, c.ordinal_position`,
  );
  const keys = await target.all<{ table_name: string; column_name: string }>(
    `SELECT k.table_name, k.column_name
     FROM information_schema.table_constraints tc
     JOIN information_schema.key_column_usage k
       ON k.constraint_schema = tc.constraint_schema AND k.constraint_name = tc.constraint_name
          AND k.table_name = tc.table_name
     WHERE tc.table_schema = current_schema() AND tc.constraint_type = 'PRIMARY KEY'
     ORDER BY k.table_name, k.ordinal_position`,
  );
  // Only the store's own tables: a schema shared with other applications keeps theirs untouched.
  const byTable = groupBy(
    pgColumns.filter((c) => storeTables.has(c.table_name)),
    (c) => c.table_name,
  );
  const keyOf = groupBy(keys, (k) => k.table_name);
  const problems: string[] = [];
  const tables: TablePlan[] = [];
  for (const table of source.tables()) {
    if (table in SQLITE_ONLY_TABLES) continue;
    const target = byTable.get(table);
    if (!target) {
      problems.push(`SQLite table ${table} has no Postgres table`);
      continue;
    }
    const sqliteColumns = new Set(source.columns(table));
    const columns: ColumnPlan[] = [];
    for (const column of target) {
      if (!sqliteColumns.has(column.column_name)) {
        if (!column.nullable && !column.defaulted) {
          problems.push(
            `${table}.${column.column_name} is required in Postgres and SQLite has no such column`,
          );
        }
        continue;
      }
      sqliteColumns.delete(column.column_name);
      if (!COPYABLE_TYPES.has(column.data_type)) {
        problems.push(
          `${table}.${column.column_name} is ${column.data_type} in Postgres, which the copy cannot write`,
        );
        continue;
      }
      columns.push({ name: column.column_name, type: column.data_type as PgColumnType });
    }
    for (const missing of sqliteColumns)
      problems.push(`SQLite column ${table}.${missing} has no Postgres column`);
    const key = (keyOf.get(table) ?? []).map((k) => k.column_name);
    if (key.length === 0) problems.push(`Postgres table ${table} has no primary key to order the copy by`);
    const identity = target.find((c) => c.identity)?.column_name ?? null;
    tables.push({ table, columns, key, identity });
  }
  if (problems.length > 0) {
    throw new WabridgeError(
      'internal',
      `the SQLite store's schema does not match the Postgres store's: ${problems.join('; ')} ` +
        '(a store last opened by an older wabridge: run `wabridge migrate` on it first, with this version)',
    );
  }
  const copied = new Set(tables.map((t) => t.table));
  // Its migration history (schema_migrations) is runMigrations', not a migration's: never copied.
  const targetTables = [...byTable.keys()];
  return {
    tables: await inForeignKeyOrder(target, tables),
    targetTables,
    postgresOnly: targetTables.filter((t) => !copied.has(t)),
  };
}

/** Referenced tables first, so each batch's foreign keys hold when it is inserted. */
async function inForeignKeyOrder(target: Queryable, tables: TablePlan[]): Promise<TablePlan[]> {
  const edges = await target.all<{ child: string; parent: string }>(
    `SELECT c.relname AS child, p.relname AS parent
     FROM pg_constraint f
     JOIN pg_class c ON c.oid = f.conrelid
     JOIN pg_class p ON p.oid = f.confrelid
     WHERE f.contype = 'f' AND f.connamespace = current_schema()::regnamespace`,
  );
  const parents = groupBy(edges, (e) => e.child);
  const byName = new Map(tables.map((t) => [t.table, t]));
  const ordered: TablePlan[] = [];
  const placed = new Set<string>();
  const place = (name: string, path: Set<string>) => {
    const table = byName.get(name);
    if (!table || placed.has(name) || path.has(name)) return;
    path.add(name);
    for (const edge of parents.get(name) ?? []) if (edge.parent !== name) place(edge.parent, path);
    placed.add(name);
    ordered.push(table);
  };
  for (const table of tables) place(table.table, new Set());
  return ordered;
}

function groupBy<T>(rows: readonly T[], key: (row: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const row of rows) {
    const k = key(row);
    const list = groups.get(k);
    if (list) list.push(row);
    else groups.set(k, [row]);
  }
  return groups;
}

/** The tables the store's migrations create (what the store owns in its schema). */
export function tablesOf(migrations: readonly PgMigration[]): string[] {
  const names = new Set<string>();
  for (const { sql } of migrations) {
    for (const [, name] of sql.matchAll(/CREATE TABLE (?:IF NOT EXISTS )?([a-z_][a-z0-9_]*)/gi)) {
      if (name) names.add(name.toLowerCase());
    }
  }
  return [...names];
}

/** An identifier in double quotes (the catalog's names are plain, but `key` and `level` are words). */
export const quoted = (name: string): string => `"${name.replaceAll('"', '""')}"`;
