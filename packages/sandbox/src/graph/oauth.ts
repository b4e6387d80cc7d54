/**
 * The Microsoft identity platform (v2.0) endpoints, as `@azure/msal-node` uses them
 * (https://learn.microsoft.com/entra/identity-platform/v2-oauth2-auth-code-flow):
 *
 *   GET  /{tenant}/oauth2/v2.0/authorize   authorization code request: client_id, response_type=code,
 *                                          redirect_uri, scope (offline_access for a refresh token),
 *                                          state, nonce, PKCE code_challenge (S256 or plain),
 *                                          response_mode=query, login_hint, prompt → sign-in and
 *                                          consent page (pick an account, Accept / Cancel), or at
 *                                          once with `consent: 'auto'`
 *   POST /{tenant}/oauth2/v2.0/authorize   the page's decision → 302 redirect_uri?code&state, or
 *                                          ?error=access_denied&error_subcode=cancel&state
 *   POST /{tenant}/oauth2/v2.0/token       authorization_code (single-use, 10 minutes, code_verifier
 *                                          checked, same redirect_uri), refresh_token (rotated),
 *                                          client_credentials
 *   GET  /{tenant}/v2.0/.well-known/openid-configuration, /{tenant}/discovery/v2.0/keys,
 *        /common/discovery/instance         what MSAL's authority resolution reads
 *
 * `{tenant}` is a tenant id, `organizations` or `common` (the account then picks its tenant).
 * Errors are Entra-shaped (`error`, `error_description` with an AADSTS code, `error_codes`);
 * codes as listed on https://learn.microsoft.com/entra/identity-platform/reference-error-codes.
 */
import { type Context, Hono } from 'hono';
import { consentErrorResponse, consentPageResponse } from '../shared/consent-page.ts';
import {
  AuthorizationCodes,
  isLoopback,
  PendingConsents,
  pkceChallenge,
  readForm,
  redirectWith,
} from '../shared/oauth.ts';
import type { GraphCore } from './core.ts';
import { unsignedJwt } from './crypto.ts';
import { GraphError } from './errors.ts';
import type { GraphApp, GraphUser } from './types.ts';

/** Error codes as Entra ID reports them in `error_codes`. */
function aadstsCode(message: string): number {
  return Number(/AADSTS(\d+)/.exec(message)?.[1] ?? 0);
}

const MULTI_TENANT = new Set(['organizations', 'common']);
const OIDC_SCOPES = new Set(['openid', 'profile', 'email', 'offline_access']);

interface AuthorizeRequest {
  tenant: string;
  clientId: string;
  redirectUri: string;
  scopes: string[];
  state: string | undefined;
  nonce: string | undefined;
  challenge: { value: string; method: 'S256' | 'plain' } | undefined;
  loginHint: string | undefined;
}

interface CodeGrant {
  clientId: string;
  redirectUri: string;
  userId: string;
  tenantId: string;
  scopes: string[];
  nonce: string | undefined;
  challenge: { value: string; method: 'S256' | 'plain' } | undefined;
}

interface OAuthState {
  consents: PendingConsents<AuthorizeRequest>;
  codes: AuthorizationCodes<CodeGrant>;
}

const states = new WeakMap<GraphCore, OAuthState>();

function stateOf(core: GraphCore): OAuthState {
  let state = states.get(core);
  if (!state) {
    state = {
      consents: new PendingConsents({ now: () => core.now() }),
      codes: new AuthorizationCodes({ now: () => core.now(), ttlMs: core.codeTtlMs, prefix: '1.Ab' }),
    };
    states.set(core, state);
  }
  return state;
}

/** Entra ID accepts a registered redirect URI exactly, and a loopback one on any port. */
function redirectAllowed(app: GraphApp, redirectUri: string): boolean {
  let target: URL;
  try {
    target = new URL(redirectUri);
  } catch {
    return false;
  }
  const registered = app.redirectUris;
  if (!registered || registered.length === 0) return true;
  return registered.some((uri) => {
    if (uri === redirectUri) return true;
    const candidate = new URL(uri);
    return (
      isLoopback(candidate) &&
      isLoopback(target) &&
      candidate.protocol === target.protocol &&
      candidate.hostname === target.hostname &&
      candidate.pathname === target.pathname
    );
  });
}

