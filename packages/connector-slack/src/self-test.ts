import { type ConnectorCheck, WabridgeError } from '@wabridge/core';
import type { SlackApi } from './api/client.ts';
import { slackErrorCode } from './api/errors.ts';
import type { SlackConfig } from './config.ts';

/**
 * `wabridge connector test … slack`: the bot token (`auth.test`, which also says whose it is) and
 * every channel the connector posts to (`conversations.info`: it exists, the app is in it, it is
 * not archived). Reads only; the signing secret cannot be checked from here (Slack signs, we verify).
 */
export async function testSlack(
  config: SlackConfig,
  api: SlackApi,
  signal: AbortSignal,
): Promise<ConnectorCheck[]> {
  let auth: { team_id: string; team?: string; user?: string; user_id: string; enterprise_id?: string };
  try {
    auth = await api.call<typeof auth>('auth.test', {}, { signal });
  } catch (error) {
    return [{ name: 'token', ok: false, detail: explain(error, config) }];
  }
  const team = `${auth.team ? `${auth.team} ` : ''}(${auth.team_id})`;
  // An org-wide (Enterprise Grid) token answers for its organization.
  if (!config.teamId && config.enterpriseId) {
    if (auth.enterprise_id !== config.enterpriseId) {
      return [
        {
          name: 'token',
          ok: false,
          detail: `the bot token does not belong to the organization ${config.enterpriseId}${auth.enterprise_id ? ` but to ${auth.enterprise_id}` : ''}: install the app on ${config.enterpriseId} again`,
        },
      ];
    }
  } else if (auth.team_id !== config.teamId) {
    return [
      {
        name: 'token',
        ok: false,
        detail: `the bot token belongs to team ${team}, not the configured ${config.teamId}: set teamId to ${auth.team_id}, or use the token of ${config.teamId}'s installation`,
      },
    ];
  }
  const checks: ConnectorCheck[] = [
    {
      name: 'token',
      ok: true,
      detail: `bot ${auth.user ? `@${auth.user} ` : ''}(${auth.user_id}) in team ${team}`,
    },
  ];
  for (const channel of new Set([config.defaultChannel, ...config.routes.map((r) => r.channel)])) {
    try {
      const info = await api.call<{ channel: { name?: string; is_member?: boolean; is_archived?: boolean } }>(
        'conversations.info',
        { channel },
        { pace: { tier: 'tier3' }, signal },
      );
      const name = info.channel.name ? `#${info.channel.name}` : channel;
      if (info.channel.is_archived) {
        checks.push({
          name: `channel ${channel}`,
          ok: false,
          detail: `${name} is archived: unarchive it or choose another channel`,
        });
      } else if (info.channel.is_member === false) {
        checks.push({
          name: `channel ${channel}`,
          ok: false,
          detail: `the app is not in ${name}: type /invite @${auth.user ?? 'your-app'} in the channel`,
        });
      } else {
        checks.push({ name: `channel ${channel}`, ok: true, detail: `${name}, the app is a member` });
      }
    } catch (error) {
      checks.push({ name: `channel ${channel}`, ok: false, detail: explain(error, config) });
    }
  }
  return checks;
}

/** What Slack said, and what the admin can do about it. */
function explain(error: unknown, config: SlackConfig): string {
  const code = slackErrorCode(error);
  switch (code) {
    case 'invalid_auth':
    case 'not_authed':
    case 'token_revoked':
    case 'token_expired':
    case 'account_inactive':
      return `Slack refused the bot token (${code}): set botToken to the Bot User OAuth Token of the installed app (OAuth & Permissions, xoxb-…)`;
    case 'missing_scope':
      return 'the bot token lacks a scope (missing_scope): add channels:read and groups:read under OAuth & Permissions, reinstall the app, and set the new token';
    case 'channel_not_found':
      return 'Slack knows no such channel, or the app cannot see it (channel_not_found): check the id (channel details, at the bottom) and invite the app to private channels';
    default:
      break;
  }
  if (error instanceof WabridgeError && error.code === 'transient') {
    return `could not reach Slack at ${config.slackApiUrl}: ${error.message} (check slackApiUrl and the network)`;
  }
  return error instanceof Error ? error.message : String(error);
}
