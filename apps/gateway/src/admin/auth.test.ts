import type { AuditEntry } from '@wabridge/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createTestApp } from '../testing/harness.ts';
import { createTestAccount, sessionOf, signIn, TEST_PASSWORD, TEST_SCRYPT, withToken } from './testing.ts';

let clock = Date.UTC(2026, 0, 5, 9, 0, 0);
let t: Awaited<ReturnType<typeof createTestApp>>;

beforeEach(async () => {
  clock = Date.UTC(2026, 0, 5, 9, 0, 0);
  t = await createTestApp({
    now: () => clock,
    access: { scrypt: TEST_SCRYPT },
    env: { ADMIN_TRUST_PROXY: 'true' },
  });
  await createTestAccount(t.runtime, { email: 'owner@example.com', owner: true });
});
afterEach(() => t.close());

const login = (email: string, password: string, headers: Record<string, string> = {}) =>
  t.app.request('/admin/api/auth/login', {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ email, password }),
  });
const me = (cookie: string) => t.app.request('/admin/api/auth/me', { headers: { cookie } });
const audit = (action: string): Promise<AuditEntry[]> => t.runtime.store.listAudit({ action });

describe('admin sign-in and sessions', () => {
  it('signs in with the right password: an HttpOnly SameSite=Lax cookie whose value is stored only hashed', async () => {
    const response = await login('Owner@Example.com', TEST_PASSWORD, { 'x-forwarded-for': '203.0.113.9' });
    expect(response.status).toBe(200);
    const setCookie = response.headers.get('set-cookie') ?? '';
    expect(setCookie).toMatch(/^wabridge_admin=[A-Za-z0-9_-]{43};/);
    expect(setCookie).toMatch(/HttpOnly/);
    expect(setCookie).toMatch(/SameSite=Lax/);
    expect(setCookie).toMatch(/Path=\//);
    const body = (await response.json()) as { owner: boolean; csrfToken: string; actor: string };
    expect(body).toMatchObject({ owner: true, actor: 'account:owner@example.com' });
    const id = /^wabridge_admin=([^;]+)/.exec(setCookie)?.[1] ?? '';
    const db = (t.runtime.store as unknown as { db: { all<T>(sql: string): T[] } }).db;
    const rows = db.all<{ id_hash: string; ip: string }>('SELECT id_hash, ip FROM admin_sessions');
    expect(rows).toHaveLength(1);
    expect(rows[0]?.id_hash).not.toContain(id);
    expect(rows[0]?.ip).toBe('203.0.113.9');
    const [entry] = await audit('session.create');
    expect(entry).toMatchObject({
      actor: 'account:owner@example.com',
      details: { from: { ip: '203.0.113.9' } },
    });
    expect(JSON.stringify(await t.runtime.store.listAudit({}))).not.toContain(TEST_PASSWORD);
  });

  it('answers a wrong password and an unknown email alike (401, same body) and audits both', async () => {
    const wrong = await login('owner@example.com', 'not the password at all');
    const unknown = await login('nobody@example.com', 'not the password at all');
    expect(wrong.status).toBe(401);
    expect(unknown.status).toBe(401);
    expect(await wrong.text()).toBe(await unknown.text());
    expect((await audit('session.failed')).map((e) => e.actor).sort()).toEqual([
      'login:nobody@example.com',
      'login:owner@example.com',
    ]);
  });

  it('marks the cookie Secure with the __Host- prefix when the public URL is https', async () => {
    const secure = await createTestApp({
      env: { PUBLIC_URL: 'https://wabridge.example.com' },
      access: { scrypt: TEST_SCRYPT },
    });
    try {
      await createTestAccount(secure.runtime, { email: 'a@example.com', owner: true });
      const response = await secure.app.request('/admin/api/auth/login', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ email: 'a@example.com', password: TEST_PASSWORD }),
      });
      const setCookie = response.headers.get('set-cookie') ?? '';
      expect(setCookie).toMatch(/^__Host-wabridge_admin=/);
      expect(setCookie).toMatch(/; Secure/);
    } finally {
      await secure.close();
    }
  });

  it('refuses to switch the Secure flag off for a public URL that is not local HTTP', async () => {
    await expect(
      createTestApp({ env: { PUBLIC_URL: 'https://wabridge.example.com', ADMIN_COOKIE_SECURE: 'false' } }),
    ).rejects.toThrow(/ADMIN_COOKIE_SECURE: false is only allowed when PUBLIC_URL is http:\/\/localhost/);
  });
});

