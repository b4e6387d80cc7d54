/**
 * HubSpot's public-app OAuth, as `@hubspot/api-client`'s `oauth` APIs call it:
 *
 *   GET    /oauth/authorize                 client_id, scope, optional_scope, redirect_uri, state
 *                                          → "Choose an account" and consent page
 *                                          (https://developers.hubspot.com/docs/api/oauth-quickstart-guide)
 *   POST   /oauth/authorize                 the page's decision → redirect_uri?code&state (the app is
 *                                          then installed in the account), or ?error=access_denied&state
 *   POST   /oauth/v1/token                  grant_type=authorization_code | refresh_token
 *   GET    /oauth/v1/access-tokens/{token}  token metadata (hub_id, scopes, user, expires_in)
 *   GET    /oauth/v1/refresh-tokens/{token} refresh token metadata
 *   DELETE /oauth/v1/refresh-tokens/{token} deletes a refresh token (does not uninstall)
 *          (https://developers.hubspot.com/docs/api-reference/legacy/authentication/oauth-tokens/v1/guide)
 *   DELETE /appinstalls/v3/external-install the app uninstalls itself from the token's account
 *          (https://developers.hubspot.com/changelog/public-beta-new-api-for-uninstalling-a-public-app-from-a-hubspot-account)
 *
 * An uninstall (by the app, or by a user in HubSpot: `uninstall()`) revokes every token of the
 * account: API calls answer 401, the token metadata 404, and a refresh `BAD_REFRESH_TOKEN` — which
 * is how an app learns it was removed; the public app's webhooks for the account stop.
 *
 * Error bodies of the token endpoint are `{ status: 'BAD_…', message, correlationId }` with the
 * statuses HubSpot uses (BAD_AUTH_CODE, EXPIRED_AUTH_CODE, MISMATCH_REDIRECT_URI_AUTH_CODE,
 * BAD_REFRESH_TOKEN, BAD_CLIENT_ID, BAD_GRANT_TYPE); BAD_CLIENT_SECRET for a wrong secret is the
 * emulator's guess at the literal.
 */
import { randomUUID } from 'node:crypto';
import { Hono } from 'hono';
import { consentErrorResponse, consentPageResponse } from '../shared/consent-page.ts';
import {
  AuthorizationCodes,
  PendingConsents,
  randomToken,
  readForm,
  redirectWith,
  safeEqual,
} from '../shared/oauth.ts';
import type { AuthCheck, HubSpotCore } from './core.ts';
import type { HubSpotOAuthOptions, HubSpotPortalSeed } from './types.ts';
import type { WebhookSettings } from './webhooks.ts';

export interface Portal {
  portalId: number;
  name: string;
  domain: string;
  user: { id: number; email: string };
  core: HubSpotCore;
  app: Hono;
}

interface ResolvedApp {
  clientId: string;
  clientSecret: string;
  appId: number;
  redirectUris: string[];
  scopes: string[] | undefined;
  optionalScopes: string[];
  accessTtlMs: number;
  rotation: boolean;
  consent: 'page' | 'auto';
}

interface Grant {
  portalId: number;
  scopes: string[];
  userId: number;
}

interface AccessToken extends Grant {
  expiresAt: number;
  revoked: boolean;
}

interface RefreshToken extends Grant {
  revoked: boolean;
}

interface ConsentRequest {
  redirectUri: string;
  state: string | undefined;
  scopes: string[];
  optionalScopes: string[];
}

interface CodeGrant {
  clientId: string;
  redirectUri: string;
  portalId: number;
  scopes: string[];
  userId: number;
}

/** Every portal of the emulator, the public app and its installations and tokens. */
export class HubSpotAccounts {
  readonly portals = new Map<number, Portal>();
  readonly defaultPortalId: number;
  readonly app: ResolvedApp | null;
  /** The public app's webhook target and subscriptions, shared by every portal it is installed in. */
  readonly appWebhooks: WebhookSettings;
  readonly installs = new Map<
    number,
    { active: boolean; scopes: string[]; userId: number; installedAt: number }
  >();
  readonly accessTokens = new Map<string, AccessToken>();
  readonly refreshTokens = new Map<string, RefreshToken>();
  readonly consents: PendingConsents<ConsentRequest>;
  readonly codes: AuthorizationCodes<CodeGrant>;
  readonly #now: () => number;

