import { freePort } from '@wabridge/core/testing';
import { installLink } from '@wabridge/gateway';
import { startTestGateway, TEST_ACCESS_TOKEN, TEST_APP_SECRET } from '@wabridge/gateway/testing';
import { type SlackEmulator, startSlackEmulator } from '@wabridge/sandbox/slack';
import { startWhatsAppEmulator, type WhatsAppEmulator } from '@wabridge/sandbox/whatsapp';
import { type Browser, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runWabridge } from './support/cli-process.ts';

/**
 * "Add to Slack" end to end: Chromium opens the link `wabridge connector connect` prints, lands on
 * the Slack emulator's consent page, picks a workspace, clicks Allow, comes back to the real
 * gateway, which exchanges the code (`oauth.v2.access`) and stores the installation; then a
 * WhatsApp message is mirrored into that Slack workspace's channel with the new bot token.
 */
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-sync'];
const WAIT = { timeout: 60_000 };
const CLIENT = { clientId: '4242.5151', clientSecret: 'e2e-client-secret' };
const STATE_SECRET = 'e2e-state-secret-0123456789';
const NUMBER = '106540352242922';

type Gateway = Awaited<ReturnType<typeof startTestGateway>>;
let wa: WhatsAppEmulator;
let slack: SlackEmulator;
let gw: Gateway;
let browser: Browser | undefined;
let slackEnv: Record<string, string>;

/** `wabridge …` in its own process, on the gateway's data directory and key. */
const cli = (...args: string[]) => runWabridge(gw.dir, slackEnv, ...args);

beforeAll(async () => {
  // The callback URL must be registered with the Slack app before the gateway starts.
  const port = await freePort();
  const publicUrl = `http://127.0.0.1:${port}`;
  wa = await startWhatsAppEmulator({
    appSecret: TEST_APP_SECRET,
    accessToken: TEST_ACCESS_TOKEN,
    rules: { pairRate: { enabled: false } },
  });
  slack = await startSlackEmulator({
    signingSecret: 'e2e-install-signing-secret',
    workspaces: [
      { id: 'T0ACME', name: 'Acme Support', channels: [{ id: 'C0ACME01', name: 'whatsapp' }] },
      { id: 'T0GLOBEX', name: 'Globex', channels: [{ id: 'C0GLOBEX1', name: 'whatsapp' }] },
    ],
    oauth: { ...CLIENT, redirectUris: [`${publicUrl}/connect/slack/callback`] },
  });
  slackEnv = {
    PUBLIC_URL: publicUrl,
    SLACK_CLIENT_ID: CLIENT.clientId,
    SLACK_CLIENT_SECRET: CLIENT.clientSecret,
    SLACK_STATE_SECRET: STATE_SECRET,
    SLACK_SIGNING_SECRET: slack.signingSecret,
    SLACK_AUTHORIZE_URL: slack.authorizeUrl,
    SLACK_API_URL: slack.apiUrl,
  };
  gw = await startTestGateway({ env: { PORT: String(port), WHATSAPP_API_BASE_URL: wa.url, ...slackEnv } });
  wa.setWebhookUrl(gw.webhookUrl);
  const { admin } = gw.runtime;
  for (const id of ['acme', 'beta']) await admin.createWorkspace('e2e', { id, name: id });
  await admin.addPhoneNumber('e2e', 'acme', { phoneNumberId: NUMBER, displayPhoneNumber: '15550783881' });
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS });
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await gw?.close();
  await slack?.close();
  await wa?.close();
});

