import { slackConnector } from '@wabridge/connector-slack';
import type { AuditEntry } from '@wabridge/core';
import { type SlackEmulator, startSlackEmulator } from '@wabridge/sandbox/slack';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp } from '../testing/harness.ts';
import { createTestAccount, signIn, TEST_SCRYPT, type TestSession, withToken } from './testing.ts';

const BOT_TOKEN = 'xoxb-1111-2222-admin-api-test-token';
const SIGNING_SECRET = 'admin-api-test-signing-secret';

let slack: SlackEmulator;
let t: Awaited<ReturnType<typeof createTestApp>>;
let owner: TestSession;
let admin: TestSession;
let auditorToken: string;
let adminToken: string;
let adminId: string;

beforeAll(async () => {
  slack = await startSlackEmulator({
    signingSecret: SIGNING_SECRET,
    botToken: BOT_TOKEN,
    teamId: 'T0ACME',
    channels: [{ id: 'C0ACME01', name: 'whatsapp' }],
  });
  t = await createTestApp({ registered: [slackConnector], access: { scrypt: TEST_SCRYPT } });
  await createTestAccount(t.runtime, { email: 'owner@example.com', owner: true });
  const adminAccount = await createTestAccount(t.runtime, {
    email: 'admin@example.com',
    role: 'admin',
    workspaceId: 'acme',
  });
  adminId = adminAccount.id;
  owner = await signIn(t.app, 'owner@example.com');
  admin = await signIn(t.app, 'admin@example.com');
  const minted = await admin.request('/admin/api/workspaces/acme/tokens', {
    method: 'POST',
    json: { name: 'auditor bot', role: 'auditor' },
  });
  expect(minted.status).toBe(201);
  auditorToken = ((await minted.json()) as { token: string }).token;
  adminToken = (
    (await (
      await admin.request('/admin/api/workspaces/acme/tokens', {
        method: 'POST',
        json: { name: 'ci', role: 'admin' },
      })
    ).json()) as { token: string }
  ).token;
}, 120_000);

afterAll(async () => {
  await t?.close();
  await slack?.close();
});

const lastAudit = async (action: string): Promise<AuditEntry | undefined> =>
  (await t.runtime.store.listAudit({ action, limit: 1 }))[0];

describe('workspaces', () => {
  it('an owner creates one (201, audited with who and from where); a taken id is 409, a bad one 400 naming the field', async () => {
    const created = await owner.request('/admin/api/workspaces', {
      method: 'POST',
      json: { id: 'globex', name: 'Globex' },
      headers: { 'user-agent': 'admin-api-test' },
    });
    expect(created.status).toBe(201);
    expect(await created.json()).toMatchObject({
      id: 'globex',
      name: 'Globex',
      policies: { numberMasking: 'partial' },
    });
    expect(await lastAudit('workspace.create')).toMatchObject({
      actor: 'account:owner@example.com',
      workspaceId: 'globex',
      details: { from: { userAgent: 'admin-api-test' } },
    });
    const again = await owner.request('/admin/api/workspaces', {
      method: 'POST',
      json: { id: 'globex', name: 'Globex' },
    });
    expect(again.status).toBe(409);
    const bad = await owner.request('/admin/api/workspaces', {
      method: 'POST',
      json: { id: 'Not OK', name: 'x' },
    });
    expect(bad.status).toBe(400);
    expect(await bad.json()).toEqual({
      error: { code: 'bad_request', message: 'json: id: lowercase letters, digits and dashes (2 to 63)' },
    });
  });

  it('lists only the workspaces the caller has a role in', async () => {
    const mine = (await (await admin.request('/admin/api/workspaces')).json()) as {
      workspaces: { id: string; role: string }[];
    };
    expect(mine.workspaces.map((w) => [w.id, w.role])).toEqual([['acme', 'admin']]);
    const all = (await (await owner.request('/admin/api/workspaces')).json()) as {
      workspaces: { id: string }[];
    };
    expect(all.workspaces.map((w) => w.id).sort()).toEqual(['acme', 'globex']);
  });

  it('changes policies with every problem named and nothing stored when one is wrong', async () => {
    const wrong = await admin.request('/admin/api/workspaces/acme', {
      method: 'PATCH',
      json: { policies: { numberMasking: 'last4', reorderWindowMs: -1 } },
    });
    expect(wrong.status).toBe(400);
    expect(((await wrong.json()) as { error: { message: string } }).error.message).toMatch(/reorderWindowMs/);
    expect((await t.runtime.store.getWorkspace('acme'))?.policies.numberMasking).toBe('partial');
    const right = await admin.request('/admin/api/workspaces/acme', {
      method: 'PATCH',
      json: { name: 'Acme Support', policies: { numberMasking: 'last4' } },
    });
    expect(right.status).toBe(200);
    expect(await right.json()).toMatchObject({ name: 'Acme Support', policies: { numberMasking: 'last4' } });
  });
});

