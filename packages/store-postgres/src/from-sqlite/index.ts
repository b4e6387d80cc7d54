import { createSecretBox, WabridgeError } from '@wabridge/core';
import { PgDatabase, type Queryable } from '../database.ts';
import { runMigrations } from '../migrate.ts';
import { PG_MIGRATIONS } from '../schema/index.ts';
import { copyRows, digestTable } from './copy.ts';
import { type MigrationPlan, planCopy, quoted, type TablePlan } from './plan.ts';
import { admittedJobCount, sourceRows } from './rows.ts';
import { SqliteSource } from './source.ts';
import { type LogCheck, verifyArchive } from './verify-archive.ts';

export { planCopy, SQLITE_ONLY_TABLES } from './plan.ts';
export { SqliteSource } from './source.ts';
export type { LogCheck } from './verify-archive.ts';

export interface SqliteToPostgresOptions {
  /** The SQLite store's file (the gateway's WABRIDGE_DATA_DIR/wabridge.db). */
  sqlitePath: string;
  /** postgres://… of the target server. */
  url: string;
  /** The schema to copy into (made and migrated if missing); default: the server's search_path. */
  schema?: string;
  /** The master key the SQLite store's secrets are sealed with: the Postgres store needs the same. */
  masterKeys: { current: Buffer; previous?: readonly Buffer[] };
  /** Replace what the Postgres schema holds instead of refusing. */
  force?: boolean;
  /** Rows written so far in the table being copied (after each batch). */
  onProgress?: (progress: { table: string; rows: number; total: number | null }) => void;
}

/** One table after the copy: rows in the SQLite table, written, and read back from Postgres. */
export interface TableReport {
  table: string;
  sqlite: number;
  postgres: number;
}

export interface MigrationReport {
  tables: TableReport[];
  logs: LogCheck[];
  /** Jobs made from the rows of SQLite's `jobs_new` (events not yet admitted). */
  admittedJobs: number;
  /** Postgres tables no SQLite table fills (left empty). */
  postgresOnly: string[];
  /** Tables that held rows before the copy and were emptied (`force`). */
  replaced: TableReport[];
}

/**
 * Copies a stopped SQLite store into a Postgres schema, all in one Postgres transaction: the
 * schema is migrated first, then every table is copied in batches in key order and read back and
 * compared (every row by value, the archive's logs by root and signed checkpoint), and only then
 * committed; any difference or failure rolls everything back, leaving the schema as it was.
 * SQLite is held under an exclusive lock throughout (see SqliteSource) and never written.
 */
export async function migrateSqliteToPostgres(options: SqliteToPostgresOptions): Promise<MigrationReport> {
  const source = SqliteSource.open(options.sqlitePath);
  try {
    checkMasterKey(source, options.masterKeys);
    const db = new PgDatabase({
      url: options.url,
      ...(options.schema === undefined ? {} : { schema: options.schema }),
      poolSize: 2,
    });
    try {
      await reach(db, options.url);
      await runMigrations(db, PG_MIGRATIONS);
      const plan = await planCopy(source, db);
      const replaced = await occupied(db, plan.targetTables);
      if (replaced.length > 0 && !options.force) {
        const where = options.schema ? `schema ${options.schema}` : 'the default schema (search_path)';
        throw new WabridgeError(
          'conflict',
          `the Postgres ${where} already holds a store (${replaced.map((t) => `${t.table}: ${t.postgres}`).join(', ')}); ` +
            'copy into an empty schema (--schema) or pass --force to replace what it holds',
        );
      }
      return await db.transaction(async (tx) => ({
        ...(await copyAll(source, tx, plan, options)),
        postgresOnly: plan.postgresOnly,
        replaced,
      }));
    } finally {
      await db.close();
    }
  } finally {
    source.close();
  }
}

async function copyAll(
  source: SqliteSource,
  tx: Queryable,
  plan: MigrationPlan,
  options: SqliteToPostgresOptions,
): Promise<Pick<MigrationReport, 'tables' | 'logs' | 'admittedJobs'>> {
  // Empties what a forced copy replaces, and the migration's own seed rows (meta): the copy
  // writes SQLite's. The lock also keeps any Postgres gateway out until the copy commits.
  await tx.run(`TRUNCATE ${plan.targetTables.map(quoted).join(', ')} RESTART IDENTITY`);
  const admitted = admittedJobCount(source);
  const tables: TableReport[] = [];
  for (const table of plan.tables) {
    const sqlite = count(source, table.table);
    const total =
      table.table === 'jobs' ? sqlite + admitted : table.table === 'archive_log_nodes' ? null : sqlite;
    options.onProgress?.({ table: table.table, rows: 0, total });
    const copied = await copyRows(tx, table, sourceRows(source, table), (rows) =>
      options.onProgress?.({ table: table.table, rows, total }),
    );
    if (total !== null && copied.rows !== total) {
      throw differs(table, `${copied.rows} rows read from SQLite, ${total} expected`);
    }
    if (table.identity !== null) await moveIdentity(source, tx, table, copied.maxIdentity);
    const back = await digestTable(tx, table);
    if (back.rows !== copied.rows)
      throw differs(table, `${copied.rows} rows written, ${back.rows} read back`);
    if (back.digest !== copied.digest) throw differs(table, 'a row read back is not the row written');
    tables.push({ table: table.table, sqlite, postgres: back.rows });
  }
  const logs = await verifyArchive(source, tx);
  return { tables, logs, admittedJobs: admitted };
}

