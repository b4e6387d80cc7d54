import { freePort } from '@wabridge/core/testing';
import { startTestGateway, TEST_ACCESS_TOKEN, TEST_APP_SECRET } from '@wabridge/gateway/testing';
import { type HubSpotEmulator, startHubSpotEmulator } from '@wabridge/sandbox/hubspot';
import { startWhatsAppEmulator, type WhatsAppEmulator } from '@wabridge/sandbox/whatsapp';
import { type Browser, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runWabridge } from './support/cli-process.ts';

/**
 * "Connect HubSpot" end to end: Chromium opens the link `wabridge connector connect … hubspot`
 * prints, lands on the HubSpot emulator's account picker and consent page, picks an account,
 * clicks "Connect app", comes back to the real gateway, which exchanges the code
 * (`/oauth/v1/token`), reads the portal from the token and stores the install; then a WhatsApp
 * message is mirrored onto that portal's timeline with tokens the connector refreshes itself.
 */
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
const WAIT = { timeout: 60_000 };
const APP = {
  clientId: '5f7c1d2e-0a6b-4c3d-9e8f-1a2b3c4d5e6f',
  clientSecret: 'e2e-hubspot-app-secret',
  appId: 3_000_777,
};
const STATE_SECRET = 'e2e-hubspot-state-secret-0123';
const NUMBER = '106540352242922';
const BETA_NUMBER = '106540352242923';
const ACME = 4_410_001;
const GLOBEX = 4_410_002;

type Gateway = Awaited<ReturnType<typeof startTestGateway>>;
let wa: WhatsAppEmulator;
let hubspot: HubSpotEmulator;
let gw: Gateway;
let browser: Browser | undefined;
let hubspotEnv: Record<string, string>;

/** `wabridge …` in its own process, on the gateway's data directory and key. */
const cli = (...args: string[]) => runWabridge(gw.dir, hubspotEnv, ...args);

/** The bodies on the timeline of the portal's contacts, once `text` is among them. */
async function timelineWith(portalId: number, text: string, timeoutMs = 60_000): Promise<string[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const portal = hubspot.portal(portalId);
    const bodies = portal
      .contacts()
      .flatMap((contact) => portal.timeline(contact.id))
      .map((c) => c.properties.hs_communication_body ?? '');
    if (bodies.some((body) => body.includes(text))) return bodies;
    if (Date.now() > deadline)
      throw new Error(`"${text}" not on portal ${portalId}: ${JSON.stringify(bodies)}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

beforeAll(async () => {
  // The callback URL must be registered with the HubSpot app before the gateway starts.
  const port = await freePort();
  const publicUrl = `http://127.0.0.1:${port}`;
  wa = await startWhatsAppEmulator({
    appSecret: TEST_APP_SECRET,
    accessToken: TEST_ACCESS_TOKEN,
    phoneNumbers: [
      { phoneNumberId: NUMBER, displayPhoneNumber: '15550783881', wabaId: '102290129340398' },
      { phoneNumberId: BETA_NUMBER, displayPhoneNumber: '15550783882', wabaId: '102290129340398' },
    ],
    rules: { pairRate: { enabled: false } },
  });
  hubspot = await startHubSpotEmulator({
    accessToken: 'pat-na1-unused-private-app',
    clientSecret: 'unused-private-app-secret',
    portals: [
      { portalId: ACME, name: 'Acme' },
      { portalId: GLOBEX, name: 'Globex' },
    ],
    oauth: { ...APP, redirectUris: [`${publicUrl}/connect/hubspot/callback`], refreshTokenRotation: true },
  });
  hubspotEnv = {
    PUBLIC_URL: publicUrl,
    HUBSPOT_CLIENT_ID: APP.clientId,
    HUBSPOT_CLIENT_SECRET: APP.clientSecret,
    HUBSPOT_STATE_SECRET: STATE_SECRET,
    HUBSPOT_AUTHORIZE_URL: hubspot.authorizeUrl,
    HUBSPOT_API_URL: hubspot.url,
  };
  gw = await startTestGateway({ env: { PORT: String(port), WHATSAPP_API_BASE_URL: wa.url, ...hubspotEnv } });
  wa.setWebhookUrl(gw.webhookUrl);
  const { admin } = gw.runtime;
  await admin.createWorkspace('e2e', { id: 'acme', name: 'acme' });
  await admin.addPhoneNumber('e2e', 'acme', { phoneNumberId: NUMBER, displayPhoneNumber: '15550783881' });
  await admin.createWorkspace('e2e', { id: 'beta', name: 'beta' });
  await admin.addPhoneNumber('e2e', 'beta', {
    phoneNumberId: BETA_NUMBER,
    displayPhoneNumber: '15550783882',
  });
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS });
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await gw?.close();
  await hubspot?.close();
  await wa?.close();
});

