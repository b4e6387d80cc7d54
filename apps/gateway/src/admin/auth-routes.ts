import { createRoute, type OpenAPIHono, z } from '@hono/zod-openapi';
import { WabridgeError } from '@wabridge/core';
import type { Runtime } from '../runtime.ts';
import { type AdminEnv, actorOf, requirePrincipal } from './context.ts';
import { ERROR_RESPONSES, ErrorSchema, guard } from './openapi.ts';
import { clearSessionCookie, sessionCookie, setSessionCookie } from './session.ts';

export const PrincipalSchema = z
  .object({
    kind: z.enum(['session', 'token']),
    accountId: z.string(),
    actor: z.string(),
    owner: z.boolean(),
    grants: z.array(z.object({ workspaceId: z.string(), role: z.string() })),
    csrfToken: z.string().nullable().openapi({ description: 'send it as x-csrf-token on every change' }),
  })
  .openapi('Principal');

const LoginSchema = z
  .object({ email: z.string().min(1).max(320), password: z.string().min(1).max(1024) })
  .strict()
  .openapi('Login');

/** Sign in, sign out, sign out everywhere, and who am I. */
export function authRoutes(app: OpenAPIHono<AdminEnv>, runtime: Runtime): void {
  app.openapi(
    createRoute({
      method: 'post',
      path: '/auth/login',
      summary: 'Sign in with email and password',
      description:
        'Starts a new session (a new id every time: any session the request carried ends) and sets the ' +
        'HttpOnly session cookie. Failed attempts are throttled per account and per IP (429 with Retry-After).',
      tags: ['auth'],
      'x-wabridge-permission': 'public',
      request: { body: { required: true, content: { 'application/json': { schema: LoginSchema } } } },
      responses: {
        200: { description: 'signed in', content: { 'application/json': { schema: PrincipalSchema } } },
        400: ERROR_RESPONSES[400],
        401: {
          description: 'wrong email or password',
          content: { 'application/json': { schema: ErrorSchema } },
        },
        429: {
          description: 'too many failed attempts',
          content: { 'application/json': { schema: ErrorSchema } },
        },
      },
    }),
    async (c) => {
      const body = c.req.valid('json');
      const origin = c.get('origin');
      // Session fixation: whatever session came with this request ends here; the new one is fresh.
      const previous = sessionCookie(c, runtime);
      if (previous) {
        const principal = await runtime.access.resolveSession(previous);
        if (principal) await runtime.access.signOut({ actor: principal.actor, ...origin }, principal);
      }
      const { sessionId, csrfToken, account } = await runtime.access.signIn(body, origin);
      setSessionCookie(c, runtime, sessionId);
      const principal = await runtime.access.resolveSession(sessionId);
      if (!principal) throw new WabridgeError('internal', 'a new session did not resolve');
      return c.json(
        {
          kind: 'session' as const,
          accountId: account.id,
          actor: principal.actor,
          owner: account.owner,
          grants: [...principal.grants].map(([workspaceId, role]) => ({ workspaceId, role })),
          csrfToken,
        },
        200,
      );
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/auth/me',
      summary: 'Who is signed in, their roles, and the CSRF token of the session',
      tags: ['auth'],
      ...guard(runtime, 'signed-in'),
      responses: {
        200: { description: 'the caller', content: { 'application/json': { schema: PrincipalSchema } } },
        401: ERROR_RESPONSES[401],
      },
    }),
    (c) => {
      const principal = requirePrincipal(c);
      return c.json(
        {
          kind: principal.kind,
          accountId: principal.accountId,
          actor: principal.actor,
          owner: principal.owner,
          grants: [...principal.grants].map(([workspaceId, role]) => ({ workspaceId, role })),
          csrfToken: c.get('csrfToken'),
        },
        200,
      );
    },
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/auth/logout',
      summary: 'Sign out (ends this session)',
      tags: ['auth'],
      ...guard(runtime, 'signed-in'),
      responses: { 204: { description: 'signed out' }, 401: ERROR_RESPONSES[401], 403: ERROR_RESPONSES[403] },
    }),
    async (c) => {
      const principal = requirePrincipal(c);
      if (principal.kind !== 'session')
        throw new WabridgeError('bad_request', 'an API token has no session; revoke the token instead');
      await runtime.access.signOut(actorOf(c), principal);
      clearSessionCookie(c, runtime);
      return c.body(null, 204);
    },
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/auth/logout-everywhere',
      summary: 'Sign out everywhere (ends every session of the account)',
      tags: ['auth'],
      ...guard(runtime, 'signed-in'),
      responses: {
        200: {
          description: 'signed out everywhere',
          content: { 'application/json': { schema: z.object({ sessionsEnded: z.number().int() }) } },
        },
        401: ERROR_RESPONSES[401],
        403: ERROR_RESPONSES[403],
      },
    }),
    async (c) => {
      const principal = requirePrincipal(c);
      if (principal.kind !== 'session')
        throw new WabridgeError('bad_request', 'an API token has no session; revoke the token instead');
      const sessionsEnded = await runtime.access.signOutEverywhere(actorOf(c), principal.accountId);
      clearSessionCookie(c, runtime);
      return c.json({ sessionsEnded }, 200);
    },
  );
  app.openapi(
    createRoute({
      method: 'post',
      path: '/auth/password',
      summary: 'Change your password (every other session of the account ends)',
      tags: ['auth'],
      ...guard(runtime, 'signed-in'),
      request: {
        body: {
          required: true,
          content: {
            'application/json': {
              schema: z
                .object({
                  currentPassword: z.string().min(1).max(1024),
                  newPassword: z.string().min(12).max(1024),
                })
                .strict(),
            },
          },
        },
      },
      responses: {
        204: { description: 'changed' },
        400: ERROR_RESPONSES[400],
        401: ERROR_RESPONSES[401],
        403: ERROR_RESPONSES[403],
        429: {
          description: 'too many failed attempts',
          content: { 'application/json': { schema: ErrorSchema } },
        },
      },
    }),
    async (c) => {
      const principal = requirePrincipal(c);
      if (principal.kind !== 'session')
        throw new WabridgeError('bad_request', 'an API token has no password; sign in to change it');
      await runtime.access.changePassword(actorOf(c), principal, c.req.valid('json'), c.get('origin'));
      return c.body(null, 204);
    },
  );
}
