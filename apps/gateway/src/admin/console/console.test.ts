import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../app.ts';
import { defaultRegistry } from '../../connectors.ts';
import { createTestApp } from '../../testing/harness.ts';
import { createTestAccount, TEST_PASSWORD, TEST_SCRYPT } from '../testing.ts';
import { SignInLinks } from './sign-in-links.ts';

/**
 * The console's pages through the whole app (admin middleware, sessions, CSRF) with
 * `app.request()`: what each role sees, what the server refuses, and that nothing typed is echoed
 * unescaped. The browser journey is tests/e2e/src/admin-console.test.ts.
 */
type TestApp = Awaited<ReturnType<typeof createTestApp>>;
let t: TestApp;

interface Browser {
  cookie: string;
  get(path: string): Promise<Response>;
  post(path: string, form: Record<string, string>, csrf?: boolean): Promise<Response>;
  csrf(): Promise<string>;
}

async function signIn(email: string, password = TEST_PASSWORD): Promise<Browser> {
  const answer = await t.app.request('/admin/sign-in', {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ email, password }),
  });
  expect(answer.status, await answer.clone().text()).toBe(303);
  const cookie = (answer.headers.get('set-cookie') ?? '').split(';')[0] ?? '';
  return browserWith(cookie);
}

function browserWith(cookie: string): Browser {
  const browser: Browser = {
    cookie,
    get: async (path) => t.app.request(path, { headers: { cookie } }),
    async csrf() {
      const page = await (await browser.get('/admin/workspaces')).text();
      return /name="_csrf" value="([^"]+)"/.exec(page)?.[1] ?? '';
    },
    async post(path, form, csrf = true) {
      return await t.app.request(path, {
        method: 'POST',
        headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ ...form, ...(csrf ? { _csrf: await browser.csrf() } : {}) }),
      });
    },
  };
  return browser;
}

beforeAll(async () => {
  t = await createTestApp({
    access: { scrypt: TEST_SCRYPT },
    registered: [defaultRegistry().require('slack')],
  });
  await t.runtime.admin.createWorkspace('test', { id: 'globex', name: 'Globex' });
  await createTestAccount(t.runtime, { email: 'owner@example.com', owner: true });
  await createTestAccount(t.runtime, { email: 'admin@example.com', role: 'admin', workspaceId: 'acme' });
  await createTestAccount(t.runtime, { email: 'auditor@example.com', role: 'auditor', workspaceId: 'acme' });
});

afterAll(async () => {
  await t?.close();
});

