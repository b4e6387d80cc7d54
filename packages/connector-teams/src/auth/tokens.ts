import { createHash } from 'node:crypto';
import {
  type AccountInfo,
  type AuthenticationResult,
  ConfidentialClientApplication,
  type ICachePlugin,
  LogLevel,
  type TokenCacheContext,
} from '@azure/msal-node';
import { type ConnectorState, type Logger, type Metrics, WabridgeError } from '@wabridge/core';
import type { TeamsConfig } from '../config.ts';

/** State keys of the auth module (values marked secret are encrypted at rest). */
const CACHE_KEY = 'msal-cache'; // secret: MSAL's serialized token cache (rotated refresh token)
const SEED_KEY = 'auth:seed'; // sha256 of the configured refresh token the cache was seeded from
const ACCOUNT_KEY = 'auth:account'; // home account id of the service account
const STATUS_KEY = 'auth:status';
const SELF_KEY = 'auth:self'; // object id of the service account, learnt at its first sign-in

/** What an admin sees about the service account's sign-in (`auth:status` in the connector state). */
export interface AuthStatus {
  ok: boolean;
  /** When `ok` is false: what the admin must do. */
  action: string | null;
  reason: string | null;
  at: number;
}

// Entra ID answers these when the service account's refresh token can no longer be used: expired,
// revoked (password reset, admin action), consent withdrawn, conditional access, MFA required.
const RECONSENT_CODES = new Set([
  'invalid_grant',
  'interaction_required',
  'consent_required',
  'login_required',
  'bad_token',
]);

const RENEW_MARGIN_MS = 5 * 60_000;

interface Memo {
  token: string;
  expiresAt: number;
}

export interface TokenSource {
  /** App-only token (client credentials): reading messages, subscriptions. */
  appToken(): Promise<string>;
  /** Delegated token of the service account: posting and updating messages. */
  userToken(): Promise<string>;
  /** The service account's object id (config, else learnt at its first token; null before that). */
  serviceAccountId(): Promise<string | null>;
  /** Forgets cached access tokens (after Graph refused one with 401). */
  invalidate(): void;
}

/**
 * Tokens through MSAL Node, with no call leaving for discovery: the authority's metadata is
 * built from `authorityHost` (works for sovereign clouds and the sandbox alike).
 *
 * Delegated tokens come from the service account's refresh token. MSAL rotates it on every
 * refresh; the token cache (refresh token included) is persisted encrypted in the connector state
 * through a cache plugin, so a restart or another worker continues with the newest one. The
 * configured `refreshToken` only seeds the cache, and seeds it again when an admin replaces it.
 */
