import {
  ARCHIVE_CONTENT_PURPOSE,
  contentHash,
  leafHash,
  MerkleLog,
  merkleTreeHash,
  parseOpenedContent,
  toHex,
} from '@wabridge/core';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { PgLogNodeStore } from './archive.ts';
import { openPostgresStore, type PostgresStore } from './store.ts';
import { testDatabaseUrl } from './testing/index.ts';
import { openTestStore } from './testing/open.ts';

// The archive appender on Postgres: gapless seqs and a log whose stored tree matches its records,
// with several processes (pools) appending to one log, rollbacks, and a log begun again.

let store: PostgresStore;
const others: PostgresStore[] = [];

beforeEach(async () => {
  store = await openTestStore();
  await store.createWorkspace({ id: 'acme', name: 'Acme' });
});

afterEach(async () => {
  await Promise.all(others.splice(0).map((s) => s.close()));
  await store.close();
});

/** Another process on the same database and schema. */
async function another(): Promise<PostgresStore> {
  const other = await openPostgresStore({ url: testDatabaseUrl, schema: store.db.schema ?? '', poolSize: 2 });
  others.push(other);
  return other;
}

/** Appends `n` records in one transaction of `on`; answers their seqs. */
function append(on: PostgresStore, n: number, tag: string, ws = 'acme'): Promise<number[]> {
  return on.db.transaction(async (tx) => {
    const seqs: number[] = [];
    for (let i = 0; i < n; i++) {
      const content = await on.archive.sealContent(tx, ws, { text: `${tag}-${i}` });
      seqs.push(await on.archive.append(tx, ws, 'admin', `${tag}-${i}`, { tag, i }, 1000 + i, content));
    }
    return seqs;
  });
}

/** The log's stored root equals the root of its records' leaves, and its seqs are 0…n-1. */
async function expectConsistentLog(ws = 'acme'): Promise<number> {
  const rows = await store.db.all<{ seq: number; record: Buffer }>(
    'SELECT seq, record FROM archive_records WHERE workspace_id = $1 ORDER BY seq',
    [ws],
  );
  expect(rows.map((r) => r.seq)).toEqual(rows.map((_, i) => i));
  const log = await MerkleLog.open(new PgLogNodeStore(store.db, ws));
  expect(log.size).toBe(rows.length);
  expect(toHex(await log.root())).toBe(toHex(merkleTreeHash(rows.map((r) => leafHash(r.record)))));
  return rows.length;
}

it('appends records with their sealed content, committed to by a salted hash', async () => {
  expect(await append(store, 3, 'a')).toEqual([0, 1, 2]);
  expect(await append(store, 2, 'b')).toEqual([3, 4]);
  expect(await expectConsistentLog()).toBe(5);
  const row = await store.db.get<{ record: Buffer; sealed: Buffer }>(
    `SELECT r.record, c.sealed FROM archive_records r JOIN archive_content c USING (workspace_id, seq)
     WHERE r.workspace_id = 'acme' AND r.seq = 3`,
  );
  const record = JSON.parse(row?.record.toString('utf8') ?? '{}');
  expect(record).toMatchObject({ v: 2, seq: 3, kind: 'admin', entity_id: 'b-0', data: { tag: 'b', i: 0 } });
  const opened = await store.keyring.open(
    store.db,
    'acme',
    ARCHIVE_CONTENT_PURPOSE,
    row?.sealed ?? Buffer.alloc(0),
  );
  expect(parseOpenedContent(opened)).toEqual({ text: 'b-0' });
  expect(record.content_hash).toBe(contentHash(opened));
});

it('keeps one gapless log when several processes append to it at once', async () => {
  const [a, b] = [await another(), await another()];
  await Promise.all(
    [store, a, b].map(async (on, p) => {
      for (let round = 0; round < 6; round++) await append(on, 2, `p${p}r${round}`);
    }),
  );
  expect(await expectConsistentLog()).toBe(36);
});

