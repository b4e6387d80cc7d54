import { hubspotConnector } from '@wabridge/connector-hubspot';
import type { SqliteStore } from '@wabridge/core';
import { completeConsent } from '@wabridge/sandbox';
import { type HubSpotEmulator, startHubSpotEmulator } from '@wabridge/sandbox/hubspot';
import { Hono } from 'hono';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { STATE_TTL_MS } from '../connect/grants.ts';
import { hubspotConnectLink } from '../connect/hubspot.ts';
import { createTestApp } from '../testing/harness.ts';
import { connectHubSpotRoutes } from './connect-hubspot.ts';

/**
 * The connect routes through `app.request()` with an injected clock, the code exchanged over HTTP
 * against the HubSpot emulator (`@hubspot/api-client`), its consent page answered by
 * `completeConsent`.
 */
const APP = {
  clientId: '5f7c1d2e-0a6b-4c3d-9e8f-1a2b3c4d5e6f',
  clientSecret: 'route-test-hubspot-secret',
  appId: 3_000_777,
};
const PUBLIC_URL = 'http://wabridge.test';
const ACME = 4_410_001;
const GLOBEX = 4_410_002;
let hubspot: HubSpotEmulator;
let t: Awaited<ReturnType<typeof createTestApp>>;
let now = 1_800_000_000_000;
let app: Hono;

beforeAll(async () => {
  hubspot = await startHubSpotEmulator({
    accessToken: 'pat-na1-private',
    clientSecret: 'private-app-secret',
    portals: [
      { portalId: ACME, name: 'Acme' },
      { portalId: GLOBEX, name: 'Globex' },
    ],
    oauth: { ...APP, redirectUris: [`${PUBLIC_URL}/connect/hubspot/callback`] },
  });
  t = await createTestApp({
    registered: [hubspotConnector],
    env: {
      PUBLIC_URL,
      HUBSPOT_CLIENT_ID: APP.clientId,
      HUBSPOT_CLIENT_SECRET: APP.clientSecret,
      HUBSPOT_STATE_SECRET: 'route-test-state-secret-0123',
      HUBSPOT_AUTHORIZE_URL: hubspot.authorizeUrl,
      HUBSPOT_API_URL: hubspot.url,
    },
  });
  app = new Hono().route('/connect/hubspot', connectHubSpotRoutes(t.runtime, { now: () => now }));
}, 120_000);

afterAll(async () => {
  await t?.close();
  await hubspot?.close();
});

beforeEach(() => {
  now += 24 * 3_600_000;
});

const path = (url: string) => url.slice(PUBLIC_URL.length);
const audit = () =>
  (t.runtime.store as SqliteStore).db.all<{ action: string; details: string }>(
    "SELECT action, details FROM audit_log WHERE action LIKE 'connector.%' ORDER BY id",
  );

async function start() {
  const answer = await app.request(path(hubspotConnectLink(t.runtime.env, t.workspaceId, now)));
  return {
    answer,
    cookie: (answer.headers.get('set-cookie') ?? '').split(';')[0] ?? '',
    location: answer.headers.get('location') ?? '',
  };
}

/** Starts, consents for a portal, and returns the callback path and the cookie. */
async function consent(portal: number, decision: 'allow' | 'cancel' = 'allow') {
  const { cookie, location } = await start();
  const back = await completeConsent(location, { choose: String(portal), decision });
  return { cookie, callback: path(back.location.toString()) };
}

