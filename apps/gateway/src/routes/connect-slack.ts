import { exchangeInstallCode, SlackInstallError } from '@wabridge/connector-slack';
import { isWabridgeError } from '@wabridge/core';
import { Hono } from 'hono';
import { getCookie, setCookie } from 'hono/cookie';
import type { Runtime } from '../runtime.ts';
import {
  authorizeRedirect,
  InstallRefused,
  STATE_COOKIE,
  slackOAuthSettings,
  verifyGrant,
} from '../slack-install.ts';

const CHANNEL = /^[CG][A-Z0-9]{2,}$/;

/**
 * "Add to Slack" for one wabridge workspace (OAuth v2,
 * https://docs.slack.dev/authentication/installing-with-oauth):
 *
 * - `GET /connect/slack/:workspace/install?ticket=…`: the link `wabridge connector connect` prints.
 *   The ticket is signed with SLACK_STATE_SECRET and expires, so nobody can connect a workspace
 *   to their own Slack by guessing this URL. Answers 302 to Slack's authorize page with a signed,
 *   expiring `state` bound to the workspace, and a cookie binding that state to this browser.
 * - `GET /connect/slack/callback?code&state`: state checked (signature, expiry, cookie), code
 *   exchanged, installation checked, then stored through `admin.setConnector` (validated whole,
 *   secrets encrypted, audited as `connector.connect`). Any refusal is a 400 page and stores nothing.
 *
 * Channel: an install keeps the workspace's configured `defaultChannel`; a workspace without one
 * needs `--channel` on the link (carried in the signed ticket and state).
 */
export function connectSlackRoutes(runtime: Runtime) {
  const app = new Hono();
  const secureCookie = runtime.env.publicUrl.startsWith('https:');

  app.get('/:workspace/install', async (c) => {
    const workspace = c.req.param('workspace');
    try {
      const settings = slackOAuthSettings(runtime.env);
      const grant = verifyGrant(settings.stateSecret, c.req.query('ticket'), 'install');
      if (grant.workspace !== workspace)
        throw new InstallRefused('state_invalid', 'the install link is invalid');
      if (grant.channel !== undefined && !CHANNEL.test(grant.channel)) {
        throw new InstallRefused('channel_invalid', 'the channel is not a Slack channel id (C…)');
      }
      if (!(await runtime.store.getWorkspace(workspace))) {
        throw new InstallRefused('not_found', `no workspace ${workspace}`);
      }
      if (grant.channel === undefined && !(await configuredChannel(runtime, workspace))) {
        throw new InstallRefused(
          'channel_required',
          'this workspace has no Slack channel yet: make the link with --channel C…',
        );
      }
      const { url, nonce } = authorizeRedirect(runtime.env, workspace, grant.channel);
      setCookie(c, STATE_COOKIE, nonce, {
        path: '/connect/slack',
        httpOnly: true,
        sameSite: 'Lax',
        secure: secureCookie,
        maxAge: 600,
      });
      return c.redirect(url, 302);
    } catch (error) {
      return refused(runtime, error, workspace);
    }
  });

  app.get('/callback', async (c) => {
    let workspace: string | undefined;
    try {
      const settings = slackOAuthSettings(runtime.env);
      const grant = verifyGrant(settings.stateSecret, c.req.query('state'), 'state');
      workspace = grant.workspace;
      // The state must come back to the browser that started the install (login CSRF).
      if (getCookie(c, STATE_COOKIE) !== grant.nonce) {
        throw new InstallRefused('state_invalid', 'this install was started in another browser; start again');
      }
      const error = c.req.query('error');
      if (error !== undefined) {
        throw new InstallRefused(
          error === 'access_denied' ? 'access_denied' : 'oauth_error',
          error === 'access_denied' ? 'the install was cancelled in Slack' : `Slack answered ${error}`,
        );
      }
      const code = c.req.query('code');
      if (!code) throw new InstallRefused('bad_request', 'Slack sent no code');
      const installation = await exchangeInstallCode({
        apiUrl: settings.apiUrl,
        clientId: settings.clientId,
        clientSecret: settings.clientSecret,
        code,
        redirectUri: settings.redirectUri,
      });
      const existing = await runtime.store.getConnector(grant.workspace, 'slack');
      const config: Record<string, unknown> = {
        botToken: installation.botToken,
        teamId: installation.teamId,
        appId: installation.appId,
        botUserId: installation.botUserId,
        ...(grant.channel ? { defaultChannel: grant.channel } : {}),
        // The Web API base the token belongs to (the emulator in tests), unless it is Slack's.
        ...(settings.apiUrl !== 'https://slack.com/api/' ? { slackApiUrl: settings.apiUrl } : {}),
        ...(runtime.env.SLACK_SIGNING_SECRET ? { signingSecret: runtime.env.SLACK_SIGNING_SECRET } : {}),
      };
      await runtime.admin.setConnector('slack-oauth', grant.workspace, 'slack', {
        enabled: true,
        config,
        audit: {
          action: 'connector.connect',
          details: { teamId: installation.teamId, appId: installation.appId, reconnect: existing !== null },
        },
      });
      runtime.routing.invalidate();
      runtime.logger.info(
        { workspace: grant.workspace, teamId: installation.teamId, code: 'slack_connected' },
        'Slack connected through "Add to Slack"',
      );
      setCookie(c, STATE_COOKIE, '', { path: '/connect/slack', maxAge: 0 });
      return page(
        200,
        'Slack connected',
        `Workspace ${workspace} is connected to the Slack workspace ${installation.teamName || installation.teamId}. You can close this page.`,
      );
    } catch (error) {
      return refused(runtime, error, workspace);
    }
  });
  return app;
}

async function configuredChannel(runtime: Runtime, workspace: string): Promise<string | undefined> {
  const setting = await runtime.store.getConnector(workspace, 'slack');
  const channel = setting?.config.defaultChannel;
  return typeof channel === 'string' && channel !== '' ? channel : undefined;
}

/** A refusal as a short page; only codes and messages of our own, never a token. */
function refused(runtime: Runtime, error: unknown, workspace: string | undefined): Response {
  if (error instanceof InstallRefused || error instanceof SlackInstallError) {
    runtime.logger.info({ workspace, code: error.code }, 'Slack install refused');
    const status = error.code === 'not_found' ? 404 : 400;
    return page(status, 'Slack not connected', `${error.message} (${error.code}).`);
  }
  if (isWabridgeError(error) && (error.code === 'config_invalid' || error.status === 400)) {
    runtime.logger.info({ workspace, code: error.code }, 'Slack install refused');
    const status = error.status ?? 400;
    return page(status, 'Slack not connected', `${error.message} (${error.code}).`);
  }
  throw error;
}

const escapeHtml = (text: string) => text.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);

function page(status: number, title: string, message: string): Response {
  const html = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title></head><body><h1>${escapeHtml(title)}</h1><p>${escapeHtml(message)}</p></body></html>`;
  return new Response(html, {
    status,
    headers: {
      'content-type': 'text/html; charset=utf-8',
      'content-security-policy': "default-src 'none'; frame-ancestors 'none'",
      'cache-control': 'no-store',
      'referrer-policy': 'no-referrer',
    },
  });
}
