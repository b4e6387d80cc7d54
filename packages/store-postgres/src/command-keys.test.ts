import { afterEach, beforeEach, expect, it } from 'vitest';
import { openPostgresStore, type PostgresStore } from './store.ts';
import { testDatabaseUrl } from './testing/index.ts';
import { openTestStore } from './testing/open.ts';

// Command keys and expiring keys on Postgres, shared by every gateway on the database. The
// conformance part that covers them (ingest) runs once ingest is built; until then these mirror
// its cases and add what several processes change. The clock is injected: no waiting.

let now = 1_000_000;
let store: PostgresStore;
const others: PostgresStore[] = [];

beforeEach(async () => {
  now = 1_000_000;
  store = await openTestStore({ now: () => now });
});

afterEach(async () => {
  await Promise.all(others.splice(0).map((s) => s.close()));
  await store.close();
});

/** Another gateway process on the same database and schema, on the same clock. */
async function gateway(): Promise<PostgresStore> {
  const other = await openPostgresStore({
    url: testDatabaseUrl,
    schema: store.db.schema ?? '',
    poolSize: 2,
    now: () => now,
  });
  others.push(other);
  return other;
}

it('claims a command key once per workspace and source, whichever gateway asks', async () => {
  const other = await gateway();
  const claims = await Promise.all(
    [store, other, store, other].map((on) => on.claimCommandKey('ws', 'slack', 'cmd-1')),
  );
  expect(claims.filter(Boolean)).toHaveLength(1);
  expect(await store.claimCommandKey('ws2', 'slack', 'cmd-1')).toBe(true);
  expect(await store.claimCommandKey('ws', 'teams', 'cmd-1')).toBe(true);
});

it('claims an expiring key once within its time, again after it, and never touches command keys', async () => {
  const other = await gateway();
  expect(await store.claimCommandKey('ws', 'hubspot', 'cmd-1')).toBe(true);
  const first = await Promise.all(
    [store, other, store].map((on) => on.claimExpiringKey('ws', 'replay:hubspot', 'sig-1', 1000)),
  );
  expect(first.filter(Boolean)).toHaveLength(1);
  now += 1000;
  expect(await other.claimExpiringKey('ws', 'replay:hubspot', 'sig-1', 1000)).toBe(true);
  now += 999;
  expect(await store.claimExpiringKey('ws', 'replay:hubspot', 'sig-1', 1000)).toBe(false);
  // Expired again: of concurrent claimers, still one wins.
  now += 5000;
  const again = await Promise.all(
    [store, other, store, other].map((on) => on.claimExpiringKey('ws', 'replay:hubspot', 'sig-1', 1000)),
  );
  expect(again.filter(Boolean)).toHaveLength(1);
  expect(await store.claimCommandKey('ws', 'hubspot', 'cmd-1')).toBe(false);
  expect(await store.claimExpiringKey('other', 'replay:hubspot', 'sig-1', 1000)).toBe(true);
});

it('routes a kept unrouted change once', async () => {
  await store.db.run(
    `INSERT INTO unrouted_events (id, phone_number_id, field, payload, received_at)
     VALUES ('unr_1', 'pn', 'messages', '\\x7b7d', 1)`,
  );
  const other = await gateway();
  const routed = await Promise.all([store, other].map((on) => on.markUnroutedRouted('unr_1', 'acme')));
  expect(routed.filter(Boolean)).toHaveLength(1);
  expect(await store.markUnroutedRouted('unr_1', 'acme')).toBe(false);
  expect(await store.markUnroutedRouted('unr_nope', 'acme')).toBe(false);
  expect(await store.countUnrouted()).toBe(0);
  expect(await store.db.get("SELECT routed_to, routed_at FROM unrouted_events WHERE id = 'unr_1'")).toEqual({
    routed_to: 'acme',
    routed_at: now,
  });
});
