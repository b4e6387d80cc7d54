import pg from 'pg';

/** One statement's parameters: positional ($1, $2 …), as node-postgres binds them. */
export type Params = readonly unknown[];

/**
 * What the roles run their SQL on: the pool (one statement, autocommit) or a transaction's client.
 * Rows come back typed by the caller; BIGINT columns arrive as numbers (see `TYPES`).
 */
export interface Queryable {
  all<T>(sql: string, params?: Params): Promise<T[]>;
  get<T>(sql: string, params?: Params): Promise<T | null>;
  /** Runs a statement; answers how many rows it changed. */
  run(sql: string, params?: Params): Promise<number>;
}

// Timestamps are epoch milliseconds in BIGINT columns (and counts are BIGINT): node-postgres answers
// int8 as strings by default, since it may exceed 2^53. Ours never do (ms until the year 285,616),
// so they are parsed as numbers, for this pool only (pg.types.setTypeParser would change every
// pool in the process).
const INT8_OID = 20;
const TYPES = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === INT8_OID && format !== 'binary'
      ? (value: string) => Number(value)
      : pg.types.getTypeParser(oid, format ?? 'text')) as typeof pg.types.getTypeParser,
};

/**
 * A transaction's connection, with what lives as long as the transaction: values cached for it
 * (the current data key of a workspace, an archive log's edge) and work to do once it committed.
 */
export interface Tx extends Queryable {
  /** The transaction's connection, for code that takes node-postgres's client (the queue's enqueueIn). */
  readonly client: pg.PoolClient;
  /** Per-transaction values, by a key each user names for itself. */
  readonly scratch: Map<string, unknown>;
  /** Runs `fn` after COMMIT succeeded (never after a rollback): for caches of committed state. */
  afterCommit(fn: () => void): void;
}

/** Postgres error codes the store turns into domain errors or retries. */
export const PG_UNIQUE_VIOLATION = '23505';
export const PG_FOREIGN_KEY_VIOLATION = '23503';
const PG_SERIALIZATION_FAILURE = '40001';
const PG_DEADLOCK_DETECTED = '40P01';

export function pgErrorCode(error: unknown): string | undefined {
  return typeof error === 'object' && error !== null && 'code' in error
    ? (error as { code?: string }).code
    : undefined;
}

/** A schema name as it may appear unquoted in a search_path: anything else is refused. */
const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

export interface PgDatabaseOptions {
  url: string;
  /** The schema the store's tables live in (created if missing); default: the server's search_path. */
  schema?: string;
  /** Connections in the pool (default 10): each gateway or worker process has its own pool. */
  poolSize?: number;
}

export function queryable(client: pg.Pool | pg.ClientBase): Queryable {
  return {
    all: async <T>(sql: string, params?: Params) =>
      (await client.query(sql, params as unknown[] | undefined)).rows as T[],
    get: async <T>(sql: string, params?: Params) =>
      ((await client.query(sql, params as unknown[] | undefined)).rows[0] as T | undefined) ?? null,
    run: async (sql: string, params?: Params) =>
      (await client.query(sql, params as unknown[] | undefined)).rowCount ?? 0,
  };
}

/**
 * The pool and the transactions of a Postgres store. Each connection starts with the store's
 * schema as its search_path (a startup parameter, so no statement of ours runs without it and no
 * extra round trip is spent); a transaction pooler in front (PgBouncer in transaction mode) keeps
 * startup parameters per server connection, which is why the schema is a parameter and never a SET.
 */
export class PgDatabase implements Queryable {
  readonly pool: pg.Pool;
  readonly schema: string | null;
  readonly #q: Queryable;

  constructor(options: PgDatabaseOptions) {
    if (options.schema !== undefined && !SCHEMA_NAME.test(options.schema)) {
      throw new Error(`schema name ${JSON.stringify(options.schema)} must be lowercase letters, digits, _`);
    }
    this.schema = options.schema ?? null;
    this.pool = new pg.Pool({
      connectionString: options.url,
      max: options.poolSize ?? 10,
      types: TYPES,
      ...(options.schema === undefined ? {} : { options: `-c search_path=${options.schema}` }),
    });
    // An idle connection the server dropped (restart, failover) is an 'error' on the pool: without
    // a listener it would crash the process. The pool replaces it; the next query reconnects.
    this.pool.on('error', () => {});
    this.#q = queryable(this.pool);
  }

  all<T>(sql: string, params?: Params): Promise<T[]> {
    return this.#q.all<T>(sql, params);
  }

  get<T>(sql: string, params?: Params): Promise<T | null> {
    return this.#q.get<T>(sql, params);
  }

  run(sql: string, params?: Params): Promise<number> {
    return this.#q.run(sql, params);
  }

  /**
   * Runs `fn` in one transaction on one connection (READ COMMITTED), committed when it resolves
   * and rolled back when it throws. A serialization failure or a deadlock (two transactions
   * locking the same rows in opposite orders) is retried from the start, up to three times: the
   * server rolled the loser back whole, so running it again is safe.
   */
  async transaction<T>(fn: (tx: Tx) => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      const client = await this.pool.connect();
      let broken = false;
      const committed: Array<() => void> = [];
      try {
        await client.query('BEGIN');
        const tx: Tx = {
          ...queryable(client),
          client,
          scratch: new Map(),
          afterCommit: (f) => {
            committed.push(f);
          },
        };
        const result = await fn(tx);
        await client.query('COMMIT');
        for (const f of committed) {
          try {
            f();
          } catch {
            // Committed is committed: a cache that failed to update reloads from the tables.
          }
        }
        return result;
      } catch (error) {
        try {
          await client.query('ROLLBACK');
        } catch {
          // The connection itself failed: the pool must not hand it out again.
          broken = true;
        }
        const code = pgErrorCode(error);
        const retry = (code === PG_SERIALIZATION_FAILURE || code === PG_DEADLOCK_DETECTED) && attempt < 3;
        if (!retry) throw error;
      } finally {
        client.release(broken);
      }
    }
  }

  close(): Promise<void> {
    return this.pool.end();
  }
}