describe('admin console', () => {
  it('a page without a session redirects to sign-in; a wrong password answers 401 with the form and no cookie', async () => {
    const anonymous = await t.app.request('/admin/workspaces/acme/health');
    expect(anonymous.status).toBe(303);
    expect(anonymous.headers.get('location')).toBe(
      '/admin/sign-in?next=%2Fadmin%2Fworkspaces%2Facme%2Fhealth',
    );
    const wrong = await t.app.request('/admin/sign-in', {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ email: 'owner@example.com', password: 'not the password' }),
    });
    expect(wrong.status).toBe(401);
    expect(wrong.headers.get('set-cookie')).toBeNull();
    const form = await wrong.text();
    expect(form).toContain('Wrong email or password.');
    // No OpenID provider configured: no single sign-on button.
    expect(form).not.toContain('single sign-on');
  });

  it('every sign-in makes a new session, and signing out ends it: the old cookie opens nothing', async () => {
    const first = await signIn('owner@example.com');
    const second = await signIn('owner@example.com');
    expect(second.cookie).not.toBe(first.cookie);
    expect((await second.get('/admin/workspaces')).status).toBe(200);
    expect((await second.post('/admin/sign-out', {})).status).toBe(303);
    const replay = await second.get('/admin/workspaces');
    expect(replay.status).toBe(303);
    expect(replay.headers.get('location')).toMatch(/^\/admin\/sign-in/);
    expect((await first.get('/admin/workspaces')).status).toBe(200);
  });

  it('a change posted without the session CSRF token is refused and changes nothing', async () => {
    const owner = await signIn('owner@example.com');
    const answer = await owner.post('/admin/workspaces', { name: 'Forged', id: 'forged' }, false);
    expect(answer.status).toBe(403);
    expect(await t.runtime.store.getWorkspace('forged')).toBeNull();
  });

  it('creating a workspace: a bad id is marked on its field and stores nothing; what was typed is escaped', async () => {
    const owner = await signIn('owner@example.com');
    const refused = await owner.post('/admin/workspaces', {
      name: '<script>alert(1)</script>',
      id: 'Bad Id!',
    });
    expect(refused.status).toBe(400);
    const page = await refused.text();
    expect(page).toContain(
      'id="f-id" name="id" value="Bad Id!" aria-describedby="f-id-hint f-id-error" aria-invalid="true"',
    );
    expect(page).not.toContain('<script>alert(1)</script>');
    expect(page).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect((await t.runtime.store.listWorkspaces()).map((w) => w.id).sort()).toEqual(['acme', 'globex']);

    const created = await owner.post('/admin/workspaces', { name: 'Initech <Support>', id: '' });
    expect(created.status).toBe(303);
    expect(created.headers.get('location')).toBe('/admin/workspaces/initech-support?done=workspace-created');
    const shown = await (await owner.get('/admin/workspaces/initech-support')).text();
    expect(shown).toContain('Initech &lt;Support&gt;');
  });

  it('connector settings: each wrong field is marked and nothing is stored; a valid form enables it, secrets encrypted and never sent back', async () => {
    const admin = await signIn('admin@example.com');
    const refused = await admin.post('/admin/workspaces/acme/connectors/slack', {
      action: 'enable',
      'cfg.botToken': 'xoxp-1234-user-token',
      'cfg.signingSecret': 'signing-secret-1234',
      'cfg.defaultChannel': 'general',
      'cfg.postsPerSecondPerChannel': 'fast',
    });
    expect(refused.status).toBe(400);
    const page = await refused.text();
    expect(/id="cfg-botToken-error">([^<]*)</.exec(page)?.[1]).toContain('user token');
    expect(/id="cfg-postsPerSecondPerChannel-error">([^<]*)</.exec(page)?.[1]).toBe(
      '&quot;fast&quot; is not a number',
    );
    expect(page).not.toContain('xoxp-1234-user-token');
    expect(page).not.toContain('signing-secret-1234');
    expect(await t.runtime.store.getConnector('acme', 'slack')).toBeNull();

    const refusedAgain = await admin.post('/admin/workspaces/acme/connectors/slack', {
      action: 'enable',
      'cfg.botToken': 'xoxb-1234-bot-token',
      'cfg.signingSecret': 'signing-secret-1234',
      'cfg.defaultChannel': 'general',
    });
    const again = await refusedAgain.text();
    expect(again).toMatch(/id="cfg-teamId-error">[^<]+</);
    expect(again).toMatch(/id="cfg-defaultChannel-error">[^<]*Slack channel id/);
    expect(again).toContain('value="general"');

    const saved = await admin.post('/admin/workspaces/acme/connectors/slack', {
      action: 'enable',
      'cfg.botToken': 'xoxb-1234-bot-token',
      'cfg.signingSecret': 'signing-secret-1234',
      'cfg.teamId': 'T0ACME',
      'cfg.defaultChannel': 'C0ACME01',
    });
    expect(saved.status).toBe(303);
    const stored = await t.runtime.store.getConnector('acme', 'slack');
    expect(stored?.enabled).toBe(true);
    expect(JSON.stringify(stored?.config)).not.toContain('xoxb-');
    expect(stored?.encryptedSecrets).not.toContain('xoxb-');
    const shown = await (await admin.get('/admin/workspaces/acme/connectors/slack')).text();
    expect(shown).not.toContain('xoxb-1234-bot-token');
    expect(shown).toContain('value="C0ACME01"');

    // Saving with the secrets left empty keeps them.
    await admin.post('/admin/workspaces/acme/connectors/slack', {
      action: 'save',
      'cfg.defaultChannel': 'C0ACME02',
    });
    const described = await t.runtime.admin.describeConnector('acme', 'slack');
    expect(described?.config).toMatchObject({
      defaultChannel: 'C0ACME02',
      botToken: '••••••',
      teamId: 'T0ACME',
    });
  });

  it('a workspace the viewer has no role in answers exactly like a missing one (404, same body)', async () => {
    const admin = await signIn('admin@example.com');
    const other = await admin.get('/admin/workspaces/globex/health');
    const missing = await admin.get('/admin/workspaces/nowhere/health');
    expect(other.status).toBe(404);
    expect(missing.status).toBe(404);
    expect(await other.text()).toBe(await missing.text());
    const posted = await admin.post('/admin/workspaces/globex/numbers', { phoneNumberId: '123456' });
    expect(posted.status).toBe(404);
    expect(await t.runtime.store.resolvePhoneNumber('123456')).toBeNull();
    const list = await (await admin.get('/admin/workspaces')).text();
    expect(list).not.toContain('Globex');
  });

  it('an auditor sees no form that changes anything on any page, and every change it posts is refused', async () => {
    const auditor = await signIn('auditor@example.com');
    for (const path of [
      '/admin/workspaces',
      '/admin/workspaces/acme',
      '/admin/workspaces/acme/policies',
      '/admin/workspaces/acme/audit',
      '/admin/workspaces/acme/archive?verify=1',
      '/admin/workspaces/acme/archive/holds',
      '/admin/workspaces/acme/archive/retention?dry-run=1',
      '/admin/workspaces/acme/archive/erasures',
    ]) {
      const answer = await auditor.get(path);
      expect(answer.status, path).toBe(200);
      const page = await answer.text();
      const posting = [...page.matchAll(/<form[^>]*method="post"[^>]*action="([^"]+)"/g)].map((m) => m[1]);
      expect(posting, path).toEqual(['/admin/sign-out']);
      expect(page, path).not.toMatch(/<textarea|<select/);
    }
    // Health and connector settings are not the auditor's to read (core's role table).
    expect((await auditor.get('/admin/workspaces/acme/health')).status).toBe(403);
    expect((await auditor.get('/admin/workspaces/acme/connectors/slack')).status).toBe(403);
    for (const [path, form] of [
      ['/admin/workspaces', { name: 'Rogue', id: 'rogue' }],
      ['/admin/workspaces/acme/numbers', { phoneNumberId: '999' }],
      ['/admin/workspaces/acme/numbers/106540352242922/remove', {}],
      ['/admin/workspaces/acme/connectors/slack', { action: 'disable' }],
      ['/admin/workspaces/acme/connectors/slack/test', {}],
      ['/admin/workspaces/acme/policies', { numberMasking: 'none' }],
      ['/admin/workspaces/acme/dead-jobs/replay', { scope: 'all' }],
      ['/admin/workspaces/acme/archive/checkpoint', {}],
      ['/admin/workspaces/acme/archive/holds', { scope: 'workspace', reason: 'rogue' }],
      ['/admin/workspaces/acme/archive/retention/messages', { keepDays: '1' }],
      ['/admin/workspaces/acme/archive/retention/run', {}],
      ['/admin/workspaces/acme/archive/erasures', { contact: '15550001111', reason: 'x', confirm: 'yes' }],
      ['/admin/workspaces/acme/archive/export', { contact: '15550001111' }],
    ] as const) {
      expect((await auditor.post(path, form)).status, path).toBe(403);
    }
    expect(await t.runtime.store.getWorkspace('rogue')).toBeNull();
    expect(await t.runtime.store.listHolds('acme')).toEqual([]);
    expect(await t.runtime.store.listRetention('acme')).toEqual([]);
    expect(await t.runtime.store.resolvePhoneNumber('106540352242922')).not.toBeNull();
    expect((await t.runtime.store.getWorkspace('acme'))?.policies.numberMasking).toBe('partial');
  });

  it("the policies page shows and sets whether agents' internal notes are archived; a bad value is a field error", async () => {
    const admin = await signIn('admin@example.com');
    const form = await (await admin.get('/admin/workspaces/acme/policies')).text();
    expect(form).toMatch(/<option value="false" selected>Not archived/);
    const bad = await admin.post('/admin/workspaces/acme/policies', { archiveInternalNotes: 'maybe' });
    expect(bad.status).toBe(400);
    expect(await bad.text()).toContain(
      'id="p-archiveInternalNotes-error">Choose whether internal notes are archived.',
    );
    const saved = await admin.post('/admin/workspaces/acme/policies', { archiveInternalNotes: 'true' });
    expect(saved.status).toBe(303);
    expect((await t.runtime.store.getWorkspace('acme'))?.policies.archiveInternalNotes).toBe(true);
    expect(await (await admin.get('/admin/workspaces/acme/policies')).text()).toMatch(
      /<option value="true" selected>Kept in the archive, marked internal/,
    );
    const auditor = await signIn('auditor@example.com');
    expect(await (await auditor.get('/admin/workspaces/acme/policies')).text()).toContain(
      '<th scope="row">Agents\' internal notes</th><td>Kept in the archive, marked internal</td>',
    );
    await admin.post('/admin/workspaces/acme/policies', { archiveInternalNotes: 'false' });
    expect((await t.runtime.store.getWorkspace('acme'))?.policies.archiveInternalNotes).toBe(false);
  });

  it('the audit trail names who did what, filtered by action prefix', async () => {
    const owner = await signIn('owner@example.com');
    await owner.post('/admin/workspaces/acme/numbers', { phoneNumberId: '15550001', displayPhoneNumber: '' });
    const page = await (await owner.get('/admin/workspaces/acme/audit?action=number')).text();
    expect(page).toContain('account:owner@example.com');
    expect(page).toContain('number.add');
    expect(page).not.toContain('connector.enable');
  });

  it("the demo's one-time link signs its owner in once; a used or made-up link signs nobody in", async () => {
    const links = new SignInLinks();
    const app = createApp(t.runtime, { signInLinks: links });
    const path = links.issue({ email: 'owner@example.com', password: TEST_PASSWORD });
    const first = await app.request(path);
    expect(first.status).toBe(303);
    const cookie = (first.headers.get('set-cookie') ?? '').split(';')[0] ?? '';
    expect((await app.request('/admin/workspaces', { headers: { cookie } })).status).toBe(200);
    const again = await app.request(path);
    expect(again.status).toBe(410);
    expect(again.headers.get('set-cookie')).toBeNull();
    // The gateway itself (no SignInLinks) has no links at all.
    expect((await t.app.request(path)).status).toBe(410);
  });

  it('the global audit trail (sign-ins, accounts) is for owners: linked in their bar, refused to others', async () => {
    const owner = await signIn('owner@example.com');
    const page = await (await owner.get('/admin/audit?action=session')).text();
    expect(page).toContain('href="/admin/audit"');
    expect(page).toContain('session.create');
    expect(page).toContain('account:owner@example.com');
    expect(page).not.toContain('workspace.create');
    const admin = await signIn('admin@example.com');
    expect((await admin.get('/admin/audit')).status).toBe(403);
    expect(await (await admin.get('/admin/workspaces')).text()).not.toContain('href="/admin/audit"');
  });

  it('members: an admin gives an existing account a role by email and revokes it; an unknown email is a field error', async () => {
    const admin = await signIn('admin@example.com');
    await createTestAccount(t.runtime, { email: 'sam@example.com' });
    const unknown = await admin.post('/admin/workspaces/acme/members', {
      email: 'nobody@example.com',
      role: 'supervisor',
    });
    expect(unknown.status).toBe(400);
    expect(await unknown.text()).toMatch(/id="f-email-error">No account has the email nobody@example.com/);
    const granted = await admin.post('/admin/workspaces/acme/members', {
      email: 'sam@example.com',
      role: 'supervisor',
    });
    expect(granted.status).toBe(303);
    const page = await (await admin.get('/admin/workspaces/acme/members')).text();
    expect(page).toMatch(/<td>sam@example.com<\/td><td>sam@example.com<\/td><td>Supervisor<\/td>/);
    const sam = await t.runtime.store.findAdminAccountByEmail('sam@example.com');
    expect((await admin.post(`/admin/workspaces/acme/members/${sam?.id}/revoke`, {})).status).toBe(303);
    expect(await t.runtime.store.listAdminGrants({ workspaceId: 'acme', accountId: sam?.id ?? '' })).toEqual(
      [],
    );
    const audit = await (await admin.get('/admin/workspaces/acme/audit?action=access')).text();
    expect(audit).toContain('access.grant');
    expect(audit).toContain('access.revoke');
  });
});

