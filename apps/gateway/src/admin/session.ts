import { getConnInfo } from '@hono/node-server/conninfo';
import { csrfTokenFor, type Principal, type RequestOrigin, safeEqual } from '@wabridge/core';
import type { MiddlewareHandler } from 'hono';
import { deleteCookie, getCookie, setCookie } from 'hono/cookie';
import type { Runtime } from '../runtime.ts';
import type { AdminContext, AdminEnv } from './context.ts';

const COOKIE = 'wabridge_admin';
/** The header the API and the console's scripts send the CSRF token in; forms send `_csrf`. */
export const CSRF_HEADER = 'x-csrf-token';
export const CSRF_FIELD = '_csrf';
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** `__Host-` when Secure: the browser then refuses it from any other host, path or plain HTTP. */
function cookieName(runtime: Runtime): string {
  return runtime.env.adminCookieSecure ? `__Host-${COOKIE}` : COOKIE;
}

/** Sets the session cookie: HttpOnly, SameSite=Lax, Secure (and `__Host-`) unless local HTTP. */
export function setSessionCookie(c: AdminContext, runtime: Runtime, sessionId: string): void {
  setCookie(c, cookieName(runtime), sessionId, {
    httpOnly: true,
    secure: runtime.env.adminCookieSecure,
    sameSite: 'Lax',
    path: '/',
    maxAge: Math.floor(runtime.access.session.absoluteMs / 1000),
  });
}

export function clearSessionCookie(c: AdminContext, runtime: Runtime): void {
  deleteCookie(c, cookieName(runtime), { path: '/', secure: runtime.env.adminCookieSecure });
}

/** The session id of the request's cookie, if any. */
export function sessionCookie(c: AdminContext, runtime: Runtime): string | undefined {
  return getCookie(c, cookieName(runtime));
}

/** Client IP (X-Forwarded-For's first hop only with ADMIN_TRUST_PROXY) and user agent. */
export function requestOrigin(c: AdminContext, runtime: Runtime): RequestOrigin {
  let ip: string | null = null;
  if (runtime.env.ADMIN_TRUST_PROXY === 'true') {
    ip = c.req.header('x-forwarded-for')?.split(',')[0]?.trim() || null;
  }
  if (!ip) {
    try {
      ip = getConnInfo(c).remote.address ?? null;
    } catch {
      // app.request() in tests has no socket.
      ip = null;
    }
  }
  return { ip, userAgent: c.req.header('user-agent') ?? null };
}

/**
 * Resolves who is asking, for every route under /admin: an `Authorization: Bearer` API token, else
 * the session cookie. Sets `principal`, `csrfToken` and `origin` (see AdminVariables). A bearer
 * value that is not a valid token answers 401 at once (no fallback to the cookie).
 */
export function adminPrincipal(runtime: Runtime): MiddlewareHandler<AdminEnv> {
  return async function adminPrincipal(c, next) {
    c.set('origin', requestOrigin(c, runtime));
    c.set('principal', null);
    c.set('csrfToken', null);
    const authorization = c.req.header('authorization');
    if (authorization !== undefined) {
      const match = /^Bearer\s+(\S+)$/i.exec(authorization);
      const principal = match?.[1] ? await runtime.access.resolveApiToken(match[1]) : null;
      if (!principal)
        return c.json(
          { error: { code: 'unauthorized', message: 'the API token is invalid or revoked' } },
          401,
        );
      c.set('principal', principal);
      return next();
    }
    const sessionId = sessionCookie(c, runtime);
    if (sessionId) {
      const principal = await runtime.access.resolveSession(sessionId);
      if (principal) {
        c.set('principal', principal);
        c.set('csrfToken', csrfTokenFor(sessionId));
      } else clearSessionCookie(c, runtime);
    }
    return next();
  };
}

/**
 * Refuses a state-changing request made with a session cookie unless it carries the session's
 * CSRF token (header `x-csrf-token` or form field `_csrf`). API tokens are exempt: a browser never
 * adds an Authorization header by itself.
 */
export function csrfProtection(exempt: ReadonlySet<string> = new Set()): MiddlewareHandler<AdminEnv> {
  return async function csrfProtection(c, next) {
    const principal: Principal | null = c.get('principal');
    const expected = c.get('csrfToken');
    if (SAFE_METHODS.has(c.req.method) || exempt.has(c.req.path)) return next();
    if (principal?.kind !== 'session' || expected === null) return next();
    let given = c.req.header(CSRF_HEADER);
    if (given === undefined) {
      const type = c.req.header('content-type') ?? '';
      if (type.startsWith('application/x-www-form-urlencoded') || type.startsWith('multipart/form-data')) {
        const field = (await c.req.parseBody())[CSRF_FIELD];
        if (typeof field === 'string') given = field;
      }
    }
    if (given === undefined || !safeEqual(given, expected)) {
      return c.json(
        {
          error: {
            code: 'csrf_failed',
            message: 'missing or wrong CSRF token; reload the page and try again',
          },
        },
        403,
      );
    }
    return next();
  };
}
