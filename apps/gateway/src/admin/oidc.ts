import { createRoute, type OpenAPIHono, z } from '@hono/zod-openapi';
import { WabridgeError } from '@wabridge/core';
import { deleteCookie, getCookie, setCookie } from 'hono/cookie';
import * as client from 'openid-client';
import type { Runtime } from '../runtime.ts';
import type { AdminEnv } from './context.ts';
import { ERROR_RESPONSES } from './openapi.ts';
import { sessionCookie, setSessionCookie } from './session.ts';

/** Holds state, nonce and PKCE verifier between the redirect to the provider and its answer. */
const FLOW_COOKIE = 'wabridge_oidc';
const FLOW_MAX_AGE_S = 600;
export const OIDC_CALLBACK_PATH = '/admin/api/auth/oidc/callback';

/**
 * Optional single sign-on with OpenID Connect (authorization code + PKCE, with state and nonce),
 * through `openid-client`. The provider's verified email picks an existing, enabled account;
 * no account is ever created here. Configured by ADMIN_OIDC_ISSUER, _CLIENT_ID, _CLIENT_SECRET.
 */
export function oidcRoutes(app: OpenAPIHono<AdminEnv>, runtime: Runtime): void {
  const { env } = runtime;
  let discovered: Promise<client.Configuration> | null = null;
  const configuration = () => {
    if (!env.ADMIN_OIDC_ISSUER || !env.ADMIN_OIDC_CLIENT_ID || !env.ADMIN_OIDC_CLIENT_SECRET)
      throw new WabridgeError('not_found', 'single sign-on is not configured (ADMIN_OIDC_ISSUER)', {
        status: 404,
      });
    const issuer = new URL(env.ADMIN_OIDC_ISSUER);
    // Plain HTTP only for a provider on this machine (development and tests).
    const local =
      issuer.protocol === 'http:' && ['localhost', '127.0.0.1', '[::1]'].includes(issuer.hostname);
    discovered ??= client
      .discovery(
        issuer,
        env.ADMIN_OIDC_CLIENT_ID,
        env.ADMIN_OIDC_CLIENT_SECRET,
        undefined,
        local ? { execute: [client.allowInsecureRequests] } : undefined,
      )
      .catch((error: unknown) => {
        discovered = null;
        throw new WabridgeError(
          'unavailable',
          `the OpenID provider ${issuer.href} did not answer its discovery`,
          {
            cause: error,
            status: 503,
          },
        );
      });
    return discovered;
  };
  const redirectUri = `${env.publicUrl}${OIDC_CALLBACK_PATH}`;

  app.openapi(
    createRoute({
      method: 'get',
      path: '/auth/oidc/login',
      summary: 'Sign in with the OpenID provider (a redirect to it)',
      tags: ['auth'],
      'x-wabridge-permission': 'public',
      responses: { 302: { description: 'to the provider' }, 404: ERROR_RESPONSES[404] },
    }),
    async (c) => {
      const config = await configuration();
      const verifier = client.randomPKCECodeVerifier();
      const state = client.randomState();
      const nonce = client.randomNonce();
      setCookie(c, FLOW_COOKIE, JSON.stringify({ verifier, state, nonce }), {
        httpOnly: true,
        secure: env.adminCookieSecure,
        // Lax: the provider sends the browser back with a top-level GET from its own site.
        sameSite: 'Lax',
        path: '/admin/api/auth/oidc',
        maxAge: FLOW_MAX_AGE_S,
      });
      const url = client.buildAuthorizationUrl(config, {
        redirect_uri: redirectUri,
        scope: 'openid email',
        code_challenge: await client.calculatePKCECodeChallenge(verifier),
        code_challenge_method: 'S256',
        state,
        nonce,
      });
      return c.redirect(url.href, 302);
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/auth/oidc/callback',
      summary: 'Where the OpenID provider sends the browser back; starts a session and goes to /admin',
      tags: ['auth'],
      'x-wabridge-permission': 'public',
      request: { query: z.object({}).catchall(z.string()) },
      responses: {
        303: { description: 'signed in: to the console' },
        400: ERROR_RESPONSES[400],
        403: ERROR_RESPONSES[403],
      },
    }),
    async (c) => {
      const config = await configuration();
      const flow = parseFlow(getCookie(c, FLOW_COOKIE));
      deleteCookie(c, FLOW_COOKIE, { path: '/admin/api/auth/oidc', secure: env.adminCookieSecure });
      if (!flow)
        throw new WabridgeError(
          'bad_request',
          'the sign-in took too long or was not started here; try again',
        );
      let email: string;
      try {
        const currentUrl = new URL(`${redirectUri}${new URL(c.req.url).search}`);
        const tokens = await client.authorizationCodeGrant(config, currentUrl, {
          pkceCodeVerifier: flow.verifier,
          expectedState: flow.state,
          expectedNonce: flow.nonce,
          idTokenExpected: true,
        });
        const idToken = tokens.claims();
        if (!idToken) throw new WabridgeError('bad_request', 'the provider sent no ID token');
        // Providers put email in the ID token or only behind the UserInfo endpoint (for the same subject).
        const claims =
          typeof idToken.email === 'string'
            ? idToken
            : await client.fetchUserInfo(config, tokens.access_token, idToken.sub);
        if (typeof claims.email !== 'string' || claims.email_verified !== true)
          throw new WabridgeError(
            'forbidden',
            'the provider did not vouch for an email address (email_verified)',
            {
              status: 403,
            },
          );
        email = claims.email;
      } catch (error) {
        if (error instanceof WabridgeError) throw error;
        runtime.logger.warn({ code: (error as { code?: string }).code }, 'OpenID sign-in refused');
        throw new WabridgeError('bad_request', `single sign-on failed: ${(error as Error).message}`);
      }
      const origin = c.get('origin');
      // As with a password: whatever session the browser carried ends; the new one is fresh.
      const previous = sessionCookie(c, runtime);
      if (previous) {
        const principal = await runtime.access.resolveSession(previous);
        if (principal) await runtime.access.signOut({ actor: principal.actor, ...origin }, principal);
      }
      const { sessionId } = await runtime.access.signInWithVerifiedEmail(email, origin, 'oidc');
      setSessionCookie(c, runtime, sessionId);
      return c.redirect('/admin', 303);
    },
  );
}

function parseFlow(value: string | undefined): { verifier: string; state: string; nonce: string } | null {
  if (!value) return null;
  try {
    const flow = JSON.parse(value) as Record<string, unknown>;
    return typeof flow.verifier === 'string' &&
      typeof flow.state === 'string' &&
      typeof flow.nonce === 'string'
      ? { verifier: flow.verifier, state: flow.state, nonce: flow.nonce }
      : null;
  } catch {
    return null;
  }
}
