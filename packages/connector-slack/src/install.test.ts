import { describe, expect, it } from 'vitest';
import { checkInstallation, SlackInstallError } from './install.ts';

const workspaceInstall: Parameters<typeof checkInstallation>[0] = {
  tokenType: 'bot',
  botToken: 'xoxb-1-2-abc',
  refreshToken: undefined,
  teamId: 'T0ACME',
  teamName: 'Acme',
  enterpriseId: undefined,
  isEnterpriseInstall: false,
  appId: 'A0APP',
  botUserId: 'U0BOT',
};

const refusal = (answer: Partial<typeof workspaceInstall>) => {
  try {
    checkInstallation({ ...workspaceInstall, ...answer });
  } catch (error) {
    if (error instanceof SlackInstallError) return error.code;
    throw error;
  }
  return 'accepted';
};

describe('the check of an installation before it is stored', () => {
  it('keeps a workspace install with its team, and an org-wide install with its organization and no team', () => {
    expect(checkInstallation(workspaceInstall)).toMatchObject({ teamId: 'T0ACME', enterpriseId: undefined });
    expect(
      checkInstallation({
        ...workspaceInstall,
        teamId: undefined,
        teamName: 'Starship',
        enterpriseId: 'E0STARSHIP',
        isEnterpriseInstall: true,
      }),
    ).toMatchObject({ teamId: undefined, enterpriseId: 'E0STARSHIP', isEnterpriseInstall: true });
  });

  it('refuses an answer without a bot token, a team, an app or a bot user, and a rotating token', () => {
    expect(refusal({ botToken: undefined })).toBe('oauth_exchange_failed');
    expect(refusal({ botToken: 'xoxp-user-token' })).toBe('oauth_exchange_failed');
    expect(refusal({ tokenType: 'user' })).toBe('oauth_exchange_failed');
    expect(refusal({ teamId: undefined })).toBe('oauth_exchange_failed');
    expect(refusal({ teamId: undefined, isEnterpriseInstall: true })).toBe('oauth_exchange_failed');
    expect(refusal({ appId: '' })).toBe('oauth_exchange_failed');
    expect(refusal({ botUserId: undefined })).toBe('oauth_exchange_failed');
    expect(refusal({ refreshToken: 'xoxe-1-refresh' })).toBe('oauth_unsupported');
    expect(refusal({})).toBe('accepted');
  });
});
