import { silentLogger, WabridgeError } from '@wabridge/core';
import { createTestBridge } from '@wabridge/whatsapp/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { exchangeHubSpotCode, HubSpotInstallError, hubspotConnector } from '../src/index.ts';
import { createOAuthTokens, OAUTH_STATUS_KEY, RENEW_MARGIN_MS } from '../src/oauth/tokens.ts';
import { hubspotContactOf, memoryState, startHubSpot } from './kit.ts';

const APP = {
  clientId: '5f7c1d2e-0a6b-4c3d-9e8f-1a2b3c4d5e6f',
  clientSecret: 'public-app-secret',
  appId: 3_000_777,
};
const OAUTH_PORTAL = 4_410_001;
const REDIRECT = 'https://wabridge.example/connect/hubspot/callback';

let cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const close of cleanup.reverse()) await close();
  cleanup = [];
});

async function startOAuth(rotation = true) {
  const { hubspot, config } = await startHubSpot({
    portals: [{ portalId: OAUTH_PORTAL, name: 'Acme' }],
    oauth: { ...APP, redirectUris: [REDIRECT], refreshTokenRotation: rotation, consent: 'auto' },
  });
  cleanup.push(() => hubspot.close());
  return { hubspot, basePath: config.basePath };
}

const issued = (hubspot: Awaited<ReturnType<typeof startOAuth>>['hubspot']) =>
  hubspot.ledger.filter('oauth.token_issued', (e) => e.grantType === 'refresh_token');

describe('HubSpot OAuth access tokens', () => {
  it('refreshes once before expiry, stores each rotated refresh token encrypted, and uses the newest one next time', async () => {
    const { hubspot, basePath } = await startOAuth();
    const { refreshToken } = hubspot.install(OAUTH_PORTAL);
    const { state, plain, secrets } = memoryState();
    let now = 1_800_000_000_000;
    const tokens = createOAuthTokens(
      {
        basePath,
        portalId: String(OAUTH_PORTAL),
        oauthClientId: APP.clientId,
        clientSecret: APP.clientSecret,
        refreshToken,
      },
      { state, logger: silentLogger, now: () => now, reconnectHint: 'connect' },
    );
    const first = await tokens.accessToken();
    const rotated = secrets.get('oauth:refresh-token');
    expect(rotated).toMatch(/^na1-/);
    expect(rotated).not.toBe(refreshToken);
    expect([...plain.values()].map((v) => JSON.stringify(v)).join()).not.toContain(rotated);
    // Until the renewal margin, the same token is served without a call.
    now += 1800_000 - RENEW_MARGIN_MS - 1;
    expect(await tokens.accessToken()).toBe(first);
    expect(issued(hubspot)).toHaveLength(1);
    // Then it is refreshed with the rotated token (the first one is dead at HubSpot now).
    now += 2;
    const second = await tokens.accessToken();
    expect(second).not.toBe(first);
    expect(issued(hubspot)).toHaveLength(2);
    expect(secrets.get('oauth:refresh-token')).not.toBe(rotated);
    expect(plain.get(OAUTH_STATUS_KEY)).toMatchObject({ state: 'connected' });
  });

  it('instances of one portal share one refresh and one access token', async () => {
    const { hubspot, basePath } = await startOAuth();
    const { refreshToken } = hubspot.install(OAUTH_PORTAL);
    const { state } = memoryState();
    const make = () =>
      createOAuthTokens(
        {
          basePath,
          portalId: String(OAUTH_PORTAL),
          oauthClientId: APP.clientId,
          clientSecret: APP.clientSecret,
          refreshToken,
        },
        { state, logger: silentLogger, now: () => 1_800_000_000_000, reconnectHint: 'connect' },
      );
    const [a, b] = await Promise.all([make().accessToken(), make().accessToken()]);
    expect(a).toBe(b);
    expect(issued(hubspot)).toHaveLength(1);
  });

  it('an uninstall is detected at the next refresh: auth_failed saying to connect again, status uninstalled, audited once', async () => {
    const { hubspot, basePath } = await startOAuth(false);
    const { refreshToken } = hubspot.install(OAUTH_PORTAL);
    const { state, plain } = memoryState();
    const audits: { action: string; details: Record<string, unknown> }[] = [];
    const tokens = createOAuthTokens(
      {
        basePath,
        portalId: String(OAUTH_PORTAL),
        oauthClientId: APP.clientId,
        clientSecret: APP.clientSecret,
        refreshToken,
      },
      {
        state,
        logger: silentLogger,
        now: () => 1_800_000_000_000,
        audit: async (action, details) => void audits.push({ action, details }),
        reconnectHint: 'wabridge connector connect acme hubspot',
      },
    );
    await tokens.accessToken();
    await hubspot.uninstall(OAUTH_PORTAL);
    for (let attempt = 0; attempt < 2; attempt++) {
      tokens.invalidate();
      const error = await tokens.accessToken().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(WabridgeError);
      expect((error as WabridgeError).code).toBe('auth_failed');
      expect((error as WabridgeError).retryable).toBe(false);
      expect((error as WabridgeError).message).toContain('wabridge connector connect acme hubspot');
    }
    expect(plain.get(OAUTH_STATUS_KEY)).toMatchObject({ state: 'uninstalled', reason: 'BAD_REFRESH_TOKEN' });
    expect(audits).toEqual([
      {
        action: 'connector.uninstalled',
        details: { portalId: String(OAUTH_PORTAL), reason: 'BAD_REFRESH_TOKEN' },
      },
    ]);
  });

  it('a code that is wrong or used twice is refused with HubSpot’s status, in one line', async () => {
    const { hubspot, basePath } = await startOAuth();
    const exchange = (code: string) =>
      exchangeHubSpotCode({
        basePath,
        clientId: APP.clientId,
        clientSecret: APP.clientSecret,
        code,
        redirectUri: REDIRECT,
      });
    const wrong = await exchange('not-a-code').catch((e: unknown) => e);
    expect(wrong).toBeInstanceOf(HubSpotInstallError);
    expect((wrong as HubSpotInstallError).code).toBe('BAD_AUTH_CODE');
    expect((wrong as HubSpotInstallError).message).not.toContain('\n');
    expect(hubspot.portals().find((p) => p.portalId === OAUTH_PORTAL)?.installed).toBe(false);
  });
});

