import { startTestGateway, TEST_ACCESS_TOKEN, TEST_APP_SECRET } from '@wabridge/gateway/testing';
import { type GraphEmulator, startGraphEmulator, trustCertificateInProcess } from '@wabridge/sandbox/graph';
import { type HubSpotEmulator, startHubSpotEmulator } from '@wabridge/sandbox/hubspot';
import { type SlackEmulator, startSlackEmulator } from '@wabridge/sandbox/slack';
import { startWhatsAppEmulator, type WhatsAppEmulator } from '@wabridge/sandbox/whatsapp';
import { signMetaPayload } from '@wabridge/whatsapp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/**
 * Two wabridge workspaces, each with everything of its own: a WhatsApp number of its own Meta app
 * (own secret, own token), a Slack workspace (team) of the one Slack app, a HubSpot portal of the
 * one public app and a Teams tenant of the one Entra app registration; every target connected on
 * the token path (the click paths are slack-install, hubspot-connect and teams-connect tests).
 * Inbound traffic to each number reaches only its own workspace's targets, both ways; an agent's
 * reply in each Slack team or Teams tenant goes out with its own number's token; a webhook signed
 * by the other Meta app is refused and changes nothing anywhere.
 */
const SLACK_SIGNING_SECRET = 'two-workspaces-slack-signing-secret';
const HUBSPOT_APP = {
  clientId: '7a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d',
  clientSecret: 'two-workspaces-hubspot-app-secret',
  appId: 3_000_888,
};
const TENANT_B = '5c1e0a2b-3d4f-4e6a-9b8c-7d6e5f4a3b2c';

interface Side {
  workspace: string;
  app: { appId: string; secret: string; token: string };
  number: { phoneNumberId: string; displayPhoneNumber: string; wabaId: string };
  slack: { teamId: string; channel: string };
  portalId: number;
  teams: { tenantId?: string; teamId: string; channelId: string };
  customer: { waId: string; name: string };
}

const ALPHA: Side = {
  workspace: 'alpha',
  app: { appId: '1000000000000011', secret: 'a1'.repeat(16), token: 'EAAG-two-ws-token-of-app-alpha-01' },
  number: { phoneNumberId: '106540352250001', displayPhoneNumber: '15550902001', wabaId: '419561257920001' },
  slack: { teamId: 'T0ALPHA', channel: 'C0ALPHA01' },
  portalId: 4_520_001,
  teams: {
    teamId: 'a3f1c2d4-1111-4c3d-9e8f-1a2b3c4d5e01',
    channelId: '19:alphaaaaaaaaaaaaaaaaaaaaaaaaaaaa@thread.tacv2',
  },
  customer: { waId: '15550903001', name: 'Ann Alpha' },
};
const BETA: Side = {
  workspace: 'beta',
  app: { appId: '2000000000000022', secret: 'b2'.repeat(16), token: 'EAAG-two-ws-token-of-app-beta-02' },
  number: { phoneNumberId: '106540352250002', displayPhoneNumber: '15550902002', wabaId: '419561257920002' },
  slack: { teamId: 'T0BETA', channel: 'C0BETA01' },
  portalId: 4_520_002,
  teams: {
    tenantId: TENANT_B,
    teamId: 'b4e2d3c5-2222-4c3d-9e8f-1a2b3c4d5e02',
    channelId: '19:betabbbbbbbbbbbbbbbbbbbbbbbbbbbbb@thread.tacv2',
  },
  customer: { waId: '15550903002', name: 'Ben Beta' },
};
const SIDES = [ALPHA, BETA];
const other = (side: Side) => (side === ALPHA ? BETA : ALPHA);

type Gateway = Awaited<ReturnType<typeof startTestGateway>>;
let wa: WhatsAppEmulator;
let slack: SlackEmulator;
let hubspot: HubSpotEmulator;
let graph: GraphEmulator;
let gw: Gateway;

