import type { IncomingMessage, ServerResponse } from 'node:http';
import type { CodedError, Installation, InstallProvider } from '@slack/oauth';
import { SlackInstallError } from '@wabridge/connector-slack/manifest';
import { isWabridgeError } from '@wabridge/core';
import { Hono } from 'hono';
import { setCookie } from 'hono/cookie';
import type { Runtime } from '../runtime.ts';
import {
  InstallRefused,
  installOptions,
  STATE_COOKIE,
  slackInstallProvider,
  slackOAuthSettings,
  verifyGrant,
} from '../slack-install.ts';

const CHANNEL = /^[CG][A-Z0-9]{2,}$/;

/**
 * "Add to Slack" for one wabridge workspace (OAuth v2,
 * https://docs.slack.dev/authentication/installing-with-oauth), through Bolt's `InstallProvider`:
 *
 * - `GET /connect/slack/:workspace/install?ticket=…`: the link `wabridge connector connect` prints.
 *   The ticket is signed with SLACK_STATE_SECRET and expires, so nobody can connect a workspace
 *   to their own Slack by guessing this URL. Answers 302 to Slack's authorize page
 *   (`generateInstallUrl`) with a single-use, expiring `state` kept on our store for the workspace,
 *   and a cookie binding that state to this browser.
 * - `GET /connect/slack/callback?code&state`: InstallProvider's `handleCallback` checks the cookie
 *   and takes the state, exchanges the code (`oauth.v2.access`), then our installation store
 *   checks the installation and stores it through `admin.setConnector` (validated whole, secrets
 *   encrypted, audited as `connector.connect`). Any refusal is a 400 page and stores nothing.
 *
 * An org-wide install (Enterprise Grid, the organization picked on Slack's consent page) is
 * stored with its organization id and serves every workspace of the organization.
 *
 * Channel: an install keeps the workspace's configured `defaultChannel`; a workspace without one
 * needs `--channel` on the link (carried in the signed ticket and the state).
 */
export function connectSlackRoutes(runtime: Runtime) {
  const app = new Hono();
  const secureCookie = runtime.env.publicUrl.startsWith('https:');
  let provider: InstallProvider | undefined;
  // Built on first use: a gateway without the OAuth settings still starts (the page says what is
  // missing), and one that never serves an install never loads @slack/oauth.
  const installer = async () => {
    provider ??= await slackInstallProvider(runtime);
    return provider;
  };

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
      const url = await (await installer()).generateInstallUrl(
        installOptions(runtime.env, { workspace, ...(grant.channel ? { channel: grant.channel } : {}) }),
      );
      setCookie(c, STATE_COOKIE, new URL(url).searchParams.get('state') ?? '', {
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
    let installed: { installation: Installation; workspace: string } | undefined;
    let failure: CodedError | undefined;
    try {
      slackOAuthSettings(runtime.env);
      // handleCallback reads a Node request (URL, cookie) and writes a header to a Node response;
      // both are these two small views of the Hono request, and the page is ours.
      const url = new URL(c.req.url);
      const request = {
        url: `${url.pathname}${url.search}`,
        headers: { host: url.host, cookie: c.req.header('cookie') },
      } as unknown as IncomingMessage;
      const response = { setHeader: () => response } as unknown as ServerResponse;
      await (await installer()).handleCallback(request, response, {
        successAsync: async (installation, options) => {
          installed = { installation, workspace: workspaceOf(options.metadata) };
        },
        failureAsync: async (error) => {
          failure = error;
        },
      });
    } catch (error) {
      return refused(runtime, error, undefined);
    }
    setCookie(c, STATE_COOKIE, '', { path: '/connect/slack', maxAge: 0 });
    if (!installed) return refused(runtime, translate(failure), undefined);
    const { installation, workspace } = installed;
    const where = installation.isEnterpriseInstall
      ? `the Slack organization ${installation.enterprise?.name || installation.enterprise?.id} (all its workspaces)`
      : `the Slack workspace ${installation.team?.name || installation.team?.id}`;
    return page(
      200,
      'Slack connected',
      `Workspace ${workspace} is connected to ${where}. You can close this page.`,
    );
  });
  return app;
}

const workspaceOf = (metadata: string | undefined) => {
  try {
    return String((JSON.parse(metadata ?? '{}') as { workspace?: unknown }).workspace ?? '');
  } catch {
    return '';
  }
};

/** InstallProvider's failures in our codes; ours (state, installation checks) pass through. */
function translate(error: CodedError | undefined): unknown {
  if (!error) return new InstallRefused('oauth_error', 'the install did not complete');
  if (error instanceof InstallRefused || error instanceof SlackInstallError || isWabridgeError(error))
    return error;
  switch (error.code) {
    case 'slack_oauth_installer_authorization_error':
      return new InstallRefused('access_denied', 'the install was cancelled in Slack');
    case 'slack_oauth_invalid_state':
    case 'slack_oauth_missing_state':
      return new InstallRefused('state_invalid', 'this install was started in another browser; start again');
    case 'slack_oauth_missing_code':
      return new InstallRefused('bad_request', 'Slack sent no code');
    default: {
      // Slack's own error code (invalid_code, bad_client_secret, …), never the request.
      const slackCode = (error as { data?: { error?: string } }).data?.error;
      if (error.code.startsWith('slack_')) {
        return new SlackInstallError(
          'oauth_exchange_failed',
          `Slack refused the code exchange${slackCode ? ` (${slackCode})` : ''}`,
        );
      }
      return error;
    }
  }
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