describe('login brute force', () => {
  it('locks an account after 5 failures, with doubling waits, even for the right password, and forgives on success', async () => {
    for (let i = 0; i < 5; i++)
      expect((await login('owner@example.com', `guess ${i} guess guess`)).status).toBe(401);
    const locked = await login('owner@example.com', TEST_PASSWORD);
    expect(locked.status).toBe(429);
    expect(locked.headers.get('retry-after')).toBe('1');
    expect(await locked.json()).toMatchObject({ error: { code: 'rate_limited' } });
    clock += 1000;
    expect((await login('owner@example.com', 'guess 5 guess guess')).status).toBe(401);
    // The sixth failure doubles the wait.
    expect((await login('owner@example.com', TEST_PASSWORD)).headers.get('retry-after')).toBe('2');
    clock += 2000;
    expect((await login('owner@example.com', TEST_PASSWORD)).status).toBe(200);
    // Forgiven: five more failures are allowed again before a wait.
    for (let i = 0; i < 5; i++)
      expect((await login('owner@example.com', `again ${i} again again`)).status).toBe(401);
    expect((await login('owner@example.com', TEST_PASSWORD)).status).toBe(429);
    expect(await audit('session.throttled')).toHaveLength(3);
  });

  it('counts a burst of parallel guesses whole: no more than the free attempts are ever checked', async () => {
    const answers = await Promise.all(
      Array.from({ length: 12 }, (_, i) => login('owner@example.com', `parallel ${i} guess guess`)),
    );
    const statuses = answers.map((r) => r.status);
    expect(statuses.filter((s) => s === 401)).toHaveLength(5);
    expect(statuses.filter((s) => s === 429)).toHaveLength(7);
  });

  it('limits one IP across many accounts (20 free failures per IP)', async () => {
    const ip = { 'x-forwarded-for': '198.51.100.7' };
    for (let i = 0; i < 20; i++)
      expect((await login(`user${i}@example.com`, 'wrong wrong wrong', ip)).status).toBe(401);
    expect((await login('owner@example.com', TEST_PASSWORD, ip)).status).toBe(429);
    // Another IP is not held back by that one.
    expect(
      (await login('owner@example.com', TEST_PASSWORD, { 'x-forwarded-for': '198.51.100.8' })).status,
    ).toBe(200);
  });
});

describe('session lifecycle', () => {
  it('prevents session fixation: signing in with a planted session gives a new id and ends the planted one', async () => {
    const planted = await signIn(t.app, 'owner@example.com');
    const response = await login('owner@example.com', TEST_PASSWORD, { cookie: planted.cookie });
    expect(response.status).toBe(200);
    const fresh = (response.headers.get('set-cookie') ?? '').split(';')[0] ?? '';
    expect(fresh).not.toBe(planted.cookie);
    expect((await me(planted.cookie)).status).toBe(401);
    expect((await me(fresh)).status).toBe(200);
  });

  it('refuses a stolen cookie replayed after logout', async () => {
    const session = await signIn(t.app, 'owner@example.com');
    expect((await me(session.cookie)).status).toBe(200);
    const out = await session.request('/admin/api/auth/logout', { method: 'POST' });
    expect(out.status).toBe(204);
    expect(out.headers.get('set-cookie')).toMatch(/wabridge_admin=;/);
    const replay = await me(session.cookie);
    expect(replay.status).toBe(401);
    expect(await replay.json()).toEqual({
      error: { code: 'unauthorized', message: 'sign in first (or send an API token)' },
    });
  });

  it('logs out everywhere: every session of the account ends, other accounts keep theirs', async () => {
    await createTestAccount(t.runtime, { email: 'other@example.com', owner: true });
    const laptop = await signIn(t.app, 'owner@example.com');
    const phone = await signIn(t.app, 'owner@example.com');
    const other = await signIn(t.app, 'other@example.com');
    const response = await laptop.request('/admin/api/auth/logout-everywhere', { method: 'POST' });
    expect(await response.json()).toEqual({ sessionsEnded: 2 });
    expect((await me(laptop.cookie)).status).toBe(401);
    expect((await me(phone.cookie)).status).toBe(401);
    expect((await me(other.cookie)).status).toBe(200);
  });

  it('ends a session idle for 30 minutes, and any session 12 hours after sign-in', async () => {
    const idle = await signIn(t.app, 'owner@example.com');
    clock += 29 * 60_000;
    expect((await me(idle.cookie)).status).toBe(200);
    clock += 29 * 60_000; // used 29 minutes ago: still alive
    expect((await me(idle.cookie)).status).toBe(200);
    clock += 30 * 60_000;
    expect((await me(idle.cookie)).status).toBe(401);

    const busy = await signIn(t.app, 'owner@example.com');
    // Used every 20 minutes for 11 h 40 min, then once more just before 12 hours.
    for (let step = 0; step < 35; step++) {
      clock += 20 * 60_000;
      expect((await me(busy.cookie)).status).toBe(200);
    }
    clock += 20 * 60_000 - 1;
    expect((await me(busy.cookie)).status).toBe(200);
    clock += 1;
    expect((await me(busy.cookie)).status).toBe(401);
  });
});

