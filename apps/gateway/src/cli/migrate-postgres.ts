import { WabridgeError } from '@wabridge/core';
import { type MigrationReport, migrateSqliteToPostgres } from '@wabridge/store-postgres';
import type { Env } from '../env.ts';
import { masterKeysIfAny } from './admin.ts';
import { out, table } from './output.ts';
import { type CommandInput, UsageError } from './parse.ts';

/** A schema name the Postgres store accepts (PgDatabase: unquoted in its search_path). */
const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

/** Where a migration writes its progress: a terminal's stderr, redrawn in place; else nowhere. */
export interface ProgressSink {
  isTTY?: boolean;
  write(text: string): unknown;
}

/**
 * `wabridge migrate --to postgres`: copies the stopped SQLite store of WABRIDGE_DATA_DIR into the
 * Postgres of --database-url (or DATABASE_URL), schema --schema (or DATABASE_SCHEMA), verifies it,
 * and says what to change in the environment.
 */
export async function migrateToPostgres(
  { env, values }: CommandInput,
  progress: ProgressSink = process.stderr,
): Promise<MigrationReport> {
  if (values.to !== 'postgres') {
    throw new UsageError(`--to: the only store to migrate to is postgres (got ${String(values.to)})`);
  }
  const current = env();
  const url = typeof values['database-url'] === 'string' ? values['database-url'] : current.postgresUrl;
  if (!url) {
    throw new WabridgeError(
      'config_invalid',
      'no Postgres to copy into: give --database-url postgres://… or set DATABASE_URL to one',
    );
  }
  if (!/^postgres(ql)?:\/\//.test(url) || !URL.canParse(url)) {
    throw new UsageError('--database-url: not a postgres:// URL');
  }
  const schema = typeof values.schema === 'string' ? values.schema : current.DATABASE_SCHEMA;
  if (schema !== undefined && !SCHEMA_NAME.test(schema)) {
    throw new UsageError(`--schema: ${JSON.stringify(schema)} must be lowercase letters, digits and _`);
  }
  const masterKeys = masterKeysIfAny(current);
  if (!masterKeys) {
    throw new WabridgeError(
      'config_invalid',
      'WABRIDGE_MASTER_KEY is not set: the copy keeps secrets and archive content sealed as they are, ' +
        'so the Postgres store needs the master key that sealed them; set it as the gateway has it',
    );
  }
  const live = progress.isTTY === true;
  let shown = '';
  const report = await migrateSqliteToPostgres({
    sqlitePath: current.databasePath,
    url,
    ...(schema === undefined ? {} : { schema }),
    masterKeys,
    force: values.force === true,
    onProgress: ({ table: name, rows, total }) => {
      if (!live) return;
      if (shown !== '' && shown !== name) progress.write('\n');
      shown = name;
      const of = total === null ? '' : ` / ${total.toLocaleString('en')}`;
      progress.write(`\r\x1b[Kcopying ${name}: ${rows.toLocaleString('en')}${of} rows`);
    },
  });
  if (live && shown !== '') progress.write('\n');
  printReport(report, current, url, schema);
  return report;
}

function printReport(report: MigrationReport, env: Env, url: string, schema: string | undefined): void {
  const rows = report.tables.reduce((n, t) => n + t.postgres, 0);
  if (report.replaced.length > 0) {
    out(
      `replaced what the schema held: ${report.replaced.map((t) => `${t.table} ${t.postgres}`).join(', ')}`,
    );
  }
  out(table(report.tables.map((t) => ({ table: t.table, sqlite: t.sqlite, postgres: t.postgres }))));
  if (report.postgresOnly.length > 0) {
    out(`left empty (no SQLite counterpart): ${report.postgresOnly.join(', ')}`);
  }
  if (report.admittedJobs > 0) {
    out(`${report.admittedJobs} job(s) SQLite had not admitted yet are queued in jobs`);
  }
  for (const log of report.logs) {
    out(
      `archive ${log.log}: ${log.size} records, root ${log.root.slice(0, 16)}…, ${log.checkpoints} signed checkpoint(s): equal`,
    );
  }
  out('');
  out(
    `copied ${env.databasePath} into Postgres${schema ? ` (schema ${schema})` : ''}: ` +
      `${report.tables.length} tables, ${rows} rows, every row read back and compared, in one transaction.`,
  );
  out('');
  out('Next, in the environment of every gateway and worker:');
  out(
    `  DATABASE_URL=${withoutPassword(url)}${url.includes('@') && new URL(url).password ? '   (with its password)' : ''}`,
  );
  out(schema ? `  DATABASE_SCHEMA=${schema}` : '  DATABASE_SCHEMA unset (the server search_path, as copied)');
  out('  WABRIDGE_MASTER_KEY (and WABRIDGE_MASTER_KEY_PREVIOUS) unchanged: secrets and archive content');
  out('    were copied sealed, and only that key opens them');
  out(`then start them. ${env.dataDir}/media stays a cache on each host (refetched on a miss);`);
  out(`${env.databasePath} is left as it was: keep it until Postgres serves, then archive it.`);
}

/** The URL as printed: its password masked (the operator knows it; terminals and logs keep output). */
function withoutPassword(url: string): string {
  const parsed = new URL(url);
  if (parsed.password) parsed.password = '***';
  return parsed.toString();
}