describe('numbers', () => {
  it('adds and removes a number; another workspace’s number is taken (409, not named) and cannot be removed from here (404)', async () => {
    expect(
      (
        await owner.request('/admin/api/workspaces/globex/numbers', {
          method: 'POST',
          json: { phoneNumberId: '5550001' },
        })
      ).status,
    ).toBe(201);
    const taken = await admin.request('/admin/api/workspaces/acme/numbers', {
      method: 'POST',
      json: { phoneNumberId: '5550001' },
    });
    expect(taken.status).toBe(409);
    expect(await taken.text()).not.toContain('globex');
    expect(
      (await admin.request('/admin/api/workspaces/acme/numbers/5550001', { method: 'DELETE' })).status,
    ).toBe(404);
    expect((await t.runtime.store.resolvePhoneNumber('5550001'))?.workspaceId).toBe('globex');
    const added = await admin.request('/admin/api/workspaces/acme/numbers', {
      method: 'POST',
      json: { phoneNumberId: '5550002', displayPhoneNumber: '+1 555 0002' },
    });
    expect(added.status).toBe(201);
    const list = (await (await admin.request('/admin/api/workspaces/acme/numbers')).json()) as {
      numbers: { phoneNumberId: string }[];
    };
    expect(list.numbers.map((n) => n.phoneNumberId)).toContain('5550002');
    expect(
      (await admin.request('/admin/api/workspaces/acme/numbers/5550002', { method: 'DELETE' })).status,
    ).toBe(204);
  });
});

