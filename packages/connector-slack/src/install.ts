/**
 * "Add to Slack" (OAuth v2) as the connector sees it: the bot scopes it asks for and the check of
 * an installation. The flow itself (authorize URL, state, code exchange) is Bolt's InstallProvider
 * in the gateway (apps/gateway/src/slack-install.ts).
 */

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
  /** The workspace; absent for an org-wide (Enterprise Grid) install. */
  teamId: string | undefined;
  teamName: string;
  /** The Enterprise Grid organization, for an org-wide install or a workspace of an organization. */
  enterpriseId: string | undefined;
  isEnterpriseInstall: boolean;
  appId: string;
  botUserId: string;
}

/** A refused installation; `code` is `oauth_exchange_failed` or `oauth_unsupported`. */
export class SlackInstallError extends Error {
  override readonly name = 'SlackInstallError';
  readonly code: 'oauth_exchange_failed' | 'oauth_unsupported';
  constructor(code: 'oauth_exchange_failed' | 'oauth_unsupported', message: string) {
    super(message);
    this.code = code;
  }
}

/**
 * Checks what Slack answered to an install (InstallProvider's installation, from `oauth.v2.access`,
 * https://docs.slack.dev/reference/methods/oauth.v2.access) before anything is stored: a bot token
 * (`xoxb-`, without token rotation), an app, a bot user, and a workspace, or for an org-wide
 * install (`is_enterprise_install`) an organization.
 */
export function checkInstallation(answer: {
  tokenType: string | undefined;
  botToken: string | undefined;
  refreshToken: string | undefined;
  teamId: string | undefined;
  teamName: string | undefined;
  enterpriseId: string | undefined;
  isEnterpriseInstall: boolean | undefined;
  appId: string | undefined;
  botUserId: string | undefined;
}): SlackInstallation {
  if (answer.refreshToken !== undefined) {
    throw new SlackInstallError(
      'oauth_unsupported',
      'the app has token rotation on: turn it off (OAuth & Permissions) and install again',
    );
  }
  const isEnterpriseInstall = answer.isEnterpriseInstall === true;
  const installation: SlackInstallation = {
    botToken: answer.botToken ?? '',
    teamId: isEnterpriseInstall ? undefined : answer.teamId || undefined,
    teamName: answer.teamName ?? '',
    enterpriseId: answer.enterpriseId || undefined,
    isEnterpriseInstall,
    appId: answer.appId ?? '',
    botUserId: answer.botUserId ?? '',
  };
  const where = isEnterpriseInstall ? installation.enterpriseId : installation.teamId;
  if (
    (answer.tokenType !== undefined && answer.tokenType !== 'bot') ||
    !installation.botToken.startsWith('xoxb-') ||
    !where ||
    !installation.appId ||
    !installation.botUserId
  ) {
    throw new SlackInstallError(
      'oauth_exchange_failed',
      `Slack answered without a bot token, ${isEnterpriseInstall ? 'organization' : 'team'}, app or bot user`,
    );
  }
  return installation;
}
