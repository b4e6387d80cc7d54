import { DatabaseSync, type SQLInputValue, type StatementSync } from 'node:sqlite';
import { Worker as NodeWorker } from 'node:worker_threads';
import { WabridgeError } from '../../errors/index.ts';
import type { Logger } from '../../logger/index.ts';
import { preparePrivateDatabaseFile } from '../../util/private-files.ts';
import { MIGRATIONS } from './schema.ts';
import { endThread } from './thread-end.ts';
import { BACKGROUND_THREAD_LIMITS } from './thread-limits.ts';

type Params = Record<string, SQLInputValue>;

/** A prepared statement and the names of its parameters, in position order. */
interface Prepared {
  statement: StatementSync;
  names: readonly string[];
}

interface PendingWrite {
  run: () => unknown;
  durable: boolean;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

/**
 * One SQLite connection with group commit.
 *
 * node:sqlite is synchronous, so a write and its fsync block the event loop. Writes are therefore
 * queued and flushed together: every write that was queued while the previous flush ran (or during
 * the current tick) shares one `BEGIN IMMEDIATE … COMMIT`, i.e. one fsync. A failing write is
 * rolled back and rejected alone (see `transaction`). Promises resolve only after COMMIT returns,
 * which is what lets the webhook edge answer 200 only for durable data.
 *
 * Reads run directly: they can never observe a half-done batch, because a flush runs to completion
 * before any other JavaScript does.
 */
export class SqliteDatabase {
  readonly path: string;
  private readonly db: DatabaseSync;
  private readonly statements = new Map<string, Prepared>();
  /** Statements that answer rows as arrays (`allArrays`), apart: the setting is per statement. */
  private readonly arrayStatements = new Map<string, Prepared>();
  private began = 0;
  private queue: PendingWrite[] = [];
  private flushScheduled = false;
  private closed = false;
  /** A write transaction of `flush` is open: the reads of its writes run inside it. */
  private writing = false;
  /** The reads of this turn of the event loop share a read transaction (see `reading`). */
  private readOpen = false;
  /** `readsShareTurn`, and not an in-memory database (no WAL, no locks to share). */
  private readonly sharesReads: boolean;

  /** The background thread: checkpoints, and reads that must not hold this connection. */
  private background: NodeWorker | null = null;
  private readonly readsAside = new Map<
    number,
    { resolve(rows: unknown[]): void; reject(error: Error): void }
  >();
  private nextReadAside = 0;
  private readonly rollbackListeners: (() => void)[] = [];
  private readonly beforeCommitListeners: (() => void)[] = [];

  constructor(
    path: string,
    options: { busyTimeoutMs?: number; logger: Logger; checkpointEveryMs?: number; readsShareTurn?: boolean },
  ) {
    this.path = path;
    this.sharesReads = (options.readsShareTurn ?? false) && path !== ':memory:';
    // 0600 for the database and, through it, for the WAL and SHM files SQLite creates beside it.
    preparePrivateDatabaseFile(path);
    this.db = new DatabaseSync(path, { timeout: options.busyTimeoutMs ?? 10_000 });
    // WAL lets readers (other processes, the CLI) work while a writer commits; synchronous=FULL
    // fsyncs the WAL on every commit, so an acknowledged write survives power loss, not only a crash.
    this.db.exec('PRAGMA journal_mode = WAL');
    this.db.exec('PRAGMA synchronous = FULL');
    this.db.exec('PRAGMA foreign_keys = ON');
    // Reads through read() calls into SQLite's own page cache (cache_size, 2 MB), not through a
    // memory map of the file. A mapped page that was read stays resident in this process (counted
    // in its RSS) for as long as the map lives, and SQLite maps the whole file again, up to
    // mmap_size, whenever another connection has written (a CLI command, a second process): with
    // the 256 MB map this connection had, the database's pages joined the gateway's resident
    // memory in proportion to the messages stored (docs/performance.md, "The store thread's young
    // generation and the database's memory map"). The ~7% less CPU per ingested webhook the map
    // once measured did not show against no map in side-by-side runs of `npm run bench`.
    this.db.exec(`PRAGMA mmap_size = ${MMAP_BYTES}`);
    if (path !== ':memory:') {
      // Checkpoints (copying the WAL into the database file, with an fsync) would otherwise run
      // inside a commit every ~4 MB of WAL and stall every request waiting on that commit. A
      // background thread checkpoints instead; autocheckpoint stays as a high safety net.
      this.db.exec('PRAGMA wal_autocheckpoint = 50000');
      // Every second: a page written many times in that second is copied once. Measured at 200
      // connections: the checkpointer's CPU halved against 250 ms (3 against 6-7 µs per webhook).
      this.background = startBackgroundThread(path, options.checkpointEveryMs ?? 1000);
      this.background.on('message', ({ id, rows, error }: BackgroundAnswer) => {
        const read = this.readsAside.get(id);
        if (!read) return;
        this.readsAside.delete(id);
        if (this.readsAside.size === 0) this.background?.unref();
        if (error === undefined) read.resolve(rows ?? []);
        else read.reject(new WabridgeError('internal', `background read failed: ${error}`));
      });
      // A failed background thread only means checkpoints fall to this connection's own
      // autocheckpoint (stalling the writes they run in) and reads aside run here: worth a warning.
      const lost = (error?: unknown) => {
        if (this.background === null) return; // closing
        this.background = null;
        this.failReadsAside('the background thread stopped');
        options.logger.warn(
          { reason: error instanceof Error ? error.message : 'the thread exited' },
          'SQLite background thread stopped: checkpoints and job counts now run on the store connection',
        );
      };
      this.background.on('error', lost);
      this.background.on('exit', () => lost());
    }
  }