export function createTokenSource(
  config: TeamsConfig,
  deps: { state: ConnectorState; logger: Logger; now: () => number; metrics?: Metrics },
): TokenSource {
  const cachePlugin: ICachePlugin = {
    async beforeCacheAccess(context: TokenCacheContext) {
      const stored = await deps.state.getSecret(CACHE_KEY);
      if (stored) context.tokenCache.deserialize(stored);
    },
    async afterCacheAccess(context: TokenCacheContext) {
      if (context.cacheHasChanged) await deps.state.setSecret(CACHE_KEY, context.tokenCache.serialize());
    },
  };
  const msal = createMsalApp(config, deps.logger, cachePlugin);
  const resource = config.graphResource.replace(/\/$/, '');
  const scopes = [`${resource}/.default`];
  let app: Memo | null = null;
  let user: Memo | null = null;
  let accountId: string | null = config.serviceAccountId ?? null;
  let pendingUser: Promise<string> | null = null;
  // After Graph refused a token (401), MSAL's cache may still hold it as valid: redeem the refresh token.
  let forceUser = false;
  let forceApp = false;

  const fresh = (memo: Memo | null) => memo !== null && memo.expiresAt - RENEW_MARGIN_MS > deps.now();
  const memoOf = (result: AuthenticationResult): Memo => ({
    token: result.accessToken,
    expiresAt: result.expiresOn?.getTime() ?? deps.now() + 10 * 60_000,
  });

  async function setStatus(status: AuthStatus): Promise<void> {
    const previous = await deps.state.get<AuthStatus>(STATUS_KEY);
    if (previous?.ok === status.ok && previous.reason === status.reason) return;
    await deps.state.set(STATUS_KEY, status);
  }

  async function failure(error: unknown, flow: 'app' | 'user'): Promise<WabridgeError> {
    if (error instanceof WabridgeError) return error;
    const code = String((error as { errorCode?: unknown }).errorCode ?? '');
    const description = error instanceof Error ? error.message.split('\n')[0] : String(error);
    if (flow === 'user' && RECONSENT_CODES.has(code)) {
      const action =
        'Sign in again as the Teams service account (wabridge connector connect <workspace> teams, or the sign-in helper; docs/connectors/teams.md, "Re-consent"), then replay the dead-lettered Teams jobs.';
      await setStatus({ ok: false, action, reason: `${code}: ${description}`, at: deps.now() });
      deps.metrics?.increment('connector_alerts_total', { connector: 'teams', kind: 'reconsent_needed' });
      deps.logger.error(
        { code, action },
        'Teams service account sign-in is no longer valid: re-consent is needed; nothing is posted to Teams until then',
      );
      return new WabridgeError(
        'auth_failed',
        `Teams service account needs to sign in again (${code}). ${action}`,
        {
          details: { code, flow },
          cause: error,
        },
      );
    }
    if (code === 'invalid_client' || code === 'unauthorized_client') {
      const action = 'Check the app registration: client id, tenant and client secret (secrets expire).';
      await setStatus({ ok: false, action, reason: `${code}: ${description}`, at: deps.now() });
      deps.logger.error({ code, action }, 'Teams app credentials were refused');
      return new WabridgeError('auth_failed', `Teams app credentials were refused (${code}). ${action}`, {
        details: { code, flow },
        cause: error,
      });
    }
    return new WabridgeError('transient', `token request failed (${code || 'network'}): ${description}`, {
      details: { code, flow },
      cause: error,
    });
  }

  async function acquireUser(): Promise<string> {
    const seed = createHash('sha256').update(config.refreshToken).digest('hex');
    try {
      const [seededFrom, homeAccountId] = await Promise.all([
        deps.state.get<string>(SEED_KEY),
        deps.state.get<string>(ACCOUNT_KEY),
      ]);
      let account: AccountInfo | null = null;
      if (seededFrom === seed && homeAccountId) {
        account = await msal.getTokenCache().getAccountByHomeId(homeAccountId);
      }
      let result: AuthenticationResult | null;
      if (account) {
        result = await msal.acquireTokenSilent({ account, scopes, forceRefresh: forceUser });
        forceUser = false;
      } else {
        result = await msal.acquireTokenByRefreshToken({
          refreshToken: config.refreshToken,
          scopes,
          forceCache: true,
        });
        if (!result?.account) throw new WabridgeError('auth_failed', 'the refresh token gave no account');
        await deps.state.set(ACCOUNT_KEY, result.account.homeAccountId);
        await deps.state.set(SEED_KEY, seed);
        deps.logger.info({}, 'Teams service account token cache seeded from the configured refresh token');
      }
      if (!result) throw new WabridgeError('transient', 'no token returned');
      const self = result.account?.localAccountId || result.uniqueId || null;
      if (!config.serviceAccountId && self && self !== accountId) {
        accountId = self;
        await deps.state.set(SELF_KEY, self);
      }
      user = memoOf(result);
      await setStatus({ ok: true, action: null, reason: null, at: deps.now() });
      return result.accessToken;
    } catch (error) {
      throw await failure(error, 'user');
    }
  }

  return {
    async appToken() {
      if (app && fresh(app)) return app.token;
      try {
        const result = await msal.acquireTokenByClientCredential({ scopes, skipCache: forceApp });
        forceApp = false;
        if (!result) throw new WabridgeError('transient', 'no token returned');
        app = memoOf(result);
        return result.accessToken;
      } catch (error) {
        throw await failure(error, 'app');
      }
    },
    async userToken() {
      if (user && fresh(user)) return user.token;
      // One refresh at a time: concurrent deliveries share it (and the rotated refresh token).
      pendingUser ??= acquireUser().finally(() => {
        pendingUser = null;
      });
      return pendingUser;
    },
    async serviceAccountId() {
      accountId ??= await deps.state.get<string>(SELF_KEY);
      return accountId;
    },
    invalidate() {
      app = null;
      user = null;
      forceUser = true;
      forceApp = true;
    },
  };
}