export function createOAuthApi(core: GraphCore): Hono {
  const app = new Hono();

  app.get('/:tenant/v2.0/.well-known/openid-configuration', (c) => {
    const tenant = c.req.param('tenant');
    if (!knownTenant(core, tenant)) return c.json(entraError(core, tenantNotFound(tenant)), 400);
    return c.json(openIdConfiguration(core, tenant));
  });
  const keys = (c: Context) => c.json({ keys: [core.signingKey.jwk] });
  app.get('/common/discovery/v2.0/keys', keys);
  app.get('/:tenant/discovery/v2.0/keys', keys);
  // Instance discovery (MSAL reads it unless the host is in `knownAuthorities` or given as
  // `cloudDiscoveryMetadata`): this emulator is its own cloud, with one alias.
  app.get('/common/discovery/instance', (c) => {
    const host = new URL(core.baseUrl || 'https://localhost').host;
    const endpoint = c.req.query('authorization_endpoint') ?? '';
    const tenant = /\/([^/]+)\/oauth2\/v2\.0\/authorize/.exec(endpoint)?.[1] ?? 'common';
    return c.json({
      tenant_discovery_endpoint: `${core.baseUrl}/${tenant}/v2.0/.well-known/openid-configuration`,
      'api-version': '1.1',
      metadata: [{ preferred_network: host, preferred_cache: host, aliases: [host] }],
    });
  });

  app.get('/:tenant/oauth2/v2.0/authorize', (c) => authorize(core, c));
  app.post('/:tenant/oauth2/v2.0/authorize', async (c) =>
    decide(core, c, new URLSearchParams(await c.req.text())),
  );

  app.post('/:tenant/oauth2/v2.0/token', async (c) => {
    const tenant = c.req.param('tenant');
    const form = await readForm(c.req.raw);
    const grantType = form.get('grant_type') ?? '';
    const clientId = form.get('client_id');
    try {
      if (!knownTenant(core, tenant)) throw tenantNotFound(tenant);
      const app = core.checkClient(clientId ?? undefined, form.get('client_secret') ?? undefined);
      const scopes = (form.get('scope') ?? '').split(' ').filter(Boolean);
      if (grantType === 'client_credentials') {
        if (scopes.length !== 1 || !scopes[0]?.endsWith('/.default')) {
          throw new GraphError(
            400,
            'invalid_scope',
            'AADSTS1002012: The provided value for scope is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier.',
          );
        }
        if (MULTI_TENANT.has(tenant)) {
          // Entra ID refuses this too; its exact AADSTS code is not known to the emulator, so none is given.
          throw new GraphError(
            400,
            'invalid_request',
            `Client credentials need a tenant-specific endpoint, not '${tenant}'.`,
          );
        }
        const { token, expiresIn } = core.issueAccessToken('app', app.clientId, null, tenant);
        core.record({
          kind: 'token.issued',
          grantType,
          clientId: app.clientId,
          userId: null,
          tenantId: tenant,
        });
        return c.json({
          token_type: 'Bearer',
          expires_in: expiresIn,
          ext_expires_in: expiresIn,
          access_token: token,
        });
      }
      if (grantType === 'authorization_code') {
        const grant = redeemCode(core, form, app.clientId, tenant);
        const refreshToken = grant.scopes.includes('offline_access')
          ? core.signIn(grant.userId, app.clientId)
          : undefined;
        return c.json(
          tokenResponse(
            core,
            grantType,
            app,
            grant.userId,
            grant.tenantId,
            grant.scopes,
            refreshToken,
            grant.nonce,
          ),
        );
      }
      if (grantType === 'refresh_token') {
        const { userId, tenantId, refreshToken } = core.redeemRefreshToken(
          form.get('refresh_token') ?? '',
          app.clientId,
          MULTI_TENANT.has(tenant) ? undefined : tenant,
        );
        return c.json(tokenResponse(core, grantType, app, userId, tenantId, scopes, refreshToken, undefined));
      }
      throw new GraphError(
        400,
        'unsupported_grant_type',
        `AADSTS70003: The app requested an unsupported grant type '${grantType}'.`,
      );
    } catch (error) {
      if (!(error instanceof GraphError)) throw error;
      core.record({
        kind: 'token.rejected',
        grantType,
        clientId,
        error: error.code,
        code: String(aadstsCode(error.message)),
      });
      return c.json(entraError(core, error), error.status as 400);
    }
  });
  return app;
}

