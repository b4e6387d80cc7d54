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
  /**
   * Sends `sql` as the transaction's last statement with COMMIT right behind it, in one write
   * (pipelined), and answers its rows: one round trip for both instead of two. Only for a
   * statement that raises when the transaction must not commit (an error turns the COMMIT sent
   * behind it into a rollback); nothing of the transaction may run or throw after it (a later
   * statement is refused). `transaction` then waits for that COMMIT instead of sending one.
   */
  allThenCommit<T>(sql: string, params?: Params): Promise<T[]>;
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
  /**
   * Named (prepared) statements (default true): each connection parses and plans a statement the
   * first time and reuses it (see `prepareStatements`). False sends every statement unnamed, as
   * through a transaction pooler that does not track prepared statements.
   */
  preparedStatements?: boolean;
}

/** Statements one connection keeps prepared at most; statements past it are sent unnamed. */
export const PREPARED_PER_CONNECTION = 200;

/** feature_not_supported: "cached plan must not change result type" (a table's columns changed). */
const PG_CACHED_PLAN_CHANGED = '0A000';

type QueryFn = (...args: unknown[]) => unknown;

/**
 * Makes a pooled connection send each parameterised statement as a named one, its name given the
 * first time the connection sees the statement's text. Unnamed, the server parses, analyses and
 * plans every statement anew: under bench:e2e on Postgres that was about 45% of the backends' CPU
 * (`perf` of the backends: planning 26%, parse and analysis 17%), for the same few dozen texts
 * over and over. Named, a text is parsed once per connection, and planned once when the server's
 * plan cache finds its generic plan as good as the custom ones (plan_cache_mode auto:
 * https://www.postgresql.org/docs/current/sql-prepare.html). Statements without parameters (BEGIN,
 * COMMIT, DDL, several statements in one string) go as before. A connection keeps at most
 * PREPARED_PER_CONNECTION texts (statements built with a variable shape stay bounded). When a
 * table a statement reads changed its columns under it (a migration from a newer process), the
 * server refuses the cached plan once; the text then gets a new name and is prepared again.
 */
export function prepareStatements(client: pg.PoolClient): void {
  const names = new Map<string, string>();
  let next = 0;
  // Through the prototype at each call, so a wrapper installed on Client.query later (the tests'
  // statement counter) still sees every statement.
  const query: QueryFn = (...args) => (Object.getPrototypeOf(client).query as QueryFn).apply(client, args);
  const named = ((...args: unknown[]) => {
    const [text, values, callback] = args;
    if (typeof text !== 'string' || !Array.isArray(values) || values.length === 0) return query(...args);
    let name = names.get(text);
    if (name === undefined) {
      if (names.size >= PREPARED_PER_CONNECTION) return query(...args);
      name = `wb${next++}`;
      names.set(text, name);
    }
    const forget = (error: unknown) => {
      if (pgErrorCode(error) === PG_CACHED_PLAN_CHANGED && names.get(text) === name) names.delete(text);
    };
    const config = { name, text, values };
    if (typeof callback === 'function') {
      return query(config, (error: unknown, result: unknown) => {
        if (error) forget(error);
        (callback as (e: unknown, r: unknown) => void)(error, result);
      });
    }
    return (query(config) as Promise<unknown>).catch((error: unknown) => {
      forget(error);
      throw error;
    });
  }) as typeof client.query;
  client.query = named;
}

/**
 * Turns node-postgres's pipeline mode on or off for a pooled connection, between transactions
 * (nothing queued or in flight then). The pool's other users (one statement at a time, LISTEN,
 * cursors) keep the default, which also refuses nothing that pipeline mode refuses (`rows`).
 */
function setPipelined(client: pg.PoolClient, on: boolean): void {
  (client as pg.PoolClient & { pipeline: boolean }).pipeline = on;
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
    if (options.preparedStatements !== false) this.pool.on('connect', prepareStatements);
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
      // node-postgres's pipeline mode (https://node-postgres.com/apis/client, `pipeline`): each
      // statement is written as soon as it is issued, not after the one before it was answered.
      // BEGIN goes out with the transaction's first statement, in one write and one wake-up of the
      // server instead of two round trips, and `allThenCommit` sends COMMIT behind the last one.
      // The transaction's code still awaits each statement before the next, so the order and the
      // answers are as before; each statement keeps its own Sync, so one that fails fails alone
      // (and aborts the transaction, as without pipelining).
      setPipelined(client, true);
      let commitSent: Promise<pg.QueryResult> | null = null;
      // BEGIN is held in the socket's buffer (corked) until the first statement is written behind
      // it, so both leave in one write and wake the server once; at the latest on the next turn
      // of the event loop (code that goes to `tx.client` directly, or runs no statement).
      const { stream } = client.connection;
      stream.cork();
      let corked = true;
      const uncork = () => {
        if (!corked) return;
        corked = false;
        stream.uncork();
      };
      const fallback = setImmediate(uncork);
      try {
        const begun = client.query('BEGIN');
        // Answered before the first statement of fn is; awaited below.
        begun.catch(() => {});
        const q = queryable(client);
        /** The connection's statements (the first one written with BEGIN), refused once COMMIT is on its way. */
        const open = (): Queryable => {
          if (commitSent) throw new Error('a statement after the transaction sent its COMMIT');
          if (corked) queueMicrotask(uncork);
          return q;
        };
        const tx: Tx = {
          all: (sql, params) => open().all(sql, params),
          get: (sql, params) => open().get(sql, params),
          run: (sql, params) => open().run(sql, params),
          allThenCommit: async <R>(sql: string, params?: Params) => {
            open();
            // The statement and COMMIT in one write.
            stream.cork();
            const rows = client.query(sql, params as unknown[] | undefined);
            commitSent = client.query('COMMIT');
            stream.uncork();
            commitSent.catch(() => {});
            return (await rows).rows as R[];
          },
          client,
          scratch: new Map(),
          afterCommit: (f) => {
            committed.push(f);
          },
        };
        const result = await fn(tx);
        uncork();
        await begun;
        const commit = await (commitSent ?? client.query('COMMIT'));
        // COMMIT of a transaction a failed statement aborted answers ROLLBACK, not an error.
        if (commit.command !== 'COMMIT') throw new Error(`COMMIT answered ${commit.command}: rolled back`);
        for (const f of committed) {
          try {
            f();
          } catch {
            // Committed is committed: a cache that failed to update reloads from the tables.
          }
        }
        return result;
      } catch (error) {
        uncork();
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
        clearImmediate(fallback);
        uncork();
        setPipelined(client, false);
        client.release(broken);
      }
    }
  }

  close(): Promise<void> {
    return this.pool.end();
  }
}