  /** Write transactions begun on this connection so far: a new value means a new transaction. */
  get transactions(): number {
    return this.began;
  }

  migrate(): void {
    this.endReading();
    this.db.exec(
      'CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)',
    );
    const applied = new Set(
      (this.db.prepare('SELECT version FROM schema_migrations').all() as { version: number }[]).map(
        (r) => r.version,
      ),
    );
    for (const migration of MIGRATIONS) {
      if (applied.has(migration.version)) continue;
      this.db.exec('BEGIN IMMEDIATE');
      try {
        this.db.exec(migration.sql);
        this.db
          .prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)')
          .run(migration.version, migration.name, Date.now());
        this.db.exec('COMMIT');
      } catch (error) {
        this.db.exec('ROLLBACK');
        throw new WabridgeError('internal', `migration ${migration.version} (${migration.name}) failed`, {
          cause: error,
        });
      }
    }
  }

  private statement(sql: string): Prepared {
    let prepared = this.statements.get(sql);
    if (!prepared) {
      const { text, names } = positional(sql);
      prepared = { statement: this.db.prepare(text), names };
      this.statements.set(sql, prepared);
    }
    return prepared;
  }

  /**
   * A read on the background thread's own connection, for long scans (the job counts a metrics
   * scrape asks for: ~75 ms over a 400k-job backlog) that would otherwise hold this connection,
   * and with it every write, while they run. It sees every transaction committed before it was
   * asked. Runs here where there is no background thread (an in-memory database).
   */
  readAside<T>(sql: string, params: Params = {}): Promise<T[]> {
    const background = this.background;
    if (!background || this.closed) return Promise.resolve(this.all<T>(sql, params));
    const { text, names } = positional(sql);
    const id = this.nextReadAside++;
    return new Promise<T[]>((resolve, reject) => {
      // Referenced while an answer is due and unreferenced after the last one: an idle thread never
      // keeps a process alive, and one that waits for an answer gets it.
      if (this.readsAside.size === 0) background.ref();
      this.readsAside.set(id, { resolve: resolve as (rows: unknown[]) => void, reject });
      background.postMessage({ id, sql: text, params: bind(names, params) });
    });
  }

  private failReadsAside(why: string): void {
    for (const read of this.readsAside.values()) read.reject(new WabridgeError('internal', why));
    this.readsAside.clear();
  }