function knownTenant(core: GraphCore, tenant: string): boolean {
  return MULTI_TENANT.has(tenant) || core.tenants.has(tenant);
}

const tenantNotFound = (tenant: string) =>
  new GraphError(
    400,
    'invalid_tenant',
    `AADSTS90002: Tenant '${tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud.`,
  );

function entraError(core: GraphCore, error: GraphError): Record<string, unknown> {
  const at = new Date(core.now()).toISOString();
  return {
    error: error.code,
    error_description: `${error.message}\r\nTrace ID: sandbox\r\nCorrelation ID: sandbox\r\nTimestamp: ${at}`,
    error_codes: [aadstsCode(error.message)],
    timestamp: at,
    trace_id: 'sandbox',
    correlation_id: 'sandbox',
    error_uri: `https://login.microsoftonline.com/error?code=${aadstsCode(error.message)}`,
    ...(error.code === 'invalid_grant' ? { suberror: 'bad_token' } : {}),
  };
}

/** Accounts that can sign in through `tenant` (all of them for organizations/common). */
function accountsFor(core: GraphCore, tenant: string): { user: GraphUser; tenantId: string }[] {
  return [...core.userTenant]
    .filter(([, tenantId]) => MULTI_TENANT.has(tenant) || tenantId === tenant)
    .flatMap(([id, tenantId]) => {
      const user = core.users.get(id);
      return user ? [{ user, tenantId }] : [];
    });
}