describe('HubSpot connector installed with OAuth', () => {
  it('mirrors a WhatsApp message on the timeline of the portal it was installed in, not the private app’s; an uninstall then dead-letters with what to do, audited', async () => {
    const { hubspot, basePath } = await startOAuth();
    const { refreshToken } = hubspot.install(OAUTH_PORTAL);
    const bridge = await createTestBridge({
      manifests: [hubspotConnector],
      connectors: {
        hubspot: {
          refreshToken,
          oauthClientId: APP.clientId,
          clientSecret: APP.clientSecret,
          portalId: String(OAUTH_PORTAL),
          appId: String(APP.appId),
          basePath,
        },
      },
    });
    cleanup.push(() => bridge.close());
    await bridge.customerText('Hello from WhatsApp', { waId: '351912345678' });
    await bridge.worker.drain();
    const conversation = await bridge.conversationOf('351912345678');
    const contactId = (await hubspotContactOf(bridge, conversation?.id ?? '')) ?? '';
    const bodies = hubspot
      .portal(OAUTH_PORTAL)
      .timeline(contactId)
      .map((c) => c.properties.hs_communication_body);
    expect(bodies.join()).toContain('Hello from WhatsApp');
    expect(hubspot.contacts()).toHaveLength(0);

    // A user removes the app in HubSpot: the next delivery's 401 leads to a refused refresh, the
    // job fails saying to connect again, and the audit trail has the uninstall once.
    await hubspot.uninstall(OAUTH_PORTAL);
    await bridge.customerText('After the uninstall', { waId: '351912345678' });
    await bridge.worker.drain();
    const health = (await bridge.store.connectorHealth()).find((h) => h.connectorId === 'hubspot');
    expect(health?.lastError).toContain('no longer installed in portal');
    expect(health?.dead).toBe(1);
    const audit = await bridge.store.listAudit({ workspaceId: bridge.workspaceId });
    expect(audit.filter((e) => e.action === 'connector.uninstalled').map((e) => e.actor)).toEqual([
      'connector:hubspot',
    ]);
  });

  it('refuses a config with both a private app token and a refresh token, or a refresh token without its portal', () => {
    const base = { clientSecret: 'x-secret', basePath: 'http://127.0.0.1:1' };
    const both = hubspotConnector.configSchema.safeParse({
      ...base,
      accessToken: 'pat-na1-x',
      refreshToken: 'na1-r',
      oauthClientId: APP.clientId,
      portalId: '1',
    });
    expect(both.success).toBe(false);
    const noPortal = hubspotConnector.configSchema.safeParse({
      ...base,
      refreshToken: 'na1-r',
      oauthClientId: APP.clientId,
    });
    expect(noPortal.error?.issues.map((i) => i.path.join('.'))).toEqual(['portalId']);
    const neither = hubspotConnector.configSchema.safeParse(base);
    expect(neither.error?.issues.map((i) => i.path.join('.'))).toEqual(['accessToken']);
  });
});
