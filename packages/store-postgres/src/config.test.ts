import { DEFAULT_POLICIES } from '@wabridge/core';
import { seedWorkspace } from '@wabridge/core/testing';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { PostgresStore } from './store.ts';
import { asConformanceStore, openTestStore } from './testing/open.ts';

// ConfigStore on Postgres beyond the conformance part: what concurrency and the split into roles
// change (one winner of a create, merged patches, deletion without the queue's tables).

let store: PostgresStore;
const seed = (options: Parameters<typeof seedWorkspace>[1] = {}) =>
  seedWorkspace(asConformanceStore(store), options);

beforeEach(async () => {
  store = await openTestStore();
});

afterEach(async () => {
  await store.close();
});

describe('workspaces', () => {
  it('lets one of several concurrent creators of an id win; the others get conflict', async () => {
    const results = await Promise.allSettled(
      [1, 2, 3, 4].map((n) => store.createWorkspace({ id: 'acme', name: `Acme ${n}` })),
    );
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    for (const r of results.filter((r) => r.status === 'rejected')) {
      expect(r.reason).toMatchObject({ code: 'conflict' });
    }
    expect(await store.listWorkspaces()).toHaveLength(1);
  });

  it('merges concurrent patches of different policies, and fails not_found for no workspace', async () => {
    await store.createWorkspace({ id: 'acme', name: 'Acme' });
    await Promise.all([
      store.updateWorkspace('acme', { policies: { reorderWindowMs: 500 } }),
      store.updateWorkspace('acme', { policies: { archiveInternalNotes: true } }),
      store.updateWorkspace('acme', { name: 'Acme Inc' }),
    ]);
    expect(await store.getWorkspace('acme')).toMatchObject({
      name: 'Acme Inc',
      policies: { ...DEFAULT_POLICIES, reorderWindowMs: 500, archiveInternalNotes: true },
    });
    await expect(store.updateWorkspace('nope', { name: 'x' })).rejects.toMatchObject({ code: 'not_found' });
  });

  it('deletes a workspace with what it owns, but refuses under an active legal hold', async () => {
    const ws = await seed({ id: 'acme', connectors: ['slack'] });
    const other = await seed({ id: 'other', phoneNumberId: '2', connectors: ['slack'] });
    for (const id of [ws, other]) {
      await store.putRef(id, {
        connectorId: 'slack',
        kind: 'message',
        entityId: 'm',
        externalId: 'e',
        data: {},
      });
      await store.setConnectorState(id, 'slack', 'k', 1);
      await store.dataKey(id);
    }
    await store.db.run(
      `INSERT INTO legal_holds (id, workspace_id, scope, reason, created_by, created_at)
       VALUES ('hold1', 'acme', 'workspace', 'litigation', 'tester', 1)`,
    );
    await expect(store.deleteWorkspace(ws)).rejects.toMatchObject({ code: 'conflict' });
    expect(await store.getWorkspace(ws)).not.toBeNull();
    await store.db.run("UPDATE legal_holds SET released_at = 2 WHERE id = 'hold1'");

    const before = await store.configVersion();
    await store.deleteWorkspace(ws);
    expect(await store.getWorkspace(ws)).toBeNull();
    expect(await store.listPhoneNumbers(ws)).toEqual([]);
    expect(await store.listConnectors(ws)).toEqual([]);
    expect(await store.getRef(ws, 'slack', 'message', 'm')).toBeNull();
    expect(await store.getConnectorState(ws, 'slack', 'k')).toBeNull();
    expect(await store.db.all('SELECT key_id FROM data_keys WHERE workspace_id = $1', [ws])).toEqual([]);
    expect(await store.configVersion()).toBeGreaterThan(before);
    // The other workspace keeps everything.
    expect(await store.listPhoneNumbers(other)).toHaveLength(1);
    expect(await store.getRef(other, 'slack', 'message', 'm')).not.toBeNull();
    expect(await store.getConnectorState(other, 'slack', 'k')).toBe(1);
  });
});

