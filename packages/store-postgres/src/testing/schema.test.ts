import pg from 'pg';
import { expect, it } from 'vitest';
import { freshSchema, testDatabaseUrl } from './index.ts';

it('gives each test a schema of its own and drops it', async () => {
  const { schema, drop } = await freshSchema();
  const client = new pg.Client({ connectionString: testDatabaseUrl });
  await client.connect();
  try {
    const count = async () =>
      (await client.query('SELECT count(*)::int AS n FROM pg_namespace WHERE nspname = $1', [schema])).rows[0]
        .n;
    expect(await count()).toBe(1);
    await drop();
    expect(await count()).toBe(0);
  } finally {
    await client.end();
  }
});
