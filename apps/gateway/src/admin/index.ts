import { isWabridgeError, type WabridgeError } from '@wabridge/core';
import type { Hono } from 'hono';
import { HTTPException } from 'hono/http-exception';
import { errorResponse, retryAfter } from '../http.ts';
import type { Runtime } from '../runtime.ts';
import { authRoutes } from './auth-routes.ts';
import type { AdminEnv } from './context.ts';
import { oidcRoutes } from './oidc.ts';
import { adminOpenApiApp } from './openapi.ts';
import { accessRoutes } from './routes/access.ts';
import { archiveRoutes } from './routes/archive.ts';
import { auditRoutes } from './routes/audit.ts';
import { connectorRoutes } from './routes/connectors.ts';
import { healthRoutes } from './routes/health.ts';
import { workspaceRoutes } from './routes/workspaces.ts';
import { adminPrincipal, csrfProtection } from './session.ts';

/** Paths that take a state-changing request without a session's CSRF token: signing in makes one. */
export const CSRF_EXEMPT = new Set(['/admin/api/auth/login']);

const STATUS_BY_CODE: Partial<Record<WabridgeError['code'], number>> = {
  bad_request: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  // Well-formed settings a connector refuses (a missing field, a misspelled key): 422.
  config_invalid: 422,
  rate_limited: 429,
  unavailable: 503,
};

/**
 * Everything under /admin: who is asking (session cookie or API token) and the CSRF check, then
 * the admin API at /admin/api with its OpenAPI document at /admin/api/openapi.json. The console
 * (pages under /admin) is mounted on the same middleware (see README.md beside this file).
 */
export function mountAdmin(app: Hono, runtime: Runtime): void {
  const admin = app as unknown as Hono<AdminEnv>;
  admin.use('/admin/*', adminPrincipal(runtime), csrfProtection(CSRF_EXEMPT));
  admin.route('/admin/api', adminApi(runtime));
}

export function adminApi(runtime: Runtime) {
  const api = adminOpenApiApp();
  authRoutes(api, runtime);
  oidcRoutes(api, runtime);
  workspaceRoutes(api, runtime);
  connectorRoutes(api, runtime);
  healthRoutes(api, runtime);
  auditRoutes(api, runtime);
  accessRoutes(api, runtime);
  archiveRoutes(api, runtime);
  // Generated once, on first request (every route is registered by then): ~100 ms of work.
  let document: ReturnType<typeof api.getOpenAPI31Document> | null = null;
  api.get('/openapi.json', (c) => {
    document ??= api.getOpenAPI31Document(openApiInfo);
    return c.json(document);
  });
  api.notFound((c) =>
    c.json({ error: { code: 'not_found', message: `no route for ${c.req.method} ${c.req.path}` } }, 404),
  );
  api.onError((error, c) => {
    if (error instanceof HTTPException) return error.getResponse();
    if (isWabridgeError(error)) {
      const status =
        error.code === 'config_invalid' ? 422 : (error.status ?? STATUS_BY_CODE[error.code] ?? 500);
      if (status >= 500) runtime.logger.error({ err: error, path: c.req.path }, 'admin request failed');
      return errorResponse(status, error.code, error.message, retryAfter(error));
    }
    runtime.logger.error({ err: error, path: c.req.path }, 'admin request failed');
    return c.json({ error: { code: 'internal', message: 'internal error; see the gateway log' } }, 500);
  });
  return api;
}

export const openApiInfo = {
  openapi: '3.1.0',
  info: {
    title: 'wabridge admin API',
    version: '1',
    description:
      'Workspaces, numbers, connectors, routing and policies, health, audit trail, the compliance archive ' +
      '(legal holds, retention, erasure, exports, verify, transcripts), accounts, roles and API tokens. Sign in with a session cookie (POST /auth/login; send x-csrf-token on every change) or an ' +
      'API token (Authorization: Bearer wbt_…). Every operation names the permission it needs in ' +
      'x-wabridge-permission.',
  },
  servers: [{ url: '/admin/api' }],
};
