import { type ConnectorCheck, WabridgeError } from '@wabridge/core';
import { graphStatus } from './api/errors.ts';
import type { TeamsApi } from './api/teams-api.ts';
import type { TokenSource } from './auth/tokens.ts';
import type { ChannelTarget, TeamsConfig } from './config.ts';

/**
 * `wabridge connector test … teams`: the app registration (a client-credentials token), the
 * service account (its refresh token, then `GET /me` with the delegated token), and each channel
 * threads go to (one root message read with the app token: the channel exists and the app may read
 * its replies). Reads only; nothing is posted.
 */
export async function testTeams(
  config: TeamsConfig,
  deps: { api: TeamsApi; tokens: TokenSource },
  signal: AbortSignal,
): Promise<ConnectorCheck[]> {
  const checks: ConnectorCheck[] = [];
  let appOk = true;
  try {
    await deps.tokens.appToken();
    checks.push({
      name: 'app',
      ok: true,
      detail: `client ${config.clientId} signs in to tenant ${config.tenantId}`,
    });
  } catch (error) {
    appOk = false;
    checks.push({ name: 'app', ok: false, detail: explain(error, config) });
  }
  try {
    const me = await deps.api.me(signal);
    const who = me.userPrincipalName ?? me.displayName ?? me.id;
    checks.push({ name: 'service account', ok: true, detail: `signed in as ${who}` });
  } catch (error) {
    checks.push({ name: 'service account', ok: false, detail: explain(error, config) });
  }
  if (!appOk) return checks;
  const channels = new Map<string, ChannelTarget>([
    [`${config.teamId}/${config.channelId}`, { teamId: config.teamId, channelId: config.channelId }],
  ]);
  for (const route of config.routes) channels.set(`${route.teamId}/${route.channelId}`, route);
  for (const target of channels.values()) {
    const name = `channel ${target.channelId}`;
    try {
      await deps.api.probeChannel(target, signal);
      checks.push({
        name,
        ok: true,
        detail: `found in team ${target.teamId}, and the app can read its replies`,
      });
    } catch (error) {
      const status = graphStatus(error);
      checks.push({
        name,
        ok: false,
        detail:
          status === 404
            ? `team ${target.teamId} has no such channel (404): check teamId and channelId (Teams: the channel's ⋯ → Get link to channel)`
            : status === 403
              ? 'the app may not read this channel (403): grant ChannelMessage.Read.All with admin consent (or ChannelMessage.Read.Group in the team)'
              : explain(error, config),
      });
    }
  }
  return checks;
}

function explain(error: unknown, config: TeamsConfig): string {
  const message = error instanceof Error ? error.message : String(error);
  if (error instanceof WabridgeError && error.code === 'transient' && graphStatus(error) === undefined) {
    return `${message} (check authorityHost ${config.authorityHost}, graphBaseUrl and the network)`;
  }
  return message;
}
