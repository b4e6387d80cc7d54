import { freePort } from '@wabridge/core/testing';
import { installLink } from '@wabridge/gateway';
import { startTestGateway, TEST_ACCESS_TOKEN, TEST_APP_SECRET } from '@wabridge/gateway/testing';
import { completeConsent } from '@wabridge/sandbox';
import { type SlackEmulator, startSlackEmulator } from '@wabridge/sandbox/slack';
import { startWhatsAppEmulator, type WhatsAppEmulator } from '@wabridge/sandbox/whatsapp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/**
 * One Slack app ("Add to Slack") installed by three wabridge workspaces: two each into its own Slack
 * workspace, one on a whole Enterprise Grid organization of two workspaces. The app's Request URL is
 * `/hooks/slack-app/events`: Slack sends every installation's events there, and each workspace gets
 * only its own traffic, both ways. The install
 * clicks are made over HTTP (`completeConsent`); the same flow in Chromium is slack-install.test.ts.
 */
const CLIENT = { clientId: '6060.7070', clientSecret: 'e2e-workspaces-client-secret' };
const ACME_NUMBER = {
  phoneNumberId: '106540352240001',
  displayPhoneNumber: '15550780001',
  wabaId: '102290129340001',
};
const GRID_NUMBER = {
  phoneNumberId: '106540352240003',
  displayPhoneNumber: '15550780003',
  wabaId: '102290129340003',
};
const BETA_NUMBER = {
  phoneNumberId: '106540352240002',
  displayPhoneNumber: '15550780002',
  wabaId: '102290129340002',
};

const MONITORING = 'e2e-workspaces-monitoring-token';

type Gateway = Awaited<ReturnType<typeof startTestGateway>>;
let wa: WhatsAppEmulator;
let slack: SlackEmulator;
let gw: Gateway;

/** The install as an admin clicks it: link, consent page (pick `team`), back to wabridge. */
async function connect(workspace: string, team: string, channel: string) {
  const start = await fetch(installLink(gw.runtime.env, workspace, { channel }), { redirect: 'manual' });
  expect(start.status).toBe(302);
  const cookie = (start.headers.get('set-cookie') ?? '').split(';')[0] ?? '';
  const back = await completeConsent(start.headers.get('location') ?? '', { choose: team });
  const done = await fetch(back.location, { headers: { cookie } });
  expect(done.status, await done.clone().text()).toBe(200);
}

beforeAll(async () => {
  const port = await freePort();
  const publicUrl = `http://127.0.0.1:${port}`;
  wa = await startWhatsAppEmulator({
    appSecret: TEST_APP_SECRET,
    accessToken: TEST_ACCESS_TOKEN,
    phoneNumbers: [ACME_NUMBER, BETA_NUMBER, GRID_NUMBER],
    rules: { pairRate: { enabled: false } },
  });
  slack = await startSlackEmulator({
    signingSecret: 'e2e-workspaces-signing-secret',
    workspaces: [
      { id: 'T0ACME', name: 'Acme Support', channels: [{ id: 'C0ACME01', name: 'whatsapp' }] },
      { id: 'T0BETA', name: 'Beta Support', channels: [{ id: 'C0BETA01', name: 'whatsapp' }] },
      // An Enterprise Grid organization with two workspaces, installed org-wide by workspace `grid`.
      {
        id: 'T0BRIDGE',
        name: 'Bridge',
        enterpriseId: 'E0STARSHIP',
        channels: [{ id: 'C0BRIDGE1', name: 'bridge' }],
      },
      {
        id: 'T0ENGINE',
        name: 'Engine',
        enterpriseId: 'E0STARSHIP',
        channels: [{ id: 'C0ENGINE1', name: 'engine' }],
      },
    ],
    enterprises: [{ id: 'E0STARSHIP', name: 'Starship' }],
    oauth: { ...CLIENT, redirectUris: [`${publicUrl}/connect/slack/callback`], orgDeployEnabled: true },
    echoBotMessages: false,
  });
  gw = await startTestGateway({
    env: {
      PORT: String(port),
      WHATSAPP_API_BASE_URL: wa.url,
      PUBLIC_URL: publicUrl,
      SLACK_CLIENT_ID: CLIENT.clientId,
      SLACK_CLIENT_SECRET: CLIENT.clientSecret,
      SLACK_STATE_SECRET: 'e2e-workspaces-state-secret-0123',
      SLACK_SIGNING_SECRET: slack.signingSecret,
      SLACK_AUTHORIZE_URL: slack.authorizeUrl,
      SLACK_API_URL: slack.apiUrl,
      METRICS_TOKEN: MONITORING,
    },
  });
  wa.setWebhookUrl(gw.webhookUrl);
  slack.setCallbackUrls({ events: `${gw.url}/hooks/slack-app/events` });
  const { admin } = gw.runtime;
  await admin.createWorkspace('e2e', { id: 'acme', name: 'Acme' });
  await admin.createWorkspace('e2e', { id: 'beta', name: 'Beta' });
  await admin.addPhoneNumber('e2e', 'acme', ACME_NUMBER);
  await admin.addPhoneNumber('e2e', 'beta', BETA_NUMBER);
  await admin.createWorkspace('e2e', { id: 'grid', name: 'Grid' });
  await admin.addPhoneNumber('e2e', 'grid', GRID_NUMBER);
  await connect('acme', 'Acme Support', 'C0ACME01');
  await connect('beta', 'Beta Support', 'C0BETA01');
  await connect('grid', 'Starship (whole organization)', 'C0BRIDGE1');
  // French customers go to the Engine workspace of the organization.
  await admin.setConnector('e2e', 'grid', 'slack', {
    config: { routes: [{ channel: 'C0ENGINE1', customerPrefix: '33' }] },
  });
  gw.runtime.routing.invalidate();
  await gw.runtime.host.maintainAll();
}, 180_000);

