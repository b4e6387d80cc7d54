import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ArchiveStore } from '../archive/reader.ts';
import { verifyArchive } from '../store/sqlite/archive-verify.ts';
import type { KeyRotationStore, Store } from '../store/types.ts';
import { sealedKeyId } from '../vault/keyring.ts';
import { archiveRound } from './archive-conformance.ts';
import { seedWorkspace } from './fixtures.ts';

/** A store as `wabridge keys rotate` opens it: its roles, its archive's reads, key rotation. */
export type RotatableStore = Store & ArchiveStore & KeyRotationStore;

/** One database, opened as often as a test likes with the master keys it names. */
export interface KeyRotationHarness {
  /** A store of its own on the harness's database, with these master keys (close it after). */
  open(masterKeys: { current: Buffer; previous?: Buffer[] }): Promise<RotatableStore>;
  /**
   * Runs one statement on the store's tables, outside the store: `?` placeholders, bound in
   * order. Answers its rows (a binary column as bytes, a text one as a string).
   */
  sql(statement: string, params?: readonly unknown[]): Promise<Array<Record<string, unknown>>>;
  /** Drops the database. */
  close(): Promise<void>;
}

export type OpenKeyRotationHarness = () => Promise<KeyRotationHarness>;

const WS = 'acme';
const KEY_A = Buffer.alloc(32, 0xa1);
const KEY_B = Buffer.alloc(32, 0xb2);

/** Where sealed values live, as (table, column): every one is sealed or plain with nothing to hide. */
const SEALED = [
  ['messages', 'content'],
  ['message_statuses', 'raw'],
  ['archive_content', 'sealed'],
] as const;

/**
 * `wabridge keys rotate` on a store (KeyRotationStore): after the master key changed (the new one
 * current, the old one previous) every data key is re-wrapped, and opens with the new master key
 * alone; a new data key for a workspace, and its content re-sealed in batches until a batch
 * answers 0, leaves every sealed value naming the new key, every message and status reading back
 * the same, and `archive verify` with the keys sound.
 */
export function describeKeyRotationConformance(name: string, openHarness: OpenKeyRotationHarness): void {
  describe(`store conformance (key rotation): ${name}`, () => {
    let h: KeyRotationHarness;
    /** What the store answered before any rotation: messages and statuses by id. */
    const before = new Map<string, unknown>();

    const messageIds = async () =>
      (await h.sql('SELECT id FROM messages WHERE workspace_id = ? ORDER BY id', [WS])).map((r) =>
        String(r.id),
      );
    const statusIds = async () =>
      (await h.sql('SELECT id FROM message_statuses WHERE workspace_id = ? ORDER BY id', [WS])).map((r) =>
        String(r.id),
      );
    /** Every message and status as the store reads them now. */
    const readBack = async (store: Store) => {
      const now = new Map<string, unknown>();
      for (const id of await messageIds()) now.set(id, await store.getMessage(WS, id));
      for (const id of await statusIds()) now.set(id, await store.getStatus(WS, id));
      return now;
    };
    /** The key id of every sealed value of the workspace; plain values (nothing to hide) as `plain:<text>`. */
    const sealedWith = async () => {
      const ids: string[] = [];
      for (const [table, column] of SEALED) {
        for (const row of await h.sql(`SELECT ${column} AS v FROM ${table} WHERE workspace_id = ?`, [WS])) {
          const v = row.v;
          const bytes = typeof v === 'string' ? Buffer.from(v, 'utf8') : Buffer.from(v as Uint8Array);
          ids.push(sealedKeyId(bytes) ?? `plain:${bytes.toString('utf8')}`);
        }
      }
      return ids;
    };
    const verified = async (store: RotatableStore) => {
      const reader = store.archiveReader;
      return verifyArchive(reader, WS, { keyring: await reader.dataKeys(WS) });
    };

    beforeAll(async () => {
      h = await openHarness();
      const store = await h.open({ current: KEY_A });
      try {
        await seedWorkspace(store, { id: WS, connectors: ['slack'] });
        // Messages (inbound, outbound, an edit, one purged), statuses, consent, admin acts, a
        // note: every kind of sealed content there is.
        await archiveRound(store, 0);
        await archiveRound(store, 1);
        for (const [id, value] of await readBack(store)) before.set(id, value);
        expect(before.size).toBeGreaterThan(4);
        expect((await verified(store)).ok).toBe(true);
      } finally {
        await store.close();
      }
    }, 120_000);
    afterAll(() => h?.close());

    it('re-wraps every data key under the new master key: each opens with it alone', async () => {
      const rotating = await h.open({ current: KEY_B, previous: [KEY_A] });
      const keys = await h.sql('SELECT workspace_id, key_id FROM data_keys ORDER BY workspace_id, key_id');
      expect(keys.length).toBeGreaterThan(0);
      try {
        expect(await rotating.rewrapDataKeys()).toBe(keys.length);
        expect(await rotating.rewrapDataKeys()).toBe(0);
      } finally {
        await rotating.close();
      }
      const rotated = await h.open({ current: KEY_B });
      try {
        for (const key of keys) {
          const found = await rotated.dataKey(String(key.workspace_id), String(key.key_id));
          expect(found.keyId).toBe(key.key_id);
        }
        expect(await readBack(rotated)).toEqual(before);
      } finally {
        await rotated.close();
      }
      // The old master key alone opens none of them any more.
      const stale = await h.open({ current: KEY_A });
      try {
        const [first] = keys;
        await expect(stale.dataKey(String(first?.workspace_id), String(first?.key_id))).rejects.toThrow();
      } finally {
        await stale.close();
      }
    });

    it('rotates the data key and re-seals everything with it in batches; reads and verify unchanged', async () => {
      const store = await h.open({ current: KEY_B });
      try {
        const old = (await store.dataKey(WS)).keyId;
        const rotated = await store.rotateDataKey(WS);
        expect(rotated).not.toBe(old);
        expect((await store.dataKey(WS)).keyId).toBe(rotated);
        // Before re-sealing: what the old key sealed still opens (it is kept).
        expect(await readBack(store)).toEqual(before);
        expect((await sealedWith()).filter((id) => id === old).length).toBeGreaterThan(0);
        let total = 0;
        let batches = 0;
        for (
          let batch = await store.reencryptBatch(WS, 3);
          batch > 0;
          batch = await store.reencryptBatch(WS, 3)
        ) {
          expect(batch).toBeLessThanOrEqual(3);
          total += batch;
          batches++;
        }
        expect(batches).toBeGreaterThan(1);
        expect(await store.reencryptBatch(WS, 3)).toBe(0);
        const ids = await sealedWith();
        // Nothing was written since the rotation: each value on the new key is one re-sealed.
        expect(total).toBe(ids.filter((id) => id === rotated).length);
        // Every value sealed with the new key; plain only what has nothing to hide.
        for (const id of ids)
          expect(id === rotated || id === 'plain:{}' || id === 'plain:null', id).toBe(true);
        expect(total).toBeGreaterThan(3);
        expect(await readBack(store)).toEqual(before);
        expect(await verified(store)).toMatchObject({ ok: true, failure: null, contentChecked: true });
      } finally {
        await store.close();
      }
      // Another process with the new master key alone reads it all the same.
      const other = await h.open({ current: KEY_B });
      try {
        expect(await readBack(other)).toEqual(before);
      } finally {
        await other.close();
      }
    });
  });
}
