import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { afterAll, describe, expect, it } from 'vitest';
import { verifyArchive } from '../store/sqlite/archive-verify.ts';
import { openSqliteStore, type SqliteStore } from '../store/sqlite/index.ts';
import { inboundMessage, messagesUnit, seedWorkspace, status } from '../testing/fixtures.ts';
import { sealedKeyId } from './keyring.ts';

// Encryption at rest in a real SQLite file (issue 18, item 3): what the store writes is sealed
// with the workspace's data key, what it reads back is plaintext, and keys rotate while the data
// stays readable.

const dir = mkdtempSync(join(tmpdir(), 'wabridge-at-rest-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
const KEY_A = Buffer.alloc(32, 0xa);
const KEY_B = Buffer.alloc(32, 0xb);
const WS = 'acme';

async function storeWithMessages(path: string): Promise<{ store: SqliteStore; ids: string[] }> {
  const store = await openSqliteStore({ path, masterKeys: { current: KEY_A } });
  await seedWorkspace(store, { id: WS, connectors: ['slack'] });
  const text = inboundMessage({ wamid: 'w.text', text: 'CANARY-TEXT-1' });
  const image = inboundMessage({
    wamid: 'w.image',
    type: 'image',
    text: null,
    content: { type: 'image', image: { id: '123', mime_type: 'image/jpeg', caption: 'CANARY-CAPTION-2' } },
  });
  const card = inboundMessage({
    wamid: 'w.card',
    type: 'contacts',
    text: null,
    content: { type: 'contacts', contacts: [{ name: { formatted_name: 'CANARY-CARD-3' } }] },
  });
  await store.ingest(
    messagesUnit(WS, {
      messages: [text, image, card],
      statuses: [status({ wamid: 'w.out', status: 'read', raw: { note: 'CANARY-RAW-4' } })],
    }),
  );
  return { store, ids: [text.id, image.id, card.id] };
}

/** Every file of the database (and its WAL and SHM) as raw bytes. */
function databaseBytes(path: string): string {
  const folder = join(path, '..');
  return readdirSync(folder)
    .filter((name) => name.startsWith(path.split('/').pop() ?? ''))
    .map((name) => readFileSync(join(folder, name)).toString('latin1'))
    .join('');
}

const CANARIES = ['CANARY-TEXT-1', 'CANARY-CAPTION-2', 'CANARY-CARD-3', 'CANARY-RAW-4'];

describe('content at rest', () => {
  it('is sealed in every file of the database, and read back as plaintext through the store', async () => {
    const path = join(dir, `sealed-${n++}.db`);
    const { store, ids } = await storeWithMessages(path);
    try {
      const [text, image, card] = await Promise.all(ids.map((id) => store.getMessage(WS, id)));
      expect(text?.text).toBe('CANARY-TEXT-1');
      expect(image?.content).toMatchObject({ image: { caption: 'CANARY-CAPTION-2' } });
      expect(card?.content).toMatchObject({ contacts: [{ name: { formatted_name: 'CANARY-CARD-3' } }] });
      const statusId = store.db.get<{ id: string }>('SELECT id FROM message_statuses')?.id ?? '';
      expect((await store.getStatus(WS, statusId))?.raw).toEqual({ note: 'CANARY-RAW-4' });
      // Text and content sealed together in `content`; `text` stays empty.
      const kinds = store.db.all<{ t: string; c: string }>(
        'SELECT typeof(text) AS t, typeof(content) AS c FROM messages ORDER BY ts, id',
      );
      expect(kinds).toEqual(ids.map(() => ({ t: 'null', c: 'blob' })));
      // WAL, SHM and the main file, as a thief copying the folder would get them.
      const bytes = databaseBytes(path);
      for (const canary of CANARIES) expect(bytes, canary).not.toContain(canary);
      expect((await verifyArchive(store.db, WS, { keyring: store.keyring })).ok).toBe(true);
    } finally {
      await store.close();
    }
    const bytes = databaseBytes(path);
    for (const canary of CANARIES) expect(bytes, canary).not.toContain(canary);
  });

  it('rotates: a new data key for new writes, old content re-sealed in batches, legacy plaintext sealed too', async () => {
    const path = join(dir, `rotate-${n++}.db`);
    const { store, ids } = await storeWithMessages(path);
    try {
      // A row written before encryption at rest: plain text and content in their columns.
      store.db.run(`UPDATE messages SET text = 'LEGACY-TEXT', content = '{"type":"text"}' WHERE id = :id`, {
        id: ids[1] ?? '',
      });
      expect((await store.getMessage(WS, ids[1] ?? ''))?.text).toBe('LEGACY-TEXT');
      // A row sealed in the earlier form (`messages.body`: text JSON, newline, content JSON),
      // before a message's body and its archive content were one sealed value.
      await store.db.write(() =>
        store.db.run('UPDATE messages SET content = :content WHERE id = :id', {
          id: ids[2] ?? '',
          content: store.keyring.sealText(WS, 'messages.body', '"EARLIER-FORM"\n{"type":"text"}'),
        }),
      );
      expect(await store.getMessage(WS, ids[2] ?? '')).toMatchObject({
        text: 'EARLIER-FORM',
        content: { type: 'text' },
      });
      const keyOf = () =>
        store.db.get<{ key_id: string }>(
          'SELECT key_id FROM data_keys WHERE workspace_id = :ws AND retired_at IS NULL',
          { ws: WS },
        )?.key_id;
      const before = keyOf();
      const after = await store.rotateDataKey(WS);
      expect(after).not.toBe(before);
      expect(keyOf()).toBe(after);
      // Old content still opens with the retired key.
      expect((await store.getMessage(WS, ids[0] ?? ''))?.text).toBe('CANARY-TEXT-1');
      let total = 0;
      for (
        let batch = await store.reencryptBatch(WS, 2);
        batch > 0;
        batch = await store.reencryptBatch(WS, 2)
      )
        total += batch;
      // 3 messages (the legacy one included), 1 status raw, 4 archive contents.
      expect(total).toBe(8);
      const sealed = [
        ...store.db.all<{ v: Uint8Array }>('SELECT content AS v FROM messages'),
        ...store.db.all<{ v: Uint8Array }>('SELECT raw AS v FROM message_statuses'),
        ...store.db.all<{ v: Uint8Array }>('SELECT sealed AS v FROM archive_content'),
      ];
      expect(sealed.map((r) => sealedKeyId(r.v))).toEqual(sealed.map(() => after));
      expect(
        store.db.get<{ t: string }>('SELECT typeof(text) AS t FROM messages WHERE id = :id', {
          id: ids[1] ?? '',
        })?.t,
      ).toBe('null');
      expect(await store.getMessage(WS, ids[1] ?? '')).toMatchObject({
        text: 'LEGACY-TEXT',
        content: { type: 'text' },
      });
      // Every message re-sealed in the shared form: its archive content's (salt, canonical JSON).
      for (const row of store.db.all<{ content: Uint8Array }>('SELECT content FROM messages')) {
        expect(() => store.keyring.open(WS, 'archive.content', row.content)).not.toThrow();
      }
      expect(await store.getMessage(WS, ids[2] ?? '')).toMatchObject({
        text: 'EARLIER-FORM',
        content: { type: 'text' },
      });
      expect((await verifyArchive(store.db, WS, { keyring: store.keyring })).ok).toBe(true);
    } finally {
      await store.close();
    }
  });

  it('re-wraps the data keys under a new master key; without the right master key nothing opens', async () => {
    const path = join(dir, `rewrap-${n++}.db`);
    const { store, ids } = await storeWithMessages(path);
    await store.close();
    const id = ids[0] ?? '';
    const rotating = await openSqliteStore({ path, masterKeys: { current: KEY_B, previous: [KEY_A] } });
    try {
      expect((await rotating.getMessage(WS, id))?.text).toBe('CANARY-TEXT-1');
      expect(await rotating.rewrapDataKeys()).toBe(1);
      expect(await rotating.rewrapDataKeys()).toBe(0);
    } finally {
      await rotating.close();
    }
    const rotated = await openSqliteStore({ path, masterKeys: { current: KEY_B } });
    try {
      expect((await rotated.getMessage(WS, id))?.text).toBe('CANARY-TEXT-1');
    } finally {
      await rotated.close();
    }
    const stale = await openSqliteStore({ path, masterKeys: { current: KEY_A } });
    try {
      await expect(stale.getMessage(WS, id)).rejects.toThrow(/not configured|failed authentication/);
    } finally {
      await stale.close();
    }
  });

  it('a rotation made by another connection (the CLI) reaches a running store at its next write', async () => {
    const path = join(dir, `two-${n++}.db`);
    const { store: gateway } = await storeWithMessages(path);
    const cli = await openSqliteStore({ path, masterKeys: { current: KEY_A } });
    try {
      const rotated = await cli.rotateDataKey(WS);
      const next = inboundMessage({ wamid: 'w.after', text: 'after rotation' });
      await gateway.ingest(messagesUnit(WS, { messages: [next] }));
      const raw = new DatabaseSync(path, { readOnly: true });
      const row = raw.prepare('SELECT content FROM messages WHERE id = ?').get(next.id) as {
        content: Uint8Array;
      };
      raw.close();
      expect(sealedKeyId(row.content)).toBe(rotated);
      expect((await cli.getMessage(WS, next.id))?.text).toBe('after rotation');
    } finally {
      await cli.close();
      await gateway.close();
    }
  });
});