describe('numbers and connectors', () => {
  it('refuses numbers and connector settings for a workspace that does not exist', async () => {
    await expect(
      store.addPhoneNumber({
        workspaceId: 'nope',
        phoneNumberId: '1',
        displayPhoneNumber: null,
        wabaId: null,
      }),
    ).rejects.toMatchObject({ code: 'not_found' });
    await expect(
      store.setConnector({
        workspaceId: 'nope',
        connectorId: 'slack',
        enabled: true,
        events: [],
        config: {},
        encryptedSecrets: null,
      }),
    ).rejects.toMatchObject({ code: 'not_found' });
  });

  it('updates a number in its own workspace and keeps connector settings as set', async () => {
    const ws = await seed({ id: 'acme', phoneNumberId: '1' });
    await store.addPhoneNumber({
      workspaceId: ws,
      phoneNumberId: '1',
      displayPhoneNumber: '+1 555',
      wabaId: 'w',
    });
    expect(await store.resolvePhoneNumber('1')).toEqual({
      workspaceId: ws,
      phoneNumberId: '1',
      displayPhoneNumber: '+1 555',
      wabaId: 'w',
    });
    await store.setConnector({
      workspaceId: ws,
      connectorId: 'slack',
      enabled: false,
      events: ['message.inbound', 'message.status'],
      config: { channel: 'C1', nested: [1, { a: 2 }] },
      encryptedSecrets: 'v1:abc',
    });
    expect(await store.getConnector(ws, 'slack')).toMatchObject({
      enabled: false,
      events: ['message.inbound', 'message.status'],
      config: { channel: 'C1', nested: [1, { a: 2 }] },
      encryptedSecrets: 'v1:abc',
    });
    await store.removePhoneNumber('1');
    expect(await store.resolvePhoneNumber('1')).toBeNull();
  });
});

describe('Meta apps and number credentials', () => {
  const app = { appId: 'app1', name: 'App', secretsEnc: 's', verifyTokenEnc: null, updatedAt: 10 };
  const credentials = (ws: string) => ({
    phoneNumberId: '1',
    workspaceId: ws,
    appId: 'app1',
    wabaId: 'waba',
    accessTokenEnc: 't',
    updatedAt: 11,
  });

  it('keeps an app while a number names it, and refuses credentials for a number elsewhere', async () => {
    const ws = await seed({ id: 'acme', phoneNumberId: '1' });
    await store.putWhatsAppApp(app);
    await expect(store.setNumberCredentials(credentials('other'))).rejects.toMatchObject({
      code: 'not_found',
    });
    await expect(store.setNumberCredentials({ ...credentials(ws), appId: 'nope' })).rejects.toMatchObject({
      code: 'not_found',
    });
    await store.setNumberCredentials(credentials(ws));
    expect(await store.listNumberCredentials(ws)).toEqual([credentials(ws)]);
    await expect(store.removeWhatsAppApp('app1')).rejects.toMatchObject({ code: 'conflict' });
    expect(await store.removeNumberCredentials(ws, '1')).toBe(true);
    expect(await store.removeNumberCredentials(ws, '1')).toBe(false);
    await store.removeWhatsAppApp('app1');
    expect(await store.listWhatsAppApps()).toEqual([]);
    await expect(store.removeWhatsAppApp('app1')).rejects.toMatchObject({ code: 'not_found' });
  });

  it('never leaves credentials naming a removed app when both race', async () => {
    const ws = await seed({ id: 'acme', phoneNumberId: '1' });
    for (let round = 0; round < 5; round++) {
      await store.putWhatsAppApp(app);
      await Promise.allSettled([
        store.setNumberCredentials(credentials(ws)),
        store.removeWhatsAppApp('app1'),
      ]);
      const apps = (await store.listWhatsAppApps()).map((a) => a.appId);
      const named = (await store.listNumberCredentials(ws)).map((c) => c.appId);
      for (const appId of named) expect(apps).toContain(appId);
      await store.removeNumberCredentials(ws, '1');
    }
  });
});

describe('data keys', () => {
  it('makes one current key however many callers ask at once (each on its own connection), and keeps it', async () => {
    const ws = await seed({ id: 'acme' });
    const keys = await Promise.all([1, 2, 3, 4].map(() => store.dataKey(ws)));
    expect(new Set(keys.map((k) => k.keyId)).size).toBe(1);
    expect(Buffer.from(keys[0]?.key ?? '', 'base64')).toHaveLength(32);
    expect(await store.dataKey(ws, keys[0]?.keyId)).toEqual(keys[0]);
    await expect(store.dataKey('nope')).rejects.toMatchObject({ code: 'not_found' });
  });
});
