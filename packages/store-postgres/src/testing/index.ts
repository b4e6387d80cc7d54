import pg from 'pg';

/**
 * Where the tests find Postgres: DATABASE_URL when set, else the local server these machines and
 * CI run (127.0.0.1:5432, trust auth, database `test`).
 */
export const testDatabaseUrl =
  process.env.WABRIDGE_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/**
 * A schema of its own for one test (or one suite), dropped by the returned function: tests run in
 * parallel files and must never see each other's rows. On `url`'s server (benchmarks take one).
 */
export async function freshSchema(
  prefix = 'wb_test',
  url = testDatabaseUrl,
): Promise<{ schema: string; drop: () => Promise<void> }> {
  const schema = `${prefix}_${process.pid}_${Math.random().toString(36).slice(2, 10)}`;
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(`CREATE SCHEMA "${schema}"`);
  } finally {
    await client.end();
  }
  return {
    schema,
    drop: async () => {
      const c = new pg.Client({ connectionString: url });
      await c.connect();
      try {
        await c.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      } finally {
        await c.end();
      }
    },
  };
}
