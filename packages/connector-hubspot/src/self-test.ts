import { type ConnectorCheck, WabridgeError } from '@wabridge/core';
import type { HubSpotApi } from './api/client.ts';
import type { HubSpotConfig } from './config.ts';

/**
 * `wabridge connector test … hubspot`: the access token (the account it belongs to, from
 * `GET /account-info/v3/details`, and whether it is the configured portal) and read access to
 * contacts (one contact read). Reads only; the client secret cannot be checked from here
 * (HubSpot signs webhooks with it, we verify).
 */
export async function testHubSpot(config: HubSpotConfig, api: HubSpotApi): Promise<ConnectorCheck[]> {
  let account: Awaited<ReturnType<HubSpotApi['accountDetails']>>;
  try {
    account = await api.accountDetails();
  } catch (error) {
    return [{ name: 'token', ok: false, detail: explain(error, config) }];
  }
  const portal = String(account.portalId);
  if (config.portalId !== undefined && config.portalId !== portal) {
    return [
      {
        name: 'token',
        ok: false,
        detail: `the access token belongs to portal ${portal}, not the configured ${config.portalId}: set portalId to ${portal}, or use a token of portal ${config.portalId}`,
      },
    ];
  }
  const checks: ConnectorCheck[] = [
    {
      name: 'token',
      ok: true,
      detail: `portal ${portal}${account.accountType ? ` (${account.accountType.toLowerCase()})` : ''}${account.timeZone ? `, time zone ${account.timeZone}` : ''}`,
    },
  ];
  if (config.portalId === undefined) {
    checks[0] = {
      name: 'token',
      ok: true,
      detail: `${checks[0]?.detail}; set portalId to ${portal} so webhooks of other portals are ignored`,
    };
  }
  try {
    await api.probeContacts();
    checks.push({ name: 'contacts', ok: true, detail: 'readable' });
  } catch (error) {
    checks.push({ name: 'contacts', ok: false, detail: explain(error, config) });
  }
  return checks;
}

function explain(error: unknown, config: HubSpotConfig): string {
  if (!(error instanceof WabridgeError)) return error instanceof Error ? error.message : String(error);
  const status = error.details?.status;
  if (status === 401 && config.refreshToken !== undefined)
    return 'HubSpot refused the OAuth access token (401): connect HubSpot again (wabridge connector connect <workspace> hubspot)';
  if (status === 401)
    return 'HubSpot refused the access token (401): set accessToken to the private app access token (Auth tab, pat-…)';
  if (status === 403)
    return `HubSpot refused the call (403, ${error.message}): give the private app the scopes in docs/connectors/hubspot.md and set its new token`;
  if (error.code === 'transient')
    return `could not reach HubSpot at ${config.basePath}: ${error.message} (check basePath and the network)`;
  return error.message;
}
