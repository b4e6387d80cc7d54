import { isWabridgeError } from '@wabridge/core';
import { Hono } from 'hono';
import { generateCookie, getCookie, setCookie } from 'hono/cookie';
import {
  acceptCallback,
  ConnectRefused,
  connectPage,
  escapeHtml,
  randomNonce,
  STATE_TTL_MS,
  signGrant,
  verifyGrant,
} from '../connect/grants.ts';
import { savePending, TEAMS_STATE_COOKIE, takePending, teamsConnectSettings } from '../connect/teams.ts';
import type { Runtime } from '../runtime.ts';

/**
 * "Connect Teams" for one wabridge workspace: the delegated service account signs in in the
 * browser (authorization code with PKCE), then picks the channel conversations go to.
 *
 * - `GET /connect/teams/:workspace/install?ticket=…`: the link `wabridge connector connect`
 *   prints. 302 to Microsoft's sign-in with a signed, expiring `state`; the cookie holds the
 *   state's nonce and the PKCE verifier (never in a URL).
 * - `GET /connect/teams/callback?code&state`: state checked (signature, expiry, cookie, single
 *   use), code redeemed with the verifier (this validates it), the account's teams and channels
 *   listed from Graph; the refresh token waits encrypted in the connector state (ten minutes) and
 *   the answer is the picker page.
 * - `POST /connect/teams/:workspace/pick`: the picker's form (signed, bound to the cookie); the
 *   channel must be one the page offered. Stored through `admin.setConnector` (validated, secrets
 *   encrypted, audited `connector.connect`). Any refusal is a 4xx page and stores nothing.
 */