  /**
   * With `readsShareTurn` (the store thread). Outside a transaction every SELECT is a read
   * transaction of its own: SQLite takes a WAL read lock for it and drops it after (two fcntl
   * calls on the -shm file, and a look at the WAL index header). Measured alone, 100,000
   * primary-key reads of a 20,000-row WAL database: 6.6 µs of CPU each, 4.0 µs ten to a
   * transaction. A delivery reads ~9 times outside writes (its event's rows, its connector's
   * refs), and the main thread's calls arrive in batches, one turn of this thread's loop each. So
   * the reads of one turn share one read transaction: begun by the first, ended by the next write
   * (see `flush` and `run`) or at the end of the turn (setImmediate), whichever comes first. A
   * write transaction always sees the latest commits, so lease checks are unchanged; a read sees
   * the database as of its turn's first read or the turn's last write on this connection, and
   * another connection's commit (a second process) from the next turn. Nothing waits on such a
   * transaction: in WAL mode writers and checkpoints go on (a checkpoint stops short of frames a
   * reader may need until it ends).
   */
  private reading(): void {
    if (this.writing || this.readOpen || !this.sharesReads || this.closed) return;
    this.statement('BEGIN').statement.run();
    this.readOpen = true;
    setImmediate(this.endReading);
  }

  /** Ends the turn's read transaction, if one is open (see `reading`). */
  private readonly endReading = (): void => {
    if (!this.readOpen) return;
    this.readOpen = false;
    // SQLite ends a transaction by itself after some errors; then there is nothing to end.
    if (this.db.isTransaction) this.statement('COMMIT').statement.run();
  };

  get<T>(sql: string, params: Params = {}): T | undefined {
    this.reading();
    const { statement, names } = this.statement(sql);
    return statement.get(...bind(names, params)) as T | undefined;
  }

  all<T>(sql: string, params: Params = {}): T[] {
    this.reading();
    const { statement, names } = this.statement(sql);
    return statement.all(...bind(names, params)) as T[];
  }

  /**
   * Rows one at a time, each read from SQLite only when the loop asks for it: a loop that stops
   * early (`break`) spares the statement the rest of its rows, and whatever each row computes
   * (a claim's per-row EXISTS checks, say).
   */
  *iterate<T>(sql: string, params: Params = {}): Generator<T> {
    this.reading();
    const { statement, names } = this.statement(sql);
    yield* statement.iterate(...bind(names, params)) as IterableIterator<T>;
  }

  /**
   * Rows as arrays of column values, in the SELECT's order: no object (and no property names) per
   * row, for scans of many small rows (`archive verify` reads every record and node this way).
   */
  allArrays(sql: string, params: Params = {}): unknown[][] {
    this.reading();
    let prepared = this.arrayStatements.get(sql);
    if (!prepared) {
      const { text, names } = positional(sql);
      prepared = { statement: this.db.prepare(text), names };
      prepared.statement.setReturnArrays(true);
      this.arrayStatements.set(sql, prepared);
    }
    return prepared.statement.all(...bind(prepared.names, params)) as unknown as unknown[][];
  }

  run(sql: string, params: Params = {}): { changes: number; lastInsertRowid: number } {
    // A statement run outside `write` commits on its own, as it always did, not with the reads.
    if (!this.writing) this.endReading();
    const { statement, names } = this.statement(sql);
    const result = statement.run(...bind(names, params));
    return { changes: Number(result.changes), lastInsertRowid: Number(result.lastInsertRowid) };
  }

  /**
   * Queues a write; it runs inside the next group-committed transaction.
   *
   * `durable: false` is for writes whose loss in a power cut is harmless because what they record
   * is redone (a job's claim, lease and completion: the job runs again, and connectors deliver
   * idempotently behind their durable checkpoints). A transaction of only such writes commits
   * without waiting for fsync (synchronous=NORMAL). It is still in the WAL in order, so a process
   * crash loses nothing, and the next durable commit's fsync covers it: a power cut loses at
   * most the non-durable commits after the last durable one, never a durable one or anything
   * before it. A batch with any durable write commits durably as a whole.
   */
  write<T>(run: () => T, options: { durable?: boolean } = {}): Promise<T> {
    if (this.closed) return Promise.reject(new WabridgeError('internal', 'the store is closed'));
    return new Promise<T>((resolve, reject) => {
      this.queue.push({
        run,
        durable: options.durable ?? true,
        resolve: resolve as (value: unknown) => void,
        reject,
      });
      if (!this.flushScheduled) {
        this.flushScheduled = true;
        // setImmediate lets every request already parsed in this turn of the loop join the batch.
        setImmediate(() => this.flush());
      }
    });
  }

