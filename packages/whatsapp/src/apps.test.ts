import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createSecretBox, openSqliteStore, type SqliteStore } from '@wabridge/core';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { DEFAULT_APP, WhatsAppApps } from './apps.ts';
import { identifyMetaSigner, signMetaPayload } from './signature.ts';

const SECRET_A = 'a1'.repeat(16);
const SECRET_B = 'b2'.repeat(16);
const TOKEN = 'EAAG-plain-token-never-stored-123456';

describe('Meta apps and per-number credentials', () => {
  let dir: string;
  let store: SqliteStore;
  let apps: WhatsAppApps;
  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'wabridge-wa-apps-'));
    store = await openSqliteStore({ path: join(dir, 'db') });
    apps = new WhatsAppApps({
      store,
      secrets: createSecretBox(Buffer.alloc(32, 7)),
      defaults: { secrets: ['env-secret'], verifyToken: 'env-verify' },
      now: () => 1_000,
    });
    for (const ws of ['acme', 'beta']) await store.createWorkspace({ id: ws, name: ws });
    await store.addPhoneNumber({
      phoneNumberId: '111',
      workspaceId: 'acme',
      displayPhoneNumber: null,
      wabaId: null,
    });
    await store.addPhoneNumber({
      phoneNumberId: '222',
      workspaceId: 'beta',
      displayPhoneNumber: null,
      wabaId: null,
    });
  });
  afterEach(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('keeps secrets and tokens encrypted in the file, shows them masked, and audits without them', async () => {
    await apps.addApp('test', { appId: '1001', secrets: [SECRET_A], verifyToken: 'alpha-verify' });
    await apps.setNumberCredentials('test', 'acme', '111', {
      appId: '1001',
      wabaId: '555',
      accessToken: TOKEN,
    });
    await store.close();
    const file = readFileSync(join(dir, 'db')).toString('latin1');
    for (const plain of [SECRET_A, TOKEN, 'alpha-verify']) expect(file).not.toContain(plain);
    store = await openSqliteStore({ path: join(dir, 'db') });
    apps = new WhatsAppApps({ store, secrets: createSecretBox(Buffer.alloc(32, 7)), defaults: {} });
    expect(await apps.listApps()).toEqual([
      { appId: '1001', name: null, secrets: 1, verifyToken: true, numbers: ['111'] },
    ]);
    expect(await apps.listNumberCredentials('acme')).toEqual([
      { phoneNumberId: '111', workspaceId: 'acme', appId: '1001', wabaId: '555', accessToken: 'EAAG…3456' },
    ]);
    expect(await apps.listNumberCredentials('beta')).toEqual([]);
    expect((await apps.credentialsFor('111'))?.accessToken).toBe(TOKEN);
    const audit = await store.listAudit({});
    expect(audit.map((a) => a.action)).toEqual(
      expect.arrayContaining(['whatsapp.app.add', 'number.credentials.set']),
    );
    expect(JSON.stringify(audit)).not.toContain(SECRET_A);
    expect(JSON.stringify(audit)).not.toContain(TOKEN);
  });

  it('re-encrypts app secrets and number tokens under a new master key (secrets rotate)', async () => {
    await apps.addApp('test', { appId: '1001', secrets: [SECRET_A], verifyToken: 'alpha-verify' });
    await apps.setNumberCredentials('test', 'acme', '111', {
      appId: '1001',
      wabaId: '555',
      accessToken: TOKEN,
    });
    const rotatedBox = createSecretBox(Buffer.alloc(32, 8), [Buffer.alloc(32, 7)]);
    const next = new WhatsAppApps({ store, secrets: rotatedBox, defaults: {} });
    expect(await next.rotateSecrets('test')).toBe(2);
    expect(await next.rotateSecrets('test')).toBe(0);
    // Readable with the new key alone.
    const only = new WhatsAppApps({ store, secrets: createSecretBox(Buffer.alloc(32, 8)), defaults: {} });
    expect((await only.credentialsFor('111'))?.accessToken).toBe(TOKEN);
    expect(await only.webhookApp('1001')).toEqual({
      appId: '1001',
      secrets: [SECRET_A],
      verifyToken: 'alpha-verify',
    });
  });

  it('refuses bad input with one clear line and stores nothing', async () => {
    await expect(apps.addApp('test', { appId: 'my-app', secrets: [SECRET_A] })).rejects.toThrow(
      'Meta app id "my-app" must be digits (the App ID)',
    );
    await expect(apps.addApp('test', { appId: '1001', secrets: ['EAAGlooksLikeAToken'] })).rejects.toThrow(
      'an app secret is 32 hexadecimal characters (App settings > Basic); this one has 19 characters and other characters',
    );
    await expect(apps.addApp('test', { appId: '1001', secrets: [] })).rejects.toThrow(
      'needs a non-empty app secret',
    );
    expect(await store.listWhatsAppApps()).toEqual([]);
    await expect(
      apps.setNumberCredentials('test', 'acme', '111', { appId: '1001', wabaId: '555', accessToken: TOKEN }),
    ).rejects.toThrow('Meta app 1001 is not registered (wabridge whatsapp add-app 1001 --secret-env VAR)');
    await apps.addApp('test', { appId: '1001', secrets: [SECRET_A] });
    // Another workspace's number cannot be given credentials from here.
    await expect(
      apps.setNumberCredentials('test', 'acme', '222', { appId: '1001', wabaId: '555', accessToken: TOKEN }),
    ).rejects.toMatchObject({
      code: 'not_found',
      message: 'number 222 is not in workspace acme (add it first)',
    });
    await expect(
      apps.setNumberCredentials('test', 'acme', '111', { appId: '1001', wabaId: 'waba', accessToken: TOKEN }),
    ).rejects.toThrow('WABA id "waba" must be digits');
    await expect(
      apps.setNumberCredentials('test', 'acme', '111', {
        appId: '1001',
        wabaId: '555',
        accessToken: 'short',
      }),
    ).rejects.toThrow('the access token looks wrong');
    expect(await store.listNumberCredentials()).toEqual([]);
  });

  it('routes ownership: own app, else the default app for routed numbers, nobody for unrouted ones', async () => {
    const owners = async () => [...(await apps.webhookView()).owners].sort();
    expect(await owners()).toEqual([DEFAULT_APP]);
    await apps.addApp('test', { appId: '1001', secrets: [SECRET_A] });
    expect(await owners()).toEqual([DEFAULT_APP]);
    await apps.setNumberCredentials('test', 'acme', '111', {
      appId: '1001',
      wabaId: '555',
      accessToken: TOKEN,
    });
    expect(await apps.ownerOf('111')).toBe('1001');
    expect(await apps.ownerOf('222')).toBe(DEFAULT_APP);
    expect(await apps.ownerOf('999')).toBeNull();
    // The edge reads the numbers in a body only while owners name another app than the signer.
    expect(await owners()).toEqual(['1001', DEFAULT_APP].sort());
    await apps.setNumberCredentials('test', 'beta', '222', {
      appId: '1001',
      wabaId: '555',
      accessToken: TOKEN,
    });
    expect(await owners()).toEqual(['1001']);
    await apps.removeNumberCredentials('test', 'beta', '222');
    // An app in use cannot be removed; its numbers first.
    await expect(apps.removeApp('test', '1001')).rejects.toMatchObject({ code: 'conflict' });
    await apps.removeNumberCredentials('test', 'acme', '111');
    expect(await apps.ownerOf('111')).toBe(DEFAULT_APP);
    await apps.removeApp('test', '1001');
    expect((await apps.webhookApps()).map((a) => a.appId)).toEqual([DEFAULT_APP]);
    // Without the environment's app, routed numbers without credentials have no owner.
    const bare = new WhatsAppApps({ store, secrets: createSecretBox(Buffer.alloc(32, 7)), defaults: {} });
    expect([...(await bare.webhookView()).owners]).toEqual([]);
  });

  it('drops a number’s credentials with the number and with its workspace (seen through the cache)', async () => {
    await apps.addApp('test', { appId: '1001', secrets: [SECRET_A] });
    await apps.setNumberCredentials('test', 'acme', '111', {
      appId: '1001',
      wabaId: '555',
      accessToken: TOKEN,
    });
    expect(await apps.credentialsFor('111')).not.toBeNull();
    await store.removePhoneNumber('111');
    expect(await apps.credentialsFor('111')).toBeNull();
    await store.addPhoneNumber({
      phoneNumberId: '111',
      workspaceId: 'acme',
      displayPhoneNumber: null,
      wabaId: null,
    });
    await apps.setNumberCredentials('test', 'acme', '111', {
      appId: '1001',
      wabaId: '555',
      accessToken: TOKEN,
    });
    await store.deleteWorkspace('acme');
    expect(await apps.credentialsFor('111')).toBeNull();
    expect(await store.listNumberCredentials()).toEqual([]);
  });
});