function authorize(core: GraphCore, c: Context): Response {
  const tenant = c.req.param('tenant') ?? '';
  const query = new URL(c.req.url).searchParams;
  const clientId = query.get('client_id') ?? '';
  const fail = (title: string, error: GraphError) => {
    core.record({
      kind: 'authorize',
      outcome: 'invalid',
      tenant,
      clientId: clientId || null,
      userId: null,
      error: `AADSTS${aadstsCode(error.message)}`,
      pkce: query.has('code_challenge'),
    });
    return consentErrorResponse('microsoft', { title, message: error.message, code: error.code });
  };
  if (!knownTenant(core, tenant))
    return fail('Sorry, but we’re having trouble signing you in.', tenantNotFound(tenant));
  const app = core.apps.get(clientId);
  if (!app) {
    return fail(
      'Sorry, but we’re having trouble signing you in.',
      new GraphError(
        400,
        'unauthorized_client',
        `AADSTS700016: Application with identifier '${clientId}' was not found in the directory.`,
      ),
    );
  }
  const redirectUri = query.get('redirect_uri') ?? '';
  if (!redirectUri || !redirectAllowed(app, redirectUri)) {
    return fail(
      'Sorry, but we’re having trouble signing you in.',
      new GraphError(
        400,
        'invalid_request',
        `AADSTS50011: The redirect URI '${redirectUri}' specified in the request does not match the redirect URIs configured for the application '${clientId}'.`,
      ),
    );
  }
  // From here on, errors go back to the (verified) redirect URI, as the protocol says.
  const state = query.get('state') ?? undefined;
  const back = (error: string, description: string) => {
    core.record({
      kind: 'authorize',
      outcome: 'invalid',
      tenant,
      clientId,
      userId: null,
      error: `AADSTS${aadstsCode(description)}`,
      pkce: query.has('code_challenge'),
    });
    return c.redirect(redirectWith(redirectUri, { error, error_description: description, state }), 302);
  };
  if (query.get('response_type') !== 'code') {
    return back('unsupported_response_type', 'AADSTS700054: response_type must be code in this emulator.');
  }
  const responseMode = query.get('response_mode') ?? 'query';
  if (responseMode !== 'query') {
    return back(
      'invalid_request',
      `AADSTS900144: response_mode '${responseMode}' is not emulated; use query.`,
    );
  }
  const scopes = (query.get('scope') ?? '').split(/\s+/).filter(Boolean);
  if (scopes.length === 0) {
    return back(
      'invalid_request',
      "AADSTS900144: The request body must contain the following parameter: 'scope'.",
    );
  }
  const challengeValue = query.get('code_challenge') ?? undefined;
  const method = query.get('code_challenge_method') ?? (challengeValue ? 'plain' : undefined);
  if (method !== undefined && method !== 'S256' && method !== 'plain') {
    return back(
      'invalid_request',
      `AADSTS70011: The provided value for the input parameter 'code_challenge_method' is not valid: '${method}'.`,
    );
  }
  if (method !== undefined && !challengeValue) {
    return back(
      'invalid_request',
      "AADSTS900144: The request body must contain the following parameter: 'code_challenge'.",
    );
  }
  const request: AuthorizeRequest = {
    tenant,
    clientId,
    redirectUri,
    scopes,
    state,
    nonce: query.get('nonce') ?? undefined,
    challenge:
      challengeValue && method ? { value: challengeValue, method: method as 'S256' | 'plain' } : undefined,
    loginHint: query.get('login_hint') ?? undefined,
  };
  const accounts = accountsFor(core, tenant);
  const hinted = accounts.find(
    (a) => a.user.userPrincipalName.toLowerCase() === request.loginHint?.toLowerCase(),
  );
  if (core.consent === 'auto') {
    const tenantService = core.tenants.get(tenant)?.serviceAccount;
    const account =
      hinted ?? accounts.find((a) => a.user.id === (tenantService ?? core.serviceAccount).id) ?? accounts[0];
    if (!account)
      return back('invalid_request', `AADSTS50020: No account can sign in to tenant '${tenant}'.`);
    core.record({
      kind: 'authorize',
      outcome: 'auto',
      tenant,
      clientId,
      userId: account.user.id,
      error: null,
      pkce: !!request.challenge,
    });
    return c.redirect(issue(core, request, account.user.id, account.tenantId), 302);
  }
  const id = stateOf(core).consents.open(request);
  core.record({
    kind: 'authorize',
    outcome: 'page',
    tenant,
    clientId,
    userId: null,
    error: null,
    pkce: !!request.challenge,
  });
  return consentPageResponse({
    platform: 'microsoft',
    heading: `${app.displayName ?? 'wabridge'} wants to sign in and access your organization's Teams`,
    action: `/${encodeURIComponent(tenant)}/oauth2/v2.0/authorize`,
    hidden: { request: id },
    picker: {
      name: 'account',
      legend: 'Pick an account',
      options: accounts.map((a) => ({
        value: a.user.id,
        label: a.user.userPrincipalName,
        detail: `${a.user.displayName} · ${core.tenants.get(a.tenantId)?.displayName ?? a.tenantId}`,
        selected: a === hinted,
      })),
    },
    permissions: [
      {
        title: 'Permissions requested: this app would like to',
        items: scopes.filter((s) => !OIDC_SCOPES.has(s)).map(describeScope),
      },
      {
        title: 'Also',
        items: [
          ...(scopes.includes('openid') || scopes.includes('profile')
            ? ['Sign you in and read your profile']
            : []),
          ...(scopes.includes('offline_access')
            ? ['Maintain access to data you have given it access to']
            : []),
        ],
      },
    ],
    allowLabel: 'Accept',
    cancelLabel: 'Cancel',
    redirectOrigin: new URL(redirectUri).origin,
  });
}