afterAll(async () => {
  await gw?.close();
  await slack?.close();
  await wa?.close();
});

describe('two wabridge workspaces, each with its own Slack workspace, through one Slack app', () => {
  it('each install is stored in its own workspace, with its own team', async () => {
    expect((await gw.runtime.admin.describeConnector('acme', 'slack'))?.config).toMatchObject({
      teamId: 'T0ACME',
      defaultChannel: 'C0ACME01',
      botToken: '••••••',
    });
    expect((await gw.runtime.admin.describeConnector('beta', 'slack'))?.config).toMatchObject({
      teamId: 'T0BETA',
      defaultChannel: 'C0BETA01',
    });
  });

  it('WhatsApp messages to each number reach only their workspace’s Slack, and agents’ replies only their customer', async () => {
    await wa
      .customer({ waId: '15550801001', name: 'Ann', phoneNumberId: ACME_NUMBER.phoneNumberId })
      .sendText('to acme');
    await wa
      .customer({ waId: '15550801002', name: 'Bob', phoneNumberId: BETA_NUMBER.phoneNumberId })
      .sendText('to beta');
    await slack.ledger.waitFor('message.posted', {
      count: 4,
      where: (e) => e.bot && (e.channel === 'C0ACME01' || e.channel === 'C0BETA01'),
      timeoutMs: 60_000,
    });
    const [acmeRoot] = slack.history('C0ACME01');
    const [betaRoot] = slack.history('C0BETA01');
    expect(slack.history('C0ACME01')).toHaveLength(1);
    expect(slack.history('C0BETA01')).toHaveLength(1);
    expect(slack.thread('C0ACME01', acmeRoot!.ts).map((m) => m.text)).toContain('to acme');
    expect(slack.thread('C0BETA01', betaRoot!.ts).map((m) => m.text)).toContain('to beta');
    expect(JSON.stringify(slack.thread('C0ACME01', acmeRoot!.ts))).not.toContain('to beta');

    // Both Slack workspaces' events arrive at the app's one URL; each reply goes to its own customer.
    const ann = await slack
      .agent({ id: 'U0AGENTA', name: 'Agent A' })
      .reply({ channel: 'C0ACME01', threadTs: acmeRoot!.ts }, 'reply from acme');
    const bob = await slack
      .agent({ id: 'U0AGENTB', name: 'Agent B' })
      .reply({ channel: 'C0BETA01', threadTs: betaRoot!.ts }, 'reply from beta');
    await ann.callback.settled;
    await bob.callback.settled;
    await wa.ledger.waitFor('send.accepted', { count: 2, timeoutMs: 60_000 });
    const sent = wa
      .sentMessages()
      .filter((m) => m.phoneNumberId !== GRID_NUMBER.phoneNumberId)
      .map((m) => [m.phoneNumberId, m.to, m.type]);
    expect(sent).toEqual(
      expect.arrayContaining([
        [ACME_NUMBER.phoneNumberId, '15550801001', 'text'],
        [BETA_NUMBER.phoneNumberId, '15550801002', 'text'],
      ]),
    );
    expect(sent).toHaveLength(2);
    const accepted = wa.ledger
      .filter('send.accepted', (e) => e.to === '15550801001' || e.to === '15550801002')
      .map((e) => [e.to, e.text]);
    expect(accepted).toEqual(
      expect.arrayContaining([
        ['15550801001', 'reply from acme'],
        ['15550801002', 'reply from beta'],
      ]),
    );
  }, 120_000);

  it('hands a slash command at the app URL to the workspace of its team, and ignores an unknown team', async () => {
    const command = (team: string) =>
      fetch(
        slack.signedRequest(
          `${gw.url}/hooks/slack-app/commands`,
          new URLSearchParams({
            command: '/whatsapp',
            text: 'help',
            team_id: team,
            user_id: 'U0AGENTB',
          }).toString(),
          { contentType: 'application/x-www-form-urlencoded' },
        ),
      );
    const beta = await command('T0BETA');
    expect(beta.status).toBe(200);
    expect(await beta.json()).toMatchObject({
      response_type: 'ephemeral',
      text: expect.stringContaining('/whatsapp template'),
    });
    const nobody = await command('T0NOBODY');
    expect(nobody.status).toBe(200);
    expect(await nobody.text()).toBe('');
  });

  it('refuses a callback at the app URL signed with another secret', async () => {
    const body = JSON.stringify({ type: 'url_verification', challenge: 'forged' });
    const signed = slack.signedRequest(`${gw.url}/hooks/slack-app/events`, body, {
      secret: 'not-the-app-secret',
    });
    const answer = await fetch(signed);
    expect(answer.status).toBe(401);
    const genuine = await fetch(slack.signedRequest(`${gw.url}/hooks/slack-app/events`, body));
    expect(await genuine.json()).toEqual({ challenge: 'forged' });
  });

  it('an org-wide install mirrors into two workspaces of its organization and takes replies from both', async () => {
    expect((await gw.runtime.admin.describeConnector('grid', 'slack'))?.config).toMatchObject({
      enterpriseId: 'E0STARSHIP',
      defaultChannel: 'C0BRIDGE1',
    });
    const customer = (waId: string) =>
      wa.customer({ waId, name: waId, phoneNumberId: GRID_NUMBER.phoneNumberId });
    await customer('447700900701').sendText('hello bridge');
    await customer('33612340701').sendText('bonjour engine');
    await slack.ledger.waitFor('message.posted', {
      count: 4,
      where: (e) => e.bot && (e.channel === 'C0BRIDGE1' || e.channel === 'C0ENGINE1'),
      timeoutMs: 60_000,
    });
    const [bridgeRoot] = slack.history('C0BRIDGE1');
    const [engineRoot] = slack.history('C0ENGINE1');
    expect(slack.thread('C0BRIDGE1', bridgeRoot!.ts).map((m) => m.text)).toContain('hello bridge');
    expect(slack.thread('C0ENGINE1', engineRoot!.ts).map((m) => m.text)).toContain('bonjour engine');
    const fromBridge = await slack
      .agent({ id: 'W0GRACE', name: 'Grace' })
      .reply({ channel: 'C0BRIDGE1', threadTs: bridgeRoot!.ts }, 'from the bridge');
    const fromEngine = await slack
      .agent({ id: 'W0SCOTTY', name: 'Scotty' })
      .reply({ channel: 'C0ENGINE1', threadTs: engineRoot!.ts }, 'from the engine room');
    await fromBridge.callback.settled;
    await fromEngine.callback.settled;
    const accepted = await wa.ledger.waitFor('send.accepted', {
      count: 2,
      where: (e) => e.to === '447700900701' || e.to === '33612340701',
      timeoutMs: 60_000,
    });
    expect(accepted.map((e) => [e.to, e.text]).sort()).toEqual([
      ['33612340701', 'from the engine room'],
      ['447700900701', 'from the bridge'],
    ]);
  }, 120_000);

  it('an uninstall in one Slack workspace stops that wabridge workspace only, with the reason in /healthz?verbose', async () => {
    slack.uninstall({ teamId: 'T0BETA' });
    await slack.idle();
    await wa
      .customer({ waId: '15550801002', name: 'Bob', phoneNumberId: BETA_NUMBER.phoneNumberId })
      .sendText('after the uninstall');
    await wa
      .customer({ waId: '15550801001', name: 'Ann', phoneNumberId: ACME_NUMBER.phoneNumberId })
      .sendText('acme goes on');
    await slack.ledger.waitFor('message.posted', {
      where: (e) => e.bot && e.channel === 'C0ACME01' && String(e.text).includes('acme goes on'),
      timeoutMs: 60_000,
    });
    // The worker dead-letters beta's job without calling Slack; wait for it (bounded).
    for (let i = 0; i < 600; i++) {
      if ((await gw.runtime.store.listDeadJobs({ workspaceId: 'beta' })).length > 0) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const answer = await fetch(`${gw.url}/healthz?verbose`, {
      headers: { authorization: `Bearer ${MONITORING}` },
    });
    const report = (await answer.json()) as {
      connectors: {
        workspace: string;
        connector: string;
        state: string;
        lastError: string | null;
        lastErrorCode: string | null;
        dead: number;
      }[];
    };
    const beta = report.connectors.find((v) => v.workspace === 'beta' && v.connector === 'slack');
    expect(beta).toMatchObject({ state: 'failing', lastErrorCode: 'auth_failed', dead: 1 });
    expect(beta?.lastError).toContain('uninstalled from the Slack workspace T0BETA');
    expect(report.connectors.find((v) => v.workspace === 'acme' && v.connector === 'slack')).toMatchObject({
      state: 'ok',
      dead: 0,
    });
    expect(
      slack.history('C0BETA01').flatMap((root) => slack.thread('C0BETA01', root.ts).map((m) => m.text)),
    ).not.toContain('after the uninstall');
  }, 120_000);
});
