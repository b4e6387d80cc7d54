import type { RecordNoteInput } from '@wabridge/core';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { openPostgresStore, type PostgresStore } from './store.ts';
import { testDatabaseUrl } from './testing/index.ts';
import { openTestStore } from './testing/open.ts';

// Internal notes on Postgres (of IngestStore): versions kept, repeats answered, and one first
// version however many gateways deliver it at once.

let store: PostgresStore;
const others: PostgresStore[] = [];

beforeEach(async () => {
  store = await openTestStore();
  await store.createWorkspace({ id: 'acme', name: 'Acme' });
  await store.db.run(
    `INSERT INTO conversations (id, workspace_id, contact_id, phone_number_id, created_at)
     VALUES ('cv1', 'acme', 'ct1', 'pn', 1), ('cv2', 'acme', 'ct2', 'pn', 1)`,
  );
});

afterEach(async () => {
  await Promise.all(others.splice(0).map((s) => s.close()));
  await store.close();
});

const note = (key: string, partial: Partial<RecordNoteInput> = {}): RecordNoteInput => ({
  commandKey: { source: 'slack', key },
  workspaceId: 'acme',
  connectorId: 'slack',
  externalId: 'C1:1.1',
  threadId: 'C1:1.0',
  action: 'note',
  conversationId: 'cv1',
  agent: { id: 'U1', name: 'Ann' },
  text: 'call back tomorrow',
  attachments: [],
  at: 1000,
  ...partial,
});

async function archived(): Promise<Array<{ entity_id: string; type: string; relates_to: string | null }>> {
  const rows = await store.db.all<{ entity_id: string; record: Buffer }>(
    "SELECT entity_id, record FROM archive_records WHERE workspace_id = 'acme' AND kind = 'note' ORDER BY seq",
  );
  return rows.map((r) => {
    const data = JSON.parse(r.record.toString('utf8')).data;
    return { entity_id: r.entity_id, type: data.type, relates_to: data.relates_to };
  });
}

it('keeps a note and its versions, answers repeats, and archives what it says as content', async () => {
  const first = await store.recordNote(note('k1'));
  expect(first.duplicate).toBe(false);
  const id = first.noteId ?? '';
  expect(await store.recordNote(note('k1'))).toEqual({ duplicate: true, noteId: id });
  expect(await store.recordNote(note('k2'))).toEqual({ duplicate: true, noteId: id });
  const edit = await store.recordNote(
    note('k3', { action: 'edit', conversationId: null, text: 'call today', at: 2000 }),
  );
  const revoke = await store.recordNote(
    note('k4', { action: 'revoke', conversationId: null, text: null, at: 3000 }),
  );
  expect(await archived()).toEqual([
    { entity_id: id, type: 'note', relates_to: null },
    { entity_id: edit.noteId, type: 'edit', relates_to: id },
    { entity_id: revoke.noteId, type: 'revoke', relates_to: id },
  ]);
  const seqs = await store.db.all<{ seq: number }>(
    "SELECT seq FROM archive_records WHERE workspace_id = 'acme' AND kind = 'note' ORDER BY seq",
  );
  expect(
    (
      await store.archiveContent(
        'acme',
        seqs.map((s) => s.seq),
      )
    ).map((c) => c.content),
  ).toEqual([{ text: 'call back tomorrow', attachments: [] }, { text: 'call today', attachments: [] }, null]);
  // An edit of a note the archive does not hold changes nothing.
  expect(
    await store.recordNote(note('k5', { action: 'edit', externalId: 'C1:9.9', conversationId: null })),
  ).toEqual({
    duplicate: false,
    noteId: null,
  });
});

it('takes no new version in an erased conversation, and refuses a conversation that does not exist', async () => {
  await store.recordNote(note('k1'));
  await store.db.run("UPDATE conversations SET erased_at = 5 WHERE id = 'cv1'");
  expect(await store.recordNote(note('k2', { action: 'edit', conversationId: null }))).toEqual({
    duplicate: false,
    noteId: null,
  });
  await expect(
    store.recordNote(note('k3', { externalId: 'C1:2.2', conversationId: 'cv9' })),
  ).rejects.toMatchObject({
    code: 'not_found',
  });
  // The refused call claimed nothing: its key is still free.
  expect(await store.claimCommandKey('acme', 'slack', 'k3')).toBe(true);
});

it('archives a note once when several gateways deliver it at once under different keys', async () => {
  const gateway = await openPostgresStore({
    url: testDatabaseUrl,
    schema: store.db.schema ?? '',
    poolSize: 2,
  });
  others.push(gateway);
  const results = await Promise.all(
    [store, gateway, store, gateway].map((on, i) => on.recordNote(note(`key-${i}`))),
  );
  const stored = results.filter((r) => !r.duplicate);
  expect(stored).toHaveLength(1);
  expect(new Set(results.map((r) => r.noteId))).toEqual(new Set([stored[0]?.noteId]));
  expect(await archived()).toHaveLength(1);
  expect(await store.db.all("SELECT id FROM internal_notes WHERE action = 'note'")).toHaveLength(1);
});