describe('GET /connect/hubspot/:workspace/install and /connect/hubspot/callback', () => {
  it('install: 302 to HubSpot’s authorize page with the client id, scopes, callback and a state, plus an HttpOnly cookie', async () => {
    const { answer, cookie, location } = await start();
    expect(answer.status).toBe(302);
    const url = new URL(location);
    expect(`${url.origin}${url.pathname}`).toBe(hubspot.authorizeUrl);
    expect(url.searchParams.get('client_id')).toBe(APP.clientId);
    expect(url.searchParams.get('redirect_uri')).toBe(`${PUBLIC_URL}/connect/hubspot/callback`);
    expect(url.searchParams.get('scope')?.split(' ')).toContain('crm.objects.contacts.write');
    expect(url.searchParams.get('state')).toMatch(/^[\w-]+\.[\w-]+$/);
    expect(cookie).toMatch(/^wabridge_hubspot_state=/);
    expect(answer.headers.get('set-cookie')).toContain('HttpOnly');
  });

  it('a connect link for another workspace, a Slack-style ticket, or none is refused and redirects nowhere', async () => {
    const other = hubspotConnectLink(t.runtime.env, 'globex', now).replace(
      '/connect/hubspot/globex/',
      `/connect/hubspot/${t.workspaceId}/`,
    );
    for (const url of [other, `${PUBLIC_URL}/connect/hubspot/${t.workspaceId}/install`]) {
      const answer = await app.request(path(url));
      expect(answer.status).toBe(400);
      expect(answer.headers.get('location')).toBeNull();
    }
  });

  it('a state that comes back without its cookie, or with another install’s cookie, is refused and stores nothing', async () => {
    const { callback } = await consent(ACME);
    const { cookie: otherCookie } = await start();
    for (const headers of [{}, { cookie: otherCookie }] as Record<string, string>[]) {
      const answer = await app.request(callback, { headers });
      expect(answer.status).toBe(400);
      expect(await answer.text()).toContain('state_invalid');
    }
    expect(await t.runtime.store.getConnector(t.workspaceId, 'hubspot')).toBeNull();
  });

  it('a state is refused as expired one millisecond after its ten minutes, and stores nothing', async () => {
    const { cookie, callback } = await consent(ACME);
    now += STATE_TTL_MS + 1;
    const answer = await app.request(callback, { headers: { cookie } });
    expect(answer.status).toBe(400);
    expect(await answer.text()).toContain('state_expired');
    expect(await t.runtime.store.getConnector(t.workspaceId, 'hubspot')).toBeNull();
  });

  it('Cancel on HubSpot’s consent page comes back as access_denied and stores nothing', async () => {
    const { cookie, callback } = await consent(ACME, 'cancel');
    const answer = await app.request(callback, { headers: { cookie } });
    expect(answer.status).toBe(400);
    expect(await answer.text()).toContain('access_denied');
    expect(await t.runtime.store.getConnector(t.workspaceId, 'hubspot')).toBeNull();
  });

  it('connects: replaces a private app token, records the portal, stores the refresh token masked, audits; the state works once', async () => {
    await t.runtime.admin.setConnector('test', t.workspaceId, 'hubspot', {
      enabled: true,
      config: { accessToken: 'pat-na1-private', clientSecret: 'private-app-secret', basePath: hubspot.url },
    });
    const { cookie, callback } = await consent(GLOBEX);
    const first = await app.request(callback, { headers: { cookie } });
    const html = await first.text();
    expect(first.status, html).toBe(200);
    expect(html).toContain('HubSpot connected');
    expect(html).toContain(String(GLOBEX));
    expect(html).not.toMatch(/na1-|C[A-Za-z0-9]{40}/);
    const described = await t.runtime.admin.describeConnector(t.workspaceId, 'hubspot');
    expect(described?.enabled).toBe(true);
    expect(described?.config).toMatchObject({
      refreshToken: '••••••',
      clientSecret: '••••••',
      oauthClientId: APP.clientId,
      portalId: String(GLOBEX),
      appId: String(APP.appId),
    });
    expect(described?.config).not.toHaveProperty('accessToken');
    const connect = audit().filter((e) => e.action === 'connector.connect');
    expect(connect).toHaveLength(1);
    const details = JSON.parse(connect[0]?.details ?? '{}');
    expect(details).toMatchObject({ method: 'oauth', portalId: String(GLOBEX), reconnect: true });
    expect(JSON.stringify(details)).not.toContain('na1-');
    // The same callback again (a replayed URL, even with the cookie) is refused before the exchange.
    const again = await app.request(callback, { headers: { cookie } });
    expect(again.status).toBe(400);
    expect(await again.text()).toContain('state_used');
    expect(audit().filter((e) => e.action === 'connector.connect')).toHaveLength(1);
  });
});