  constructor(defaultCore: HubSpotCore, oauth: HubSpotOAuthOptions | undefined) {
    this.#now = () => defaultCore.clock.now();
    this.defaultPortalId = defaultCore.portalId;
    this.app = oauth ? resolveApp(oauth) : null;
    this.appWebhooks = { url: oauth?.webhookUrl, subscriptions: oauth?.subscriptions ?? [] };
    this.consents = new PendingConsents({ now: this.#now });
    this.codes = new AuthorizationCodes({ now: this.#now, ttlMs: (oauth?.codeTtlSeconds ?? 600) * 1000 });
  }

  add(seed: HubSpotPortalSeed, core: HubSpotCore, app: Hono): Portal {
    if (this.portals.has(seed.portalId)) throw new TypeError(`portal ${seed.portalId} is declared twice`);
    const name = seed.name ?? `Portal ${seed.portalId}`;
    const domain = seed.domain ?? `${name.toLowerCase().replace(/[^a-z0-9]+/g, '-')}.hubspot.com`;
    const portal: Portal = {
      portalId: seed.portalId,
      name,
      domain,
      user: seed.user ?? {
        id: 9_000_000 + this.portals.size + 1,
        email: `admin@${domain.replace(/\.hubspot\.com$/, '')}.example`,
      },
      core,
      app,
    };
    this.portals.set(seed.portalId, portal);
    const privateCheck = core.checkAuth;
    core.checkAuth = (authorization) => {
      const own = privateCheck(authorization);
      return own.ok ? own : this.check(seed.portalId, authorization);
    };
    return portal;
  }

  portal(portalId: number): Portal {
    const portal = this.portals.get(portalId);
    if (!portal) throw new TypeError(`no HubSpot portal ${portalId} in the emulator`);
    return portal;
  }

  /** The portal a request is for: that of its OAuth token, else the default one (private app). */
  portalFor(authorization: string | undefined): Portal {
    const token = /^Bearer (.+)$/.exec(authorization ?? '')?.[1];
    const grant = token ? this.accessTokens.get(token) : undefined;
    return this.portals.get(grant?.portalId ?? this.defaultPortalId) ?? this.portal(this.defaultPortalId);
  }

  /** An OAuth access token, checked for this portal. */
  check(portalId: number, authorization: string | undefined): AuthCheck {
    const token = /^Bearer (.+)$/.exec(authorization ?? '')?.[1];
    const grant = token ? this.accessTokens.get(token) : undefined;
    if (!grant || grant.portalId !== portalId || grant.revoked || !this.installs.get(portalId)?.active) {
      return { ok: false };
    }
    const now = this.#now();
    if (now >= grant.expiresAt)
      return { ok: false, expiredAgoMs: now - grant.expiresAt, expiredAt: grant.expiresAt };
    return { ok: true, source: { changeSource: 'INTEGRATION', sourceId: String(this.app?.appId ?? 0) } };
  }

  /** Installs the public app in a portal (what "Connect app" does). */
  install(portalId: number, scopes: string[], userId: number): void {
    const portal = this.portal(portalId);
    const previous = this.installs.get(portalId);
    this.installs.set(portalId, {
      active: true,
      scopes: [...new Set([...(previous?.active ? previous.scopes : []), ...scopes])].sort(),
      userId,
      installedAt: this.#now(),
    });
    if (!previous?.active && this.app) {
      portal.core.attachAppWebhooks({
        clientSecret: this.app.clientSecret,
        appId: this.app.appId,
        settings: this.appWebhooks,
      });
    }
    portal.core.record({ kind: 'oauth.installed', scopes, userId, reinstall: previous?.active === true });
  }

  /** Removes the public app from a portal: every token dies, its webhooks stop. */
  async uninstall(portalId: number, by: 'app' | 'user'): Promise<void> {
    const install = this.installs.get(portalId);
    if (!install?.active) throw new TypeError(`the public app is not installed in portal ${portalId}`);
    install.active = false;
    for (const token of this.accessTokens.values()) if (token.portalId === portalId) token.revoked = true;
    for (const token of this.refreshTokens.values()) if (token.portalId === portalId) token.revoked = true;
    const portal = this.portal(portalId);
    portal.core.record({ kind: 'oauth.uninstalled', by });
    await portal.core.detachAppWebhooks();
  }

  /** New access (and, first or with rotation, refresh) token for a portal's installation. */
  issue(grant: Grant, refreshToken?: string): { access: string; refresh: string; expiresIn: number } {
    if (!this.app) throw new TypeError('no public app configured (oauth option)');
    const access = `C${randomToken('', 48)}`;
    const expiresAt = this.#now() + this.app.accessTtlMs;
    this.accessTokens.set(access, { ...grant, expiresAt, revoked: false });
    let refresh = refreshToken;
    if (!refresh || this.app.rotation) {
      if (refresh) {
        const old = this.refreshTokens.get(refresh);
        if (old) old.revoked = true;
      }
      refresh = `na1-${randomUUID()}`;
      this.refreshTokens.set(refresh, { ...grant, revoked: false });
    }
    return { access, refresh, expiresIn: Math.round(this.app.accessTtlMs / 1000) };
  }
}

function resolveApp(options: HubSpotOAuthOptions): ResolvedApp {
  if (!options.clientId || !options.clientSecret)
    throw new TypeError('oauth needs a clientId and a clientSecret');
  for (const uri of options.redirectUris ?? []) new URL(uri);
  const ttl = options.accessTokenTtlSeconds ?? 1800;
  if (!Number.isFinite(ttl) || ttl <= 0) throw new TypeError('accessTokenTtlSeconds must be positive');
  return {
    clientId: options.clientId,
    clientSecret: options.clientSecret,
    appId: options.appId ?? 3_000_001,
    redirectUris: [...(options.redirectUris ?? [])],
    scopes: options.scopes ? [...options.scopes] : undefined,
    optionalScopes: [...(options.optionalScopes ?? [])],
    accessTtlMs: ttl * 1000,
    rotation: options.refreshTokenRotation ?? false,
    consent: options.consent ?? 'page',
  };
}

const scopeList = (value: string | null | undefined) =>
  (value ?? '')
    .split(/[\s+]+/)
    .map((s) => s.trim())
    .filter(Boolean);

/** `{ status, message, correlationId }`, the body of the token endpoint's 400s. */
const tokenError = (status: string, message: string) => ({ status, message, correlationId: randomUUID() });

/** The 404 of the token metadata endpoints (HubSpot's standard error shape; its exact message is unverified). */
const notFound = (message: string) => ({
  status: 'error',
  message,
  correlationId: randomUUID(),
  category: 'OBJECT_NOT_FOUND',
});

export function createHubSpotOAuthApi(accounts: HubSpotAccounts): Hono {
  const app = new Hono();
  const record = (portalId: number, event: Parameters<HubSpotCore['record']>[0]) =>
    accounts.portal(portalId).core.record(event);
  const defaultCore = () => accounts.portal(accounts.defaultPortalId).core;
  const page = (title: string, message: string, code: string) => {
    defaultCore().record({ kind: 'oauth.authorize', outcome: 'invalid', error: code });
    return consentErrorResponse('hubspot', { title, message, code });
  };

  app.get('/oauth/authorize', (c) => {
    const oauth = accounts.app;
    const query = new URL(c.req.url).searchParams;
    if (!oauth || !safeEqual(query.get('client_id'), oauth.clientId)) {
      return page('Couldn’t complete the connection', 'The app’s client ID is not valid.', 'BAD_CLIENT_ID');
    }
    const redirectUri = query.get('redirect_uri') ?? '';
    let validRedirect = false;
    try {
      new URL(redirectUri);
      validRedirect = oauth.redirectUris.length === 0 || oauth.redirectUris.includes(redirectUri);
    } catch {
      validRedirect = false;
    }
    if (!validRedirect) {
      return page(
        'Couldn’t complete the connection',
        'The redirect URL does not match the app’s redirect URLs.',
        'BAD_REDIRECT_URI',
      );
    }
    const scopes = scopeList(query.get('scope'));
    const optional = scopeList(query.get('optional_scope'));
    if (oauth.scopes) {
      const configured = new Set(oauth.scopes);
      const allowedOptional = new Set(oauth.optionalScopes);
      const mismatch =
        scopes.some((s) => !configured.has(s) && !allowedOptional.has(s)) ||
        oauth.scopes.some((s) => !scopes.includes(s)) ||
        optional.some((s) => !allowedOptional.has(s) && !configured.has(s));
      if (mismatch) {
        return page(
          'Couldn’t complete the connection',
          `The scopes in the install URL (${[...scopes, ...optional].join(' ')}) don’t match the scopes configured on the app (${oauth.scopes.join(' ')}).`,
          'SCOPE_MISMATCH',
        );
      }
    } else if (scopes.length === 0) {
      return page('Couldn’t complete the connection', 'The install URL asks for no scope.', 'SCOPE_MISMATCH');
    }
    const request: ConsentRequest = {
      redirectUri,
      state: query.get('state') ?? undefined,
      scopes,
      optionalScopes: optional,
    };
    const portals = [...accounts.portals.values()];
    if (oauth.consent === 'auto') {
      const portal = portals[0];
      if (!portal) return page('Couldn’t complete the connection', 'No HubSpot account.', 'NO_ACCOUNT');
      defaultCore().record({ kind: 'oauth.authorize', outcome: 'auto', error: undefined });
      return c.redirect(approve(accounts, oauth.clientId, request, portal), 302);
    }
    const id = accounts.consents.open(request);
    defaultCore().record({ kind: 'oauth.authorize', outcome: 'page', error: undefined });
    return consentPageResponse({
      platform: 'hubspot',
      heading: 'Connect wabridge to HubSpot',
      action: '/oauth/authorize',
      hidden: { request: id },
      picker: {
        name: 'portal',
        legend: 'Choose an account',
        options: portals.map((p) => ({
          value: String(p.portalId),
          label: p.name,
          detail: `Hub ID ${p.portalId} · ${p.domain}`,
        })),
      },
      permissions: [
        { title: 'wabridge will be able to', items: scopes },
        { title: 'If available in the account, also', items: optional },
      ],
      signedInAs: portals[0]?.user.email ?? 'a HubSpot user',
      allowLabel: 'Connect app',
      cancelLabel: 'Cancel',
      redirectOrigin: new URL(redirectUri).origin,
    });
  });

  app.post('/oauth/authorize', async (c) => {
    const oauth = accounts.app;
    const form = new URLSearchParams(await c.req.text());
    const request = accounts.consents.take(form.get('request'));
    if (!oauth || !request)
      return page('This link has expired', 'Start the connection again from the app.', 'EXPIRED');
    if (form.get('decision') !== 'allow') {
      defaultCore().record({ kind: 'oauth.authorize', outcome: 'declined', error: 'access_denied' });
      // HubSpot's exact answer to a cancelled install is not documented; the emulator follows
      // RFC 6749 §4.1.2.1 (error=access_denied with the state).
      return c.redirect(
        redirectWith(request.redirectUri, { error: 'access_denied', state: request.state }),
        302,
      );
    }
    const portal = accounts.portals.get(Number(form.get('portal')));
    if (!portal)
      return page('Couldn’t complete the connection', 'Choose one of your accounts.', 'NO_ACCOUNT');
    return c.redirect(approve(accounts, oauth.clientId, request, portal), 302);
  });

  app.post('/oauth/v1/token', async (c) => {
    const oauth = accounts.app;
    const form = await readForm(c.req.raw);
    const grantType = form.get('grant_type') ?? '';
    const fail = (status: string, message: string) => {
      defaultCore().record({ kind: 'oauth.rejected', grantType, status });
      return c.json(tokenError(status, message), 400);
    };
    if (grantType !== 'authorization_code' && grantType !== 'refresh_token') {
      return fail('BAD_GRANT_TYPE', 'grant_type must be authorization_code or refresh_token');
    }
    if (!oauth || !safeEqual(form.get('client_id'), oauth.clientId))
      return fail('BAD_CLIENT_ID', 'missing or invalid client id');
    if (!safeEqual(form.get('client_secret'), oauth.clientSecret)) {
      return fail('BAD_CLIENT_SECRET', 'missing or invalid client secret');
    }
    if (grantType === 'authorization_code') {
      const redemption = accounts.codes.redeem(form.get('code'));
      if (redemption.status === 'unknown' || redemption.status === 'used') {
        return fail('BAD_AUTH_CODE', 'missing or unknown auth code');
      }
      if (redemption.status === 'expired') return fail('EXPIRED_AUTH_CODE', 'auth code is expired');
      const grant = redemption.data;
      if (form.get('redirect_uri') !== grant.redirectUri) {
        return fail(
          'MISMATCH_REDIRECT_URI_AUTH_CODE',
          'redirect_uri does not match the one the auth code was issued for',
        );
      }
      if (!accounts.installs.get(grant.portalId)?.active)
        return fail('BAD_AUTH_CODE', 'missing or unknown auth code');
      const tokens = accounts.issue({ portalId: grant.portalId, scopes: grant.scopes, userId: grant.userId });
      record(grant.portalId, { kind: 'oauth.token_issued', grantType, rotated: false });
      return c.json(tokenAnswer(tokens, grant));
    }
    const refreshToken = form.get('refresh_token') ?? '';
    const grant = accounts.refreshTokens.get(refreshToken);
    if (!grant || grant.revoked || !accounts.installs.get(grant.portalId)?.active) {
      return fail('BAD_REFRESH_TOKEN', 'missing or invalid refresh token');
    }
    const tokens = accounts.issue(grant, refreshToken);
    record(grant.portalId, {
      kind: 'oauth.token_issued',
      grantType,
      rotated: tokens.refresh !== refreshToken,
    });
    return c.json(tokenAnswer(tokens, grant));
  });

  app.get('/oauth/v1/access-tokens/:token', (c) => {
    const token = c.req.param('token');
    const grant = accounts.accessTokens.get(token);
    const now = defaultCore().clock.now();
    if (!grant || grant.revoked || now >= grant.expiresAt)
      return c.json(notFound('Token not found or expired'), 404);
    const portal = accounts.portal(grant.portalId);
    return c.json({
      token,
      user: portal.user.email,
      hub_domain: portal.domain,
      scopes: grant.scopes,
      hub_id: grant.portalId,
      app_id: accounts.app?.appId,
      expires_in: Math.floor((grant.expiresAt - now) / 1000),
      user_id: grant.userId,
      token_type: 'access',
    });
  });

  app.get('/oauth/v1/refresh-tokens/:token', (c) => {
    const token = c.req.param('token');
    const grant = accounts.refreshTokens.get(token);
    if (!grant || grant.revoked) return c.json(notFound('Refresh token not found'), 404);
    const portal = accounts.portal(grant.portalId);
    return c.json({
      token,
      user: portal.user.email,
      hub_domain: portal.domain,
      scopes: grant.scopes,
      hub_id: grant.portalId,
      client_id: accounts.app?.clientId,
      user_id: grant.userId,
      token_type: 'refresh',
    });
  });

  app.delete('/oauth/v1/refresh-tokens/:token', (c) => {
    const grant = accounts.refreshTokens.get(c.req.param('token'));
    if (!grant || grant.revoked) return c.json(notFound('Refresh token not found'), 404);
    grant.revoked = true;
    record(grant.portalId, { kind: 'oauth.refresh_token_deleted' });
    return c.body(null, 204);
  });

  app.delete('/appinstalls/v3/external-install', async (c) => {
    const portal = accounts.portalFor(c.req.header('authorization'));
    const check = accounts.check(portal.portalId, c.req.header('authorization'));
    if (!check.ok) {
      const error = portal.core.authError(check);
      return c.json(error.body, error.status as 401);
    }
    await accounts.uninstall(portal.portalId, 'app');
    return c.body(null, 204);
  });

  return app;
}

function approve(
  accounts: HubSpotAccounts,
  clientId: string,
  request: ConsentRequest,
  portal: Portal,
): string {
  const scopes = [...new Set([...request.scopes, ...request.optionalScopes])];
  accounts.install(portal.portalId, scopes, portal.user.id);
  const code = accounts.codes.issue({
    clientId,
    redirectUri: request.redirectUri,
    portalId: portal.portalId,
    scopes,
    userId: portal.user.id,
  });
  return redirectWith(request.redirectUri, { code, state: request.state });
}

function tokenAnswer(tokens: { access: string; refresh: string; expiresIn: number }, grant: Grant) {
  return {
    token_type: 'bearer',
    refresh_token: tokens.refresh,
    access_token: tokens.access,
    expires_in: tokens.expiresIn,
    // Since August 2025 the answer names the account and the granted scopes
    // (https://developers.hubspot.com/changelog/additional-details-returned-when-generating-oauth-access-tokens).
    hub_id: grant.portalId,
    scopes: grant.scopes,
  };
}
