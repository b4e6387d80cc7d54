import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import type { Worker as NodeWorker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../logger/index.ts';
import { positional, SqliteDatabase, startBackgroundThread } from './database.ts';
import { endThread } from './thread-end.ts';
import { BACKGROUND_THREAD_LIMITS } from './thread-limits.ts';

describe('named parameters bound by position', () => {
  it('numbers each name once, in order of first use, and leaves quoted text and comments alone', () => {
    expect(
      positional(`SELECT ':not_a_param', "odd:column", x -- :comment
        FROM t WHERE a = :first AND b = :second OR c = :first AND d = 'it''s :quoted'`),
    ).toEqual({
      text: `SELECT ':not_a_param', "odd:column", x -- :comment
        FROM t WHERE a = ?1 AND b = ?2 OR c = ?1 AND d = 'it''s :quoted'`,
      names: ['first', 'second'],
    });
  });

  it('binds the same values as by name: repeated names, literals with colons, omitted names as NULL', async () => {
    const db = new SqliteDatabase(':memory:', { logger: silentLogger });
    db.migrate();
    await db.write(() =>
      db.run(
        `INSERT INTO meta (key, value) VALUES (:key || ':suffix', coalesce(:missing, :key || '/' || :value))`,
        { key: 'k', value: 'v' },
      ),
    );
    expect(
      db.get("SELECT key, value FROM meta WHERE key = :key AND ':key' <> :key", { key: 'k:suffix' }),
    ).toEqual({ key: 'k:suffix', value: 'k/v' });
    expect(() => db.run('SELECT :value', { value: undefined as never })).toThrow();
    await db.close();
  });
});

describe('reads aside, on the background thread', () => {
  const dir = () => mkdtempSync(join(tmpdir(), 'wabridge-aside-'));

  it('see every write committed before them, and reject a bad query with its reason', async () => {
    const path = join(dir(), 'aside.db');
    const warnings: string[] = [];
    const logger = { ...silentLogger, warn: (_: object, message?: string) => warnings.push(message ?? '') };
    const db = new SqliteDatabase(path, { logger });
    try {
      db.migrate();
      await db.write(() => db.run("INSERT INTO meta (key, value) VALUES ('k', :value)", { value: 'v1' }));
      expect(await db.readAside('SELECT value FROM meta WHERE key = :key', { key: 'k' })).toEqual([
        { value: 'v1' },
      ]);
      await db.write(() => db.run("UPDATE meta SET value = 'v2' WHERE key = 'k'"));
      expect(await db.readAside("SELECT value FROM meta WHERE key = 'k'")).toEqual([{ value: 'v2' }]);
      await expect(db.readAside('SELECT * FROM no_such_table')).rejects.toThrow(
        /background read failed: .*no_such_table/,
      );
    } finally {
      await db.close();
    }
    // Closing ends the thread on purpose: no warning.
    expect(warnings).toEqual([]);
  });

  it('keep a process that waits for one alive until it answers, and no longer', () => {
    // The answer arrives, and the thread, idle again, lets the process end: without the unref after
    // the last answer, it would run until spawnSync's timeout.
    const module = new URL('./database.ts', import.meta.url).href;
    const logger = new URL('../../logger/index.ts', import.meta.url).href;
    const script = `
      const { SqliteDatabase } = await import(${JSON.stringify(module)});
      const { silentLogger } = await import(${JSON.stringify(logger)});
      const db = new SqliteDatabase(process.argv[1], { logger: silentLogger });
      db.migrate();
      db.readAside('SELECT 42 AS answer').then((rows) => console.log(JSON.stringify(rows)));
    `;
    const child = spawnSync(
      process.execPath,
      ['--disable-warning=ExperimentalWarning', '--input-type=module', '-e', script, join(dir(), 'child.db')],
      { encoding: 'utf8', timeout: 20_000 },
    );
    expect(child.error).toBeUndefined();
    expect(child.stderr).toBe('');
    expect(child.stdout.trim()).toBe('[{"answer":42}]');
    expect(child.status).toBe(0);
  });

  it('run on the connection itself, with a warning, once the background thread has died', async () => {
    const warnings: string[] = [];
    const logger = { ...silentLogger, warn: (_: object, message?: string) => warnings.push(message ?? '') };
    const db = new SqliteDatabase(join(dir(), 'lost.db'), { logger });
    try {
      db.migrate();
      // What a crash of the thread looks like from here: it exits.
      await (db as unknown as { background: { terminate(): Promise<number> } }).background.terminate();
      await new Promise((resolve) => setImmediate(resolve));
      expect(warnings).toEqual([
        'SQLite background thread stopped: checkpoints and job counts now run on the store connection',
      ]);
      expect(await db.readAside('SELECT 1 AS one')).toEqual([{ one: 1 }]);
    } finally {
      await db.close();
    }
  });

  it('run on the connection itself where there is no background thread (in memory)', async () => {
    const db = new SqliteDatabase(':memory:', { logger: silentLogger });
    db.migrate();
    await db.write(() => db.run("INSERT INTO meta (key, value) VALUES ('k', 'v')"));
    expect(await db.readAside("SELECT value FROM meta WHERE key = 'k'")).toEqual([{ value: 'v' }]);
    await db.close();
  });
});

describe('reads of one turn of the loop in one read transaction (readsShareTurn)', () => {
  const dir = () => mkdtempSync(join(tmpdir(), 'wabridge-turn-'));
  const turnEnds = () => new Promise((resolve) => setImmediate(resolve));
  const count = (db: SqliteDatabase) => db.get<{ n: number }>('SELECT count(*) AS n FROM meta')?.n;

  it("see another connection's commit from the next turn, and this connection's writes at once", async () => {
    const path = join(dir(), 'shared.db');
    const db = new SqliteDatabase(path, { logger: silentLogger, readsShareTurn: true });
    db.migrate();
    const other = new DatabaseSync(path, { timeout: 5000 });
    const before = count(db);
    other.exec("INSERT INTO meta (key, value) VALUES ('other', '1')");
    // The same turn: the read transaction begun by the first read still holds its snapshot.
    expect(count(db)).toBe(before);
    await turnEnds();
    expect(count(db)).toBe((before ?? 0) + 1);
    // A write ends the turn's read transaction first, and a read after it sees the write.
    await db.write(() => db.run("INSERT INTO meta (key, value) VALUES ('own', '1')"));
    expect(count(db)).toBe((before ?? 0) + 2);
    // A statement run outside a write commits by itself, not with the turn's reads.
    db.run("INSERT INTO meta (key, value) VALUES ('direct', '1')");
    expect(other.prepare('SELECT count(*) AS n FROM meta').get()?.n).toBe((before ?? 0) + 3);
    other.close();
    await db.close();
  });

  it('are each their own transaction without the option, as the in-process store has them', async () => {
    const path = join(dir(), 'alone.db');
    const db = new SqliteDatabase(path, { logger: silentLogger });
    db.migrate();
    const other = new DatabaseSync(path, { timeout: 5000 });
    const before = count(db) ?? 0;
    other.exec("INSERT INTO meta (key, value) VALUES ('other', '1')");
    expect(count(db)).toBe(before + 1);
    other.close();
    await db.close();
  });
});

describe('writes that need no fsync', () => {
  const synchronous = (db: SqliteDatabase) =>
    db.get<{ synchronous: number }>('PRAGMA synchronous')?.synchronous;
  // PRAGMA synchronous: 1 is NORMAL (a WAL commit without fsync), 2 is FULL (fsync on every commit).

  it('commit without fsync only when every write of the transaction allows it, and FULL is back after', async () => {
    const db = new SqliteDatabase(join(mkdtempSync(join(tmpdir(), 'wabridge-sync-')), 'db.sqlite'), {
      logger: silentLogger,
    });
    db.migrate();
    const put = (key: string) => () => {
      db.run('INSERT INTO meta (key, value) VALUES (:key, :key)', { key });
      return synchronous(db);
    };
    // Queued in one turn: one transaction each time.
    expect(
      await Promise.all([db.write(put('a'), { durable: false }), db.write(put('b'), { durable: false })]),
    ).toEqual([1, 1]);
    expect(await Promise.all([db.write(put('c'), { durable: false }), db.write(put('d'))])).toEqual([2, 2]);
    expect(await db.write(put('e'))).toBe(2);
    expect(synchronous(db)).toBe(2);
    // A write that fails leaves the connection at FULL too, and the others of its batch commit.
    const failing = db.write(
      () => {
        throw new Error('no');
      },
      { durable: false },
    );
    const [, kept] = await Promise.allSettled([failing, db.write(put('f'), { durable: false })]);
    expect(kept).toEqual({ status: 'fulfilled', value: 1 });
    expect(synchronous(db)).toBe(2);
    expect(
      db.all('SELECT key FROM meta WHERE key IN (:a, :f) ORDER BY key', { a: 'a', f: 'f' }),
    ).toHaveLength(2);
    await db.close();
  });
});

describe('work before each commit', () => {
  it('runs once per transaction, after its writes and inside it; when it throws, nothing of the transaction is kept', async () => {
    const db = new SqliteDatabase(':memory:', { logger: silentLogger });
    db.migrate();
    let fail = false;
    const seen: string[] = [];
    db.onBeforeCommit(() => {
      // Sees every write of the transaction, and writes inside it.
      seen.push(
        db
          .all<{ key: string }>("SELECT key FROM meta WHERE key LIKE 'w%' ORDER BY key")
          .map((r) => r.key)
          .join(),
      );
      db.run(
        "INSERT INTO meta (key, value) VALUES ('commits', '1') ON CONFLICT (key) DO UPDATE SET value = value + 1",
      );
      if (fail) throw new Error('refused before commit');
    });
    const put = (key: string) => () => db.run('INSERT INTO meta (key, value) VALUES (:key, :key)', { key });
    // Queued in one turn: one transaction, one call.
    await Promise.all([db.write(put('w1')), db.write(put('w2'))]);
    expect(seen).toEqual(['w1,w2']);
    fail = true;
    const refused = await Promise.allSettled([db.write(put('w3')), db.write(put('w4'))]);
    expect(refused.map((r) => (r.status === 'rejected' ? String(r.reason) : 'kept'))).toEqual([
      'Error: refused before commit',
      'Error: refused before commit',
    ]);
    fail = false;
    await db.write(put('w5'));
    expect(db.all<{ key: string }>("SELECT key FROM meta WHERE key LIKE 'w%' ORDER BY key")).toEqual([
      { key: 'w1' },
      { key: 'w2' },
      { key: 'w5' },
    ]);
    // The refused transactions' own writes before commit were rolled back with them.
    expect(db.get<{ value: string }>("SELECT value FROM meta WHERE key = 'commits'")).toEqual({ value: '2' });
    await db.close();
  });
});

describe('the background thread', () => {
  it('closes its own connection and ends by itself when the store closes, not terminated', async () => {
    const warnings: string[] = [];
    const logger = { ...silentLogger, warn: (_: object, message?: string) => warnings.push(message ?? '') };
    const db = new SqliteDatabase(join(mkdtempSync(join(tmpdir(), 'wabridge-close-')), 'close.db'), {
      logger,
    });
    db.migrate();
    await db.write(() => db.run("INSERT INTO meta (key, value) VALUES ('k', 'v')"));
    expect(await db.readAside("SELECT value FROM meta WHERE key = 'k'")).toEqual([{ value: 'v' }]);
    const thread = (db as unknown as { background: NodeWorker }).background;
    const exitCode = new Promise<number>((resolve) => thread.once('exit', resolve));
    await db.close();
    // 0: its event loop ran empty once the connection was closed; a terminated thread exits with 1.
    expect(await exitCode).toBe(0);
    expect(warnings).toEqual([]);
  });

  it('runs with a bounded young generation', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'wabridge-limits-')), 'limits.db');
    new SqliteDatabase(path, { logger: silentLogger }).migrate();
    const thread = startBackgroundThread(path, 60_000);
    // What the thread's V8 heap was made with; without the option, V8's default for this machine.
    expect(thread.resourceLimits?.maxYoungGenerationSizeMb).toBe(
      BACKGROUND_THREAD_LIMITS.maxYoungGenerationSizeMb,
    );
    expect(await endThread(thread)).toBe(0);
  });
});

describe('the database file in memory', () => {
  it('is read into the bounded page cache, not mapped: mapped pages would stay resident as the file grows', async () => {
    const db = new SqliteDatabase(join(mkdtempSync(join(tmpdir(), 'wabridge-mmap-')), 'mmap.db'), {
      logger: silentLogger,
    });
    try {
      expect(db.get<{ mmap_size: number }>('PRAGMA mmap_size')).toEqual({ mmap_size: 0 });
      // SQLite's default page cache, 2 MB per connection: the bound on what the store keeps of the file.
      expect(db.get<{ cache_size: number }>('PRAGMA cache_size')).toEqual({ cache_size: -2000 });
    } finally {
      await db.close();
    }
  });
});