/** Until the emulators are idle and no job is ready or running (bounded). */
async function settle(timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  let quiet = 0;
  while (quiet < 2) {
    await Promise.all([wa.idle(), slack.idle(), hubspot.idle(), graph.idle()]);
    const stats = await gw.runtime.store.jobStats();
    quiet = stats.ready + stats.running > 0 ? 0 : quiet + 1;
    if (Date.now() > deadline) throw new Error(`jobs still queued: ${JSON.stringify(stats.byConnector)}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Everything one side's targets show: Slack threads of its team, its portal's timeline, its Teams channel. */
function shown(side: Side) {
  const { channel } = side.slack;
  const portal = hubspot.portal(side.portalId);
  return {
    slack: slack.history(channel).flatMap((root) => slack.thread(channel, root.ts).map((m) => m.text)),
    hubspot: portal.communications().map((c) => c.properties.hs_communication_body ?? ''),
    teams: graph.ledger
      .filter(
        'message.created',
        (e) => e.teamId === side.teams.teamId && e.channelId === side.teams.channelId,
      )
      .map((e) => e.text),
  };
}

const everything = (side: Side) => Object.values(shown(side)).flat().join('\n');

/** A Meta text-message webhook body about `number`. */
function inboundBody(number: Side['number'], waId: string, text: string, wamid: string): string {
  return JSON.stringify({
    object: 'whatsapp_business_account',
    entry: [
      {
        id: number.wabaId,
        changes: [
          {
            field: 'messages',
            value: {
              messaging_product: 'whatsapp',
              metadata: {
                display_phone_number: number.displayPhoneNumber,
                phone_number_id: number.phoneNumberId,
              },
              contacts: [{ profile: { name: 'Mallory' }, wa_id: waId }],
              messages: [
                {
                  from: waId,
                  id: wamid,
                  timestamp: String(Math.floor(Date.now() / 1000)),
                  type: 'text',
                  text: { body: text },
                },
              ],
            },
          },
        ],
      },
    ],
  });
}

beforeAll(async () => {
  wa = await startWhatsAppEmulator({
    appSecret: TEST_APP_SECRET,
    accessToken: TEST_ACCESS_TOKEN,
    apps: SIDES.map((s) => ({ appId: s.app.appId, appSecret: s.app.secret, name: `${s.workspace} app` })),
    phoneNumbers: SIDES.map((s) => ({ ...s.number, appId: s.app.appId, accessToken: s.app.token })),
    statusDelaysMs: { sent: 5, delivered: 10, read: null },
    rules: { pairRate: { enabled: false } },
  });
  slack = await startSlackEmulator({
    signingSecret: SLACK_SIGNING_SECRET,
    workspaces: SIDES.map((s) => ({
      id: s.slack.teamId,
      name: `${s.workspace} support`,
      channels: [{ id: s.slack.channel, name: 'whatsapp' }],
    })),
    echoBotMessages: false,
    rateLimits: {
      postsPerChannel: { perSecond: 100, burst: 100 },
      tiers: { tier2: 1000, tier3: 1000, tier4: 1000 },
    },
  });
  hubspot = await startHubSpotEmulator({
    // The default portal's private app is nobody's here: it must stay empty.
    accessToken: 'pat-na1-two-workspaces-unused',
    clientSecret: 'two-workspaces-unused-private-app-secret',
    portals: SIDES.map((s) => ({ portalId: s.portalId, name: s.workspace })),
    oauth: HUBSPOT_APP,
  });
  graph = await startGraphEmulator({
    teams: [
      {
        id: ALPHA.teams.teamId,
        displayName: 'Alpha support',
        channels: [{ id: ALPHA.teams.channelId, displayName: 'WhatsApp' }],
      },
    ],
    tenants: [
      {
        tenantId: TENANT_B,
        displayName: 'Beta Corp',
        domain: 'beta.example',
        serviceAccount: {
          id: '0b5e7a9c-3333-4d2e-8f1a-2b3c4d5e6f70',
          displayName: 'wabridge (Beta)',
          userPrincipalName: 'wabridge@beta.example',
        },
        teams: [
          {
            id: BETA.teams.teamId,
            displayName: 'Beta support',
            channels: [{ id: BETA.teams.channelId, displayName: 'WhatsApp' }],
          },
        ],
      },
    ],
    limits: { channelRequestsPerSecond: 100, channelBurst: 100 },
  });
  trustCertificateInProcess(graph.certificate);
  ALPHA.teams.tenantId = graph.tenantId;

  gw = await startTestGateway({
    env: { WHATSAPP_API_BASE_URL: wa.url, SLACK_SIGNING_SECRET, SLACK_API_URL: slack.apiUrl },
  });
  const { admin, whatsappApps } = gw.runtime;
  for (const side of SIDES) {
    const { workspace } = side;
    await whatsappApps.addApp('e2e', { appId: side.app.appId, secrets: [side.app.secret] });
    await admin.createWorkspace('e2e', { id: workspace, name: workspace });
    await admin.addPhoneNumber('e2e', workspace, side.number);
    await whatsappApps.setNumberCredentials('e2e', workspace, side.number.phoneNumberId, {
      appId: side.app.appId,
      wabaId: side.number.wabaId,
      accessToken: side.app.token,
    });
    // Token path: each target's installation minted by its emulator as the click would.
    const install = slack.install({ teamId: side.slack.teamId });
    await admin.setConnector('e2e', workspace, 'slack', {
      enabled: true,
      config: {
        botToken: install.botToken,
        signingSecret: SLACK_SIGNING_SECRET,
        teamId: side.slack.teamId,
        appId: slack.appId,
        defaultChannel: side.slack.channel,
        slackApiUrl: slack.apiUrl,
        postsPerSecondPerChannel: 100,
        tier3PerMinute: 1000,
        tier4PerMinute: 1000,
      },
    });
    const portal = hubspot.install(side.portalId);
    await admin.setConnector('e2e', workspace, 'hubspot', {
      enabled: true,
      config: {
        refreshToken: portal.refreshToken,
        oauthClientId: HUBSPOT_APP.clientId,
        clientSecret: HUBSPOT_APP.clientSecret,
        portalId: String(side.portalId),
        appId: String(HUBSPOT_APP.appId),
        basePath: hubspot.url,
      },
    });
    const serviceAccount = graph.tenants().find((t) => t.tenantId === side.teams.tenantId)?.serviceAccount;
    if (!serviceAccount) throw new Error(`no tenant ${side.teams.tenantId}`);
    await admin.setConnector('e2e', workspace, 'teams', {
      enabled: true,
      config: {
        tenantId: side.teams.tenantId,
        clientId: graph.app.clientId,
        clientSecret: graph.app.clientSecret,
        refreshToken: graph.signIn(serviceAccount.id),
        teamId: side.teams.teamId,
        channelId: side.teams.channelId,
        authorityHost: graph.authorityHost,
        graphBaseUrl: graph.graphBaseUrl,
        pacing: { requestsPerSecond: 4, messagesPerSecond: 4, messageBurst: 4 },
      },
    });
  }
  // Alpha's app has its own webhook path; beta's uses the shared one (every app's secret is tried).
  wa.setWebhookUrl(`${gw.webhookUrl}/${ALPHA.app.appId}`, ALPHA.app.appId);
  wa.setWebhookUrl(gw.webhookUrl, BETA.app.appId);
  // One Slack app: every team's events come to its one Request URL.
  slack.setCallbackUrls({ events: `${gw.url}/hooks/slack-app/events` });
  gw.runtime.routing.invalidate();
  await gw.runtime.host.maintainAll();
}, 180_000);

afterAll(async () => {
  for (const subscription of graph?.subscriptions() ?? []) graph.expireSubscription(subscription.id);
  await gw?.close();
  await Promise.all([slack?.close(), hubspot?.close(), graph?.close(), wa?.close()]);
});

describe('two workspaces, each with its own number, Meta app, Slack team, HubSpot portal and Teams tenant', () => {
  it('each inbound message is mirrored to its own workspace’s three targets only, both ways', async () => {
    const mark = wa.ledger.mark();
    for (const side of SIDES) {
      await wa
        .customer({ ...side.customer, phoneNumberId: side.number.phoneNumberId })
        .sendText(`hello from ${side.workspace} customer`);
    }
    await settle();
    // Each Meta app delivered to its own URL, accepted the first time.
    const attempts = wa.ledger.since(mark).flatMap((e) => (e.kind === 'webhook.attempt' ? [e] : []));
    expect(attempts.map((e) => [e.appId, e.url, e.status]).sort()).toEqual([
      [ALPHA.app.appId, `${gw.webhookUrl}/${ALPHA.app.appId}`, 200],
      [BETA.app.appId, gw.webhookUrl, 200],
    ]);
    for (const side of SIDES) {
      const own = shown(side);
      const text = `hello from ${side.workspace} customer`;
      expect(own.slack.join('\n'), `${side.workspace} Slack`).toContain(text);
      expect(own.hubspot.join('\n'), `${side.workspace} HubSpot`).toContain(text);
      expect(own.teams.join('\n'), `${side.workspace} Teams`).toContain(text);
      expect(everything(side)).not.toContain(`hello from ${other(side).workspace}`);
      expect(everything(side)).not.toContain(other(side).customer.name);
      // The contact is in its own portal only.
      const phones = hubspot
        .portal(side.portalId)
        .contacts()
        .map((c) => c.properties.phone ?? '');
      expect(phones.join()).toContain(side.customer.waId.slice(-7));
      expect(phones.join()).not.toContain(other(side).customer.waId.slice(-7));
    }
    // The unused default portal saw nothing.
    expect(hubspot.contacts()).toHaveLength(0);
    // Each Teams tenant's service account got tokens of its own tenant (a token sees its tenant only).
    const tenants = new Set(
      graph.ledger.filter('token.issued', (e) => e.userId !== null).map((e) => e.tenantId),
    );
    expect(tenants).toEqual(new Set([graph.tenantId, TENANT_B]));
  }, 120_000);

  it('an agent’s reply in each Slack team goes to its own customer, from its own number with its own token', async () => {
    const mark = wa.ledger.mark();
    for (const side of SIDES) {
      const [root] = slack.history(side.slack.channel);
      if (!root) throw new Error(`${side.workspace} has no Slack thread`);
      const reply = await slack
        .agent({ id: `U0AGENT${side.workspace.toUpperCase()}`, name: `Agent ${side.workspace}` })
        .reply({ channel: side.slack.channel, threadTs: root.ts }, `reply from ${side.workspace} agent`);
      await reply.callback.settled;
    }
    await wa.ledger.waitFor('send.accepted', { count: 2, since: mark, timeoutMs: 60_000 });
    await settle();
    const accepted = wa.ledger.since(mark).flatMap((e) => (e.kind === 'send.accepted' ? [e] : []));
    expect(accepted.map((e) => [e.text, e.phoneNumberId, e.to]).sort()).toEqual([
      ['reply from alpha agent', ALPHA.number.phoneNumberId, ALPHA.customer.waId],
      ['reply from beta agent', BETA.number.phoneNumberId, BETA.customer.waId],
    ]);
    // The emulator records whose token made each send: the number's own app.
    const sends = wa.ledger
      .since(mark)
      .flatMap((e) =>
        e.kind === 'api.request' && e.method === 'POST' && e.path.endsWith('/messages') ? [e] : [],
      );
    expect(sends.map((e) => [e.path.split('/')[2], e.appId, e.status]).sort()).toEqual([
      [ALPHA.number.phoneNumberId, ALPHA.app.appId, 200],
      [BETA.number.phoneNumberId, BETA.app.appId, 200],
    ]);
    // Each agent reply is on its own portal's timeline, and nowhere in the other workspace.
    for (const side of SIDES) {
      expect(shown(side).hubspot.join('\n')).toContain(`reply from ${side.workspace} agent`);
      expect(everything(other(side))).not.toContain(`reply from ${side.workspace} agent`);
    }
  }, 120_000);

  it('an agent’s reply in each Teams tenant goes to its own customer, from its own number with its own token', async () => {
    const mark = wa.ledger.mark();
    for (const side of SIDES) {
      const [root] = graph.roots(side.teams.teamId, side.teams.channelId);
      if (!root) throw new Error(`${side.workspace} has no Teams thread`);
      graph.agentReply({
        rootId: root.id,
        teamId: side.teams.teamId,
        channelId: side.teams.channelId,
        text: `teams reply from ${side.workspace}`,
      });
    }
    await wa.ledger.waitFor('send.accepted', { count: 2, since: mark, timeoutMs: 60_000 });
    await settle();
    const accepted = wa.ledger.since(mark).flatMap((e) => (e.kind === 'send.accepted' ? [e] : []));
    expect(accepted.map((e) => [e.text, e.phoneNumberId, e.to]).sort()).toEqual([
      ['teams reply from alpha', ALPHA.number.phoneNumberId, ALPHA.customer.waId],
      ['teams reply from beta', BETA.number.phoneNumberId, BETA.customer.waId],
    ]);
    const sends = wa.ledger
      .since(mark)
      .flatMap((e) =>
        e.kind === 'api.request' && e.method === 'POST' && e.path.endsWith('/messages') ? [e] : [],
      );
    expect(sends.map((e) => [e.path.split('/')[2], e.appId, e.status]).sort()).toEqual([
      [ALPHA.number.phoneNumberId, ALPHA.app.appId, 200],
      [BETA.number.phoneNumberId, BETA.app.appId, 200],
    ]);
    for (const side of SIDES) {
      expect(everything(other(side))).not.toContain(`teams reply from ${side.workspace}`);
    }
  }, 120_000);

  it('a webhook for one number signed with the other app’s secret is refused (403) and changes nothing, both ways', async () => {
    const before = {
      conversations: await Promise.all(SIDES.map((s) => gw.runtime.store.listConversations(s.workspace))),
      shown: SIDES.map(shown),
      contacts: SIDES.map((s) => hubspot.portal(s.portalId).contacts().length),
    };
    for (const [i, side] of SIDES.entries()) {
      const wamid = `wamid.TWOWSFORGED000${i}`;
      const body = inboundBody(side.number, '15550903099', `forged for ${side.workspace}`, wamid);
      const signedByOther = signMetaPayload(body, other(side).app.secret);
      const post = (path: string) =>
        fetch(`${gw.webhookUrl}${path}`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-hub-signature-256': signedByOther },
          body,
        });
      // The shared path and the signing app's own path know the signature but not this number
      // (app_mismatch); the number's own app's path does not know the signature.
      const expected: [string, string][] = [
        ['', 'app_mismatch'],
        [`/${other(side).app.appId}`, 'app_mismatch'],
        [`/${side.app.appId}`, 'signature_mismatch'],
      ];
      for (const [path, code] of expected) {
        const answer = await post(path);
        expect(answer.status, `${side.workspace} via "${path}"`).toBe(403);
        expect(await answer.json()).toMatchObject({ error: { code } });
      }
      expect(await gw.runtime.store.getMessageByWamid(side.workspace, wamid)).toBeNull();
    }
    await settle();
    expect(await Promise.all(SIDES.map((s) => gw.runtime.store.listConversations(s.workspace)))).toEqual(
      before.conversations,
    );
    expect(SIDES.map(shown)).toEqual(before.shown);
    expect(SIDES.map((s) => hubspot.portal(s.portalId).contacts().length)).toEqual(before.contacts);
    for (const side of SIDES) expect(everything(side)).not.toContain('forged');
  }, 120_000);
});
