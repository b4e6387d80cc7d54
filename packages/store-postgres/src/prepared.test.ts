import { afterEach, expect, it } from 'vitest';
import { PREPARED_PER_CONNECTION } from './database.ts';
import type { PostgresStore } from './store.ts';
import { openTestStore } from './testing/open.ts';

// The pool's connections send parameterised statements as named ones (database.ts,
// prepareStatements): the server parses each text once per connection and reuses it.

let store: PostgresStore | undefined;

afterEach(async () => {
  await store?.close();
  store = undefined;
});

/** The connection's prepared statements whose text contains `like`, with how often each ran. */
async function prepared(s: PostgresStore, like: string) {
  return s.db.all<{ name: string; runs: number }>(
    `SELECT name, (generic_plans + custom_plans)::int AS runs FROM pg_prepared_statements
     WHERE statement LIKE '%' || $1 || '%' AND statement NOT LIKE '%pg_prepared_statements%'`,
    [like],
  );
}

it('parses a statement once per connection and runs it again from there', async () => {
  store = await openTestStore({ poolSize: 1 });
  for (let i = 0; i < 10; i++) expect(await store.getRef('ws', 'ledger', 'event', `msg_${i}`)).toBeNull();
  expect(await prepared(store, 'FROM external_refs')).toEqual([{ name: expect.any(String), runs: 10 }]);
  // Statements without parameters go as before (simple protocol: BEGIN, COMMIT, DDL).
  await store.db.run('SELECT 1');
  expect(await prepared(store, 'SELECT 1')).toEqual([]);
});

it('sends every statement unnamed with preparedStatements: false', async () => {
  store = await openTestStore({ poolSize: 1, preparedStatements: false });
  for (let i = 0; i < 3; i++) await store.getRef('ws', 'ledger', 'event', `msg_${i}`);
  expect(await prepared(store, 'FROM external_refs')).toEqual([]);
});

it('prepares a statement again after a migration changed the columns it reads', async () => {
  store = await openTestStore({ poolSize: 1 });
  await store.db.run('CREATE TABLE widened (id INTEGER)');
  await store.db.run('INSERT INTO widened VALUES (1)');
  const read = () => store?.db.get('SELECT * FROM widened WHERE id = $1', [1]);
  expect(await read()).toEqual({ id: 1 });
  await store.db.run('ALTER TABLE widened ADD COLUMN note TEXT');
  // The server refuses the cached plan once (its row type changed); the next call prepares anew.
  await expect(read()).rejects.toMatchObject({ code: '0A000' });
  expect(await read()).toEqual({ id: 1, note: null });
});

it('keeps at most PREPARED_PER_CONNECTION statements on a connection; the rest go unnamed', async () => {
  store = await openTestStore({ poolSize: 1 });
  for (let k = 0; k < PREPARED_PER_CONNECTION + 5; k++) {
    expect(await store.db.get(`SELECT $1::int + ${k} AS n`, [1])).toEqual({ n: 1 + k });
  }
  // Counted without parameters, so this statement is not one of them.
  expect(await store.db.get('SELECT count(*)::int AS n FROM pg_prepared_statements')).toEqual({
    n: PREPARED_PER_CONNECTION,
  });
});
