import type { SQLOutputValue } from 'node:sqlite';
import { type Hash, WabridgeError } from '@wabridge/core';
import { type PgColumnType, quoted, type TablePlan } from './plan.ts';
import { foldedLevel, type SqliteSource } from './source.ts';

/** A value as the copy binds it: integers as decimal text (exact past 2^53), JSON as its text. */
export type PgValue = string | boolean | Buffer | null;

/**
 * One SQLite value as the Postgres column expects it. SQLite's columns are loosely typed: sealed
 * content is a BLOB in a column declared TEXT, beside JSON text for what has nothing to hide; the
 * Postgres store keeps both as BYTEA, the JSON as its UTF-8 bytes (see schema/ingest.ts). Flags
 * are 0/1, times and counts integers (read as BigInt, so none is rounded).
 */
export function toPg(value: SQLOutputValue, type: PgColumnType, where: string): PgValue {
  if (value === null) return null;
  switch (type) {
    case 'bigint':
    case 'integer':
    case 'smallint':
      if (typeof value === 'bigint' || (typeof value === 'number' && Number.isInteger(value)))
        return String(value);
      break;
    case 'boolean':
      if (typeof value === 'bigint' || typeof value === 'number') return Number(value) !== 0;
      break;
    case 'bytea':
      if (typeof value === 'string') return Buffer.from(value, 'utf8');
      if (value instanceof Uint8Array) return Buffer.from(value.buffer, value.byteOffset, value.byteLength);
      break;
    case 'jsonb':
      if (typeof value === 'string') return value;
      if (value instanceof Uint8Array) return Buffer.from(value).toString('utf8');
      break;
    case 'text':
      if (typeof value === 'string') return value;
      if (typeof value === 'bigint' || typeof value === 'number') return String(value);
      break;
  }
  const kind = value instanceof Uint8Array ? 'bytes' : typeof value;
  throw new WabridgeError(
    'internal',
    `${where} holds ${kind} where Postgres expects ${type}; nothing was copied`,
  );
}

/**
 * The rows of one Postgres table as the copy writes them, in primary key order (the order the
 * verification reads them back in): a SQLite table's own rows, plus what SQLite keeps elsewhere
 * (jobs not yet admitted, interior archive nodes it folds when read).
 */
export function* sourceRows(source: SqliteSource, plan: TablePlan): Generator<PgValue[]> {
  if (plan.table === 'archive_log_nodes') yield* archiveNodes(source, plan);
  else yield* tableRows(source, plan);
  if (plan.table === 'jobs') yield* admittedJobs(source, plan);
}

function* tableRows(source: SqliteSource, plan: TablePlan, where = '', params: string[] = []) {
  const columns = plan.columns.map((c) => quoted(c.name)).join(', ');
  const order = plan.key.map(quoted).join(', ');
  for (const row of source.rows(
    `SELECT ${columns} FROM ${quoted(plan.table)} ${where} ORDER BY ${order}`,
    params,
  )) {
    yield plan.columns.map((c, i) => toPg(row[i] ?? null, c.type, `${plan.table}.${c.name}`));
  }
}

/**
 * SQLite's queue takes new events into `jobs_new` (one row per event, naming its connectors) and
 * admits them into `jobs` when a worker claims; the Postgres queue has no such stage. Rows still
 * waiting become their jobs here, one per connector in the order admission would give them
 * (event, then connector), with ids after every id SQLite's `jobs` ever handed out.
 */
function* admittedJobs(source: SqliteSource, plan: TablePlan): Generator<PgValue[]> {
  let id = firstAdmittedJobId(source);
  const rows = source.rows(
    `SELECT n.workspace_id, c.value, n.conversation_id, n.event_type, n.entity_id, n.sort_ts, n.run_at, n.created_at
     FROM jobs_new n, json_each(n.connectors) c ORDER BY n.id, c.key`,
  );
  for (const [workspace, connector, conversation, eventType, entity, sortTs, runAt, createdAt] of rows) {
    const job: Record<string, SQLOutputValue> = {
      id: BigInt(id++),
      workspace_id: workspace ?? null,
      connector_id: connector ?? null,
      conversation_id: conversation ?? null,
      event_type: eventType ?? null,
      entity_id: entity ?? null,
      sort_ts: sortTs ?? null,
      state: 'ready',
      attempts: 0n,
      run_at: runAt ?? null,
      lease_token: null,
      lease_until: null,
      locked_by: null,
      last_error: null,
      created_at: createdAt ?? null,
    };
    yield plan.columns.map((c) => {
      if (!(c.name in job))
        throw new WabridgeError('internal', `an admitted job has no value for jobs.${c.name}`);
      return toPg(job[c.name] ?? null, c.type, `jobs_new (as jobs.${c.name})`);
    });
  }
}

/** The id of the first job admitted from `jobs_new`: past every id `jobs` ever handed out. */
export function firstAdmittedJobId(source: SqliteSource): number {
  const max = source.get<{ id: bigint | null }>(
    'SELECT max(id) AS id FROM (SELECT max(id) AS id FROM jobs UNION ALL SELECT max(id) FROM dead_jobs)',
  )?.id;
  return Math.max(source.sequence('jobs'), Number(max ?? 0)) + 1;
}

/** How many jobs the rows of `jobs_new` become. */
export function admittedJobCount(source: SqliteSource): number {
  return Number(
    source.get<{ n: bigint }>('SELECT count(*) AS n FROM jobs_new n, json_each(n.connectors) c')?.n ?? 0,
  );
}

/**
 * Every log's nodes in (log, level, index) order: its leaves, the levels 1 to 3 folded from them
 * (SQLite does not keep them; the Postgres store reads them), then its stored levels 4 and up.
 * Each level is one pass over the leaves, so memory stays bounded however long the log.
 */
function* archiveNodes(source: SqliteSource, plan: TablePlan): Generator<PgValue[]> {
  const names = plan.columns.map((c) => c.name).join(',');
  if (names !== 'log_id,level,idx,hash') {
    throw new WabridgeError(
      'internal',
      `archive_log_nodes has columns ${names} in Postgres; the copy knows 4`,
    );
  }
  const logs = source.all<{ log_id: string }>(
    'SELECT DISTINCT log_id FROM archive_log_nodes ORDER BY log_id',
  );
  for (const { log_id: log } of logs) {
    yield* tableRows(source, plan, 'WHERE log_id = ? AND level = 0', [log]);
    for (let level = 1; level <= 3; level++) {
      for (const node of foldedLevel(leaves(source, log), level)) {
        yield [log, String(level), String(node.idx), Buffer.from(node.hash)];
      }
    }
    yield* tableRows(source, plan, 'WHERE log_id = ? AND level >= 4', [log]);
  }
}

function* leaves(source: SqliteSource, log: string): Generator<{ idx: number; hash: Hash }> {
  for (const [idx, hash] of source.rows(
    'SELECT idx, hash FROM archive_log_nodes WHERE log_id = ? AND level = 0 ORDER BY idx',
    [log],
  )) {
    yield { idx: Number(idx), hash: new Uint8Array(hash as Uint8Array) };
  }
}
