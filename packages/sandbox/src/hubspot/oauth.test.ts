import { Client } from '@hubspot/api-client';
import { afterEach, describe, expect, it } from 'vitest';
import { createClock } from '../shared/clock.ts';
import { completeConsent } from '../shared/consent-client.ts';
import { startWebhookRecorder, type WebhookRecorder } from '../shared/recorder.ts';
import { type HubSpotEmulator, signatureV3, startHubSpotEmulator } from './index.ts';
import type { HubSpotEmulatorOptions } from './types.ts';

const APP = { clientId: 'public-app-client-id', clientSecret: 'public-app-client-secret', appId: 3_000_777 };
const REDIRECT = 'https://wabridge.example/oauth/hubspot/callback';
const SCOPES = ['crm.objects.contacts.read', 'crm.objects.contacts.write', 'oauth'];
const ACME = 4_410_001;
const GLOBEX = 4_410_002;

let hs: HubSpotEmulator | undefined;
let receiver: WebhookRecorder | undefined;
afterEach(async () => {
  await hs?.close();
  await receiver?.close();
  hs = undefined;
  receiver = undefined;
});

const start = (
  oauth: Partial<NonNullable<HubSpotEmulatorOptions['oauth']>> = {},
  extra: Partial<HubSpotEmulatorOptions> = {},
) =>
  startHubSpotEmulator({
    ...extra,
    accessToken: 'private-app-token',
    clientSecret: 'private-app-secret',
    portals: [
      { portalId: ACME, name: 'Acme', user: { id: 501, email: 'ops@acme.example' } },
      { portalId: GLOBEX, name: 'Globex', user: { id: 502, email: 'it@globex.example' } },
    ],
    oauth: {
      ...APP,
      redirectUris: [REDIRECT],
      scopes: SCOPES,
      optionalScopes: ['crm.objects.deals.read'],
      ...oauth,
    },
  });

/** The SDK builds the install URL for app.hubspot.com; the emulator answers on its own host. */
function installUrl(emulator: HubSpotEmulator, state: string, optional?: string[]): string {
  const sdkUrl = new Client().oauth.getAuthorizationUrl(
    APP.clientId,
    REDIRECT,
    SCOPES.join(' '),
    optional?.join(' '),
    state,
  );
  const url = new URL(sdkUrl);
  expect(url.origin).toBe('https://app.hubspot.com');
  return `${emulator.authorizeUrl}${url.search}`;
}

async function connect(emulator: HubSpotEmulator, portalId: number) {
  const { location } = await completeConsent(installUrl(emulator, `st-${portalId}`), {
    choose: String(portalId),
  });
  expect(location.searchParams.get('state')).toBe(`st-${portalId}`);
  const oauth = new Client({ basePath: emulator.url, numberOfApiCallRetries: 0 }).oauth;
  return oauth.tokensApi.create(
    'authorization_code',
    location.searchParams.get('code') ?? '',
    REDIRECT,
    APP.clientId,
    APP.clientSecret,
  );
}

const crm = (emulator: HubSpotEmulator, accessToken: string) =>
  new Client({ accessToken, basePath: emulator.url, numberOfApiCallRetries: 0 }).crm.contacts;

