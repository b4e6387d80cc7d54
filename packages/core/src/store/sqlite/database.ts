import { DatabaseSync, type SQLInputValue, type StatementSync } from 'node:sqlite';
import { WabridgeError } from '../../errors/index.ts';
import type { Logger } from '../../logger/index.ts';
import { MIGRATIONS } from './schema.ts';

type Params = Record<string, SQLInputValue>;

interface PendingWrite {
  run: () => unknown;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

/**
 * One SQLite connection with group commit.
 *
 * node:sqlite is synchronous, so a write and its fsync block the event loop. Writes are therefore
 * queued and flushed together: every write that was queued while the previous flush ran (or during
 * the current tick) shares one `BEGIN IMMEDIATE … COMMIT`, i.e. one fsync. Each write runs in its own
 * savepoint, so one failing write is rolled back and rejected alone. Promises resolve only after
 * COMMIT returns, which is what lets the webhook edge answer 200 only for durable data.
 *
 * Reads run directly: they can never observe a half-done batch, because a flush runs to completion
 * before any other JavaScript does.
 */
export class SqliteDatabase {
  readonly path: string;
  private readonly db: DatabaseSync;
  private readonly statements = new Map<string, StatementSync>();
  private queue: PendingWrite[] = [];
  private flushScheduled = false;
  private closed = false;
  /** Sizes of recent flushes, for metrics and the benchmark. */
  readonly batchSizes: number[] = [];

  constructor(path: string, options: { busyTimeoutMs?: number; logger: Logger }) {
    this.path = path;
    this.db = new DatabaseSync(path, { timeout: options.busyTimeoutMs ?? 10_000 });
    // WAL lets readers (other processes, the CLI) work while a writer commits; synchronous=FULL
    // fsyncs the WAL on every commit, so an acknowledged write survives power loss, not only a crash.
    this.db.exec('PRAGMA journal_mode = WAL');
    this.db.exec('PRAGMA synchronous = FULL');
    this.db.exec('PRAGMA foreign_keys = ON');
    // Without this, a checkpoint could run inside a hot commit; 4 MB keeps the WAL small enough.
    this.db.exec('PRAGMA wal_autocheckpoint = 1000');
  }

  migrate(): void {
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

  statement(sql: string): StatementSync {
    let statement = this.statements.get(sql);
    if (!statement) {
      statement = this.db.prepare(sql);
      this.statements.set(sql, statement);
    }
    return statement;
  }

  get<T>(sql: string, params: Params = {}): T | undefined {
    return this.statement(sql).get(params) as T | undefined;
  }

  all<T>(sql: string, params: Params = {}): T[] {
    return this.statement(sql).all(params) as T[];
  }

  run(sql: string, params: Params = {}): { changes: number; lastInsertRowid: number } {
    const result = this.statement(sql).run(params);
    return { changes: Number(result.changes), lastInsertRowid: Number(result.lastInsertRowid) };
  }

  /** Queues a write; it runs inside the next group-committed transaction. */
  write<T>(run: () => T): Promise<T> {
    if (this.closed) return Promise.reject(new WabridgeError('internal', 'the store is closed'));
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ run, resolve: resolve as (value: unknown) => void, reject });
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
    const results: { ok: boolean; value: unknown }[] = [];
    try {
      this.db.exec('BEGIN IMMEDIATE');
    } catch (error) {
      for (const item of batch) item.reject(error);
      return;
    }
    for (const item of batch) {
      this.db.exec('SAVEPOINT w');
      try {
        const value = item.run();
        this.db.exec('RELEASE w');
        results.push({ ok: true, value });
      } catch (error) {
        this.db.exec('ROLLBACK TO w');
        this.db.exec('RELEASE w');
        results.push({ ok: false, value: error });
      }
    }
    try {
      this.db.exec('COMMIT');
    } catch (error) {
      try {
        this.db.exec('ROLLBACK');
      } catch {
        // The transaction may already be gone; the writes are rejected either way.
      }
      for (const item of batch) item.reject(error);
      return;
    }
    this.batchSizes.push(batch.length);
    if (this.batchSizes.length > 1000) this.batchSizes.splice(0, this.batchSizes.length - 1000);
    batch.forEach((item, index) => {
      const result = results[index];
      if (result?.ok) item.resolve(result.value);
      else item.reject(result?.value);
    });
  }

  /** Waits for queued writes, then closes the connection. */
  async close(): Promise<void> {
    if (this.closed) return;
    while (this.queue.length > 0 || this.flushScheduled) {
      await new Promise((resolve) => setImmediate(resolve));
    }
    this.closed = true;
    this.statements.clear();
    this.db.close();
  }
}