it('forgets what a rolled back transaction appended', async () => {
  await append(store, 2, 'a');
  await expect(
    store.db.transaction(async (tx) => {
      await store.archive.append(tx, 'acme', 'admin', 'lost', {}, 1, null);
      throw new Error('rolled back');
    }),
  ).rejects.toThrow('rolled back');
  expect(await append(store, 1, 'b')).toEqual([2]);
  expect(await expectConsistentLog()).toBe(3);
});

it('starts a log again after its workspace was deleted elsewhere, whatever it had cached', async () => {
  await append(store, 3, 'old');
  const other = await another();
  await other.deleteWorkspace('acme');
  await other.createWorkspace({ id: 'acme', name: 'Acme again' });
  // The new log reaches the size this process cached for the old one, with other leaves.
  expect(await append(other, 3, 'new')).toEqual([0, 1, 2]);
  expect(await append(store, 1, 'next')).toEqual([3]);
  expect(await expectConsistentLog()).toBe(4);
});

it('appends a batch in one call as it would one by one, with and without content', async () => {
  await append(store, 3, 'before');
  const seqs = await store.db.transaction(async (tx) => {
    const entries = [];
    for (let i = 0; i < 37; i++) {
      entries.push({
        kind: 'status' as const,
        entityId: `batch-${i}`,
        data: { i },
        at: 2000 + i,
        content: i % 3 === 0 ? await store.archive.sealContent(tx, 'acme', { raw: i }) : null,
      });
    }
    const first = await store.archive.appendMany(tx, 'acme', entries.slice(0, 30));
    return [...first, ...(await store.archive.appendMany(tx, 'acme', entries.slice(30)))];
  });
  expect(seqs).toEqual(Array.from({ length: 37 }, (_, i) => i + 3));
  expect(await append(store, 2, 'after')).toEqual([40, 41]);
  expect(await expectConsistentLog()).toBe(42);
  expect(await store.archiveContent('acme', [3, 4, 6])).toEqual([
    { seq: 3, content: { raw: 0 } },
    { seq: 4, content: null },
    { seq: 6, content: { raw: 3 } },
  ]);
});

it("appends on the head's edge when another process moved it past the edge this one cached", async () => {
  await append(store, 1, 'a');
  const other = await another();
  // Size 1 → 6: the edge this process cached (one leaf) is stale, the head's has two hashes.
  await append(other, 5, 'b');
  expect(await append(store, 2, 'c')).toEqual([6, 7]);
  expect(await append(other, 1, 'd')).toEqual([8]);
  expect(await expectConsistentLog()).toBe(9);
});

it('never builds on an append of its own that rolled back, though the head reached the same size', async () => {
  await append(store, 2, 'a');
  const other = await another();
  let rollBack = (): void => {};
  const held = new Promise<void>((resolve) => {
    rollBack = resolve;
  });
  let holder = 0;
  let holding = (): void => {};
  const appended = new Promise<void>((resolve) => {
    holding = resolve;
  });
  // This process appends seq 2 (its edge at size 3 kept for its next append), then rolls back…
  const lost = store.db.transaction(async (tx) => {
    holder = (await tx.get<{ pid: number }>('SELECT pg_backend_pid() AS pid'))?.pid ?? 0;
    await store.archive.append(tx, 'acme', 'admin', 'lost', {}, 1, null);
    holding();
    await held;
    throw new Error('rolled back');
  });
  await appended;
  // …while another process waits for the head and then appends another seq 2: size 3 again.
  const theirs = append(other, 1, 'theirs');
  const blocked = async () =>
    (await store.db.all('SELECT 1 FROM pg_stat_activity WHERE $1 = ANY(pg_blocking_pids(pid))', [holder]))
      .length > 0;
  while (!(await blocked())) await new Promise((resolve) => setTimeout(resolve, 5));
  rollBack();
  await expect(lost).rejects.toThrow('rolled back');
  expect(await theirs).toEqual([2]);
  expect(await append(store, 1, 'b')).toEqual([3]);
  expect(await expectConsistentLog()).toBe(4);
});
