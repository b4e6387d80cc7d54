import { createHash, type Hash as Digest } from 'node:crypto';
import { canonicalJson } from '@wabridge/core';
import type { Queryable } from '../database.ts';
import { type ColumnPlan, quoted, type TablePlan } from './plan.ts';
import type { PgValue } from './rows.ts';

/** Rows per INSERT, at most: well under Postgres's 65,535 parameters for the widest table. */
const MAX_BATCH_ROWS = 1000;
/** Bytes of values per INSERT, at most: a table of large sealed bodies stays a few MiB in memory. */
const MAX_BATCH_BYTES = 4 * 1024 * 1024;
/** Rows per FETCH when reading a table back. */
const FETCH_ROWS = 2000;

export interface Copied {
  rows: number;
  /** SHA-256 of the rows as written, in key order (compared with `digestTable`'s). */
  digest: string;
  /** The largest value written to the identity column, if the table has one. */
  maxIdentity: number;
}

/**
 * Inserts `rows` into the plan's table in batches (multi-row INSERTs, bounded in rows and bytes),
 * hashing each row as it goes. Identity columns take SQLite's values (OVERRIDING SYSTEM VALUE).
 */
export async function copyRows(
  tx: Queryable,
  plan: TablePlan,
  rows: Iterable<PgValue[]>,
  onBatch: (rowsSoFar: number) => void,
): Promise<Copied> {
  const digest = createHash('sha256');
  const identityAt = plan.identity === null ? -1 : plan.columns.findIndex((c) => c.name === plan.identity);
  const perBatch = Math.max(1, Math.min(MAX_BATCH_ROWS, Math.floor(30_000 / plan.columns.length)));
  let batch: PgValue[][] = [];
  let bytes = 0;
  let count = 0;
  let maxIdentity = 0;
  const flush = async () => {
    if (batch.length === 0) return;
    await tx.run(insertSql(plan, batch.length), batch.flat());
    count += batch.length;
    batch = [];
    bytes = 0;
    onBatch(count);
  };
  for (const row of rows) {
    hashRow(digest, plan.columns, row);
    if (identityAt >= 0) maxIdentity = Math.max(maxIdentity, Number(row[identityAt]));
    batch.push(row);
    for (const value of row) bytes += value === null || typeof value === 'boolean' ? 1 : value.length;
    if (batch.length >= perBatch || bytes >= MAX_BATCH_BYTES) await flush();
  }
  await flush();
  return { rows: count, digest: digest.digest('hex'), maxIdentity };
}

function insertSql(plan: TablePlan, rows: number): string {
  const n = plan.columns.length;
  const tuples: string[] = [];
  for (let r = 0; r < rows; r++) {
    tuples.push(`(${plan.columns.map((c, i) => `$${r * n + i + 1}::${c.type}`).join(', ')})`);
  }
  const overriding = plan.identity === null ? '' : ' OVERRIDING SYSTEM VALUE';
  return `INSERT INTO ${quoted(plan.table)} (${plan.columns.map((c) => quoted(c.name)).join(', ')})${overriding}
    VALUES ${tuples.join(', ')}`;
}

/**
 * Reads the table back in key order through a cursor (bounded memory) and hashes it the way
 * `copyRows` hashed what it wrote: equal digests mean every row arrived with every value, as the
 * Postgres store will read it (integers exact, flags, bytes, JSON by value).
 */
export async function digestTable(tx: Queryable, plan: TablePlan): Promise<{ rows: number; digest: string }> {
  const digest = createHash('sha256');
  const select = plan.columns.map(readBack).join(', ');
  const textKeys = new Set(plan.columns.filter((c) => c.type === 'text').map((c) => c.name));
  // COLLATE "C": byte order, as SQLite's BINARY sorted the rows written.
  const order = plan.key.map((k) => (textKeys.has(k) ? `${quoted(k)} COLLATE "C"` : quoted(k))).join(', ');
  await tx.run(
    `DECLARE migrate_read NO SCROLL CURSOR FOR SELECT ${select} FROM ${quoted(plan.table)} ORDER BY ${order}`,
  );
  let count = 0;
  try {
    for (;;) {
      const rows = await tx.all<Record<string, unknown>>(`FETCH ${FETCH_ROWS} FROM migrate_read`);
      for (const row of rows) {
        hashRow(
          digest,
          plan.columns,
          plan.columns.map((_, i) => row[`c${i}`] as PgValue),
          true,
        );
      }
      count += rows.length;
      if (rows.length < FETCH_ROWS) break;
    }
  } finally {
    await tx.run('CLOSE migrate_read');
  }
  return { rows: count, digest: digest.digest('hex') };
}

/** Each column read back in a form `hashRow` compares exactly: integers and flags as text, bytes as hex. */
function readBack(column: ColumnPlan, i: number): string {
  const name = quoted(column.name);
  switch (column.type) {
    case 'bytea':
      return `encode(${name}, 'hex') AS c${i}`;
    case 'jsonb':
      return `${name} AS c${i}`;
    case 'text':
      return `${name} AS c${i}`;
    default:
      return `${name}::text AS c${i}`;
  }
}

function hashRow(
  digest: Digest,
  columns: readonly ColumnPlan[],
  row: readonly unknown[],
  readBack = false,
): void {
  const normal = columns.map((column, i) => {
    const value = row[i];
    if (value === null || value === undefined) return null;
    switch (column.type) {
      case 'bytea':
        return readBack ? value : (value as Buffer).toString('hex');
      case 'jsonb':
        // By value: JSONB keeps neither key order nor spacing.
        return canonicalJson(readBack ? value : JSON.parse(value as string));
      default:
        return String(value);
    }
  });
  digest.update(JSON.stringify(normal));
  digest.update('\n');
}