describe('identifyMetaSigner', () => {
  const body = Buffer.from('{"object":"whatsapp_business_account"}');
  const candidates = [
    { key: 'default', secrets: ['env-secret'] },
    { key: '1001', secrets: ['old-a', SECRET_A] },
    { key: '2002', secrets: [SECRET_B] },
  ];
  it('names the app whose secret (any of its rotation list) signed the body', () => {
    expect(identifyMetaSigner(body, signMetaPayload(body, SECRET_A), candidates)).toEqual({
      ok: true,
      key: '1001',
    });
    expect(identifyMetaSigner(body, signMetaPayload(body, 'old-a'), candidates)).toEqual({
      ok: true,
      key: '1001',
    });
    expect(identifyMetaSigner(body, signMetaPayload(body, SECRET_B), candidates)).toEqual({
      ok: true,
      key: '2002',
    });
    expect(identifyMetaSigner(body, signMetaPayload(body, 'env-secret'), candidates)).toEqual({
      ok: true,
      key: 'default',
    });
  });
  it('answers why a header fails', () => {
    expect(identifyMetaSigner(body, signMetaPayload(body, 'other'), candidates)).toEqual({
      ok: false,
      reason: 'mismatch',
    });
    expect(identifyMetaSigner(body, undefined, candidates)).toEqual({ ok: false, reason: 'missing' });
    expect(identifyMetaSigner(body, 'sha1=abc', candidates)).toEqual({ ok: false, reason: 'wrong_prefix' });
    expect(identifyMetaSigner(body, 'sha256=xyz', candidates)).toEqual({ ok: false, reason: 'malformed' });
    expect(() => identifyMetaSigner(body, 'sha256=00', [{ key: 'x', secrets: [''] }])).toThrow(
      'A configured Meta app secret is empty',
    );
  });
});