describe('housekeeping', () => {
  it('a sign-in deletes the sessions no one can use any more and throttle counts older than an hour', async () => {
    const db = (t.runtime.store as unknown as { db: { all<T>(sql: string): T[] } }).db;
    await signIn(t.app, 'owner@example.com');
    expect((await login('stranger@example.com', 'wrong wrong wrong')).status).toBe(401);
    clock += 31 * 60_000;
    const alive = await signIn(t.app, 'owner@example.com');
    // The first session was idle past 30 minutes; the stranger's count is younger than an hour.
    expect(db.all('SELECT 1 FROM admin_sessions')).toHaveLength(1);
    expect(db.all("SELECT key FROM admin_login_attempts WHERE key LIKE 'account:%'")).toEqual([
      { key: 'account:stranger@example.com' },
    ]);
    clock += 30 * 60_000;
    await signIn(t.app, 'owner@example.com');
    expect(db.all("SELECT key FROM admin_login_attempts WHERE key LIKE 'account:%'")).toEqual([]);
    expect((await me(alive.cookie)).status).toBe(401);
  });
});

describe('CSRF', () => {
  it('refuses a state-changing request with the session cookie but without the token, or with another session’s', async () => {
    const session = await signIn(t.app, 'owner@example.com');
    const other = await signIn(t.app, 'owner@example.com');
    const missing = await session.request('/admin/api/auth/logout', { method: 'POST', csrf: false });
    expect(missing.status).toBe(403);
    expect(await missing.json()).toMatchObject({ error: { code: 'csrf_failed' } });
    const foreign = await sessionOf(t.app, session.cookie, other.csrfToken).request(
      '/admin/api/auth/logout',
      {
        method: 'POST',
      },
    );
    expect(foreign.status).toBe(403);
    // A form post carries it as _csrf.
    const form = await t.app.request('/admin/api/auth/logout', {
      method: 'POST',
      headers: { cookie: session.cookie, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ _csrf: 'forged' }).toString(),
    });
    expect(form.status).toBe(403);
    // Nothing happened: the session is alive.
    expect((await me(session.cookie)).status).toBe(200);
    const formOk = await t.app.request('/admin/api/auth/logout', {
      method: 'POST',
      headers: { cookie: session.cookie, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ _csrf: session.csrfToken }).toString(),
    });
    expect(formOk.status).toBe(204);
  });
});

describe('API tokens', () => {
  it('authenticate with Bearer without a CSRF token, are stored hashed, and stop working when revoked', async () => {
    const owner = await t.runtime.store.findAdminAccountByEmail('owner@example.com');
    const { token, record } = await t.runtime.access.createApiToken('test', {
      workspaceId: t.workspaceId,
      role: 'auditor',
      name: 'ci',
      createdBy: owner?.id ?? '',
    });
    expect(token).toMatch(/^wbt_[A-Za-z0-9_-]{43}$/);
    const answer = await withToken(t.app, token, '/admin/api/auth/me');
    expect(await answer.json()).toMatchObject({
      kind: 'token',
      actor: `token:${record.id}`,
      owner: false,
      grants: [{ workspaceId: 'acme', role: 'auditor' }],
      csrfToken: null,
    });
    const db = (t.runtime.store as unknown as { db: { all<T>(sql: string): T[] } }).db;
    expect(JSON.stringify(db.all('SELECT * FROM api_tokens'))).not.toContain(token.slice(4));
    await t.runtime.access.revokeApiToken('test', t.workspaceId, record.id);
    const revoked = await withToken(t.app, token, '/admin/api/auth/me');
    expect(revoked.status).toBe(401);
    expect((await withToken(t.app, 'wbt_not-a-token', '/admin/api/auth/me')).status).toBe(401);
  });
});