export function connectTeamsRoutes(runtime: Runtime, options: { now?: () => number } = {}) {
  const now = options.now ?? Date.now;
  const app = new Hono();
  const cookieOptions = {
    path: '/connect/teams',
    httpOnly: true,
    sameSite: 'Lax' as const,
    secure: runtime.env.publicUrl.startsWith('https:'),
    maxAge: 600,
  };

  app.get('/:workspace/install', async (c) => {
    const workspace = c.req.param('workspace');
    try {
      const settings = teamsConnectSettings(runtime.env);
      const grant = verifyGrant(settings.stateSecret, 'teams', c.req.query('ticket'), 'install', now());
      if (grant.workspace !== workspace)
        throw new ConnectRefused('state_invalid', 'the connect link is invalid');
      if (!(await runtime.store.getWorkspace(workspace))) {
        throw new ConnectRefused('not_found', `no workspace ${workspace}`);
      }
      const nonce = randomNonce();
      const state = signGrant(settings.stateSecret, 'teams', {
        purpose: 'state',
        workspace,
        exp: now() + STATE_TTL_MS,
        nonce,
      });
      // The sign-in (MSAL and the Graph client) loads with the first connection, not the gateway.
      const { teamsSignInUrl } = await import('@wabridge/connector-teams');
      const { url, verifier } = await teamsSignInUrl(
        settings,
        { redirectUri: settings.redirectUri, state },
        runtime.logger,
      );
      setCookie(c, TEAMS_STATE_COOKIE, `${nonce}.${verifier}`, cookieOptions);
      return c.redirect(url, 302);
    } catch (error) {
      return refused(runtime, error, workspace);
    }
  });

  app.get('/callback', async (c) => {
    let workspace: string | undefined;
    try {
      const settings = teamsConnectSettings(runtime.env);
      // The cookie carries the state's nonce and the PKCE verifier; without a verifier it is not ours.
      const [cookieNonce, verifier = ''] = (getCookie(c, TEAMS_STATE_COOKIE) ?? '').split('.');
      const { grant, code } = await acceptCallback(runtime.store, 'teams', {
        secret: settings.stateSecret,
        now: now(),
        query: (name) => c.req.query(name),
        cookieNonce: verifier ? cookieNonce : undefined,
        platformName: 'Microsoft',
        what: 'sign-in',
      });
      workspace = grant.workspace;
      const { postableTeams, redeemTeamsSignIn } = await import('@wabridge/connector-teams');
      const signIn = await redeemTeamsSignIn(
        settings,
        { code, redirectUri: settings.redirectUri, verifier },
        runtime.logger,
      );
      const teams = await postableTeams(settings, signIn.accessToken);
      const allowed = teams.flatMap((team) => team.channels.map((ch) => `${team.teamId}|${ch.channelId}`));
      if (allowed.length === 0) {
        throw new ConnectRefused(
          'no_channel',
          `${signIn.username ?? 'this account'} is not a member of any team with a channel it can post to`,
        );
      }
      const pickNonce = randomNonce();
      await savePending(runtime.store, runtime.secrets, grant.workspace, {
        nonce: pickNonce,
        exp: now() + STATE_TTL_MS,
        refreshToken: signIn.refreshToken,
        accountId: signIn.accountId,
        username: signIn.username,
        tenantId: signIn.tenantId,
        allowed,
      });
      const form = signGrant(settings.stateSecret, 'teams', {
        purpose: 'pick',
        workspace: grant.workspace,
        exp: now() + STATE_TTL_MS,
        nonce: pickNonce,
      });
      const options = teams
        .flatMap((team) =>
          team.channels.map(
            (ch, i) =>
              `<div><input type="radio" name="channel" id="ch-${escapeHtml(team.teamId)}-${i}" value="${escapeHtml(`${team.teamId}|${ch.channelId}`)}" required><label for="ch-${escapeHtml(team.teamId)}-${i}">${escapeHtml(team.teamName)} › ${escapeHtml(ch.name)}</label></div>`,
          ),
        )
        .join('');
      return connectPage(
        200,
        'Choose the Teams channel',
        `Signed in as ${signIn.username ?? signIn.accountId}. New WhatsApp conversations of ${grant.workspace} will start a thread in:`,
        `<form method="post" action="/connect/teams/${encodeURIComponent(grant.workspace)}/pick"><input type="hidden" name="form" value="${escapeHtml(form)}"><fieldset><legend>Team › channel</legend>${options}</fieldset><button type="submit">Connect</button></form>`,
        [generateCookie(TEAMS_STATE_COOKIE, pickNonce, cookieOptions)],
      );
    } catch (error) {
      return refused(runtime, error, workspace);
    }
  });

  app.post('/:workspace/pick', async (c) => {
    const workspace = c.req.param('workspace');
    try {
      const settings = teamsConnectSettings(runtime.env);
      const body = new URLSearchParams(await c.req.text());
      const grant = verifyGrant(settings.stateSecret, 'teams', body.get('form') ?? undefined, 'pick', now());
      if (grant.workspace !== workspace || getCookie(c, TEAMS_STATE_COOKIE) !== grant.nonce) {
        throw new ConnectRefused('state_invalid', 'this form was not opened in this browser; start again');
      }
      const pending = await takePending(runtime.store, runtime.secrets, workspace);
      if (!pending || pending.nonce !== grant.nonce || now() > pending.exp) {
        throw new ConnectRefused('state_used', 'this sign-in was already used or has expired; start again');
      }
      const choice = body.get('channel') ?? '';
      if (!pending.allowed.includes(choice)) {
        throw new ConnectRefused('channel_invalid', 'choose one of the channels on the page');
      }
      const [teamId, channelId] = choice.split('|');
      const existing = await runtime.store.getConnector(workspace, 'teams');
      await runtime.admin.setConnector('teams-sign-in', workspace, 'teams', {
        enabled: true,
        config: {
          tenantId: pending.tenantId,
          clientId: settings.clientId,
          clientSecret: settings.clientSecret,
          refreshToken: pending.refreshToken,
          serviceAccountId: pending.accountId,
          teamId,
          channelId,
          authorityHost: settings.authorityHost,
          graphBaseUrl: settings.graphBaseUrl,
          graphResource: settings.graphResource,
        },
        audit: {
          action: 'connector.connect',
          details: {
            method: 'sign-in',
            tenantId: pending.tenantId,
            serviceAccountId: pending.accountId,
            teamId,
            channelId,
            reconnect: existing !== null,
          },
        },
      });
      runtime.routing.invalidate();
      runtime.logger.info({ workspace, teamId, code: 'teams_connected' }, 'Teams connected through sign-in');
      return connectPage(
        200,
        'Teams connected',
        `Workspace ${workspace} posts to Teams as ${pending.username ?? pending.accountId}. You can close this page.`,
        '',
        [generateCookie(TEAMS_STATE_COOKIE, '', { path: '/connect/teams', maxAge: 0 })],
      );
    } catch (error) {
      return refused(runtime, error, workspace);
    }
  });
  return app;
}

function refused(runtime: Runtime, error: unknown, workspace: string | undefined): Response {
  if (error instanceof ConnectRefused) {
    runtime.logger.info({ workspace, code: error.code }, 'Teams connection refused');
    return connectPage(
      error.code === 'not_found' ? 404 : 400,
      'Teams not connected',
      `${error.message} (${error.code}).`,
    );
  }
  if (
    isWabridgeError(error) &&
    (error.code === 'config_invalid' || error.code === 'auth_failed' || error.status === 400)
  ) {
    runtime.logger.info({ workspace, code: error.code }, 'Teams connection refused');
    const status = error.code === 'auth_failed' ? 400 : (error.status ?? 400);
    return connectPage(status, 'Teams not connected', `${error.message} (${error.code}).`);
  }
  throw error;
}
