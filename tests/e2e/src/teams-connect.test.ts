import { freePort } from '@wabridge/core/testing';
import { startTestGateway, TEST_ACCESS_TOKEN, TEST_APP_SECRET } from '@wabridge/gateway/testing';
import { type GraphEmulator, startGraphEmulator, trustCertificateInProcess } from '@wabridge/sandbox/graph';
import { startWhatsAppEmulator, type WhatsAppEmulator } from '@wabridge/sandbox/whatsapp';
import { type Browser, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runWabridge } from './support/cli-process.ts';

/**
 * "Connect Teams" end to end: Chromium opens the link `wabridge connector connect … teams`
 * prints, signs the service account in on the Graph emulator's identity platform (authorization
 * code with PKCE through MSAL Node), comes back to the real gateway's channel picker, picks a
 * channel, and a WhatsApp message then starts a thread there.
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
  // The Graph emulator serves HTTPS with a throwaway certificate (trusted in this process only).
  '--ignore-certificate-errors',
];
const WAIT = { timeout: 60_000 };
const TEAM = 'fbe2bf47-16c8-47cf-b4a5-4b9b187c508b';
const GENERAL = '19:e2egeneralaaaaaaaaaaaaaaaaaaaaaa@thread.tacv2';
const WHATSAPP = '19:e2ewhatsappaaaaaaaaaaaaaaaaaaaaa@thread.tacv2';
const NUMBER = '106540352242922';

type Gateway = Awaited<ReturnType<typeof startTestGateway>>;
let wa: WhatsAppEmulator;
let graph: GraphEmulator;
let gw: Gateway;
let browser: Browser | undefined;
let teamsEnv: Record<string, string>;

/** `wabridge …` in its own process, on the gateway's data directory and key. */
const cli = (...args: string[]) => runWabridge(gw.dir, teamsEnv, ...args);

beforeAll(async () => {
  const port = await freePort();
  const publicUrl = `http://127.0.0.1:${port}`;
  wa = await startWhatsAppEmulator({
    appSecret: TEST_APP_SECRET,
    accessToken: TEST_ACCESS_TOKEN,
    rules: { pairRate: { enabled: false } },
  });
  graph = await startGraphEmulator({
    consent: 'page',
    apps: [
      {
        clientId: '8d0b1a3c-2f4e-4a6b-9c8d-7e6f5a4b3c2d',
        clientSecret: 'e2e-teams-client-secret',
        displayName: 'wabridge',
        redirectUris: [`${publicUrl}/connect/teams/callback`],
      },
    ],
    teams: [
      {
        id: TEAM,
        displayName: 'Support',
        channels: [
          { id: GENERAL, displayName: 'General' },
          { id: WHATSAPP, displayName: 'WhatsApp' },
        ],
      },
    ],
  });
  trustCertificateInProcess(graph.certificate);
  teamsEnv = {
    PUBLIC_URL: publicUrl,
    TEAMS_TENANT_ID: graph.tenantId,
    TEAMS_CLIENT_ID: graph.app.clientId,
    TEAMS_CLIENT_SECRET: graph.app.clientSecret,
    TEAMS_STATE_SECRET: 'e2e-teams-state-secret-0123',
    TEAMS_AUTHORITY_HOST: graph.authorityHost,
    TEAMS_GRAPH_URL: graph.graphBaseUrl,
  };
  gw = await startTestGateway({ env: { PORT: String(port), WHATSAPP_API_BASE_URL: wa.url, ...teamsEnv } });
  wa.setWebhookUrl(gw.webhookUrl);
  const { admin } = gw.runtime;
  await admin.createWorkspace('e2e', { id: 'acme', name: 'acme' });
  await admin.addPhoneNumber('e2e', 'acme', { phoneNumberId: NUMBER, displayPhoneNumber: '15550783881' });
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS });
}, 180_000);

afterAll(async () => {
  await browser?.close();
  for (const subscription of graph?.subscriptions() ?? []) graph.expireSubscription(subscription.id);
  await gw?.close();
  await graph?.close();
  await wa?.close();
});

describe('"Connect Teams" in Chromium against the real gateway and the Graph emulator', () => {
  it('the link the CLI prints: sign in, consent, pick the channel: stored masked, and a WhatsApp message starts a thread in that channel', async () => {
    const printed = await cli('connector', 'connect', 'acme', 'teams');
    expect(printed.code, printed.stderr).toBe(0);
    const link = printed.stdout
      .split('\n')
      .find((line) => line.startsWith(`${gw.url}/connect/teams/acme/install?`));
    expect(link, printed.stdout).toBeDefined();
    const page = await browser!.newPage();
    await page.goto(link!, WAIT);
    await page.getByRole('heading', { name: /wants to sign in/ }).waitFor(WAIT);
    expect(new URL(page.url()).origin).toBe(new URL(graph.authorityHost).origin);
    await page.getByLabel(new RegExp(graph.serviceAccount.userPrincipalName)).check();
    await Promise.all([
      page.waitForURL(`${gw.url}/connect/teams/callback?**`, WAIT),
      page.getByRole('button', { name: 'Accept' }).click(),
    ]);
    await page.getByRole('heading', { name: 'Choose the Teams channel' }).waitFor(WAIT);
    await page.getByLabel('Support › WhatsApp').check();
    await page.getByRole('button', { name: 'Connect' }).click();
    await page.getByRole('heading', { name: 'Teams connected' }).waitFor(WAIT);

    const described = await gw.runtime.admin.describeConnector('acme', 'teams');
    expect(described?.enabled).toBe(true);
    expect(described?.config).toMatchObject({
      refreshToken: '••••••',
      teamId: TEAM,
      channelId: WHATSAPP,
      serviceAccountId: graph.serviceAccount.id,
    });

    gw.runtime.routing.invalidate();
    await gw.runtime.host.maintainAll();
    await wa.customer({ waId: '15550801234', name: 'Ada Customer' }).sendText('hello Teams from WhatsApp');
    const created = await graph.ledger.waitFor('message.created', {
      where: (e) => e.text.includes('hello Teams from WhatsApp'),
      timeoutMs: 60_000,
    });
    expect(created).toHaveLength(1);
    expect(graph.roots(TEAM, WHATSAPP)).toHaveLength(1);
    expect(graph.roots(TEAM, GENERAL)).toHaveLength(0);
    await page.close();
  }, 180_000);
});
