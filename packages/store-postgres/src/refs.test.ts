import { afterEach, beforeEach, expect, it } from 'vitest';
import { FIND_REF_BY_EXTERNAL_ID, GET_REF, GET_REFS } from './refs.ts';
import type { PostgresStore } from './store.ts';
import { openTestStore } from './testing/open.ts';
import { statementsSent } from './testing/statements.ts';

// A ref lookup reads one index entry however many refs of its kind there are, with or without the
// table's statistics. On version 4's indexes, an unanalyzed table (a new deployment, or one grown
// since autovacuum last analyzed it) had getRef walk every ref of its kind on the other index
// sharing its first three columns: 2,544 buffers a lookup at 5,000 refs in bench:e2e.

let store: PostgresStore;
const REFS = 3000;

beforeEach(async () => {
  store = await openTestStore();
  // Refs of one workspace, connector and kind, as a ledger's events pile up; never analyzed.
  await store.db.run(
    `INSERT INTO external_refs (workspace_id, connector_id, kind, entity_id, external_id, data, created_at)
     SELECT 'ws', 'ledger', 'event', 'msg_' || i, 'eff-' || i, '{}'::jsonb, 0 FROM generate_series(1, $1::int) i`,
    [REFS],
  );
});

afterEach(async () => {
  await store.close();
});

/** Buffers the statement touches (shared hits and reads), from EXPLAIN (ANALYZE, BUFFERS). */
async function buffers(sql: string, params: readonly string[]): Promise<number> {
  // EXPLAIN takes no parameters: quoted literals, as a custom plan sees them.
  const literal = sql.replace(/\$(\d)/g, (_, n: string) => `'${params[Number(n) - 1]}'`);
  const [row] = await store.db.all<{ 'QUERY PLAN': Array<{ Plan: Record<string, number> }> }>(
    `EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) ${literal}`,
  );
  const plan = row?.['QUERY PLAN'][0]?.Plan ?? {};
  return (plan['Shared Hit Blocks'] ?? 0) + (plan['Shared Read Blocks'] ?? 0);
}

it('finds a ref by its entity, and by its external id, in a few buffers on an unanalyzed table', async () => {
  expect(await store.getRef('ws', 'ledger', 'event', 'msg_2999')).toMatchObject({ externalId: 'eff-2999' });
  expect(await store.findRefByExternalId('ws', 'ledger', 'event', 'eff-17')).toMatchObject({
    entityId: 'msg_17',
  });
  expect(await buffers(GET_REF, ['ws', 'ledger', 'event', 'msg_2999'])).toBeLessThanOrEqual(8);
  expect(await buffers(FIND_REF_BY_EXTERNAL_ID, ['ws', 'ledger', 'event', 'eff-17'])).toBeLessThanOrEqual(8);
});

it('still does once the table is analyzed', async () => {
  await store.db.run('ANALYZE external_refs');
  expect(await buffers(GET_REF, ['ws', 'ledger', 'event', 'msg_2999'])).toBeLessThanOrEqual(8);
  expect(await buffers(FIND_REF_BY_EXTERNAL_ID, ['ws', 'ledger', 'event', 'eff-17'])).toBeLessThanOrEqual(8);
});

it('keeps one ref per (workspace, connector, kind, entity): putRef replaces it', async () => {
  await store.putRef('ws', {
    connectorId: 'ledger',
    kind: 'event',
    entityId: 'msg_1',
    externalId: 'eff-new',
    data: {},
  });
  expect(await store.getRef('ws', 'ledger', 'event', 'msg_1')).toMatchObject({ externalId: 'eff-new' });
  expect(await store.db.get("SELECT count(*) AS n FROM external_refs WHERE entity_id = 'msg_1'")).toEqual({
    n: 1,
  });
});

it('answers lookups asked for together in one statement, each with its own ref or null', async () => {
  const keys = ['msg_5', 'msg_missing', 'msg_2999', 'msg_5'];
  const { result, sent } = await statementsSent(() =>
    Promise.all(keys.map((entity) => store.getRef('ws', 'ledger', 'event', entity))),
  );
  expect(sent).toHaveLength(1);
  expect(result.map((ref) => ref?.externalId ?? null)).toEqual(['eff-5', null, 'eff-2999', 'eff-5']);
  // Another workspace's ref of the same entity is not found.
  expect(
    await Promise.all([
      store.getRef('other', 'ledger', 'event', 'msg_5'),
      store.getRef('ws', 'ledger', 'event', 'msg_6'),
    ]),
  ).toMatchObject([null, { externalId: 'eff-6' }]);
});

it('reads one index entry per key when batched, on an unanalyzed table', async () => {
  // EXPLAIN takes no parameters: array literals, as a custom plan sees them.
  const keys = Array.from({ length: 20 }, (_, i) => `msg_${i * 100 + 1}`);
  const array = (values: string[]) => `'{${values.join(',')}}'`;
  const params = [
    array(keys.map(() => 'ws')),
    array(keys.map(() => 'ledger')),
    array(keys.map(() => 'event')),
    array(keys),
  ];
  const sql = GET_REFS.replace(/\$(\d)/g, (_, n: string) => params[Number(n) - 1] as string);
  const [row] = await store.db.all<{ 'QUERY PLAN': Array<{ Plan: Record<string, number> }> }>(
    `EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) ${sql}`,
  );
  const plan = row?.['QUERY PLAN'][0]?.Plan ?? {};
  expect(plan['Actual Rows']).toBe(20);
  // A few buffers per key (the index's root and leaf, the heap page), not the table's.
  expect((plan['Shared Hit Blocks'] ?? 0) + (plan['Shared Read Blocks'] ?? 0)).toBeLessThanOrEqual(20 * 4);
});
