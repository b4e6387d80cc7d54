/**
 * The Microsoft identity platform (v2.0) endpoints the bridge needs, enough for MSAL Node with
 * instance discovery disabled: the token endpoint (client credentials for app-only Graph calls,
 * refresh token for the delegated service account, with rotation; authorization code for its
 * first sign-in, which `/authorize` grants at once), the OpenID configuration and the signing keys
 * (JWKS) of the notification validation tokens.
 */
import { Hono } from 'hono';
import type { GraphCore } from './core.ts';
import { GraphError } from './core.ts';
import { unsignedJwt } from './crypto.ts';

/** Error codes as Entra ID reports them in `error_codes`. */
function aadstsCode(message: string): number {
  return Number(/AADSTS(\d+)/.exec(message)?.[1] ?? 0);
}

export function createOAuthApi(core: GraphCore): Hono {
  const app = new Hono();

  app.get('/:tenant/v2.0/.well-known/openid-configuration', (c) =>
    c.json(openIdConfiguration(core, c.req.param('tenant'))),
  );
  const keys = (c: import('hono').Context) => c.json({ keys: [core.signingKey.jwk] });
  app.get('/common/discovery/v2.0/keys', keys);
  app.get('/:tenant/discovery/v2.0/keys', keys);

  // Interactive sign-in, answered at once as the service account (the admin's browser step).
  app.get('/:tenant/oauth2/v2.0/authorize', (c) => {
    const clientId = c.req.query('client_id') ?? '';
    const redirectUri = c.req.query('redirect_uri') ?? '';
    if (c.req.query('response_type') !== 'code' || !redirectUri) {
      return c.text('AADSTS900144: response_type=code and redirect_uri are required.', 400);
    }
    try {
      const target = new URL(redirectUri);
      target.searchParams.set('code', core.issueCode(clientId, redirectUri));
      const state = c.req.query('state');
      if (state) target.searchParams.set('state', state);
      return c.redirect(target.toString(), 302);
    } catch (error) {
      return c.text(error instanceof Error ? error.message : String(error), 400);
    }
  });

  app.post('/:tenant/oauth2/v2.0/token', async (c) => {
    const tenant = c.req.param('tenant');
    const form = new URLSearchParams(await c.req.text());
    const grantType = form.get('grant_type') ?? '';
    const clientId = form.get('client_id');
    try {
      if (tenant !== core.tenantId && tenant !== 'organizations') {
        throw new GraphError(400, 'invalid_request', `AADSTS90002: Tenant '${tenant}' not found.`);
      }
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
        const { token, expiresIn } = core.issueAccessToken('app', app.clientId, null);
        core.record({ kind: 'token.issued', grantType, clientId: app.clientId, userId: null });
        return c.json({
          token_type: 'Bearer',
          expires_in: expiresIn,
          ext_expires_in: expiresIn,
          access_token: token,
        });
      }
      if (grantType === 'refresh_token' || grantType === 'authorization_code') {
        const { userId, refreshToken } =
          grantType === 'refresh_token'
            ? core.redeemRefreshToken(form.get('refresh_token') ?? '', app.clientId)
            : core.redeemCode(form.get('code') ?? '', app.clientId, form.get('redirect_uri') ?? '');
        const user = core.users.get(userId) ?? core.serviceAccount;
        const { token, expiresIn } = core.issueAccessToken('user', app.clientId, userId);
        const now = Math.floor(core.now() / 1000);
        core.record({ kind: 'token.issued', grantType, clientId: app.clientId, userId });
        return c.json({
          token_type: 'Bearer',
          scope: scopes.filter((s) => !['openid', 'profile', 'offline_access'].includes(s)).join(' '),
          expires_in: expiresIn,
          ext_expires_in: expiresIn,
          access_token: token,
          refresh_token: refreshToken,
          id_token: unsignedJwt({
            aud: app.clientId,
            iss: `${core.baseUrl}/${core.tenantId}/v2.0`,
            iat: now,
            nbf: now,
            exp: now + 3600,
            name: user.displayName,
            oid: user.id,
            preferred_username: user.userPrincipalName,
            sub: user.id,
            tid: core.tenantId,
            ver: '2.0',
          }),
          client_info: Buffer.from(JSON.stringify({ uid: user.id, utid: core.tenantId })).toString(
            'base64url',
          ),
        });
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
      return c.json(
        {
          error: error.code,
          error_description: `${error.message}\r\nTrace ID: sandbox\r\nCorrelation ID: sandbox\r\nTimestamp: ${new Date(core.now()).toISOString()}`,
          error_codes: [aadstsCode(error.message)],
          timestamp: new Date(core.now()).toISOString(),
          trace_id: 'sandbox',
          correlation_id: 'sandbox',
          ...(error.code === 'invalid_grant' ? { suberror: 'bad_token' } : {}),
        },
        error.status as 400,
      );
    }
  });
  return app;
}

/** What `/{tenant}/v2.0/.well-known/openid-configuration` answers (also usable as MSAL `authorityMetadata`). */
export function openIdConfiguration(core: GraphCore, tenant = core.tenantId): Record<string, unknown> {
  const base = `${core.baseUrl}/${tenant}`;
  return {
    token_endpoint: `${base}/oauth2/v2.0/token`,
    token_endpoint_auth_methods_supported: ['client_secret_post', 'private_key_jwt', 'client_secret_basic'],
    jwks_uri: `${core.baseUrl}/${tenant}/discovery/v2.0/keys`,
    response_modes_supported: ['query', 'fragment', 'form_post'],
    subject_types_supported: ['pairwise'],
    id_token_signing_alg_values_supported: ['RS256'],
    response_types_supported: ['code', 'id_token', 'code id_token', 'id_token token'],
    scopes_supported: ['openid', 'profile', 'email', 'offline_access'],
    issuer: `${base}/v2.0`,
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
