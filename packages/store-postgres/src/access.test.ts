import { DEFAULT_THROTTLE } from '@wabridge/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { PostgresStore } from './store.ts';
import { openTestStore } from './testing/open.ts';

// AccessStore on Postgres (the conformance suite has no part for it yet): accounts, grants,
// sessions, API tokens, and a login throttle that counts a burst of parallel guesses whole.

let store: PostgresStore;

beforeEach(async () => {
  store = await openTestStore();
});

afterEach(async () => {
  await store.close();
});

const account = (id: string, email: string) => ({
  id,
  email,
  name: id,
  owner: false,
  createdAt: 1,
  disabledAt: null,
  passwordHash: 'scrypt$hash',
});

describe('accounts', () => {
  it('takes an email once, compared lowercased, even from concurrent creators', async () => {
    const results = await Promise.allSettled([
      store.createAdminAccount(account('a1', 'Ada@Example.com')),
      store.createAdminAccount(account('a2', 'ada@example.COM')),
    ]);
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    expect(results.find((r) => r.status === 'rejected')).toMatchObject({ reason: { code: 'conflict' } });
    const found = await store.findAdminAccountByEmail('ADA@example.com');
    expect(found).toMatchObject({ email: 'ada@example.com', owner: false, passwordHash: 'scrypt$hash' });
    expect(await store.listAdminAccounts()).toEqual([
      {
        id: found?.id,
        email: 'ada@example.com',
        name: found?.id,
        owner: false,
        createdAt: 1,
        disabledAt: null,
      },
    ]);
  });

  it('patches only the fields named; disabledAt null re-enables', async () => {
    await store.createAdminAccount(account('a1', 'a@x.io'));
    await store.updateAdminAccount('a1', { owner: true, disabledAt: 5 });
    expect(await store.getAdminAccount('a1')).toMatchObject({
      name: 'a1',
      owner: true,
      disabledAt: 5,
      passwordHash: 'scrypt$hash',
    });
    await store.updateAdminAccount('a1', { name: 'Ada', passwordHash: 'new' });
    expect(await store.getAdminAccount('a1')).toMatchObject({ name: 'Ada', owner: true, disabledAt: 5 });
    await store.updateAdminAccount('a1', { disabledAt: null });
    expect(await store.getAdminAccount('a1')).toMatchObject({ disabledAt: null, passwordHash: 'new' });
    await expect(store.updateAdminAccount('nope', { name: 'x' })).rejects.toMatchObject({
      code: 'not_found',
    });
  });
});

describe('grants, sessions and tokens', () => {
  it('replaces and revokes grants, filtered by account or workspace', async () => {
    await store.setAdminGrant({ accountId: 'a1', workspaceId: 'w1', role: 'auditor', at: 1 });
    await store.setAdminGrant({ accountId: 'a1', workspaceId: 'w1', role: 'admin', at: 2 });
    await store.setAdminGrant({ accountId: 'a2', workspaceId: 'w1', role: 'auditor', at: 3 });
    await store.setAdminGrant({ accountId: 'a1', workspaceId: 'w2', role: 'auditor', at: 4 });
    expect(await store.listAdminGrants({ accountId: 'a1' })).toEqual([
      { accountId: 'a1', workspaceId: 'w1', role: 'admin', grantedAt: 2 },
      { accountId: 'a1', workspaceId: 'w2', role: 'auditor', grantedAt: 4 },
    ]);
    expect((await store.listAdminGrants({ workspaceId: 'w1' })).map((g) => g.accountId)).toEqual([
      'a1',
      'a2',
    ]);
    await store.setAdminGrant({ accountId: 'a1', workspaceId: 'w1', role: null, at: 5 });
    expect(await store.listAdminGrants({})).toHaveLength(2);
  });

  it('touches sessions forward only, deletes all of an account but one, and purges the stale', async () => {
    const session = (idHash: string, createdAt: number) => ({
      idHash,
      accountId: 'a1',
      createdAt,
      lastSeenAt: createdAt,
      ip: null,
      userAgent: 'ua',
    });
    await store.createAdminSession(session('s1', 100));
    await store.createAdminSession(session('s2', 100));
    await store.createAdminSession(session('s3', 100));
    await store.touchAdminSession('s1', 300);
    await store.touchAdminSession('s1', 200);
    expect(await store.getAdminSession('s1')).toMatchObject({ lastSeenAt: 300, userAgent: 'ua', ip: null });
    expect(await store.deleteAdminSessions({ accountId: 'a1', except: 's1' })).toBe(2);
    expect(await store.deleteAdminSessions({ idHash: 's2' })).toBe(0);
    await store.createAdminSession(session('s4', 100));
    expect(await store.deleteAdminSessions({ accountId: 'a1' })).toBe(2);

    await store.createAdminSession(session('old', 10));
    await store.createAdminSession(session('new', 1000));
    await store.takeLoginAttempt([{ key: 'ip:1', free: 5 }], 10, DEFAULT_THROTTLE);
    expect(await store.purgeAdminAccess({ lastSeenBefore: 500, createdBefore: 0, attemptsBefore: 500 })).toBe(
      2,
    );
    expect(await store.getAdminSession('new')).not.toBeNull();
  });

  it('finds tokens by hash, lists them without it, revokes once', async () => {
    const token = {
      id: 't1',
      tokenHash: 'h1',
      name: 'ci',
      workspaceId: 'w1',
      role: 'admin' as const,
      createdBy: 'a1',
      createdAt: 1,
      lastUsedAt: null,
      revokedAt: null,
    };
    await store.createApiToken(token);
    expect(await store.getApiTokenByHash('h1')).toEqual(token);
    const { tokenHash: _, ...listed } = token;
    expect(await store.listApiTokens('w1')).toEqual([listed]);
    await store.touchApiToken('t1', 7);
    await store.touchApiToken('t1', 3);
    expect(await store.revokeApiToken('w2', 't1', 8)).toBe(false);
    expect(await store.revokeApiToken('w1', 't1', 8)).toBe(true);
    expect(await store.revokeApiToken('w1', 't1', 9)).toBe(false);
    expect(await store.getApiTokenByHash('h1')).toMatchObject({ lastUsedAt: 7, revokedAt: 8 });
  });
});

describe('login throttle', () => {
  const policy = { baseMs: 1000, maxMs: 60_000, resetMs: 3_600_000 };

  it('counts every one of a burst of parallel attempts: only the free ones pass', async () => {
    const keys = [
      { key: 'account:a1', free: 3 },
      { key: 'ip:10.0.0.1', free: 20 },
    ];
    const decisions = await Promise.all(
      Array.from({ length: 10 }, () => store.takeLoginAttempt(keys, 1000, policy)),
    );
    expect(decisions.filter((d) => d.ok)).toHaveLength(3);
    expect(decisions.filter((d) => !d.ok)).toEqual(
      Array.from({ length: 7 }, () => ({ ok: false, retryAfterMs: 1000 })),
    );
    expect(await store.db.all('SELECT key, failures FROM admin_login_attempts ORDER BY key')).toEqual([
      { key: 'account:a1', failures: 3 },
      { key: 'ip:10.0.0.1', failures: 3 },
    ]);
    // The wait over, one more is counted; a success forgets the account's failures.
    expect(await store.takeLoginAttempt(keys, 2000, policy)).toEqual({ ok: true });
    await store.clearLoginAttempts('account:a1');
    expect(await store.takeLoginAttempt(keys, 2000, policy)).toEqual({ ok: true });
  });
});
