import { afterEach, beforeEach, expect, it } from 'vitest';
import { PgDatabase } from './database.ts';
import { runMigrations } from './migrate.ts';
import { PG_MIGRATIONS } from './schema/index.ts';
import { freshSchema, testDatabaseUrl } from './testing/index.ts';

let schema: string;
let drop: () => Promise<void>;
const opened: PgDatabase[] = [];

const database = () => {
  const db = new PgDatabase({ url: testDatabaseUrl, schema, poolSize: 2 });
  opened.push(db);
  return db;
};

beforeEach(async () => {
  ({ schema, drop } = await freshSchema('wb_migrate'));
});

afterEach(async () => {
  await Promise.all(opened.splice(0).map((db) => db.close()));
  await drop();
});

const allVersions = PG_MIGRATIONS.map((m) => m.version).sort((a, b) => a - b);

it('migrates once when several processes start together, and not again', async () => {
  const runs = await Promise.all([1, 2, 3].map(() => runMigrations(database(), PG_MIGRATIONS)));
  // One of them applied everything; the others waited on the lock and found nothing left.
  expect(runs.map((r) => r.length).sort()).toEqual([0, 0, allVersions.length]);
  expect(runs.find((r) => r.length > 0)).toEqual(allVersions);
  const db = database();
  expect(
    (await db.all<{ version: number }>('SELECT version FROM schema_migrations ORDER BY version')).map(
      (r) => r.version,
    ),
  ).toEqual(allVersions);
  expect(await runMigrations(db, PG_MIGRATIONS)).toEqual([]);
});

it("puts the tables in the store's schema, found through each connection's search_path", async () => {
  const db = database();
  await runMigrations(db, PG_MIGRATIONS);
  const where = await db.get<{ schemaname: string }>(
    "SELECT schemaname FROM pg_tables WHERE tablename = 'workspaces' AND schemaname = $1",
    [schema],
  );
  expect(where?.schemaname).toBe(schema);
  // Every connection of the pool sees it, not only the one that migrated.
  const counts = await Promise.all(
    [1, 2, 3, 4].map(() => db.get<{ n: number }>('SELECT count(*) AS n FROM workspaces')),
  );
  expect(counts).toEqual([{ n: 0 }, { n: 0 }, { n: 0 }, { n: 0 }]);
});

it('applies a failing run not at all: the steps before the failure are rolled back with it', async () => {
  const db = database();
  const fine = { version: 1, name: 'fine', sql: 'CREATE TABLE fine (id INTEGER)' };
  const broken = { version: 2, name: 'broken', sql: 'CREATE TABLE broken (id NOT_A_TYPE)' };
  await expect(runMigrations(db, [fine, broken])).rejects.toThrow(/not_a_type/);
  expect(await db.get("SELECT to_regclass('fine') AS t")).toEqual({ t: null });
  // Fixed, it runs from the start.
  expect(await runMigrations(db, [fine, { ...broken, sql: 'SELECT 1' }])).toEqual([1, 2]);
});

it('refuses two migrations of one version and a schema name that would need quoting', async () => {
  await expect(
    runMigrations(database(), [
      { version: 1, name: 'a', sql: 'SELECT 1' },
      { version: 1, name: 'b', sql: 'SELECT 1' },
    ]),
  ).rejects.toThrow(/two Postgres migrations have version 1/);
  expect(() => new PgDatabase({ url: testDatabaseUrl, schema: 'x; DROP TABLE y' })).toThrow(/schema name/);
});