function decide(core: GraphCore, c: Context, form: URLSearchParams): Response {
  const request = stateOf(core).consents.take(form.get('request'));
  if (!request) {
    return consentErrorResponse('microsoft', {
      title: 'This sign-in has expired',
      message: 'Go back to the application and sign in again.',
      code: 'expired_request',
    });
  }
  if (form.get('decision') !== 'allow') {
    core.record({
      kind: 'authorize',
      outcome: 'declined',
      tenant: request.tenant,
      clientId: request.clientId,
      userId: null,
      error: 'AADSTS65004',
      pkce: !!request.challenge,
    });
    return c.redirect(
      redirectWith(request.redirectUri, {
        error: 'access_denied',
        error_subcode: 'cancel',
        error_description: 'AADSTS65004: User declined to consent to access the app.',
        state: request.state,
      }),
      302,
    );
  }
  const account = accountsFor(core, request.tenant).find((a) => a.user.id === form.get('account'));
  if (!account) {
    return consentErrorResponse('microsoft', {
      title: 'Sorry, but we’re having trouble signing you in.',
      message: `AADSTS50020: That account cannot sign in to '${request.tenant}'.`,
      code: 'invalid_account',
    });
  }
  return c.redirect(issue(core, request, account.user.id, account.tenantId), 302);
}

function issue(core: GraphCore, request: AuthorizeRequest, userId: string, tenantId: string): string {
  core.record({
    kind: 'authorize',
    outcome: 'approved',
    tenant: request.tenant,
    clientId: request.clientId,
    userId,
    error: null,
    pkce: !!request.challenge,
  });
  const code = stateOf(core).codes.issue({
    clientId: request.clientId,
    redirectUri: request.redirectUri,
    userId,
    tenantId,
    scopes: request.scopes,
    nonce: request.nonce,
    challenge: request.challenge,
  });
  // Entra ID also returns session_state; clients ignore it.
  return redirectWith(request.redirectUri, { code, state: request.state, session_state: 'sandbox' });
}

/** Redeems an authorization code: once, in time, by its client, with its redirect URI and PKCE verifier. */
function redeemCode(core: GraphCore, form: URLSearchParams, clientId: string, tenant: string): CodeGrant {
  const redemption = stateOf(core).codes.redeem(form.get('code'));
  if (redemption.status === 'unknown') {
    throw new GraphError(
      400,
      'invalid_grant',
      'AADSTS9002313: Invalid request. Request is malformed or invalid.',
    );
  }
  if (redemption.status === 'used') {
    throw new GraphError(
      400,
      'invalid_grant',
      'AADSTS54005: OAuth2 Authorization code was already redeemed, please retry with a new valid code or use an existing refresh token.',
    );
  }
  if (redemption.status === 'expired') {
    throw new GraphError(
      400,
      'invalid_grant',
      'AADSTS70008: The provided authorization code or refresh token has expired due to inactivity. Send a new interactive authorization request for this user and resource.',
    );
  }
  const grant = redemption.data;
  if (grant.clientId !== clientId || (!MULTI_TENANT.has(tenant) && tenant !== grant.tenantId)) {
    throw new GraphError(400, 'invalid_grant', 'AADSTS70000: Provided grant is invalid or malformed.');
  }
  if ((form.get('redirect_uri') ?? '') !== grant.redirectUri) {
    throw new GraphError(
      400,
      'invalid_grant',
      'AADSTS500112: The reply address does not match the reply address provided when requesting Authorization code.',
    );
  }
  const verifier = form.get('code_verifier');
  if (
    grant.challenge &&
    (!verifier || pkceChallenge(verifier, grant.challenge.method) !== grant.challenge.value)
  ) {
    throw new GraphError(
      400,
      'invalid_grant',
      'AADSTS50148: The code_verifier does not match the code_challenge supplied in the authorization request for PKCE.',
    );
  }
  return grant;
}