describe('"Add to Slack" in Chromium against the real gateway and the Slack emulator', () => {
  it('the link the CLI prints: click, consent, back to wabridge, connected: the token is stored masked and a WhatsApp message is mirrored into the chosen Slack workspace', async () => {
    // The link as an admin gets it: printed by the CLI, in a process of its own.
    const printed = await cli('connector', 'connect', 'acme', 'slack', '--channel', 'C0GLOBEX1');
    expect(printed.code, printed.stderr).toBe(0);
    const link = printed.stdout
      .split('\n')
      .find((line) => line.startsWith(`${gw.url}/connect/slack/acme/install?`));
    expect(link, printed.stdout).toBeDefined();
    const page = await browser!.newPage();
    await page.goto(link!, WAIT);
    await page.getByRole('heading', { name: /requesting permission/ }).waitFor(WAIT);
    expect(new URL(page.url()).origin).toBe(slack.url);
    await page.getByLabel('Globex').check();
    await Promise.all([
      page.waitForURL(`${gw.url}/connect/slack/callback?**`, WAIT),
      page.getByRole('button', { name: 'Allow' }).click(),
    ]);
    await page.getByRole('heading', { name: 'Slack connected' }).waitFor(WAIT);
    const body = (await page.textContent('body')) ?? '';
    const installed = slack.installations().find((i) => i.teamId === 'T0GLOBEX');
    expect(installed).toBeDefined();
    expect(body).toContain('Globex');
    expect(body).not.toContain('xoxb-');

    const described = await gw.runtime.admin.describeConnector('acme', 'slack');
    expect(described?.enabled).toBe(true);
    expect(described?.config).toMatchObject({
      botToken: '••••••',
      signingSecret: '••••••',
      teamId: 'T0GLOBEX',
      botUserId: installed?.botUserId,
      defaultChannel: 'C0GLOBEX1',
    });

    gw.runtime.routing.invalidate();
    await gw.runtime.host.maintainAll();
    await wa.customer({ waId: '15550801234', name: 'Ada Customer' }).sendText('hello from WhatsApp');
    const posted = await slack.ledger.waitFor('message.posted', {
      count: 2,
      where: (e) => e.bot && e.channel === 'C0GLOBEX1',
      timeoutMs: 60_000,
    });
    expect(posted.map((e) => e.channel)).toEqual(['C0GLOBEX1', 'C0GLOBEX1']);
    expect(slack.history('C0ACME01')).toHaveLength(0);
    const [root] = slack.history('C0GLOBEX1');
    expect(root).toBeDefined();
    expect(slack.thread('C0GLOBEX1', root!.ts).map((m) => m.text)).toContain('hello from WhatsApp');
    await page.close();
  }, 180_000);

  it('the CLI prints no link for an unknown workspace, and says why on stderr', async () => {
    const unknown = await cli('connector', 'connect', 'nowhere', 'slack');
    expect(unknown.code).not.toBe(0);
    expect(unknown.stdout).toBe('');
    expect(unknown.stderr).toContain('nowhere');
  }, 180_000);

  it('a tampered state is refused with a 400 page and stores nothing; a cancelled consent likewise', async () => {
    // A real start for workspace beta: the state and its cookie, as the browser would hold them.
    const start = await fetch(installLink(gw.runtime.env, 'beta', { channel: 'C0ACME01' }), {
      redirect: 'manual',
    });
    expect(start.status).toBe(302);
    const cookie = (start.headers.get('set-cookie') ?? '').split(';')[0] ?? '';
    const state = new URL(start.headers.get('location') ?? '').searchParams.get('state') ?? '';
    const [payload = '', signature = ''] = state.split('.');
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Record<string, unknown>;
    // The state rewritten to point at workspace acme, signature kept.
    const tampered = `${Buffer.from(JSON.stringify({ ...claims, workspace: 'acme' })).toString('base64url')}.${signature}`;
    const exchangesBefore = slack.ledger.count('token.issued');
    const answer = await fetch(`${gw.url}/connect/slack/callback?code=anything&state=${tampered}`, {
      headers: { cookie },
    });
    expect(answer.status).toBe(400);
    expect(await answer.text()).toContain('state_invalid');

    const denied = await fetch(`${gw.url}/connect/slack/callback?error=access_denied&state=${state}`, {
      headers: { cookie },
    });
    expect(denied.status).toBe(400);
    expect(await denied.text()).toContain('access_denied');

    expect(await gw.runtime.store.getConnector('beta', 'slack')).toBeNull();
    expect((await gw.runtime.admin.describeConnector('acme', 'slack'))?.config.teamId).toBe('T0GLOBEX');
    expect(slack.ledger.count('token.issued')).toBe(exchangesBefore);
  }, 180_000);
});
