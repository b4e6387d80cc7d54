import { HubSpotInstallError } from '@wabridge/connector-hubspot/manifest';
import { isWabridgeError } from '@wabridge/core';
import { Hono } from 'hono';
import { generateCookie, getCookie, setCookie } from 'hono/cookie';
import { acceptCallback, ConnectRefused, connectPage, verifyGrant } from '../connect/grants.ts';
import { HUBSPOT_STATE_COOKIE, hubspotAuthorizeRedirect, hubspotOAuthSettings } from '../connect/hubspot.ts';
import type { Runtime } from '../runtime.ts';

/**
 * "Connect HubSpot" for one wabridge workspace (public app, authorization code):
 *
 * - `GET /connect/hubspot/:workspace/install?ticket=…`: the link `wabridge connector connect`
 *   prints (signed with HUBSPOT_STATE_SECRET, one hour). Answers 302 to HubSpot's authorize page
 *   with a signed, expiring `state` and a cookie binding it to this browser.
 * - `GET /connect/hubspot/callback?code&state`: state checked (signature, expiry, cookie, and
 *   single use), code exchanged, portal read from the token's metadata, then stored through
 *   `admin.setConnector` (validated, secrets encrypted, audited `connector.connect`). A private
 *   app token stored before is dropped: one way of signing in at a time. Any refusal is a 4xx page
 *   and stores nothing.
 */
export function connectHubSpotRoutes(runtime: Runtime, options: { now?: () => number } = {}) {
  const now = options.now ?? Date.now;
  const app = new Hono();
  const secureCookie = runtime.env.publicUrl.startsWith('https:');

  app.get('/:workspace/install', async (c) => {
    const workspace = c.req.param('workspace');
    try {
      const settings = hubspotOAuthSettings(runtime.env);
      const grant = verifyGrant(settings.stateSecret, 'hubspot', c.req.query('ticket'), 'install', now());
      if (grant.workspace !== workspace)
        throw new ConnectRefused('state_invalid', 'the connect link is invalid');
      if (!(await runtime.store.getWorkspace(workspace))) {
        throw new ConnectRefused('not_found', `no workspace ${workspace}`);
      }
      const { url, nonce } = await hubspotAuthorizeRedirect(runtime.env, workspace, now());
      setCookie(c, HUBSPOT_STATE_COOKIE, nonce, {
        path: '/connect/hubspot',
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
      const settings = hubspotOAuthSettings(runtime.env);
      const { grant, code } = await acceptCallback(runtime.store, 'hubspot', {
        secret: settings.stateSecret,
        now: now(),
        query: (name) => c.req.query(name),
        cookieNonce: getCookie(c, HUBSPOT_STATE_COOKIE),
        platformName: 'HubSpot',
        what: 'connection',
      });
      workspace = grant.workspace;
      // The connector's OAuth client (HubSpot's SDK) loads with the first connection, not the gateway.
      const { exchangeHubSpotCode } = await import('@wabridge/connector-hubspot');
      const installation = await exchangeHubSpotCode({
        basePath: settings.apiUrl,
        clientId: settings.clientId,
        clientSecret: settings.clientSecret,
        code,
        redirectUri: settings.redirectUri,
      });
      const existing = await runtime.store.getConnector(grant.workspace, 'hubspot');
      const previousPortal = existing?.config.portalId;
      const appId = installation.appId ?? settings.appId;
      await runtime.admin.setConnector('hubspot-oauth', grant.workspace, 'hubspot', {
        enabled: true,
        config: {
          refreshToken: installation.refreshToken,
          // Dropped: the private app's token (the schema takes one way of signing in).
          accessToken: undefined,
          oauthClientId: settings.clientId,
          clientSecret: settings.clientSecret,
          portalId: installation.portalId,
          ...(appId ? { appId } : {}),
          basePath: settings.apiUrl,
        },
        audit: {
          action: 'connector.connect',
          details: {
            method: 'oauth',
            portalId: installation.portalId,
            reconnect: existing !== null,
            ...(typeof previousPortal === 'string' && previousPortal !== installation.portalId
              ? { previousPortalId: previousPortal }
              : {}),
          },
        },
      });
      runtime.routing.invalidate();
      runtime.logger.info(
        { workspace: grant.workspace, portalId: installation.portalId, code: 'hubspot_connected' },
        'HubSpot connected through OAuth',
      );
      return connectPage(
        200,
        'HubSpot connected',
        `Workspace ${grant.workspace} is connected to the HubSpot account ${installation.hubDomain ?? installation.portalId} (portal ${installation.portalId}). You can close this page.`,
        '',
        [generateCookie(HUBSPOT_STATE_COOKIE, '', { path: '/connect/hubspot', maxAge: 0 })],
      );
    } catch (error) {
      return refused(runtime, error, workspace);
    }
  });
  return app;
}

function refused(runtime: Runtime, error: unknown, workspace: string | undefined): Response {
  if (error instanceof ConnectRefused || error instanceof HubSpotInstallError) {
    runtime.logger.info({ workspace, code: error.code }, 'HubSpot connection refused');
    return connectPage(
      error.code === 'not_found' ? 404 : 400,
      'HubSpot not connected',
      `${error.message} (${error.code}).`,
    );
  }
  if (isWabridgeError(error) && (error.code === 'config_invalid' || error.status === 400)) {
    runtime.logger.info({ workspace, code: error.code }, 'HubSpot connection refused');
    return connectPage(error.status ?? 400, 'HubSpot not connected', `${error.message} (${error.code}).`);
  }
  throw error;
}
