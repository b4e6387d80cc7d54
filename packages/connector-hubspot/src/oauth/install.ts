/**
 * Installing the public app in a HubSpot account ("Connect HubSpot"): the authorize URL and the
 * code exchange, through `@hubspot/api-client`'s oauth API
 * (https://developers.hubspot.com/docs/api/oauth-quickstart-guide). The portal is read from the
 * access token's metadata (`GET /oauth/v1/access-tokens/{token}`), not trusted from the browser.
 */
import { Client } from '@hubspot/api-client';
import { errorBody, isHttpError } from '../api/errors.ts';
import { HubSpotInstallError } from './install-error.ts';

export { HubSpotInstallError };

/** Scopes the connector needs (see docs/connectors/hubspot.md); `oauth` is required of every public app. */
export const HUBSPOT_OAUTH_SCOPES = [
  'crm.objects.contacts.read',
  'crm.objects.contacts.write',
  'crm.schemas.contacts.read',
  'crm.schemas.contacts.write',
  'oauth',
] as const;

/** Scopes for optional features (`associate.*`, `media.upload`), granted when the account has them. */
export const HUBSPOT_OPTIONAL_SCOPES = ['crm.objects.deals.read', 'tickets', 'files'] as const;

/** HubSpot's authorize page with our client id, scopes, redirect and state. */
export function hubspotAuthorizeUrl(options: {
  authorizeUrl: string;
  clientId: string;
  redirectUri: string;
  state: string;
}): string {
  // The SDK builds the URL for app.hubspot.com; its query is kept and put on the configured page
  // (HubSpot's EU data centre or the sandbox emulator).
  const sdkUrl = new URL(
    new Client().oauth.getAuthorizationUrl(
      options.clientId,
      options.redirectUri,
      HUBSPOT_OAUTH_SCOPES.join(' '),
      HUBSPOT_OPTIONAL_SCOPES.join(' '),
      options.state,
    ),
  );
  const url = new URL(options.authorizeUrl);
  for (const [key, value] of sdkUrl.searchParams) url.searchParams.set(key, value);
  return url.toString();
}

export interface HubSpotInstallation {
  refreshToken: string;
  portalId: string;
  hubDomain: string | null;
  appId: string | null;
  scopes: string[];
}

/** Redeems the authorization code and reads which portal the tokens are for. */
export async function exchangeHubSpotCode(options: {
  basePath: string;
  clientId: string;
  clientSecret: string;
  code: string;
  redirectUri: string;
}): Promise<HubSpotInstallation> {
  const oauth = new Client({ basePath: options.basePath.replace(/\/$/, ''), numberOfApiCallRetries: 0 })
    .oauth;
  let tokens: Awaited<ReturnType<typeof oauth.tokensApi.create>>;
  try {
    tokens = await oauth.tokensApi.create(
      'authorization_code',
      options.code,
      options.redirectUri,
      options.clientId,
      options.clientSecret,
    );
  } catch (error) {
    throw translate(error, 'HubSpot refused the authorization code');
  }
  let info: Awaited<ReturnType<typeof oauth.accessTokensApi.get>>;
  try {
    info = await oauth.accessTokensApi.get(tokens.accessToken);
  } catch (error) {
    throw translate(error, 'HubSpot did not describe the new access token');
  }
  if (!tokens.refreshToken || !Number.isSafeInteger(info.hubId)) {
    throw new HubSpotInstallError('bad_answer', 'HubSpot answered without a refresh token or portal id');
  }
  return {
    refreshToken: tokens.refreshToken,
    portalId: String(info.hubId),
    hubDomain: info.hubDomain ?? null,
    appId: info.appId === undefined ? null : String(info.appId),
    scopes: info.scopes ?? [],
  };
}

function translate(error: unknown, what: string): HubSpotInstallError {
  if (isHttpError(error) && error.code < 500) {
    const body = errorBody(error);
    const status = body.status ?? `HTTP ${error.code}`;
    return new HubSpotInstallError(status, `${what} (${status}): start again`, { cause: error });
  }
  // A network error or a 5xx: say so in one line, without the stack or the request.
  return new HubSpotInstallError('hubspot_unavailable', `${what}: HubSpot could not be reached; try again`, {
    cause: error,
  });
}