  private flush(): void {
    this.flushScheduled = false;
    const batch = this.queue;
    this.queue = [];
    if (batch.length === 0) return;
    // Optimistic: the whole batch in one transaction without per-write savepoints (they cost two
    // statements per write). If any write throws, the batch is rolled back and every write is
    // re-run in its own transaction, so the failing one is rejected alone.
    const relaxed = this.path !== ':memory:' && !batch.some((item) => item.durable);
    this.endReading();
    if (relaxed) this.db.exec('PRAGMA synchronous = NORMAL');
    let results: { ok: boolean; value: unknown }[] | null;
    this.writing = true;
    try {
      results = this.transaction(batch, false) ?? this.transaction(batch, true);
    } finally {
      this.writing = false;
      if (relaxed) this.db.exec('PRAGMA synchronous = FULL');
    }
    if (!results) return;
    batch.forEach((item, index) => {
      const result = results[index];
      if (result?.ok) item.resolve(result.value);
      else item.reject(result?.value);
    });
  }

  /**
   * Runs writes and commits. Returns their results, or null when `isolated` is false and a write
   * failed (the transaction is rolled back then). With `isolated`, each write gets its own
   * transaction. On a commit failure every write of the batch is rejected.
   */
  private transaction(batch: PendingWrite[], isolated: boolean): { ok: boolean; value: unknown }[] | null {
    const results: { ok: boolean; value: unknown }[] = [];
    const groups = isolated ? batch.map((item) => [item]) : [batch];
    for (const group of groups) {
      try {
        this.run('BEGIN IMMEDIATE');
        this.began++;
      } catch (error) {
        const refused = lockedOut(error);
        for (const _ of group) results.push({ ok: false, value: refused });
        continue;
      }
      const groupResults: { ok: boolean; value: unknown }[] = [];
      let failed = false;
      for (const item of group) {
        try {
          groupResults.push({ ok: true, value: item.run() });
        } catch (error) {
          groupResults.push({ ok: false, value: error });
          failed = true;
          break;
        }
      }
      if (failed) {
        this.rollback();
        if (!isolated) return null;
        results.push(...groupResults);
        continue;
      }
      try {
        this.beforeCommit();
      } catch (error) {
        // Part of the transaction's work: it fails as a write would (the batch is re-run alone).
        this.rollback();
        if (!isolated) return null;
        for (const _ of group) results.push({ ok: false, value: error });
        continue;
      }
      try {
        this.run('COMMIT');
        results.push(...groupResults);
      } catch (error) {
        this.rollback();
        const refused = lockedOut(error);
        for (const _ of group) results.push({ ok: false, value: refused });
      }
    }
    return results;
  }

  /**
   * Runs inside every write transaction, after its writes and before its COMMIT: for rows that
   * sum up many writes of one transaction (a log's head), written once per transaction instead of
   * once per write. A listener that throws rolls the transaction back like a failing write.
   */
  onBeforeCommit(listener: () => void): void {
    this.beforeCommitListeners.push(listener);
  }

  private beforeCommit(): void {
    for (const listener of this.beforeCommitListeners) listener();
  }

  /** Runs after every rollback: in-memory caches of rows must forget what the rollback undid. */
  onRollback(listener: () => void): void {
    this.rollbackListeners.push(listener);
  }

  private rollback(): void {
    for (const listener of this.rollbackListeners) listener();
    try {
      this.db.exec('ROLLBACK');
    } catch {
      // The transaction may already be gone (SQLite rolls back on some errors by itself).
    }
  }

  /** Waits for queued writes, then closes the connection. */
  async close(): Promise<void> {
    if (this.closed) return;
    while (this.queue.length > 0 || this.flushScheduled) {
      await new Promise((resolve) => setImmediate(resolve));
    }
    this.endReading();
    this.closed = true;
    const background = this.background;
    this.background = null;
    this.failReadsAside('the store is closed');
    if (background) await endThread(background);
    this.statements.clear();
    this.arrayStatements.clear();
    this.db.close();
  }
}

/** The largest part of the database file a connection maps into memory: none (see the constructor). */
export const MMAP_BYTES = 0;