describe('HubSpot public-app OAuth with @hubspot/api-client', () => {
  it('installs in the account picked on the consent page; its token reaches that portal’s CRM only', async () => {
    hs = await start();
    const acme = await connect(hs, ACME);
    const globex = await connect(hs, GLOBEX);
    expect(acme).toMatchObject({ tokenType: 'bearer', expiresIn: 1800 });
    await crm(hs, acme.accessToken).basicApi.create({
      properties: { firstname: 'Ada', phone: '+1 555 020 0001' },
      associations: [],
    });
    await crm(hs, globex.accessToken).basicApi.create({
      properties: { firstname: 'Grace' },
      associations: [],
    });
    const names = async (token: string) =>
      (await crm(hs!, token).basicApi.getPage(10, undefined, ['firstname'])).results.map(
        (c) => c.properties.firstname,
      );
    expect(await names(acme.accessToken)).toEqual(['Ada']);
    expect(await names(globex.accessToken)).toEqual(['Grace']);
    expect(
      hs
        .portal(ACME)
        .contacts()
        .map((c) => c.properties.firstname),
    ).toEqual(['Ada']);
    expect(
      hs
        .portal(GLOBEX)
        .contacts()
        .map((c) => c.properties.firstname),
    ).toEqual(['Grace']);
    // The private app's token still works on the default portal, and sees neither.
    expect(await names('private-app-token')).toEqual([]);
    expect(hs.portals().map((p) => [p.portalId, p.installed])).toEqual([
      [hs.portalId, false],
      [ACME, true],
      [GLOBEX, true],
    ]);
    // API changes are the public app's (changeSource INTEGRATION, sourceId = its app id).
    expect(hs.ledger.filter('object.created', (e) => e.portalId === ACME).map((e) => e.source)).toEqual([
      { changeSource: 'INTEGRATION', sourceId: String(APP.appId) },
    ]);
  });

  it('describes tokens: access-token and refresh-token metadata name the account, scopes and user', async () => {
    // A clock that does not move, so that expires_in is exact.
    hs = await start({}, { clock: createClock(() => 1_800_000_000_000) });
    const tokens = await connect(hs, ACME);
    const oauth = new Client({ basePath: hs.url, numberOfApiCallRetries: 0 }).oauth;
    expect(await oauth.accessTokensApi.get(tokens.accessToken)).toMatchObject({
      hubId: ACME,
      appId: APP.appId,
      userId: 501,
      user: 'ops@acme.example',
      scopes: SCOPES,
      tokenType: 'access',
      expiresIn: 1800,
    });
    expect(await oauth.refreshTokensApi.get(tokens.refreshToken)).toMatchObject({
      hubId: ACME,
      clientId: APP.clientId,
      userId: 501,
      scopes: SCOPES,
      tokenType: 'refresh',
    });
    // The raw token answer names the account too (HubSpot added hub_id and scopes in 2025).
    const { location } = await completeConsent(installUrl(hs, 'raw'), { choose: String(GLOBEX) });
    const raw = await fetch(`${hs.url}/oauth/v1/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'authorization_code',
        code: location.searchParams.get('code') ?? '',
        redirect_uri: REDIRECT,
        client_id: APP.clientId,
        client_secret: APP.clientSecret,
      }),
    });
    expect(await raw.json()).toMatchObject({
      token_type: 'bearer',
      hub_id: GLOBEX,
      scopes: SCOPES,
      expires_in: 1800,
    });
  });

  it('expires access tokens on the emulator clock; a refresh brings a new one (the refresh token stays, as in v1)', async () => {
    hs = await start({ accessTokenTtlSeconds: 60 });
    const tokens = await connect(hs, ACME);
    hs.advanceTime(61_000);
    await expect(crm(hs, tokens.accessToken).basicApi.getPage(1)).rejects.toMatchObject({
      code: 401,
      body: {
        category: 'EXPIRED_AUTHENTICATION',
        message: expect.stringMatching(/expired 1 minute\(s\) ago/),
      },
    });
    const oauth = new Client({ basePath: hs.url, numberOfApiCallRetries: 0 }).oauth;
    const renewed = await oauth.tokensApi.create(
      'refresh_token',
      undefined,
      undefined,
      APP.clientId,
      APP.clientSecret,
      tokens.refreshToken,
    );
    expect(renewed.refreshToken).toBe(tokens.refreshToken);
    expect((await crm(hs, renewed.accessToken).basicApi.getPage(1)).results).toEqual([]);
  });

  it('rotates refresh tokens when configured: the old one is then BAD_REFRESH_TOKEN', async () => {
    hs = await start({ refreshTokenRotation: true });
    const tokens = await connect(hs, ACME);
    const oauth = new Client({ basePath: hs.url, numberOfApiCallRetries: 0 }).oauth;
    const renewed = await oauth.tokensApi.create(
      'refresh_token',
      undefined,
      undefined,
      APP.clientId,
      APP.clientSecret,
      tokens.refreshToken,
    );
    expect(renewed.refreshToken).not.toBe(tokens.refreshToken);
    await expect(
      oauth.tokensApi.create(
        'refresh_token',
        undefined,
        undefined,
        APP.clientId,
        APP.clientSecret,
        tokens.refreshToken,
      ),
    ).rejects.toMatchObject({ code: 400, body: { status: 'BAD_REFRESH_TOKEN' } });
  });

  it('answers bad codes, redirect URIs and credentials with HubSpot’s token errors', async () => {
    hs = await start({ codeTtlSeconds: 60 });
    const code = async () =>
      (await completeConsent(installUrl(hs!, 's'), { choose: String(ACME) })).location.searchParams.get(
        'code',
      ) ?? '';
    const token = async (form: Record<string, string>) => {
      const response = await fetch(`${hs?.url}/oauth/v1/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({
          grant_type: 'authorization_code',
          redirect_uri: REDIRECT,
          client_id: APP.clientId,
          client_secret: APP.clientSecret,
          ...form,
        }),
      });
      return [response.status, ((await response.json()) as { status: string }).status];
    };
    const used = await code();
    expect(await token({ code: used })).toEqual([200, undefined]);
    expect(await token({ code: used })).toEqual([400, 'BAD_AUTH_CODE']);
    expect(await token({ code: await code(), redirect_uri: 'https://wabridge.example/other' })).toEqual([
      400,
      'MISMATCH_REDIRECT_URI_AUTH_CODE',
    ]);
    const late = await code();
    hs.advanceTime(60_000);
    expect(await token({ code: late })).toEqual([400, 'EXPIRED_AUTH_CODE']);
    expect(await token({ code: await code(), client_id: 'other-app' })).toEqual([400, 'BAD_CLIENT_ID']);
    expect(await token({ code: await code(), client_secret: 'wrong' })).toEqual([400, 'BAD_CLIENT_SECRET']);
    expect(await token({ code: await code(), grant_type: 'password' })).toEqual([400, 'BAD_GRANT_TYPE']);
    expect(hs.ledger.filter('oauth.rejected').map((e) => e.status)).toEqual([
      'BAD_AUTH_CODE',
      'MISMATCH_REDIRECT_URI_AUTH_CODE',
      'EXPIRED_AUTH_CODE',
      'BAD_CLIENT_ID',
      'BAD_CLIENT_SECRET',
      'BAD_GRANT_TYPE',
    ]);
  });

  it('shows an error page for a bad client, redirect URL or scope set, and sends access_denied on Cancel', async () => {
    hs = await start();
    const attempt = async (params: Record<string, string>) => {
      const response = await fetch(
        `${hs?.authorizeUrl}?${new URLSearchParams({ client_id: APP.clientId, redirect_uri: REDIRECT, scope: SCOPES.join(' '), ...params })}`,
        { redirect: 'manual' },
      );
      return [
        response.status,
        response.headers.get('location'),
        /<code>([^<]+)/.exec(await response.text())?.[1],
      ];
    };
    expect(await attempt({ client_id: 'nope' })).toEqual([400, null, 'BAD_CLIENT_ID']);
    expect(await attempt({ redirect_uri: 'https://evil.example/cb' })).toEqual([
      400,
      null,
      'BAD_REDIRECT_URI',
    ]);
    expect(await attempt({ scope: 'crm.objects.contacts.read' })).toEqual([400, null, 'SCOPE_MISMATCH']);
    const { location } = await completeConsent(installUrl(hs, 'st', ['crm.objects.deals.read']), {
      decision: 'cancel',
    });
    expect(Object.fromEntries(location.searchParams)).toEqual({ error: 'access_denied', state: 'st' });
    expect(hs.portals().every((p) => !p.installed)).toBe(true);
  });
});