describe('accounts', () => {
  it('changing the password needs the current one and ends every other session of the account', async () => {
    const here = await signIn(t.app, 'owner@example.com');
    const elsewhere = await signIn(t.app, 'owner@example.com');
    const wrong = await here.request('/admin/api/auth/password', {
      method: 'POST',
      json: { currentPassword: 'not my password', newPassword: 'a brand new passphrase' },
    });
    expect(wrong.status).toBe(403);
    const changed = await here.request('/admin/api/auth/password', {
      method: 'POST',
      json: { currentPassword: TEST_PASSWORD, newPassword: 'a brand new passphrase' },
    });
    expect(changed.status).toBe(204);
    expect((await me(here.cookie)).status).toBe(200);
    expect((await me(elsewhere.cookie)).status).toBe(401);
    expect((await login('owner@example.com', TEST_PASSWORD)).status).toBe(401);
    expect((await login('owner@example.com', 'a brand new passphrase')).status).toBe(200);
    expect(JSON.stringify(await t.runtime.store.listAudit({}))).not.toContain('a brand new passphrase');
  });

  it('disabling an account ends its sessions and stops its tokens; the last owner cannot be disabled', async () => {
    const owner = await signIn(t.app, 'owner@example.com');
    const admin = await createTestAccount(t.runtime, {
      email: 'admin@example.com',
      role: 'admin',
      workspaceId: 'acme',
    });
    const adminSession = await signIn(t.app, 'admin@example.com');
    const { token } = await t.runtime.access.createApiToken('test', {
      workspaceId: 'acme',
      role: 'auditor',
      name: 'ci',
      createdBy: admin.id,
    });
    expect((await withToken(t.app, token, '/admin/api/auth/me')).status).toBe(200);
    const disabled = await owner.request(`/admin/api/accounts/${admin.id}`, {
      method: 'PATCH',
      json: { disabled: true },
    });
    expect(disabled.status).toBe(200);
    expect((await me(adminSession.cookie)).status).toBe(401);
    expect((await withToken(t.app, token, '/admin/api/auth/me')).status).toBe(401);
    expect((await login('admin@example.com', TEST_PASSWORD)).status).toBe(401);
    const self = await t.runtime.store.findAdminAccountByEmail('owner@example.com');
    const last = await owner.request(`/admin/api/accounts/${self?.id}`, {
      method: 'PATCH',
      json: { owner: false },
    });
    expect(last.status).toBe(409);
  });

  it('a token stops working when its creator is no longer the workspace’s admin', async () => {
    const admin = await createTestAccount(t.runtime, {
      email: 'admin@example.com',
      role: 'admin',
      workspaceId: 'acme',
    });
    const { token } = await t.runtime.access.createApiToken('test', {
      workspaceId: 'acme',
      role: 'supervisor',
      name: 'dashboard',
      createdBy: admin.id,
    });
    expect((await withToken(t.app, token, '/admin/api/workspaces/acme/health')).status).toBe(200);
    await t.runtime.access.setGrant('test', { accountId: admin.id, workspaceId: 'acme', role: 'auditor' });
    expect((await withToken(t.app, token, '/admin/api/workspaces/acme/health')).status).toBe(401);
  });
});

describe('over a real server', () => {
  it('signs in over HTTP with the store in its own thread, taking the client IP from the socket', async () => {
    const { startTestGateway } = await import('../testing/harness.ts');
    await using gateway = await startTestGateway({ worker: false });
    await gateway.runtime.access.createAccount('test', {
      email: 'ops@example.com',
      name: 'Ops',
      password: TEST_PASSWORD,
      owner: true,
    });
    const response = await fetch(`${gateway.url}/admin/api/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: 'ops@example.com', password: TEST_PASSWORD }),
    });
    expect(response.status).toBe(200);
    const cookie = (response.headers.get('set-cookie') ?? '').split(';')[0] ?? '';
    const me = await fetch(`${gateway.url}/admin/api/auth/me`, { headers: { cookie } });
    expect(await me.json()).toMatchObject({ actor: 'account:ops@example.com', owner: true });
    const [entry] = await gateway.runtime.store.listAudit({ action: 'session.create', limit: 1 });
    expect(entry?.details).toMatchObject({ from: { ip: expect.stringMatching(/127\.0\.0\.1$/) } });
  });
});
