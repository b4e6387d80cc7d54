/**
 * The code exchange of "Add to Slack" (OAuth v2): `oauth.v2.access` through `@slack/web-api`, the
 * client Bolt's InstallProvider uses for it. The answer is checked before anything is stored.
 * https://docs.slack.dev/reference/methods/oauth.v2.access
 */
import { WebClient } from '@slack/web-api';

/** Bot scopes of the connector: the same list as docs/connectors/slack-app-manifest.yaml. */
export const SLACK_BOT_SCOPES = [
  'chat:write',
  'chat:write.customize',
  'reactions:write',
  'files:write',
  'files:read',
  'channels:history',
  'groups:history',
  'channels:read',
  'groups:read',
  'commands',
] as const;

/** What wabridge keeps of an installation (the bot token is a secret). */
export interface SlackInstallation {
  botToken: string;
  teamId: string;
  teamName: string;
  appId: string;
  botUserId: string;
}

/** A refused exchange; `code` is `oauth_exchange_failed` or `oauth_unsupported`. */
export class SlackInstallError extends Error {
  override readonly name = 'SlackInstallError';
  readonly code: 'oauth_exchange_failed' | 'oauth_unsupported';
  constructor(code: 'oauth_exchange_failed' | 'oauth_unsupported', message: string) {
    super(message);
    this.code = code;
  }
}

/**
 * Exchanges the code and checks the answer: a bot token (`xoxb-`), a team, a bot user and an app.
 * An org-wide (Enterprise Grid) install is refused: the connector posts as one workspace's bot.
 */
export async function exchangeInstallCode(options: {
  apiUrl: string;
  clientId: string;
  clientSecret: string;
  code: string;
  redirectUri: string;
}): Promise<SlackInstallation> {
  const client = new WebClient(undefined, {
    slackApiUrl: options.apiUrl,
    retryConfig: { retries: 1 },
    timeout: 15_000,
  });
  let answer: Awaited<ReturnType<WebClient['oauth']['v2']['access']>>;
  try {
    answer = await client.oauth.v2.access({
      client_id: options.clientId,
      client_secret: options.clientSecret,
      code: options.code,
      redirect_uri: options.redirectUri,
    });
  } catch (error) {
    // Slack's own error code (invalid_code, bad_client_secret, …), never the request.
    const slackCode = (error as { data?: { error?: string } }).data?.error;
    throw new SlackInstallError(
      'oauth_exchange_failed',
      `Slack refused the code exchange${slackCode ? ` (${slackCode})` : ''}`,
    );
  }
  if (answer.is_enterprise_install) {
    throw new SlackInstallError(
      'oauth_unsupported',
      'an organization-wide (Enterprise Grid) install is not supported yet; install into one workspace',
    );
  }
  const installation: SlackInstallation = {
    botToken: answer.access_token ?? '',
    teamId: answer.team?.id ?? '',
    teamName: answer.team?.name ?? '',
    appId: answer.app_id ?? '',
    botUserId: answer.bot_user_id ?? '',
  };
  if (
    answer.token_type !== 'bot' ||
    !installation.botToken.startsWith('xoxb-') ||
    !installation.teamId ||
    !installation.appId ||
    !installation.botUserId
  ) {
    throw new SlackInstallError(
      'oauth_exchange_failed',
      'Slack answered without a bot token, team, app or bot user (token rotation must be off)',
    );
  }
  return installation;
}