describe('the Connect button of each connector', () => {
  it("opens the platform's sign-in link when the gateway is set up for it, and says what it needs otherwise", async () => {
    const registry = defaultRegistry();
    const registered = ['slack', 'hubspot', 'teams'].map((id) => registry.require(id));
    const bare = await createTestApp({ access: { scrypt: TEST_SCRYPT }, registered });
    const configured = await createTestApp({
      access: { scrypt: TEST_SCRYPT },
      registered,
      env: {
        PUBLIC_URL: 'http://127.0.0.1:8080',
        HUBSPOT_CLIENT_ID: 'hubspot-client',
        HUBSPOT_CLIENT_SECRET: 'hubspot-secret',
        HUBSPOT_STATE_SECRET: 'hubspot-state-secret-0123456789',
        TEAMS_CLIENT_ID: 'teams-client',
        TEAMS_CLIENT_SECRET: 'teams-secret',
        TEAMS_STATE_SECRET: 'teams-state-secret-0123456789',
      },
    });
    try {
      const pageOf = async (app: TestApp, connector: string) => {
        await createTestAccount(app.runtime, { email: `owner-${connector}@example.com`, owner: true });
        const answer = await app.app.request('/admin/sign-in', {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams({ email: `owner-${connector}@example.com`, password: TEST_PASSWORD }),
        });
        const cookie = (answer.headers.get('set-cookie') ?? '').split(';')[0] ?? '';
        const page = await app.app.request(`/admin/workspaces/acme/connectors/${connector}`, {
          headers: { cookie },
        });
        expect(page.status).toBe(200);
        return page.text();
      };
      for (const [connector, name] of [
        ['hubspot', 'HubSpot'],
        ['teams', 'Teams'],
      ] as const) {
        const ready = await pageOf(configured, connector);
        expect(ready).toMatch(
          new RegExp(
            `<a class="button" href="http://127.0.0.1:8080/connect/${connector}/acme/install\\?ticket=[^"]+">Connect `,
          ),
        );
        const missing = await pageOf(bare, connector);
        expect(missing).toMatch(
          new RegExp(`Connect ${name}(&#34;|&quot;) needs ${connector.toUpperCase()}_CLIENT_ID`),
        );
        expect(missing).toMatch(/<button type="button" disabled aria-describedby="connect-note">Connect /);
      }
    } finally {
      await bare.close();
      await configured.close();
    }
  });
});
