import { existsSync } from 'node:fs';
import { DatabaseSync, type SQLOutputValue } from 'node:sqlite';
import { type Hash, nodeHash, WabridgeError } from '@wabridge/core';

/** SQLite's "database is locked" (SQLITE_BUSY) and "table is locked" (SQLITE_LOCKED). */
const SQLITE_BUSY = 5;
const SQLITE_LOCKED = 6;

/**
 * The SQLite store's file, opened for the copy with an exclusive lock held until `close`. In WAL
 * mode every connection (a gateway's, a worker's, its checkpoint thread's, a `wabridge status`)
 * holds a shared lock on the file while it is open, so taking the exclusive one fails while any
 * process uses the store, and once taken, no gateway can open the store until the copy is done:
 * nothing is written to SQLite behind the copy's back.
 */
export class SqliteSource {
  readonly path: string;
  readonly #db: DatabaseSync;

  private constructor(path: string, db: DatabaseSync) {
    this.path = path;
    this.#db = db;
  }

  static open(path: string): SqliteSource {
    if (!existsSync(path)) {
      throw new WabridgeError(
        'not_found',
        `no SQLite store at ${path} (set WABRIDGE_DATA_DIR to the directory the gateway used)`,
      );
    }
    const db = new DatabaseSync(path, { timeout: 0, readBigInts: true });
    try {
      // Exclusive locking mode before the first read: the lock taken is kept, and no shared
      // memory (wal-index) is used, so other processes cannot even read.
      db.exec('PRAGMA locking_mode = EXCLUSIVE');
      db.exec('BEGIN EXCLUSIVE');
    } catch (error) {
      db.close();
      const code = (error as { errcode?: number }).errcode ?? 0;
      if ((code & 0xff) === SQLITE_BUSY || (code & 0xff) === SQLITE_LOCKED) {
        throw new WabridgeError(
          'conflict',
          `the SQLite store at ${path} is in use by another process: stop every \`wabridge serve\`, ` +
            `\`wabridge worker\` and other wabridge command using it (\`fuser -v ${path}\` lists them), then run the migration again`,
          { cause: error },
        );
      }
      throw error;
    }
    return new SqliteSource(path, db);
  }

  /** The store's tables, except SQLite's own (sqlite_sequence, sqlite_stat1 …). */
  tables(): string[] {
    return this.all<{ name: string }>(
      "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name",
    ).map((r) => r.name);
  }

  /** A table's columns, in their order. */
  columns(table: string): string[] {
    return this.all<{ name: string }>(`SELECT name FROM pragma_table_info(?) ORDER BY cid`, [table]).map(
      (r) => r.name,
    );
  }

  /** What AUTOINCREMENT handed out last per table: ids above it were never used. */
  sequence(table: string): number {
    const known = this.get<{ found: bigint }>(
      "SELECT 1 AS found FROM sqlite_master WHERE type = 'table' AND name = 'sqlite_sequence'",
    );
    if (!known) return 0;
    const row = this.get<{ seq: bigint }>('SELECT seq FROM sqlite_sequence WHERE name = ?', [table]);
    return row ? Number(row.seq) : 0;
  }

  get<T>(sql: string, params: readonly (string | number | bigint | null)[] = []): T | undefined {
    return this.#db.prepare(sql).get(...params) as T | undefined;
  }

  all<T>(sql: string, params: readonly (string | number | bigint | null)[] = []): T[] {
    return this.#db.prepare(sql).all(...params) as T[];
  }

  /** Rows as arrays, one at a time (bounded memory however large the table). */
  *rows(sql: string, params: readonly (string | number | bigint | null)[] = []): Generator<SQLOutputValue[]> {
    const statement = this.#db.prepare(sql);
    statement.setReturnArrays(true);
    for (const row of statement.iterate(...params)) yield row as unknown as SQLOutputValue[];
  }

  /** Ends the read transaction and lets other processes open the store again. */
  close(): void {
    try {
      this.#db.exec('ROLLBACK');
    } finally {
      this.#db.close();
    }
  }
}

/**
 * The interior nodes of levels 1 to 3 of one archive log, folded from its leaves, in index order.
 * SQLite keeps only the leaves and levels 4 and up (core: FIRST_STORED_INTERIOR_LEVEL) and folds
 * the others when read; the Postgres store keeps every level and reads its right edge from them,
 * so they are written with the copy. `leaves` must be in index order.
 */
export function* foldedLevel(
  leaves: Iterable<{ idx: number; hash: Hash }>,
  level: number,
): Generator<{ idx: number; hash: Hash }> {
  const width = 2 ** level;
  let group: Hash[] = [];
  for (const { idx, hash } of leaves) {
    // A group starts at a multiple of its width and takes consecutive leaves only.
    if (idx % width === 0) group = [];
    if (group.length !== idx % width) continue;
    group.push(hash);
    if (group.length < width) continue;
    let row = group;
    while (row.length > 1) {
      const next: Hash[] = [];
      for (let i = 0; i < row.length; i += 2) next.push(nodeHash(row[i] as Hash, row[i + 1] as Hash));
      row = next;
    }
    yield { idx: Math.floor(idx / width), hash: row[0] as Hash };
    group = [];
  }
}