describe('uninstalling the public app', () => {
  it('is detectable: API 401, token metadata 404, refresh BAD_REFRESH_TOKEN; the other portal keeps working', async () => {
    hs = await start();
    const acme = await connect(hs, ACME);
    const globex = await connect(hs, GLOBEX);
    await hs.uninstall(ACME);
    await expect(crm(hs, acme.accessToken).basicApi.getPage(1)).rejects.toMatchObject({
      code: 401,
      body: { category: 'INVALID_AUTHENTICATION' },
    });
    const oauth = new Client({ basePath: hs.url, numberOfApiCallRetries: 0 }).oauth;
    await expect(oauth.accessTokensApi.get(acme.accessToken)).rejects.toMatchObject({ code: 404 });
    await expect(
      oauth.tokensApi.create(
        'refresh_token',
        undefined,
        undefined,
        APP.clientId,
        APP.clientSecret,
        acme.refreshToken,
      ),
    ).rejects.toMatchObject({ code: 400, body: { status: 'BAD_REFRESH_TOKEN' } });
    expect((await crm(hs, globex.accessToken).basicApi.getPage(1)).results).toEqual([]);
    expect(hs.ledger.filter('oauth.uninstalled').map((e) => [e.portalId, e.by])).toEqual([[ACME, 'user']]);
  });

  it('lets the app uninstall itself with DELETE /appinstalls/v3/external-install', async () => {
    hs = await start();
    const acme = await connect(hs, ACME);
    const response = await fetch(`${hs.url}/appinstalls/v3/external-install`, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${acme.accessToken}` },
    });
    expect(response.status).toBe(204);
    expect(hs.portals().find((p) => p.portalId === ACME)?.installed).toBe(false);
    const again = await fetch(`${hs.url}/appinstalls/v3/external-install`, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${acme.accessToken}` },
    });
    expect(again.status).toBe(401);
  });

  it('deleting a refresh token does not uninstall: the access token still works, a refresh does not', async () => {
    hs = await start();
    const acme = await connect(hs, ACME);
    const oauth = new Client({ basePath: hs.url, numberOfApiCallRetries: 0 }).oauth;
    await oauth.refreshTokensApi.archive(acme.refreshToken);
    expect((await crm(hs, acme.accessToken).basicApi.getPage(1)).results).toEqual([]);
    await expect(
      oauth.tokensApi.create(
        'refresh_token',
        undefined,
        undefined,
        APP.clientId,
        APP.clientSecret,
        acme.refreshToken,
      ),
    ).rejects.toMatchObject({ body: { status: 'BAD_REFRESH_TOKEN' } });
    expect(hs.portals().find((p) => p.portalId === ACME)?.installed).toBe(true);
  });
});