function tokenResponse(
  core: GraphCore,
  grantType: string,
  app: GraphApp,
  userId: string,
  tenantId: string,
  scopes: string[],
  refreshToken: string | undefined,
  nonce: string | undefined,
): Record<string, unknown> {
  const user = core.users.get(userId) ?? core.serviceAccount;
  const { token, expiresIn } = core.issueAccessToken('user', app.clientId, userId, tenantId);
  const now = Math.floor(core.now() / 1000);
  core.record({ kind: 'token.issued', grantType, clientId: app.clientId, userId, tenantId });
  return {
    token_type: 'Bearer',
    scope: scopes.filter((s) => !OIDC_SCOPES.has(s)).join(' '),
    expires_in: expiresIn,
    ext_expires_in: expiresIn,
    access_token: token,
    ...(refreshToken ? { refresh_token: refreshToken } : {}),
    id_token: unsignedJwt({
      aud: app.clientId,
      iss: `${core.baseUrl}/${tenantId}/v2.0`,
      iat: now,
      nbf: now,
      exp: now + 3600,
      name: user.displayName,
      oid: user.id,
      preferred_username: user.userPrincipalName,
      sub: user.id,
      tid: tenantId,
      ...(nonce ? { nonce } : {}),
      ver: '2.0',
    }),
    client_info: Buffer.from(JSON.stringify({ uid: user.id, utid: tenantId })).toString('base64url'),
  };
}

const SCOPE_TEXT: Record<string, string> = {
  'ChannelMessage.Send': 'Send channel messages',
  'ChannelMessage.Read.All': 'Read user channel messages',
  'Channel.ReadBasic.All': 'Read the names and descriptions of channels',
  'Team.ReadBasic.All': 'Read the names and descriptions of teams',
  'User.Read': 'Sign you in and read your profile',
  'Files.Read.All': 'Read all files that you have access to',
  '.default': 'The permissions the app is configured for',
};
function describeScope(scope: string): string {
  const short = scope.replace(/^https:\/\/graph\.microsoft\.com\//, '');
  return SCOPE_TEXT[short] ? `${SCOPE_TEXT[short]} (${short})` : short;
}

/** What `/{tenant}/v2.0/.well-known/openid-configuration` answers (also usable as MSAL `authorityMetadata`). */
export function openIdConfiguration(core: GraphCore, tenant = core.tenantId): Record<string, unknown> {
  const base = `${core.baseUrl}/${tenant}`;
  // For organizations/common, Entra ID publishes the issuer with a `{tenantid}` placeholder.
  const issuer = MULTI_TENANT.has(tenant) ? `${core.baseUrl}/{tenantid}/v2.0` : `${base}/v2.0`;
  return {
    token_endpoint: `${base}/oauth2/v2.0/token`,
    token_endpoint_auth_methods_supported: ['client_secret_post', 'private_key_jwt', 'client_secret_basic'],
    jwks_uri: `${core.baseUrl}/${tenant}/discovery/v2.0/keys`,
    response_modes_supported: ['query', 'fragment', 'form_post'],
    subject_types_supported: ['pairwise'],
    id_token_signing_alg_values_supported: ['RS256'],
    response_types_supported: ['code', 'id_token', 'code id_token', 'id_token token'],
    scopes_supported: ['openid', 'profile', 'email', 'offline_access'],
    code_challenge_methods_supported: ['plain', 'S256'],
    issuer,
    request_uri_parameter_supported: false,
    userinfo_endpoint: `${core.baseUrl}/oidc/userinfo`,
    authorization_endpoint: `${base}/oauth2/v2.0/authorize`,
    device_authorization_endpoint: `${base}/oauth2/v2.0/devicecode`,
    http_logout_supported: true,
    frontchannel_logout_supported: true,
    end_session_endpoint: `${base}/oauth2/v2.0/logout`,
    claims_supported: [
      'sub',
      'iss',
      'aud',
      'exp',
      'iat',
      'nonce',
      'oid',
      'tid',
      'name',
      'preferred_username',
    ],
    kerberos_endpoint: `${base}/kerberos`,
    tenant_region_scope: 'EU',
    cloud_instance_name: 'sandbox',
    cloud_graph_host_name: 'graph.windows.net',
    msgraph_host: new URL(core.baseUrl || 'https://localhost').host,
  };
}
