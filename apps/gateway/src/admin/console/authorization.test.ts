import { can, type Permission, type Principal, WORKSPACE_ROLES, type WorkspaceRole } from '@wabridge/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultRegistry } from '../../connectors.ts';
import { createTestApp } from '../../testing/harness.ts';
import { createTestAccount, TEST_PASSWORD, TEST_SCRYPT } from '../testing.ts';

/**
 * Every console route × every role × its own workspace, another one and a missing one, against
 * core's role table (`can`): 0 unexpected allows, 0 unexpected refusals, and another workspace
 * answers exactly like a missing one. Forms are sent invalid where that is possible, so an allowed
 * act is refused for its input (400) after authorization, and nothing changes.
 */
type TestApp = Awaited<ReturnType<typeof createTestApp>>;
let t: TestApp;

interface Route {
  method: 'GET' | 'POST';
  path: (ws: string) => string;
  permission: Permission;
  form?: Record<string, string>;
}

const ROUTES: Route[] = [
  { method: 'GET', path: (ws) => `/admin/workspaces/${ws}`, permission: 'workspace.read' },
  { method: 'GET', path: (ws) => `/admin/workspaces/${ws}/policies`, permission: 'workspace.read' },
  { method: 'GET', path: (ws) => `/admin/workspaces/${ws}/connectors/slack`, permission: 'connector.read' },
  { method: 'GET', path: (ws) => `/admin/workspaces/${ws}/health`, permission: 'health.read' },
  { method: 'GET', path: (ws) => `/admin/workspaces/${ws}/audit`, permission: 'audit.read' },
  { method: 'GET', path: (ws) => `/admin/workspaces/${ws}/archive`, permission: 'archive.read' },
  {
    method: 'POST',
    path: (ws) => `/admin/workspaces/${ws}/numbers`,
    permission: 'number.write',
    form: { phoneNumberId: 'not digits' },
  },
  { method: 'POST', path: (ws) => `/admin/workspaces/${ws}/numbers/999/remove`, permission: 'number.write' },
  {
    method: 'POST',
    path: (ws) => `/admin/workspaces/${ws}/connectors/slack`,
    permission: 'connector.write',
    form: { action: 'unknown' },
  },
  {
    method: 'POST',
    path: (ws) => `/admin/workspaces/${ws}/connectors/none/test`,
    permission: 'connector.test',
  },
  {
    method: 'POST',
    path: (ws) => `/admin/workspaces/${ws}/policies`,
    permission: 'workspace.update',
    form: { reorderWindowMs: 'soon' },
  },
  {
    method: 'POST',
    path: (ws) => `/admin/workspaces/${ws}/dead-jobs/replay`,
    permission: 'deadletter.replay',
    form: { id: 'x' },
  },
  {
    method: 'POST',
    path: (ws) => `/admin/workspaces/${ws}/archive/checkpoint`,
    permission: 'workspace.update',
  },
  { method: 'GET', path: (ws) => `/admin/workspaces/${ws}/archive/holds`, permission: 'archive.read' },
  {
    method: 'GET',
    path: (ws) => `/admin/workspaces/${ws}/archive/retention?dry-run=1`,
    permission: 'archive.read',
  },
  { method: 'GET', path: (ws) => `/admin/workspaces/${ws}/archive/erasures`, permission: 'archive.read' },
  {
    method: 'GET',
    path: (ws) => `/admin/workspaces/${ws}/archive/erasures/er_none`,
    permission: 'archive.read',
  },
  { method: 'GET', path: (ws) => `/admin/workspaces/${ws}/archive/export`, permission: 'archive.export' },
  {
    method: 'POST',
    path: (ws) => `/admin/workspaces/${ws}/archive/holds`,
    permission: 'archive.hold',
    form: { scope: 'contact', contact: '', reason: '' },
  },
  {
    method: 'POST',
    path: (ws) => `/admin/workspaces/${ws}/archive/holds/hold_none/release`,
    permission: 'archive.hold',
    form: { reason: '' },
  },
  {
    method: 'POST',
    path: (ws) => `/admin/workspaces/${ws}/archive/retention/messages`,
    permission: 'archive.erase',
    form: { keepDays: 'soon' },
  },
  // No rule exists: an allowed run purges nothing.
  {
    method: 'POST',
    path: (ws) => `/admin/workspaces/${ws}/archive/retention/run`,
    permission: 'archive.erase',
  },
  {
    method: 'POST',
    path: (ws) => `/admin/workspaces/${ws}/archive/erasures`,
    permission: 'archive.erase',
    form: { contact: '', reason: '' },
  },
  {
    method: 'POST',
    path: (ws) => `/admin/workspaces/${ws}/archive/export`,
    permission: 'archive.export',
    form: { contact: '' },
  },
  { method: 'GET', path: (ws) => `/admin/workspaces/${ws}/members`, permission: 'access.read' },
  {
    method: 'POST',
    path: (ws) => `/admin/workspaces/${ws}/members`,
    permission: 'access.write',
    form: { email: 'nobody@example.com', role: 'emperor' },
  },
  {
    method: 'POST',
    path: (ws) => `/admin/workspaces/${ws}/members/acc_none/revoke`,
    permission: 'access.write',
  },
];