describe('connectors', () => {
  const config = {
    botToken: BOT_TOKEN,
    signingSecret: SIGNING_SECRET,
    teamId: 'T0ACME',
    defaultChannel: 'C0ACME01',
  };

  it('refuses to enable with invalid settings (422 naming the field) and stores nothing', async () => {
    const response = await admin.request('/admin/api/workspaces/acme/connectors/slack', {
      method: 'PUT',
      json: { enabled: true, config: { botToken: BOT_TOKEN, teamId: 'T0ACME' } },
    });
    expect(response.status).toBe(422);
    const body = (await response.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe('config_invalid');
    expect(body.error.message).toMatch(/defaultChannel/);
    expect(await t.runtime.store.getConnector('acme', 'slack')).toBeNull();
  });

  it('enables Slack, masks its secrets on every read, keeps them when the mask comes back, and tests the connection', async () => {
    const enabled = await admin.request('/admin/api/workspaces/acme/connectors/slack', {
      method: 'PUT',
      json: { enabled: true, config: { ...config, slackApiUrl: slack.apiUrl } },
    });
    expect(enabled.status).toBe(200);
    const shown = await enabled.json();
    expect(shown).toMatchObject({
      enabled: true,
      config: { botToken: '••••••', signingSecret: '••••••', teamId: 'T0ACME' },
    });
    expect(JSON.stringify(shown)).not.toContain(BOT_TOKEN);
    const listed = await (await admin.request('/admin/api/workspaces/acme/connectors')).text();
    expect(listed).not.toContain(BOT_TOKEN);
    expect(listed).not.toContain(SIGNING_SECRET);
    // A form posts the masked values back with one changed field: the secrets stay.
    const edited = await admin.request('/admin/api/workspaces/acme/connectors/slack', {
      method: 'PUT',
      json: { config: { botToken: '••••••', signingSecret: '••••••', notePrefix: '##' } },
    });
    expect(edited.status).toBe(200);
    const test = await admin.request('/admin/api/workspaces/acme/connectors/slack/test', { method: 'POST' });
    expect(test.status).toBe(200);
    expect(await test.json()).toMatchObject({ ok: true, connectorId: 'slack' });
    const audit = JSON.stringify(await t.runtime.store.listAudit({ workspaceId: 'acme' }));
    expect(audit).not.toContain(BOT_TOKEN);
    expect(audit).not.toContain(SIGNING_SECRET);
    expect(await lastAudit('connector.test')).toMatchObject({
      actor: 'account:admin@example.com',
      details: { ok: true },
    });
  });

  it('single sign-on answers 404 while it is not configured', async () => {
    const response = await t.app.request('/admin/api/auth/oidc/login');
    expect(response.status).toBe(404);
    expect(((await response.json()) as { error: { message: string } }).error.message).toMatch(
      /ADMIN_OIDC_ISSUER/,
    );
  });

  it('an unknown connector is 404', async () => {
    expect((await admin.request('/admin/api/workspaces/acme/connectors/fax')).status).toBe(404);
  });
});

describe('API tokens', () => {
  it('act with their one role in their one workspace', async () => {
    expect((await withToken(t.app, auditorToken, '/admin/api/workspaces/acme/audit')).status).toBe(200);
    const write = await withToken(t.app, auditorToken, '/admin/api/workspaces/acme/connectors/slack', {
      method: 'PUT',
      json: { enabled: false },
    });
    expect(write.status).toBe(403);
    const other = await withToken(t.app, adminToken, '/admin/api/workspaces/globex/numbers');
    const missing = await withToken(t.app, adminToken, '/admin/api/workspaces/nope/numbers');
    expect(other.status).toBe(404);
    expect((await other.text()).replace('globex', 'X')).toBe((await missing.text()).replace('nope', 'X'));
    // Without a CSRF token: tokens are exempt.
    expect(
      (
        await withToken(t.app, adminToken, '/admin/api/workspaces/acme', {
          method: 'PATCH',
          json: { name: 'Acme' },
        })
      ).status,
    ).toBe(200);
    expect(await lastAudit('workspace.update')).toMatchObject({
      actor: expect.stringMatching(/^token:tok_/),
    });
  });

  it('cannot mint tokens; a revoked one is refused; values are never listed', async () => {
    const mint = await withToken(t.app, adminToken, '/admin/api/workspaces/acme/tokens', {
      method: 'POST',
      json: { name: 'x', role: 'admin' },
    });
    expect(mint.status).toBe(403);
    const listed = (await (await admin.request('/admin/api/workspaces/acme/tokens')).json()) as {
      tokens: { id: string; name: string }[];
    };
    const text = JSON.stringify(listed);
    expect(text).not.toContain(auditorToken.slice(4));
    const id = listed.tokens.find((k) => k.name === 'auditor bot')?.id ?? '';
    expect(
      (await admin.request(`/admin/api/workspaces/acme/tokens/${id}`, { method: 'DELETE' })).status,
    ).toBe(204);
    expect((await withToken(t.app, auditorToken, '/admin/api/workspaces/acme/audit')).status).toBe(401);
    expect(await lastAudit('token.revoke')).toMatchObject({ workspaceId: 'acme', details: { token: id } });
  });
});

describe('members and the audit trail', () => {
  it('a workspace admin grants and revokes roles in their workspace, by email', async () => {
    await createTestAccount(t.runtime, { email: 'eve@example.com' });
    const granted = await admin.request('/admin/api/workspaces/acme/members', {
      method: 'PUT',
      json: { email: 'eve@example.com', role: 'auditor' },
    });
    expect(granted.status).toBe(200);
    const eve = await signIn(t.app, 'eve@example.com');
    expect((await eve.request('/admin/api/workspaces/acme/audit')).status).toBe(200);
    expect((await eve.request('/admin/api/workspaces/acme/connectors')).status).toBe(403);
    const members = (await (await admin.request('/admin/api/workspaces/acme/members')).json()) as {
      members: { email: string; role: string; accountId: string }[];
    };
    expect(members.members.map((m) => [m.email, m.role]).sort()).toEqual([
      ['admin@example.com', 'admin'],
      ['eve@example.com', 'auditor'],
    ]);
    const eveId = members.members.find((m) => m.email === 'eve@example.com')?.accountId;
    expect(
      (await admin.request(`/admin/api/workspaces/acme/members/${eveId}`, { method: 'DELETE' })).status,
    ).toBe(204);
    // Her session now sees the workspace as missing.
    expect((await eve.request('/admin/api/workspaces/acme/audit')).status).toBe(404);
    expect(adminId).toBeTruthy();
  });

  it('filters the audit trail by action prefix and actor, newest first, and pages with `before`', async () => {
    const page = (await (
      await admin.request(
        '/admin/api/workspaces/acme/audit?action=connector.*&actor=account:admin@example.com&limit=2',
      )
    ).json()) as { entries: AuditEntry[]; next: number | null };
    expect(page.entries).toHaveLength(2);
    expect(page.entries.every((e) => e.action.startsWith('connector.') && e.workspaceId === 'acme')).toBe(
      true,
    );
    expect(page.entries[0]?.id).toBeGreaterThan(page.entries[1]?.id ?? 0);
    const next = (await (
      await admin.request(`/admin/api/workspaces/acme/audit?action=connector.*&before=${page.next}`)
    ).json()) as { entries: AuditEntry[] };
    expect(next.entries.every((e) => e.id < (page.next ?? 0))).toBe(true);
    expect(next.entries.length).toBeGreaterThan(0);
    const bad = await admin.request('/admin/api/workspaces/acme/audit?since=yesterday');
    expect(bad.status).toBe(400);
    // The global trail (sign-ins, accounts) is for owners.
    expect((await admin.request('/admin/api/audit')).status).toBe(403);
    const global = (await (await owner.request('/admin/api/audit?action=session.create')).json()) as {
      entries: AuditEntry[];
    };
    expect(global.entries.length).toBeGreaterThan(0);
  });
});
