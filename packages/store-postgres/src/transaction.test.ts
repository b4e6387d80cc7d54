import pg from 'pg';
import { afterEach, expect, it } from 'vitest';
import { pgErrorCode } from './database.ts';
import { ARCHIVE_HEAD_MOVED } from './schema/archive-append-locked.ts';
import type { PostgresStore } from './store.ts';
import { openTestStore } from './testing/open.ts';

// The store's transactions (database.ts, PgDatabase.transaction): BEGIN written with the first
// statement, `allThenCommit` writing COMMIT behind the last one, and a COMMIT that rolled back
// reported as the failure it is.

let store: PostgresStore | undefined;

afterEach(async () => {
  await store?.close();
  store = undefined;
});

async function openWithTable(): Promise<PostgresStore> {
  const s = await openTestStore({ poolSize: 1 });
  await s.db.run('CREATE TABLE t (id INTEGER PRIMARY KEY)');
  return s;
}

const ids = async (s: PostgresStore) =>
  (await s.db.all<{ id: number }>('SELECT id FROM t ORDER BY id')).map((r) => r.id);

it('fails a transaction whose COMMIT the server answered with ROLLBACK', async () => {
  store = await openWithTable();
  const s = store;
  // A statement failed and the code went on: the server aborted the transaction, and COMMIT then
  // answers ROLLBACK (not an error). Resolving would say the insert was stored.
  const done = s.db.transaction(async (tx) => {
    await tx.run('INSERT INTO t VALUES ($1)', [1]);
    await tx.run('INSERT INTO t VALUES ($1)', [1]).catch(() => {});
    return 'stored';
  });
  await expect(done).rejects.toThrow(/ROLLBACK/);
  expect(await ids(s)).toEqual([]);
});

it('commits with the last statement sent by allThenCommit, answering its rows', async () => {
  store = await openWithTable();
  const s = store;
  const rows = await s.db.transaction(async (tx) => {
    await tx.run('INSERT INTO t VALUES ($1)', [1]);
    return tx.allThenCommit<{ id: number }>('INSERT INTO t VALUES ($1) RETURNING id', [2]);
  });
  expect(rows).toEqual([{ id: 2 }]);
  expect(await ids(s)).toEqual([1, 2]);
  // The connection is back in the pool, usable as before.
  await s.db.transaction((tx) => tx.run('INSERT INTO t VALUES ($1)', [3]));
  expect(await ids(s)).toEqual([1, 2, 3]);
});

it('rolls the whole transaction back when the statement sent with COMMIT fails', async () => {
  store = await openWithTable();
  const s = store;
  const done = s.db.transaction(async (tx) => {
    await tx.run('INSERT INTO t VALUES ($1)', [1]);
    return tx.allThenCommit('INSERT INTO t VALUES ($1), ($1)', [2]);
  });
  await expect(done).rejects.toMatchObject({ code: '23505' });
  expect(await ids(s)).toEqual([]);
});

it('refuses a statement after COMMIT was sent', async () => {
  store = await openWithTable();
  const s = store;
  const done = s.db.transaction(async (tx) => {
    await tx.allThenCommit('INSERT INTO t VALUES ($1)', [1]);
    await tx.run('INSERT INTO t VALUES ($1)', [2]);
  });
  await expect(done).rejects.toThrow(/after the transaction sent its COMMIT/);
  // What ran before COMMIT was committed; the refused statement never reached the server.
  expect(await ids(s)).toEqual([1]);
});

it('writes BEGIN and the first statement before either is answered, COMMIT with the last', async () => {
  store = await openWithTable();
  const s = store;
  const client = await s.db.transaction(async (tx) => tx.client);
  // What the connection did, in order: statements written, and the server's ReadyForQuery (one
  // per statement answered).
  const seen: string[] = [];
  const onReady = () => seen.push('answered');
  client.connection.on('readyForQuery', onReady);
  const submit = pg.Query.prototype.submit;
  pg.Query.prototype.submit = function (this: pg.Query & { text: string }, connection) {
    seen.push(this.text.split(' ')[0] as string);
    return submit.call(this, connection);
  };
  try {
    await s.db.transaction(async (tx) => {
      await tx.run('INSERT INTO t VALUES ($1)', [1]);
      await tx.allThenCommit('INSERT INTO t VALUES ($1)', [2]);
    });
  } finally {
    pg.Query.prototype.submit = submit;
    client.connection.off('readyForQuery', onReady);
  }
  // Two round trips: BEGIN and the first insert, then the last insert and COMMIT.
  expect(seen).toEqual([
    'BEGIN',
    'INSERT',
    'answered',
    'answered',
    'INSERT',
    'COMMIT',
    'answered',
    'answered',
  ]);
  expect(await ids(s)).toEqual([1, 2]);
});

it('writes BEGIN with the first statement, and the last with COMMIT, each pair in one write to the socket', async () => {
  store = await openWithTable();
  const s = store;
  const client = await s.db.transaction(async (tx) => tx.client);
  // The socket's writes to the kernel: one per _write, or one per _writev of what was corked.
  const socket = client.connection.stream as unknown as {
    _write: (...args: unknown[]) => unknown;
    _writev: (...args: unknown[]) => unknown;
  };
  const { _write, _writev } = socket;
  let writes = 0;
  socket._write = function (this: unknown, ...args: unknown[]) {
    writes++;
    return _write.apply(this, args);
  };
  socket._writev = function (this: unknown, ...args: unknown[]) {
    writes++;
    return _writev.apply(this, args);
  };
  try {
    await s.db.transaction(async (tx) => {
      await tx.run('INSERT INTO t VALUES ($1)', [1]);
      await tx.allThenCommit('INSERT INTO t VALUES ($1)', [2]);
    });
  } finally {
    socket._write = _write;
    socket._writev = _writev;
  }
  expect(writes).toBe(2);
  expect(await ids(s)).toEqual([1, 2]);
});

it('archive_append_locked raises, writing nothing, when the head is not at the state given', async () => {
  store = await openTestStore({ poolSize: 1 });
  const s = store;
  await s.db.run(`INSERT INTO archive_log_heads (log_id, size) VALUES ('ws_a', 0)`);
  const error = await s.db
    .transaction((tx) =>
      tx.allThenCommit(
        `SELECT * FROM archive_append_locked($1, $2, NULL, NULL, 'a1', $3::bigint[], $4::text[], $5::text[],
           $6::bytea[], $7::bigint[], '{}', '{}', '{}', '{}', '{}')`,
        // Built on size 5; the head is at 0.
        ['ws_a', 5, [5], ['admin'], ['audit:1'], [Buffer.from('{}')], [1]],
      ),
    )
    .catch((e: unknown) => e);
  expect(pgErrorCode(error)).toBe(ARCHIVE_HEAD_MOVED);
  expect(await s.db.get('SELECT size, append_id FROM archive_log_heads')).toEqual({
    size: 0,
    append_id: null,
  });
  expect(await s.db.get('SELECT count(*)::int AS n FROM archive_records')).toEqual({ n: 0 });
});