/** What MSAL would fetch from `<authority>/v2.0/.well-known/openid-configuration`. */
export function authorityMetadata(authorityHost: string, tenantId: string): Record<string, unknown> {
  const base = `${authorityHost}/${tenantId}`;
  return {
    token_endpoint: `${base}/oauth2/v2.0/token`,
    token_endpoint_auth_methods_supported: ['client_secret_post', 'private_key_jwt', 'client_secret_basic'],
    jwks_uri: `${base}/discovery/v2.0/keys`,
    response_modes_supported: ['query', 'fragment', 'form_post'],
    subject_types_supported: ['pairwise'],
    id_token_signing_alg_values_supported: ['RS256'],
    response_types_supported: ['code', 'id_token', 'code id_token', 'id_token token'],
    scopes_supported: ['openid', 'profile', 'email', 'offline_access'],
    issuer: `${base}/v2.0`,
    request_uri_parameter_supported: false,
    authorization_endpoint: `${base}/oauth2/v2.0/authorize`,
    device_authorization_endpoint: `${base}/oauth2/v2.0/devicecode`,
    end_session_endpoint: `${base}/oauth2/v2.0/logout`,
    http_logout_supported: true,
    frontchannel_logout_supported: true,
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
  };
}

/**
 * The MSAL client of the app registration, with no call leaving for discovery: the authority's
 * metadata is built from `authorityHost` (sovereign clouds and the sandbox alike).
 */
export function createMsalApp(
  config: Pick<TeamsConfig, 'tenantId' | 'clientId' | 'clientSecret' | 'authorityHost'> & {
    tokenEndpoint?: string | undefined;
  },
  logger: Logger,
  cachePlugin?: ICachePlugin,
): ConfidentialClientApplication {
  const authorityHost = config.authorityHost.replace(/\/$/, '');
  const authority = `${authorityHost}/${config.tenantId}`;
  const host = new URL(authorityHost).host;
  return new ConfidentialClientApplication({
    auth: {
      clientId: config.clientId,
      clientSecret: config.clientSecret,
      authority,
      knownAuthorities: [new URL(authorityHost).hostname],
      authorityMetadata: JSON.stringify({
        ...authorityMetadata(authorityHost, config.tenantId),
        ...(config.tokenEndpoint ? { token_endpoint: config.tokenEndpoint } : {}),
      }),
      cloudDiscoveryMetadata: JSON.stringify({
        tenant_discovery_endpoint: `${authority}/v2.0/.well-known/openid-configuration`,
        'api-version': '1.1',
        metadata: [{ preferred_network: host, preferred_cache: host, aliases: [host] }],
      }),
    },
    ...(cachePlugin ? { cache: { cachePlugin } } : {}),
    system: {
      loggerOptions: {
        logLevel: LogLevel.Warning,
        piiLoggingEnabled: false,
        loggerCallback: (level, message) => {
          if (level <= LogLevel.Error) logger.error({ msal: message }, 'MSAL error');
          else logger.debug({ msal: message }, 'MSAL');
        },
      },
    },
  });
}
