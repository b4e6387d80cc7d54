/**
 * Access tokens of a public app installed with OAuth
 * (https://developers.hubspot.com/docs/api/oauth-quickstart-guide): HubSpot's access tokens last 30
 * minutes, so the connector redeems the installation's refresh token before one expires.
 *
 * - One refresh at a time per portal in the process, shared by every connector instance of it
 *   (a reconfigured connector, several workers): they all use the same access token.
 * - A refresh token HubSpot rotates is kept encrypted in the connector state at once; the
 *   configured `refreshToken` only seeds it, and seeds it again when an admin connects again.
 * - A refresh HubSpot refuses with BAD_REFRESH_TOKEN means the app was uninstalled from the portal
 *   (or its tokens deleted): the status says so, the audit trail records it once, and deliveries
 *   fail `auth_failed` with what to do until someone connects again.
 */
import { createHash } from 'node:crypto';
import { Client } from '@hubspot/api-client';
import { type ConnectorState, type Logger, WabridgeError } from '@wabridge/core';
import { errorBody, isHttpError } from '../api/errors.ts';

/** State keys (values marked secret are encrypted at rest). */
const REFRESH_KEY = 'oauth:refresh-token'; // secret: the newest refresh token
const SEED_KEY = 'oauth:seed'; // sha256 of the configured refresh token the state was seeded from
export const OAUTH_STATUS_KEY = 'oauth:status';

/** Refresh this long before the access token expires, so no call goes out with a dying token. */
export const RENEW_MARGIN_MS = 5 * 60_000;

/** What an admin sees about the installation (`oauth:status` in the connector state). */
export interface OAuthStatus {
  state: 'connected' | 'uninstalled' | 'refused';
  reason: string | null;
  at: number;
}

export interface OAuthTokenConfig {
  basePath: string;
  portalId: string;
  oauthClientId: string;
  clientSecret: string;
  refreshToken: string;
}

export interface OAuthTokenDeps {
  state: ConnectorState;
  logger: Logger;
  now: () => number;
  /** Records an entry in the audit trail (the uninstall). */
  audit?: (action: string, details: Record<string, unknown>) => Promise<void>;
  /** What the admin runs to connect again, for error messages. */
  reconnectHint: string;
}

export interface AccessTokenSource {
  accessToken(): Promise<string>;
  /** Forgets the access token (after HubSpot refused it with 401). */
  invalidate(): void;
}

interface PortalToken {
  token: string | null;
  expiresAt: number;
  pending: Promise<string> | null;
}

/** Per portal, app and install, process-wide: every instance of the portal shares its access token. */
const portals = new Map<string, PortalToken>();

const sha256 = (value: string) => createHash('sha256').update(value).digest('hex');

export function createOAuthTokens(config: OAuthTokenConfig, deps: OAuthTokenDeps): AccessTokenSource {
  const seed = sha256(config.refreshToken);
  // Per install: after a reconnect, the previous install's access token (maybe revoked) is not reused.
  const key = `${config.basePath}|${config.portalId}|${config.oauthClientId}|${seed}`;
  let shared = portals.get(key);
  if (!shared) {
    shared = { token: null, expiresAt: 0, pending: null };
    portals.set(key, shared);
  }
  const portal = shared;
  const oauth = new Client({ basePath: config.basePath.replace(/\/$/, ''), numberOfApiCallRetries: 0 }).oauth;

  async function currentRefreshToken(): Promise<string> {
    if ((await deps.state.get<string>(SEED_KEY)) === seed) {
      const stored = await deps.state.getSecret(REFRESH_KEY);
      if (stored) return stored;
    }
    // A new install (or the first use): its refresh token replaces whatever was kept before.
    await deps.state.setSecret(REFRESH_KEY, config.refreshToken);
    await deps.state.set(SEED_KEY, seed);
    return config.refreshToken;
  }

  async function setStatus(status: OAuthStatus): Promise<OAuthStatus | null> {
    const previous = await deps.state.get<OAuthStatus>(OAUTH_STATUS_KEY);
    if (previous?.state !== status.state || previous.reason !== status.reason) {
      await deps.state.set(OAUTH_STATUS_KEY, status);
    }
    return previous;
  }

  async function refresh(): Promise<string> {
    const refreshToken = await currentRefreshToken();
    let answer: Awaited<ReturnType<typeof oauth.tokensApi.create>>;
    try {
      answer = await oauth.tokensApi.create(
        'refresh_token',
        undefined,
        undefined,
        config.oauthClientId,
        config.clientSecret,
        refreshToken,
      );
    } catch (error) {
      throw await refused(error);
    }
    if (answer.refreshToken && answer.refreshToken !== refreshToken) {
      // Rotated: the old one may already be dead, so the new one is stored before anything else.
      await deps.state.setSecret(REFRESH_KEY, answer.refreshToken);
    }
    portal.token = answer.accessToken;
    portal.expiresAt = deps.now() + answer.expiresIn * 1000;
    await setStatus({ state: 'connected', reason: null, at: deps.now() });
    return answer.accessToken;
  }

  async function refused(error: unknown): Promise<WabridgeError> {
    if (!isHttpError(error) || error.code >= 500) {
      const message = error instanceof Error ? error.message.split('\n')[0] : String(error);
      return new WabridgeError('transient', `HubSpot token refresh failed: ${message}`, { cause: error });
    }
    const status = errorBody(error).status ?? `HTTP ${error.code}`;
    if (status === 'BAD_REFRESH_TOKEN') {
      const previous = await setStatus({ state: 'uninstalled', reason: status, at: deps.now() });
      if (previous?.state !== 'uninstalled') {
        deps.logger.error(
          { portal: config.portalId, code: 'hubspot_uninstalled' },
          'HubSpot refused the refresh token: the app was uninstalled from the portal; nothing reaches HubSpot until it is connected again',
        );
        await deps.audit?.('connector.uninstalled', { portalId: config.portalId, reason: status });
      }
      return new WabridgeError(
        'auth_failed',
        `HubSpot app is no longer installed in portal ${config.portalId} (its refresh token was refused): connect it again with ${deps.reconnectHint}, then replay the dead-lettered HubSpot jobs`,
        { details: { status, portal: config.portalId }, cause: error },
      );
    }
    await setStatus({ state: 'refused', reason: status, at: deps.now() });
    return new WabridgeError(
      'auth_failed',
      `HubSpot refused the app's credentials (${status}): check the client id and secret of the public app`,
      { details: { status, portal: config.portalId }, cause: error },
    );
  }

  return {
    async accessToken() {
      if (portal.token && portal.expiresAt - RENEW_MARGIN_MS > deps.now()) return portal.token;
      portal.pending ??= refresh().finally(() => {
        portal.pending = null;
      });
      return portal.pending;
    },
    invalidate() {
      portal.token = null;
      portal.expiresAt = 0;
    },
  };
}
