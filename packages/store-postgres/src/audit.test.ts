import { leafHash, MerkleLog, merkleTreeHash, toHex } from '@wabridge/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { PgLogNodeStore } from './archive.ts';
import type { PostgresStore } from './store.ts';
import { openTestStore } from './testing/open.ts';

// The audit trail and archive content on Postgres (of GovernanceStore), on an injected clock.

let now = 10_000;
let store: PostgresStore;

beforeEach(async () => {
  now = 10_000;
  store = await openTestStore({ now: () => now });
  await store.createWorkspace({ id: 'acme', name: 'Acme' });
});

afterEach(async () => {
  await store.close();
});

/** Appends content-bearing records to acme's log (as ingest will); answers their seqs. */
function records(n: number, tag: string): Promise<number[]> {
  return store.db.transaction(async (tx) => {
    const seqs: number[] = [];
    for (let i = 0; i < n; i++) {
      const content = await store.archive.sealContent(tx, 'acme', { text: `${tag}-${i}` });
      seqs.push(await store.archive.append(tx, 'acme', 'consent', `${tag}-${i}`, {}, now, content));
    }
    return seqs;
  });
}

async function expectConsistentLog(ws: string): Promise<void> {
  const rows = await store.db.all<{ record: Buffer }>(
    'SELECT record FROM archive_records WHERE workspace_id = $1 ORDER BY seq',
    [ws],
  );
  const log = await MerkleLog.open(new PgLogNodeStore(store.db, ws));
  expect(toHex(await log.root())).toBe(toHex(merkleTreeHash(rows.map((r) => leafHash(r.record)))));
}

describe('audit trail', () => {
  it('records each act with its archive record, and filters and pages the trail', async () => {
    const act = async (actor: string, action: string, ws: string | null) => {
      now += 10;
      return store.appendAudit({ actor, action, workspaceId: ws, details: { n: now } });
    };
    const ids = [
      await act('cli:ann', 'workspace.create', null),
      await act('cli:ann', 'connector.enable', 'acme'),
      await act('api:bob', 'connector.disable', 'acme'),
      await act('api:bob', 'connector_x', 'acme'),
      await act('cli:ann', 'hold.add', 'acme'),
    ];
    const all = await store.listAudit({});
    expect(all.map((e) => e.id)).toEqual([...ids].reverse());
    expect(all.at(-1)).toEqual({
      id: ids[0],
      at: 10_010,
      actor: 'cli:ann',
      action: 'workspace.create',
      workspaceId: null,
      details: { n: 10_010 },
      log: '_global',
      seq: 0,
    });
    // The workspace's own log holds its four acts, in order.
    expect((await store.listAudit({ workspaceId: 'acme', order: 'oldest' })).map((e) => e.seq)).toEqual([
      0, 1, 2, 3,
    ]);
    expect((await store.listAudit({ workspaceId: null })).map((e) => e.id)).toEqual([ids[0]]);
    expect((await store.listAudit({ actor: 'api:bob' })).map((e) => e.id)).toEqual([ids[3], ids[2]]);
    // A prefix, its `_` literal: `connector_x` is not a `connector.` action.
    expect((await store.listAudit({ action: 'connector.*' })).map((e) => e.id)).toEqual([ids[2], ids[1]]);
    expect((await store.listAudit({ action: 'connector.' })).map((e) => e.id)).toEqual([ids[2], ids[1]]);
    expect((await store.listAudit({ action: 'connector_x' })).map((e) => e.id)).toEqual([ids[3]]);
    expect((await store.listAudit({ since: 10_020, until: 10_040 })).map((e) => e.id)).toEqual([
      ids[2],
      ids[1],
    ]);
    const page = await store.listAudit({ limit: 2 });
    expect((await store.listAudit({ beforeId: page[1]?.id, limit: 2 })).map((e) => e.id)).toEqual([
      ids[2],
      ids[1],
    ]);
    expect((await store.listAudit({ order: 'oldest', afterId: ids[3] })).map((e) => e.id)).toEqual([ids[4]]);

    const record = await store.db.get<{ record: Buffer }>(
      "SELECT record FROM archive_records WHERE workspace_id = '_global' AND entity_id = $1",
      [`audit:${ids[0]}`],
    );
    expect(JSON.parse(record?.record.toString('utf8') ?? '{}')).toMatchObject({
      kind: 'admin',
      data: { audit_id: ids[0], actor: 'cli:ann', action: 'workspace.create', workspace_id: null },
    });
    await expectConsistentLog('acme');
    await expectConsistentLog('_global');
  });
});

describe('archive content', () => {
  it('opens content by seq, purges it by seq or entity with a record of the purge, once', async () => {
    await records(4, 'r');
    expect(await store.archiveContent('acme', [2, 0, 9])).toEqual([
      { seq: 2, content: { text: 'r-2' } },
      { seq: 0, content: { text: 'r-0' } },
      { seq: 9, content: null },
    ]);
    const by = { actor: 'cli:ann', reason: 'asked', details: { ticket: 7 } };
    // Two purges of the same records at once: each record's content is purged by one of them.
    const [a, b] = await Promise.all([
      store.purgeArchiveContent({ workspaceId: 'acme', seqs: [1], entityIds: ['r-3'], by }),
      store.purgeArchiveContent({ workspaceId: 'acme', seqs: [3, 1], by }),
    ]);
    expect([...(a?.purged ?? []), ...(b?.purged ?? [])].sort()).toEqual([1, 3]);
    const purgeSeqs = [a?.purgeSeq, b?.purgeSeq].filter((s) => s !== null);
    expect(purgeSeqs.length).toBeGreaterThanOrEqual(1);
    const purge = await store.db.get<{ record: Buffer }>(
      "SELECT record FROM archive_records WHERE workspace_id = 'acme' AND seq = $1",
      [purgeSeqs[0]],
    );
    expect(JSON.parse(purge?.record.toString('utf8') ?? '{}')).toMatchObject({
      kind: 'purge',
      data: { actor: 'cli:ann', reason: 'asked', details: { ticket: 7 } },
    });
    expect((await store.archiveContent('acme', [1, 3, 2])).map((c) => c.content)).toEqual([
      null,
      null,
      { text: 'r-2' },
    ]);
    // Nothing left to purge: nothing recorded.
    expect(await store.purgeArchiveContent({ workspaceId: 'acme', seqs: [1, 3], by })).toEqual({
      purgeSeq: null,
      purged: [],
    });
    await expectConsistentLog('acme');
  });

  it('refuses a purge without an actor or reason, of a seq that is none, or of no workspace', async () => {
    await records(1, 'r');
    const by = { actor: 'cli:ann', reason: 'asked' };
    await expect(
      store.purgeArchiveContent({ workspaceId: 'acme', seqs: [0], by: { actor: '', reason: 'x' } }),
    ).rejects.toMatchObject({ code: 'bad_request' });
    await expect(store.purgeArchiveContent({ workspaceId: 'acme', seqs: [-1], by })).rejects.toMatchObject({
      code: 'bad_request',
    });
    await expect(store.purgeArchiveContent({ workspaceId: 'nope', seqs: [0], by })).rejects.toMatchObject({
      code: 'not_found',
    });
    expect((await store.archiveContent('acme', [0]))[0]?.content).toEqual({ text: 'r-0' });
  });
});