describe('the webhook view', () => {
  it('is cached between checks, and a fresh look sees a change another process made', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'wabridge-apps-view-'));
    const shared = await openSqliteStore({ path: join(dir, 'store.db') });
    const other = await openSqliteStore({ path: join(dir, 'store.db') });
    try {
      const box = createSecretBox(randomBytes(32));
      const edge = new WhatsAppApps({ store: shared, secrets: box, defaults: {}, checkEveryMs: 3_600_000 });
      const admin = new WhatsAppApps({ store: other, secrets: box, defaults: {} });
      expect((await edge.webhookView()).app('1001')).toBeUndefined();
      await admin.addApp('test', { appId: '1001', secrets: [SECRET_A] });
      // Within the check interval the edge answers from its snapshot, without a store call...
      expect((await edge.webhookView()).app('1001')).toBeUndefined();
      // ...and a fresh look (what a refusal does) reads the change.
      expect((await edge.webhookView({ fresh: true })).app('1001')?.secrets).toEqual([SECRET_A]);
      expect((await edge.webhookView()).app('1001')?.secrets).toEqual([SECRET_A]);
    } finally {
      await shared.close();
      await other.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('answers from a stale snapshot without waiting for the store; the check it starts is seen later', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'wabridge-apps-stale-'));
    const shared = await openSqliteStore({ path: join(dir, 'store.db') });
    const other = await openSqliteStore({ path: join(dir, 'store.db') });
    try {
      const box = createSecretBox(randomBytes(32));
      // The edge's store answers configVersion only when the test lets it (a store thread busy
      // with a group commit); every other call goes straight through.
      let holding = false;
      let release = () => {};
      let checks = 0;
      const slow = new Proxy(shared, {
        get(target, key) {
          if (key === 'configVersion')
            return async () => {
              checks++;
              if (holding) await new Promise<void>((resolve) => (release = resolve));
              return target.configVersion();
            };
          const value = Reflect.get(target, key, target);
          return typeof value === 'function' ? value.bind(target) : value;
        },
      });
      const edge = new WhatsAppApps({ store: slow, secrets: box, defaults: {}, checkEveryMs: 0 });
      const admin = new WhatsAppApps({ store: other, secrets: box, defaults: {} });
      expect((await edge.webhookView()).app('1001')).toBeUndefined();
      expect(checks).toBe(1);
      await admin.addApp('test', { appId: '1001', secrets: [SECRET_A] });
      holding = true;
      // Past the interval: the snapshot answers while the check it started waits on the store
      // (waiting for it here would never return), and a second lookup starts no second check.
      expect((await edge.webhookView()).app('1001')).toBeUndefined();
      expect((await edge.webhookView()).app('1001')).toBeUndefined();
      expect(checks).toBe(2);
      holding = false;
      release();
      await vi.waitFor(async () =>
        expect((await edge.webhookView()).app('1001')?.secrets).toEqual([SECRET_A]),
      );
    } finally {
      await shared.close();
      await other.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
