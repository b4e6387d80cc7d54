import {
  can,
  type Permission,
  type Principal,
  ROLE_PERMISSIONS,
  WORKSPACE_ROLES,
  type WorkspaceRole,
} from '@wabridge/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp } from '../testing/harness.ts';
import { PERMISSION_EXTENSION } from './openapi.ts';
import { createTestAccount, signIn, TEST_SCRYPT, type TestSession, withToken } from './testing.ts';

/**
 * Every operation of the OpenAPI document × every caller × own, other and missing workspace.
 * The route list comes from the document the app serves, so a new route is walked here the day it
 * is added; a route without a declared permission fails the first test.
 */
type Operation = { method: string; path: string; permission: Permission | 'signed-in' | 'public' };
type Caller = {
  name: string;
  /** What the caller may do, for `can` (null: anonymous). */
  principal: Principal | null;
  /** Makes the request (a fresh session for sign-out routes, so the caller stays signed in). */
  request(path: string, init: RequestInit & { json?: unknown }): Promise<Response>;
};

let t: Awaited<ReturnType<typeof createTestApp>>;
let operations: Operation[] = [];
const callers: Caller[] = [];
const OWN = 'acme';
const OTHER = 'globex';
const MISSING = 'no-such-ws';

const principalFor = (
  kind: 'session' | 'token',
  owner: boolean,
  grants: [string, WorkspaceRole][],
): Principal => ({
  kind,
  accountId: 'x',
  actor: 'x',
  owner,
  grants: new Map(grants),
});

beforeAll(async () => {
  t = await createTestApp({ access: { scrypt: TEST_SCRYPT } });
  await t.runtime.admin.createWorkspace('test', { id: OTHER, name: 'Globex' });
  const doc = (await (await t.app.request('/admin/api/openapi.json')).json()) as {
    paths: Record<string, Record<string, Record<string, unknown>>>;
  };
  operations = Object.entries(doc.paths).flatMap(([path, methods]) =>
    Object.entries(methods).map(([method, op]) => ({
      method: method.toUpperCase(),
      path,
      permission: op[PERMISSION_EXTENSION] as Operation['permission'],
    })),
  );
  const sessionCaller = async (name: string, email: string, principal: Principal): Promise<Caller> => {
    let session: TestSession = await signIn(t.app, email);
    return {
      name,
      principal,
      async request(path, init) {
        if (!path.startsWith('/admin/api/auth/logout')) return session.request(path, init);
        // Signing out (everywhere) ends the caller's sessions: it signs in again afterwards.
        const answer = await (await signIn(t.app, email)).request(path, init);
        session = await signIn(t.app, email);
        return answer;
      },
    };
  };
  await createTestAccount(t.runtime, { email: 'owner@example.com', owner: true });
  await createTestAccount(t.runtime, { email: 'nobody@example.com' });
  const owner = await t.runtime.store.findAdminAccountByEmail('owner@example.com');
  callers.push(
    await sessionCaller('nobody (no role)', 'nobody@example.com', principalFor('session', false, [])),
  );
  for (const role of WORKSPACE_ROLES) {
    await createTestAccount(t.runtime, { email: `${role}@example.com`, role, workspaceId: OWN });
    callers.push(
      await sessionCaller(
        `${role} (session)`,
        `${role}@example.com`,
        principalFor('session', false, [[OWN, role]]),
      ),
    );
    const { token } = await t.runtime.access.createApiToken('test', {
      workspaceId: OWN,
      role,
      name: role,
      createdBy: owner?.id ?? '',
    });
    callers.push({
      name: `${role} (API token)`,
      principal: principalFor('token', false, [[OWN, role]]),
      request: (path, init) => withToken(t.app, token, path, init),
    });
  }
  callers.push({
    name: 'anonymous',
    principal: null,
    request: (path, init) => {
      const { json, ...rest } = init;
      return Promise.resolve(
        t.app.request(path, {
          ...rest,
          ...(json !== undefined
            ? { body: JSON.stringify(json), headers: { 'content-type': 'application/json' } }
            : {}),
        }),
      );
    },
  });
  // The owner last: its allowed DELETE of a workspace must come after everyone else's attempts.
  callers.push(await sessionCaller('owner', 'owner@example.com', principalFor('session', true, [])));
}, 120_000);
afterAll(() => t.close());