describe('the public app’s webhooks', () => {
  it('come from each portal it is installed in, signed with the app secret, and stop after an uninstall', async () => {
    receiver = await startWebhookRecorder();
    hs = await start({
      webhookUrl: `${receiver.url}/hubspot`,
      subscriptions: [{ eventType: 'contact.propertyChange', propertyName: 'lastname' }],
    });
    const acme = hs.install(ACME);
    hs.install(GLOBEX);
    const inAcme = hs.portal(ACME).seedContact({ firstname: 'Ada' });
    const inGlobex = hs.portal(GLOBEX).seedContact({ firstname: 'Grace' });
    hs.portal(ACME).updateContact(inAcme, { lastname: 'Lovelace' });
    hs.portal(GLOBEX).updateContact(inGlobex, { lastname: 'Hopper' });
    await hs.idle();
    const deliveries = receiver.requests.map((r) => ({
      signed:
        r.headers['x-hubspot-signature-v3'] ===
        signatureV3({
          clientSecret: APP.clientSecret,
          method: 'POST',
          uri: `${receiver?.url}/hubspot`,
          body: r.text,
          timestamp: r.headers['x-hubspot-request-timestamp'] ?? '',
        }),
      events: JSON.parse(r.text) as { portalId: number; appId: number; propertyValue: string }[],
    }));
    expect(deliveries.map((d) => d.signed)).toEqual([true, true]);
    expect(
      deliveries.flatMap((d) => d.events.map((e) => [e.portalId, e.appId, e.propertyValue])).sort(),
    ).toEqual([
      [ACME, APP.appId, 'Lovelace'],
      [GLOBEX, APP.appId, 'Hopper'],
    ]);
    await hs.uninstall(ACME);
    hs.portal(ACME).updateContact(inAcme, { lastname: 'King' });
    await hs.idle();
    expect(receiver.requests).toHaveLength(2);
    expect(acme.accessToken).toBeTruthy();
  });
});