describe('"Connect HubSpot" in Chromium against the real gateway and the HubSpot emulator', () => {
  it('the link the CLI prints: click, pick the account, connect, back to wabridge: stored masked with its portal, and a WhatsApp message lands on that portal’s timeline', async () => {
    const printed = await cli('connector', 'connect', 'acme', 'hubspot');
    expect(printed.code, printed.stderr).toBe(0);
    const link = printed.stdout
      .split('\n')
      .find((line) => line.startsWith(`${gw.url}/connect/hubspot/acme/install?`));
    expect(link, printed.stdout).toBeDefined();
    const page = await browser!.newPage();
    await page.goto(link!, WAIT);
    await page.getByRole('heading', { name: 'Connect wabridge to HubSpot' }).waitFor(WAIT);
    expect(new URL(page.url()).origin).toBe(hubspot.url);
    await page.getByLabel(/Globex/).check();
    await Promise.all([
      page.waitForURL(`${gw.url}/connect/hubspot/callback?**`, WAIT),
      page.getByRole('button', { name: 'Connect app' }).click(),
    ]);
    await page.getByRole('heading', { name: 'HubSpot connected' }).waitFor(WAIT);
    const body = (await page.textContent('body')) ?? '';
    expect(body).toContain(String(GLOBEX));
    expect(body).not.toContain('na1-');
    expect(hubspot.portals().find((p) => p.portalId === GLOBEX)?.installed).toBe(true);

    const described = await gw.runtime.admin.describeConnector('acme', 'hubspot');
    expect(described?.enabled).toBe(true);
    expect(described?.config).toMatchObject({
      refreshToken: '••••••',
      clientSecret: '••••••',
      portalId: String(GLOBEX),
    });

    gw.runtime.routing.invalidate();
    await gw.runtime.host.maintainAll();
    await wa.customer({ waId: '15550801234', name: 'Ada Customer' }).sendText('hello HubSpot from WhatsApp');
    const bodies = await timelineWith(GLOBEX, 'hello HubSpot from WhatsApp');
    expect(bodies.filter((b) => b.includes('hello HubSpot from WhatsApp'))).toHaveLength(1);
    expect(hubspot.portal(ACME).contacts()).toHaveLength(0);
    await page.close();
  }, 180_000);

  it('a second workspace connects another portal: each workspace’s WhatsApp traffic stays in its own portal, both ways', async () => {
    const printed = await cli('connector', 'connect', 'beta', 'hubspot');
    const link = printed.stdout
      .split('\n')
      .find((line) => line.startsWith(`${gw.url}/connect/hubspot/beta/install?`));
    expect(link, printed.stderr).toBeDefined();
    const page = await browser!.newPage();
    await page.goto(link!, WAIT);
    await page.getByLabel(/Acme/).check();
    await Promise.all([
      page.waitForURL(`${gw.url}/connect/hubspot/callback?**`, WAIT),
      page.getByRole('button', { name: 'Connect app' }).click(),
    ]);
    await page.getByRole('heading', { name: 'HubSpot connected' }).waitFor(WAIT);
    await page.close();
    expect((await gw.runtime.admin.describeConnector('beta', 'hubspot'))?.config.portalId).toBe(String(ACME));
    expect((await gw.runtime.admin.describeConnector('acme', 'hubspot'))?.config.portalId).toBe(
      String(GLOBEX),
    );

    gw.runtime.routing.invalidate();
    await gw.runtime.host.maintainAll();
    await wa
      .customer({ waId: '15550805678', name: 'Bea', phoneNumberId: BETA_NUMBER })
      .sendText('beta to its portal');
    await wa.customer({ waId: '15550801234', name: 'Ada Customer' }).sendText('acme again');
    const acmePortal = await timelineWith(ACME, 'beta to its portal');
    const globexPortal = await timelineWith(GLOBEX, 'acme again');
    expect(acmePortal.join()).not.toContain('acme again');
    expect(acmePortal.join()).not.toContain('hello HubSpot');
    expect(globexPortal.join()).not.toContain('beta to its portal');
  }, 180_000);

  it('the CLI prints no link for an unknown workspace, and says why on stderr', async () => {
    const unknown = await cli('connector', 'connect', 'nowhere', 'hubspot');
    expect(unknown.code).not.toBe(0);
    expect(unknown.stdout).toBe('');
    expect(unknown.stderr).toContain('nowhere');
  }, 180_000);
});
