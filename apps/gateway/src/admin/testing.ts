import type { WorkspaceRole } from '@wabridge/core';
import type { Hono } from 'hono';
import type { Runtime } from '../runtime.ts';

/** scrypt at its cheapest, for tests that sign in many times (production hashes use 2^15). */
export const TEST_SCRYPT = { N: 2 ** 10, r: 8, p: 1 };
export const TEST_PASSWORD = 'correct horse battery staple';

/**
 * An account for a test: an owner, or a role in one workspace, with TEST_PASSWORD.
 *
 * @example const ana = await createTestAccount(runtime, { email: 'ana@example.com', role: 'auditor', workspaceId: 'acme' })
 */
export async function createTestAccount(
  runtime: Runtime,
  input: { email: string; owner?: boolean; role?: WorkspaceRole; workspaceId?: string },
) {
  const account = await runtime.access.createAccount('test', {
    email: input.email,
    name: input.email,
    password: TEST_PASSWORD,
    owner: input.owner ?? false,
  });
  if (input.role && input.workspaceId)
    await runtime.access.setGrant('test', {
      accountId: account.id,
      workspaceId: input.workspaceId,
      role: input.role,
    });
  return account;
}

/** A signed-in browser of a test: its cookie header and CSRF token, and requests that send them. */
export interface TestSession {
  cookie: string;
  csrfToken: string;
  /** A request to the app with the session cookie (and the CSRF token unless `csrf: false`). */
  request(path: string, init?: RequestInit & { json?: unknown; csrf?: boolean }): Promise<Response>;
}

/** Signs in through POST /admin/api/auth/login, as a browser would. */
export async function signIn(
  app: Hono,
  email: string,
  password = TEST_PASSWORD,
  headers: Record<string, string> = {},
): Promise<TestSession> {
  const response = await app.request('/admin/api/auth/login', {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ email, password }),
  });
  if (response.status !== 200) throw new Error(`sign-in failed: ${response.status} ${await response.text()}`);
  const cookie = (response.headers.get('set-cookie') ?? '').split(';')[0] ?? '';
  const { csrfToken } = (await response.json()) as { csrfToken: string };
  return sessionOf(app, cookie, csrfToken);
}

export function sessionOf(app: Hono, cookie: string, csrfToken: string): TestSession {
  return {
    cookie,
    csrfToken,
    request(path, init = {}) {
      const { json, csrf = true, ...rest } = init;
      const headers = new Headers(rest.headers);
      headers.set('cookie', cookie);
      if (csrf) headers.set('x-csrf-token', csrfToken);
      if (json !== undefined) headers.set('content-type', 'application/json');
      return Promise.resolve(
        app.request(path, {
          ...rest,
          headers,
          ...(json !== undefined ? { body: JSON.stringify(json) } : {}),
        }),
      );
    },
  };
}

/** A request with an API token. */
export function withToken(
  app: Hono,
  token: string,
  path: string,
  init: RequestInit & { json?: unknown } = {},
) {
  const { json, ...rest } = init;
  const headers = new Headers(rest.headers);
  headers.set('authorization', `Bearer ${token}`);
  if (json !== undefined) headers.set('content-type', 'application/json');
  return Promise.resolve(
    app.request(path, { ...rest, headers, ...(json !== undefined ? { body: JSON.stringify(json) } : {}) }),
  );
}