const DUMMY: Record<string, string> = {
  connectorId: 'no-such-connector',
  phoneNumberId: '999999999',
  accountId: 'acc_none',
  tokenId: 'tok_none',
};

const urlFor = (path: string, workspaceId: string) =>
  `/admin/api${path.replace(/\{(\w+)\}/g, (_, name: string) => (name === 'workspaceId' ? workspaceId : (DUMMY[name] ?? 'x')))}`;

/** The workspace-level 404, with the workspace id taken out, for comparing other with missing. */
const normalized = (body: string, workspaceId: string) => body.replaceAll(workspaceId, '<ws>');

describe('admin API authorization matrix', () => {
  it('gives every operation of the OpenAPI document a declared permission', () => {
    expect(operations.length).toBeGreaterThan(20);
    // The archive operations (holds, retention, erasure, export, verify, checkpoint, transcript).
    expect(operations.filter((o) => o.path.startsWith('/workspaces/{workspaceId}/archive/'))).toHaveLength(
      14,
    );
    for (const op of operations) expect(op.permission, `${op.method} ${op.path}`).toBeTruthy();
  });

  it('keeps supervisors and auditors away from every change (independent of the role table)', () => {
    for (const op of operations.filter(
      (o) => o.method !== 'GET' && o.permission !== 'signed-in' && o.permission !== 'public',
    ))
      for (const role of ['supervisor', 'auditor'] as const)
        expect(ROLE_PERMISSIONS[role], `${role} ${op.method} ${op.path}`).not.toContain(op.permission);
  });

  it('every route × every role × own/other/missing workspace: 0 unexpected allows, other workspace = missing', async () => {
    const unexpected: string[] = [];
    let checked = 0;
    const missingBody = new Map<string, string>();
    // Operations that delete a workspace go last, so the rest run against it first.
    const ordered = [...operations].sort(
      (a, b) =>
        Number(a.method === 'DELETE' && a.path === '/workspaces/{workspaceId}') -
        Number(b.method === 'DELETE' && b.path === '/workspaces/{workspaceId}'),
    );
    for (const op of ordered) {
      if (op.permission === 'public') continue;
      const scoped = op.path.includes('{workspaceId}');
      for (const caller of callers) {
        for (const target of scoped ? [MISSING, OTHER, OWN] : [OWN]) {
          // Bodies that pass no schema: an allowed call is refused with 400 after authorization, so
          // the matrix changes nothing (its DELETEs name resources that do not exist).
          const init =
            op.method === 'GET' || op.method === 'DELETE'
              ? { method: op.method }
              : { method: op.method, json: { __matrix: true } };
          const response = await caller.request(urlFor(op.path, target), init);
          const body = await response.text();
          checked++;
          const label = `${caller.name} ${op.method} ${op.path} in ${target}: ${response.status} ${body.slice(0, 120)}`;
          const principal = caller.principal;
          let allowed: boolean;
          if (principal === null) allowed = false;
          else if (op.permission === 'signed-in') allowed = true;
          else allowed = can(principal, op.permission, scoped ? target : undefined) && target !== MISSING;
          if (!allowed) {
            if (principal === null) {
              if (response.status !== 401) unexpected.push(`expected 401: ${label}`);
              continue;
            }
            const sees = principal.owner || principal.grants.has(target);
            if (scoped && (!sees || target === MISSING)) {
              if (response.status !== 404) unexpected.push(`expected 404: ${label}`);
              const key = `${caller.name} ${op.method} ${op.path}`;
              if (target === MISSING) missingBody.set(key, normalized(body, MISSING));
              else if (missingBody.get(key) !== normalized(body, target))
                unexpected.push(`other workspace answered unlike a missing one: ${label}`);
            } else if (response.status !== 403) unexpected.push(`expected 403: ${label}`);
          } else if (
            response.status === 401 ||
            response.status === 403 ||
            (response.status === 404 && body.includes(`workspace ${target} does not exist`))
          ) {
            unexpected.push(`expected to be allowed: ${label}`);
          }
        }
      }
    }
    expect(unexpected).toEqual([]);
    // Every operation × caller × target was sent.
    expect(checked).toBeGreaterThan(operations.length * callers.length);
  }, 300_000);
});