const differs = (table: TablePlan, why: string) =>
  new WabridgeError('internal', `copying ${table.table} failed its check: ${why}; nothing was committed`);

function count(source: SqliteSource, table: string): number {
  return Number(source.get<{ n: bigint }>(`SELECT count(*) AS n FROM ${quoted(table)}`)?.n ?? 0);
}

/**
 * New ids continue after every id SQLite handed out (its AUTOINCREMENT sequence), not only the
 * ones still present: a dead letter keeps its job's id, and a new job must never take it.
 */
async function moveIdentity(source: SqliteSource, tx: Queryable, table: TablePlan, maxCopied: number) {
  const last = Math.max(source.sequence(table.table), maxCopied);
  if (last < 1) return;
  await tx.run('SELECT setval(pg_get_serial_sequence($1, $2), $3)', [
    quoted(table.table),
    table.identity,
    String(last),
  ]);
}

/** Tables that hold rows (meta always holds the config version, and is not counted). */
async function occupied(db: Queryable, tables: readonly string[]): Promise<TableReport[]> {
  const found: TableReport[] = [];
  for (const table of tables) {
    if (table === 'meta') continue;
    const row = await db.get<{ n: number }>(`SELECT count(*)::int AS n FROM ${quoted(table)}`);
    if (row && row.n > 0) found.push({ table, sqlite: 0, postgres: row.n });
  }
  return found;
}

/** A clear `unavailable` when the server cannot be reached; the URL's password is never echoed. */
async function reach(db: PgDatabase, url: string): Promise<void> {
  try {
    await db.run('SELECT 1');
  } catch (error) {
    const where = URL.canParse(url) ? new URL(url) : null;
    const name = where ? `${where.hostname}:${where.port || 5432}${where.pathname}` : 'DATABASE_URL';
    const reason = (error instanceof Error ? error.message : String(error)).split('\n')[0];
    throw new WabridgeError('unavailable', `cannot reach Postgres at ${name}: ${reason}`, { cause: error });
  }
}

/** Sealed columns whose ciphertexts name the master key that sealed them (SecretBox's v1 format). */
const SEALED_BY_MASTER_KEY: ReadonlyArray<[table: string, column: string]> = [
  ['data_keys', 'wrapped'],
  ['connector_settings', 'secrets'],
  ['whatsapp_apps', 'secrets_enc'],
  ['whatsapp_number_credentials', 'access_token_enc'],
  ['archive_keys', 'signer_key'],
];

/**
 * The bytes are copied as they are, so the Postgres store opens them with the same master key:
 * refuse before copying when the key given does not open one of each kind of sealed value
 * (each sealed with one of the keys that ever were current: every distinct key is tried).
 */
function checkMasterKey(source: SqliteSource, keys: SqliteToPostgresOptions['masterKeys']): void {
  const box = createSecretBox(keys.current, keys.previous ?? []);
  const tables = new Set(source.tables());
  for (const [table, column] of SEALED_BY_MASTER_KEY) {
    if (!tables.has(table)) continue;
    // One sample per master key id (the second dot-separated field).
    const samples = source.all<{ sealed: string }>(
      `SELECT min(${quoted(column)}) AS sealed FROM ${quoted(table)} WHERE ${quoted(column)} IS NOT NULL
       GROUP BY substr(${quoted(column)}, 1, instr(substr(${quoted(column)}, 4), '.') + 3)`,
    );
    for (const { sealed } of samples) {
      try {
        box.decrypt(sealed);
      } catch (error) {
        const keyId = sealed.split('.')[1] ?? '?';
        throw new WabridgeError(
          'config_invalid',
          `the master key does not open the SQLite store's ${table} (sealed with key ${keyId}, given ${box.keyId}): ` +
            'set WABRIDGE_MASTER_KEY (and WABRIDGE_MASTER_KEY_PREVIOUS) to the keys the gateway runs with',
          { cause: error },
        );
      }
    }
  }
}
