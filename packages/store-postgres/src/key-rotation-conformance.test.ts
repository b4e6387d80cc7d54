import { describeKeyRotationConformance } from '@wabridge/core/testing';
import pg from 'pg';
import { openPostgresStore } from './store.ts';
import { freshSchema, testDatabaseUrl } from './testing/index.ts';

// Core's key rotation part (`wabridge keys rotate`: re-wrap, rotate, re-seal) on Postgres: one
// schema, opened again with each set of master keys; its rows read by plain SQL on that schema.
describeKeyRotationConformance('postgres', async () => {
  const { schema, drop } = await freshSchema('wb_keys');
  const client = new pg.Client({ connectionString: testDatabaseUrl });
  await client.connect();
  await client.query(`SET search_path TO "${schema}"`);
  return {
    open: (masterKeys) => openPostgresStore({ url: testDatabaseUrl, schema, poolSize: 2, masterKeys }),
    sql: async (statement, params = []) => {
      let n = 0;
      return (
        await client.query(
          statement.replace(/\?/g, () => `$${++n}`),
          params as unknown[],
        )
      ).rows;
    },
    close: async () => {
      await client.end();
      await drop();
    },
  };
});
