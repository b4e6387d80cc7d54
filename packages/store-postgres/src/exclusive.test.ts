import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EXCLUSIVE_LOCK_CLASS } from './exclusive.ts';
import { openPostgresStore, type PostgresStore } from './store.ts';
import { testDatabaseUrl } from './testing/index.ts';
import { openTestStore } from './testing/open.ts';

// Two stores on one schema, each with its own pool: two worker processes on one database.
let a: PostgresStore;
let b: PostgresStore;

beforeEach(async () => {
  a = await openTestStore();
  b = await openPostgresStore({ url: testDatabaseUrl, schema: a.db.schema ?? undefined, poolSize: 2 });
});

afterEach(async () => {
  await b.close();
  await a.close();
});

/** Resolves when `release` is called: work that runs as long as the test wants, or a signal. */
function held() {
  let release!: () => void;
  const done = new Promise<void>((resolve) => {
    release = resolve;
  });
  return { done, release };
}

describe('runExclusive (a session advisory lock)', () => {
  it('runs work of one name in one process at a time; the other is refused at once', async () => {
    const work = held();
    const started = held();
    const running = a.runExclusive('archive-upkeep', async () => {
      started.release();
      await work.done;
      return 'purged';
    });
    await started.done;
    expect(await b.runExclusive('archive-upkeep', async () => 'overlapped')).toEqual({ ran: false });
    // Other names are free.
    expect(await b.runExclusive('connector-maintenance', async () => 1)).toEqual({ ran: true, value: 1 });
    work.release();
    expect(await running).toEqual({ ran: true, value: 'purged' });
    // Released on finish, also when the work throws.
    await expect(
      b.runExclusive('archive-upkeep', async () => {
        throw new Error('purge failed');
      }),
    ).rejects.toThrow('purge failed');
    expect(await a.runExclusive('archive-upkeep', async () => 'again')).toEqual({
      ran: true,
      value: 'again',
    });
  });

  it('is released by Postgres when the holding process dies (SIGKILL)', async () => {
    const script = fileURLToPath(new URL('../test/hold-lock.ts', import.meta.url));
    const child = spawn(process.execPath, [script, testDatabaseUrl, a.db.schema ?? '', 'archive-upkeep'], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const exited = once(child, 'exit');
    try {
      const died = exited.then(([code]) => {
        throw new Error(`the holding process exited (${code}) before taking the lock`);
      });
      const [line] = (await Promise.race([once(child.stdout, 'data'), died])) as [Buffer];
      died.catch(() => {});
      expect(line.toString()).toContain('held');
      expect(await a.runExclusive('archive-upkeep', async () => 'overlapped')).toEqual({ ran: false });
    } finally {
      child.kill('SIGKILL');
    }
    await exited;
    // The server notices the closed connection and drops the session's locks: wait for that.
    let outcome = await a.runExclusive('archive-upkeep', async () => 'taken over');
    for (let i = 0; i < 200 && !outcome.ran; i++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      outcome = await a.runExclusive('archive-upkeep', async () => 'taken over');
    }
    expect(outcome).toEqual({ ran: true, value: 'taken over' });
  });

  it('tells the work when the lock goes with its connection, so it can stop before another process starts it', async () => {
    const started = held();
    const running = a.runExclusive('archive-upkeep', async (lost) => {
      started.release();
      if (!lost.aborted) await once(lost, 'abort');
      return String(lost.reason);
    });
    await started.done;
    // The server ends the holding session (a restart, a network cut, an operator's terminate):
    // only this test's lock, found by its class and its schema's key.
    const ended = await b.db.all<{ ended: boolean }>(
      `SELECT pg_terminate_backend(pid) AS ended FROM pg_locks
       WHERE locktype = 'advisory' AND granted AND classid = $1
         AND objid::bigint = (hashtext($2 || ':' || $3)::bigint + 4294967296) % 4294967296`,
      [EXCLUSIVE_LOCK_CLASS, a.db.schema ?? '', 'archive-upkeep'],
    );
    expect(ended).toEqual([{ ended: true }]);
    expect(await running).toEqual({ ran: true, value: expect.stringContaining('lost with its connection') });
    expect(await b.runExclusive('archive-upkeep', async () => 'next')).toEqual({ ran: true, value: 'next' });
  });
});