/** How long callers are asked to wait after the database was locked (Retry-After). */
export const LOCKED_RETRY_AFTER_MS = 5000;

/**
 * SQLITE_BUSY (5) and SQLITE_LOCKED (6) when a transaction begins or commits: another connection
 * (a backup, a second worker, an operator's sqlite3 shell) held the write lock for longer than the
 * busy timeout. Nothing of the transaction was written, so the caller may say so and retry: a typed,
 * retryable `unavailable` error, which the HTTP edge answers with 503 and Retry-After.
 */
function lockedOut(error: unknown): unknown {
  const errcode = (error as { errcode?: unknown } | null)?.errcode;
  if (typeof errcode !== 'number' || ((errcode & 0xff) !== 5 && (errcode & 0xff) !== 6)) return error;
  return new WabridgeError(
    'unavailable',
    'the database is locked by another connection; nothing was written, retry later',
    { retryAfterMs: LOCKED_RETRY_AFTER_MS, cause: error },
  );
}

interface BackgroundAnswer {
  id: number;
  rows?: unknown[];
  error?: string;
}

/**
 * A thread with its own connection. It runs PASSIVE checkpoints, which never block writers or
 * readers (the WAL restarts from its beginning once a checkpoint has caught up), and answers
 * `readAside` queries. Unreferenced while idle, so it never keeps a process alive by itself.
 */
export function startBackgroundThread(path: string, checkpointEveryMs: number): NodeWorker {
  // getBuiltinModule, not require: the thread inherits the process's flags, and under
  // --input-type=module this source would be read as an ES module, where require is undefined.
  const source = `
    const { DatabaseSync } = process.getBuiltinModule('node:sqlite');
    const { parentPort, workerData } = process.getBuiltinModule('node:worker_threads');
    const db = new DatabaseSync(workerData.path, { timeout: 1000 });
    const checkpoint = db.prepare('PRAGMA wal_checkpoint(PASSIVE)');
    const timer = setInterval(() => { try { checkpoint.get(); } catch {} }, workerData.checkpointEveryMs);
    const statements = new Map();
    parentPort.on('message', ({ id, sql, params, close }) => {
      if (close) { // CLOSE_THREAD (thread-end.ts): the store is closing
        clearInterval(timer);
        db.close();
        parentPort.close();
        return;
      }
      try {
        let statement = statements.get(sql);
        if (!statement) statements.set(sql, (statement = db.prepare(sql)));
        parentPort.postMessage({ id, rows: statement.all(...params) });
      } catch (error) {
        parentPort.postMessage({ id, error: error instanceof Error ? error.message : String(error) });
      }
    });
  `;
  const worker = new NodeWorker(source, {
    eval: true,
    workerData: { path, checkpointEveryMs },
    name: 'wabridge-ckpt',
    resourceLimits: BACKGROUND_THREAD_LIMITS,
  });
  worker.unref();
  return worker;
}

/**
 * Rewrites `:name` parameters as numbered ones (`?1`, `?2`…), so a call binds by position. Binding
 * an object by name costs node:sqlite a property walk and a name lookup per parameter: about 3 µs
 * for a ten-column INSERT, measured against 2 µs for the whole INSERT bound by position. String
 * literals, quoted identifiers and comments are left as they are.
 */
export function positional(sql: string): { text: string; names: string[] } {
  const names: string[] = [];
  const text = sql.replace(
    /'(?:[^']|'')*'|"(?:[^"]|"")*"|--[^\n]*|:([A-Za-z_][A-Za-z0-9_]*)/g,
    (match, name: string | undefined) => {
      if (name === undefined) return match;
      const seen = names.indexOf(name);
      return `?${(seen >= 0 ? seen : names.push(name) - 1) + 1}`;
    },
  );
  return { text, names };
}

/** The values for a statement's parameters; one the caller left out binds NULL, as by name. */
function bind(names: readonly string[], params: Params): SQLInputValue[] {
  const values: SQLInputValue[] = new Array(names.length);
  for (let i = 0; i < names.length; i++) {
    const name = names[i] as string;
    const value = params[name];
    values[i] = value === undefined && !(name in params) ? null : (value as SQLInputValue);
  }
  return values;
}
