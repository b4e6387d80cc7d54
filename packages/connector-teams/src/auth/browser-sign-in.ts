/**
 * The service account's sign-in in the admin's browser, for the gateway's "Connect Teams" page:
 * authorization code with PKCE (https://learn.microsoft.com/entra/identity-platform/v2-oauth2-auth-code-flow)
 * through MSAL Node on the app's own registration, then the teams and channels the account can
 * post to (Graph `me/joinedTeams` and each team's channels). The headless helper (`sign-in.ts`)
 * does the same with a local redirect.
 */
import { CryptoProvider } from '@azure/msal-node';
import { Client } from '@microsoft/microsoft-graph-client';
import { type Logger, silentLogger, WabridgeError } from '@wabridge/core';
import { refreshTokenOf } from './sign-in.ts';
import { createMsalApp } from './tokens.ts';

/** The app registration the gateway signs in with (TEAMS_* settings). */
export interface TeamsSignInApp {
  /** A tenant id, or `organizations` for a multi-tenant app (the account's tenant is then recorded). */
  tenantId: string;
  clientId: string;
  clientSecret: string;
  authorityHost: string;
  graphBaseUrl: string;
  graphResource: string;
}

export interface TeamsSignIn {
  refreshToken: string;
  /** Object id of the account that signed in (the connector's `serviceAccountId`). */
  accountId: string;
  username: string | null;
  /** The account's tenant. */
  tenantId: string;
  accessToken: string;
}

export interface PostableTeam {
  teamId: string;
  teamName: string;
  channels: { channelId: string; name: string }[];
}

const scopesOf = (app: TeamsSignInApp) => [
  `${app.graphResource.replace(/\/$/, '')}/.default`,
  'offline_access',
];

/** The sign-in page's URL with a PKCE challenge, and the verifier to keep for the redemption. */
export async function teamsSignInUrl(
  app: TeamsSignInApp,
  request: { redirectUri: string; state: string },
  logger: Logger = silentLogger,
): Promise<{ url: string; verifier: string }> {
  const { verifier, challenge } = await new CryptoProvider().generatePkceCodes();
  const url = await createMsalApp(app, logger).getAuthCodeUrl({
    scopes: scopesOf(app),
    redirectUri: request.redirectUri,
    state: request.state,
    prompt: 'select_account',
    codeChallenge: challenge,
    codeChallengeMethod: 'S256',
  });
  return { url, verifier };
}

/** Redeems the code (with the PKCE verifier) for the service account's tokens. */
export async function redeemTeamsSignIn(
  app: TeamsSignInApp,
  request: { code: string; redirectUri: string; verifier: string },
  logger: Logger = silentLogger,
): Promise<TeamsSignIn> {
  const msal = createMsalApp(app, logger);
  let result: Awaited<ReturnType<typeof msal.acquireTokenByCode>>;
  try {
    result = await msal.acquireTokenByCode({
      code: request.code,
      scopes: scopesOf(app),
      redirectUri: request.redirectUri,
      codeVerifier: request.verifier,
    });
  } catch (error) {
    const code = String((error as { errorCode?: unknown }).errorCode ?? '') || 'sign_in_failed';
    // One line: Entra's description starts with its AADSTS code and sentence.
    const description = error instanceof Error ? (error.message.split('\n')[0] ?? '') : String(error);
    throw new WabridgeError(
      'auth_failed',
      `Microsoft refused the sign-in (${code}): ${description.slice(0, 200)}`,
      {
        details: { code },
        cause: error,
      },
    );
  }
  const accountId = result.account?.localAccountId || result.uniqueId;
  if (!accountId) throw new WabridgeError('auth_failed', 'Microsoft returned no account for the sign-in');
  return {
    refreshToken: refreshTokenOf(msal),
    accountId,
    username: result.account?.username ?? null,
    tenantId: result.tenantId || result.account?.tenantId || app.tenantId,
    accessToken: result.accessToken,
  };
}

/** Teams the account is a member of, each with its channels (standard and shared: the ones it can post in). */
export async function postableTeams(app: TeamsSignInApp, accessToken: string): Promise<PostableTeam[]> {
  const graph = Client.init({
    baseUrl: app.graphBaseUrl.replace(/\/$/, ''),
    defaultVersion: 'v1.0',
    authProvider: (done) => done(null, accessToken),
    // The client sends the token only to hosts it knows as Graph's: a sovereign cloud or the sandbox is named.
    customHosts: new Set([new URL(app.graphBaseUrl).hostname]),
  });
  try {
    const teams = (await graph.api('/me/joinedTeams').get()) as {
      value: { id: string; displayName: string }[];
    };
    const out: PostableTeam[] = [];
    for (const team of teams.value) {
      const channels = (await graph.api(`/teams/${encodeURIComponent(team.id)}/channels`).get()) as {
        value: { id: string; displayName: string; membershipType?: string }[];
      };
      out.push({
        teamId: team.id,
        teamName: team.displayName,
        channels: channels.value
          .filter((c) => c.membershipType !== 'private')
          .map((c) => ({ channelId: c.id, name: c.displayName })),
      });
    }
    return out;
  } catch (error) {
    const status = (error as { statusCode?: unknown }).statusCode;
    throw new WabridgeError(
      typeof status === 'number' && status < 500 ? 'auth_failed' : 'transient',
      `Microsoft Graph did not list the account's teams (${String(status ?? 'network')})`,
      { cause: error },
    );
  }
}
