/**
 * "Connect HubSpot" for one wabridge workspace: the settings, the link `wabridge connector connect`
 * prints and HubSpot's authorize URL with a fresh state. The code exchange is the connector's
 * (`exchangeHubSpotCode`). Flow: https://developers.hubspot.com/docs/api/oauth-quickstart-guide
 */
import { WabridgeError } from '@wabridge/core';
import type { Env } from '../env.ts';
import { INSTALL_LINK_TTL_MS, randomNonce, STATE_TTL_MS, signGrant } from './grants.ts';

/** The cookie that binds `state` to the browser that started the install. */
export const HUBSPOT_STATE_COOKIE = 'wabridge_hubspot_state';

/** The OAuth settings, or a WabridgeError naming what is missing. */
export function hubspotOAuthSettings(env: Env) {
  const missing = (['HUBSPOT_CLIENT_ID', 'HUBSPOT_CLIENT_SECRET', 'HUBSPOT_STATE_SECRET'] as const).filter(
    (name) => env[name] === undefined,
  );
  if (missing.length > 0) {
    throw new WabridgeError('config_invalid', `"Connect HubSpot" needs ${missing.join(', ')}`, {
      status: 503,
    });
  }
  return {
    clientId: env.HUBSPOT_CLIENT_ID as string,
    clientSecret: env.HUBSPOT_CLIENT_SECRET as string,
    stateSecret: env.HUBSPOT_STATE_SECRET as string,
    appId: env.HUBSPOT_APP_ID,
    authorizeUrl: env.HUBSPOT_AUTHORIZE_URL,
    apiUrl: env.HUBSPOT_API_URL,
    redirectUri: `${env.publicUrl}/connect/hubspot/callback`,
  };
}

/** The link an admin opens (printed by `wabridge connector connect <workspace> hubspot`). */
export function hubspotConnectLink(env: Env, workspace: string, now = Date.now()): string {
  const settings = hubspotOAuthSettings(env);
  const ticket = signGrant(settings.stateSecret, 'hubspot', {
    purpose: 'install',
    workspace,
    exp: now + INSTALL_LINK_TTL_MS,
    nonce: randomNonce(12),
  });
  return `${env.publicUrl}/connect/hubspot/${encodeURIComponent(workspace)}/install?ticket=${ticket}`;
}

/**
 * HubSpot's authorize URL with a fresh state, and the nonce for the state cookie. The URL is the
 * SDK's, loaded here on the first connection rather than with the gateway.
 */
export async function hubspotAuthorizeRedirect(env: Env, workspace: string, now: number) {
  const settings = hubspotOAuthSettings(env);
  const { hubspotAuthorizeUrl } = await import('@wabridge/connector-hubspot');
  const nonce = randomNonce();
  const state = signGrant(settings.stateSecret, 'hubspot', {
    purpose: 'state',
    workspace,
    exp: now + STATE_TTL_MS,
    nonce,
  });
  const url = hubspotAuthorizeUrl({
    authorizeUrl: settings.authorizeUrl,
    clientId: settings.clientId,
    redirectUri: settings.redirectUri,
    state,
  });
  return { url, nonce };
}