const WHO: (WorkspaceRole | 'owner')[] = ['owner', ...WORKSPACE_ROLES];
const sessions = new Map<string, { cookie: string; csrf: string }>();

async function signIn(email: string): Promise<{ cookie: string; csrf: string }> {
  const answer = await t.app.request('/admin/sign-in', {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ email, password: TEST_PASSWORD }),
  });
  const cookie = (answer.headers.get('set-cookie') ?? '').split(';')[0] ?? '';
  const page = await (await t.app.request('/admin/workspaces', { headers: { cookie } })).text();
  return { cookie, csrf: /name="_csrf" value="([^"]+)"/.exec(page)?.[1] ?? '' };
}

async function send(who: string, route: Route, ws: string): Promise<{ status: number; body: string }> {
  const session = sessions.get(who);
  if (!session) throw new Error(`no session for ${who}`);
  const answer = await t.app.request(route.path(ws), {
    method: route.method,
    headers: {
      cookie: session.cookie,
      ...(route.method === 'POST' ? { 'content-type': 'application/x-www-form-urlencoded' } : {}),
    },
    ...(route.method === 'POST' ? { body: new URLSearchParams({ ...route.form, _csrf: session.csrf }) } : {}),
  });
  return { status: answer.status, body: await answer.text() };
}

function principal(who: WorkspaceRole | 'owner'): Principal {
  return {
    kind: 'session',
    accountId: who,
    actor: who,
    owner: who === 'owner',
    grants: new Map(who === 'owner' ? [] : [['acme', who]]),
  };
}

beforeAll(async () => {
  t = await createTestApp({
    access: { scrypt: TEST_SCRYPT },
    registered: [defaultRegistry().require('slack')],
  });
  await t.runtime.admin.createWorkspace('test', { id: 'globex', name: 'Globex' });
  for (const who of WHO) {
    const email = `${who}@example.com`;
    await createTestAccount(
      t.runtime,
      who === 'owner' ? { email, owner: true } : { email, role: who, workspaceId: 'acme' },
    );
    sessions.set(who, await signIn(email));
  }
});

afterAll(async () => {
  await t?.close();
});

describe('console authorization matrix', () => {
  it('every route × every role × own, other and missing workspace: allowed exactly as core says; another workspace answers like a missing one', async () => {
    const unexpected: string[] = [];
    for (const route of ROUTES) {
      for (const who of WHO) {
        for (const ws of ['acme', 'globex']) {
          const label = `${who} ${route.method} ${route.path(ws)}`;
          const answer = await send(who, route, ws);
          const missing = await send(who, route, 'nowhere');
          expect(missing.status, `${who} ${route.method} ${route.path('nowhere')}`).toBe(404);
          const visible = can(principal(who), 'workspace.read', ws);
          if (!visible) {
            // Not theirs: exactly the missing workspace's answer, whatever the route.
            if (answer.status !== 404 || answer.body !== missing.body)
              unexpected.push(`${label}: ${answer.status}, not as missing`);
            continue;
          }
          const allowed = can(principal(who), route.permission, ws);
          if (allowed && answer.status === 403)
            unexpected.push(`${label}: refused (403), ${route.permission} allows it`);
          if (!allowed && answer.status !== 403)
            unexpected.push(`${label}: ${answer.status}, ${route.permission} does not allow it`);
        }
      }
    }
    expect(unexpected).toEqual([]);
  });

  it('creating a workspace is for owners only', async () => {
    for (const who of WHO) {
      const answer = await send(
        who,
        {
          method: 'POST',
          path: () => '/admin/workspaces',
          permission: 'global.workspace.create',
          form: { name: '' },
        },
        '',
      );
      expect(answer.status, who).toBe(who === 'owner' ? 400 : 403);
    }
  });
});
