import { startTestGateway, TEST_ACCESS_TOKEN, TEST_APP_SECRET } from '@wabridge/gateway/testing';
import { type SlackEmulator, startSlackEmulator } from '@wabridge/sandbox/slack';
import { startWhatsAppEmulator, type WhatsAppEmulator } from '@wabridge/sandbox/whatsapp';
import { checkNumber, signMetaPayload } from '@wabridge/whatsapp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/**
 * Two wabridge workspaces, each with a WhatsApp number of its own Meta app (own secret, own token,
 * own WABA) and its own Slack workspace, through a real gateway over HTTP. App A posts to its own
 * webhook path (/webhooks/whatsapp/<app-id>), app B to the shared one, where every registered
 * app's secret is tried. Traffic stays in its workspace both ways, replies go out with the
 * number's own token, and a webhook signed by the other app is refused.
 */
const APP_A = '1000000000000001';
const APP_B = '2000000000000002';
const SECRET_A = 'a1'.repeat(16);
const SECRET_B = 'b2'.repeat(16);
const TOKEN_A = 'EAAG-token-of-app-a-0123456789';
const TOKEN_B = 'EAAG-token-of-app-b-9876543210';
const NUMBER_A = '106540352240001';
const NUMBER_B = '106540352240002';
const WABA_A = '419561257910001';
const WABA_B = '419561257910002';
const CHANNEL = 'C0WHATSAPP1';

type Gateway = Awaited<ReturnType<typeof startTestGateway>>;
let wa: WhatsAppEmulator;
let slackA: SlackEmulator;
let slackB: SlackEmulator;
let gw: Gateway;

const workspaces = () => [
  { id: 'alpha', number: NUMBER_A, app: APP_A, slack: slackA },
  { id: 'beta', number: NUMBER_B, app: APP_B, slack: slackB },
];

async function idle(timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    await Promise.all([wa.idle(), slackA.idle(), slackB.idle()]);
    const stats = await gw.runtime.store.jobStats();
    const busy = Object.values(stats.byConnector).some((s) => s.ready + s.running > 0);
    if (!busy) return;
    if (Date.now() > deadline) throw new Error(`jobs still queued: ${JSON.stringify(stats.byConnector)}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const texts = (slack: SlackEmulator) =>
  slack.history(CHANNEL).flatMap((root) => slack.thread(CHANNEL, root.ts).map((m) => m.text));

/** A Meta text-message webhook body about `phoneNumberId`. */
function inboundBody(phoneNumberId: string, waId: string, text: string, wamid: string): string {
  return JSON.stringify({
    object: 'whatsapp_business_account',
    entry: [
      {
        id: WABA_A,
        changes: [
          {
            field: 'messages',
            value: {
              messaging_product: 'whatsapp',
              metadata: { display_phone_number: '15550001001', phone_number_id: phoneNumberId },
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

describe('two workspaces, each with a number from its own Meta app', () => {
  beforeAll(async () => {
    wa = await startWhatsAppEmulator({
      appSecret: TEST_APP_SECRET,
      accessToken: TEST_ACCESS_TOKEN,
      apps: [
        { appId: APP_A, appSecret: SECRET_A, name: 'Alpha app', verifyToken: 'alpha-verify' },
        { appId: APP_B, appSecret: SECRET_B, name: 'Beta app' },
      ],
      phoneNumbers: [
        {
          phoneNumberId: NUMBER_A,
          displayPhoneNumber: '15550001001',
          wabaId: WABA_A,
          appId: APP_A,
          accessToken: TOKEN_A,
        },
        {
          phoneNumberId: NUMBER_B,
          displayPhoneNumber: '15550001002',
          wabaId: WABA_B,
          appId: APP_B,
          accessToken: TOKEN_B,
          qualityRating: 'YELLOW',
          verifiedName: 'Beta Brand',
        },
      ],
      statusDelaysMs: { sent: 5, delivered: 10, read: null },
      rules: { pairRate: { enabled: false } },
    });
    const slackOf = (label: string) =>
      startSlackEmulator({
        signingSecret: `signing-${label}`,
        botToken: `xoxb-${label}`,
        channels: [{ id: CHANNEL, name: `whatsapp-${label}` }],
        rateLimits: {
          postsPerChannel: { perSecond: 100, burst: 100 },
          tiers: { tier2: 1000, tier3: 1000, tier4: 1000 },
        },
      });
    [slackA, slackB] = await Promise.all([slackOf('alpha'), slackOf('beta')]);
    gw = await startTestGateway({ env: { WHATSAPP_API_BASE_URL: wa.url } });
    const { admin, whatsappApps } = gw.runtime;
    await whatsappApps.addApp('e2e', { appId: APP_A, secrets: [SECRET_A], verifyToken: 'alpha-verify' });
    await whatsappApps.addApp('e2e', { appId: APP_B, secrets: [SECRET_B] });
    for (const w of workspaces()) {
      await admin.createWorkspace('e2e', { id: w.id, name: w.id });
      await admin.addPhoneNumber('e2e', w.id, { phoneNumberId: w.number });
      await whatsappApps.setNumberCredentials('e2e', w.id, w.number, {
        appId: w.app,
        wabaId: w.number === NUMBER_A ? WABA_A : WABA_B,
        accessToken: w.number === NUMBER_A ? TOKEN_A : TOKEN_B,
      });
      await admin.setConnector('e2e', w.id, 'slack', {
        enabled: true,
        config: {
          botToken: w.slack.botToken,
          signingSecret: w.slack.signingSecret,
          teamId: w.slack.teamId,
          appId: w.slack.appId,
          defaultChannel: CHANNEL,
          slackApiUrl: w.slack.apiUrl,
          postsPerSecondPerChannel: 100,
          tier3PerMinute: 1000,
          tier4PerMinute: 1000,
        },
      });
      w.slack.setCallbackUrls(gw.hookUrl('slack', w.id));
    }
    // App A has its own path; app B uses the shared one (its secret is tried with the others).
    wa.setWebhookUrl(`${gw.webhookUrl}/${APP_A}`, APP_A);
    wa.setWebhookUrl(gw.webhookUrl, APP_B);
    gw.runtime.routing.invalidate();
    await gw.runtime.host.maintainAll();
  });

  afterAll(async () => {
    await gw?.close();
    await Promise.all([slackA?.close(), slackB?.close(), wa?.close()]);
  });

  it("verifies each app's webhook subscription with its own verify token", async () => {
    expect(await wa.verifyWebhook('alpha-verify', APP_A)).toMatchObject({ ok: true, status: 200 });
    // The environment's token is not app A's.
    expect((await wa.verifyWebhook('test-verify-token', APP_A)).status).toBe(403);
    const unknown = await fetch(
      `${gw.webhookUrl}/3000000000000003?hub.mode=subscribe&hub.verify_token=x&hub.challenge=1`,
    );
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toMatchObject({ error: { code: 'unknown_app' } });
  });

  it('inbound messages reach only their own workspace, and replies go out with their own number and token', async () => {
    const ann = wa.customer({ waId: '15550100001', name: 'Ann Alpha', phoneNumberId: NUMBER_A });
    const ben = wa.customer({ waId: '15550100002', name: 'Ben Beta', phoneNumberId: NUMBER_B });
    const inbound = wa.ledger.mark();
    await ann.sendText('hello alpha, my order is late');
    await ben.sendText('hello beta, I need an invoice');
    await idle();
    // Each app delivered to its own URL, first time.
    const attempts = wa.ledger.since(inbound).flatMap((e) => (e.kind === 'webhook.attempt' ? [e] : []));
    expect(attempts.map((e) => [e.appId, e.url, e.status]).sort()).toEqual([
      [APP_A, `${gw.webhookUrl}/${APP_A}`, 200],
      [APP_B, gw.webhookUrl, 200],
    ]);
    expect(texts(slackA).join('\n')).toContain('hello alpha, my order is late');
    expect(texts(slackA).join('\n')).not.toContain('hello beta');
    expect(texts(slackB).join('\n')).toContain('hello beta, I need an invoice');
    expect(texts(slackB).join('\n')).not.toContain('hello alpha');

    const mark = wa.ledger.mark();
    for (const w of workspaces()) {
      const [root] = w.slack.history(CHANNEL);
      if (!root) throw new Error(`${w.id} has no thread`);
      await w.slack
        .agent({ id: 'U0AGENT001', name: 'Agent' })
        .reply({ channel: CHANNEL, threadTs: root.ts }, `reply from ${w.id}`);
    }
    await wa.ledger.waitFor('send.accepted', { count: 2, since: mark, timeoutMs: 20_000 });
    await idle();
    const accepted = wa.ledger.since(mark).flatMap((e) => (e.kind === 'send.accepted' ? [e] : []));
    expect(accepted.map((e) => [e.text, e.phoneNumberId, e.to]).sort()).toEqual([
      ['reply from alpha', NUMBER_A, '15550100001'],
      ['reply from beta', NUMBER_B, '15550100002'],
    ]);
    // Each send was made with its own number's token (the emulator records the token's app).
    const sends = wa.ledger
      .since(mark)
      .flatMap((e) =>
        e.kind === 'api.request' && e.method === 'POST' && e.path.endsWith('/messages') ? [e] : [],
      );
    expect(sends.map((e) => [e.path.split('/')[2], e.appId, e.status]).sort()).toEqual([
      [NUMBER_A, APP_A, 200],
      [NUMBER_B, APP_B, 200],
    ]);
  });

  it('a webhook signed by the other app is refused (403 app_mismatch) and changes nothing', async () => {
    const before = await Promise.all(workspaces().map((w) => gw.runtime.store.listConversations(w.id)));
    const body = inboundBody(NUMBER_A, '15550100099', 'forged through app B', 'wamid.FORGED0001');
    const post = (path: string, secret: string) =>
      fetch(`${gw.webhookUrl}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-hub-signature-256': signMetaPayload(body, secret) },
        body,
      });
    const shared = await post('', SECRET_B);
    expect(shared.status).toBe(403);
    expect(await shared.json()).toMatchObject({
      error: { code: 'app_mismatch', message: expect.stringContaining(`belongs to Meta app ${APP_A}`) },
    });
    const viaB = await post(`/${APP_B}`, SECRET_B);
    expect(viaB.status).toBe(403);
    expect(await viaB.json()).toMatchObject({ error: { code: 'app_mismatch' } });
    // App A's path knows only app A's secret.
    const wrongPath = await post(`/${APP_A}`, SECRET_B);
    expect(wrongPath.status).toBe(403);
    expect(await wrongPath.json()).toMatchObject({ error: { code: 'signature_mismatch' } });
    // Nor does the environment's default app speak for app A's number.
    expect((await post('', TEST_APP_SECRET)).status).toBe(403);
    await idle();
    const after = await Promise.all(workspaces().map((w) => gw.runtime.store.listConversations(w.id)));
    expect(after).toEqual(before);
    expect(await gw.runtime.store.getMessageByWamid('alpha', 'wamid.FORGED0001')).toBeNull();
    expect(texts(slackA).join('\n')).not.toContain('forged');
    // The same body signed by its own app goes through, on either path.
    const genuine = await post(`/${APP_A}`, SECRET_A);
    expect(genuine.status).toBe(200);
  });

  it("'Test' reads each number's profile and quality rating with its own token, and its WABA's subscription", async () => {
    const { cloudApi, whatsappApps } = gw.runtime;
    for (const w of workspaces()) {
      const own = await whatsappApps.credentialsFor(w.number);
      const check = await checkNumber(await cloudApi(w.id, w.number), {
        phoneNumberId: w.number,
        wabaId: own?.wabaId ?? null,
        appId: own?.appId ?? null,
      });
      expect(check.profile).toMatchObject({
        ok: true,
        value: { id: w.number, qualityRating: w.id === 'beta' ? 'YELLOW' : 'GREEN' },
      });
      expect(check.subscription).toMatchObject({ ok: true, subscribed: true, apps: [{ appId: w.app }] });
    }
    // Unsubscribed: the check says so.
    const mark = wa.ledger.mark();
    const beta = await cloudApi('beta', NUMBER_B);
    const response = await fetch(`${wa.url}/v23.0/${WABA_B}/subscribed_apps`, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${TOKEN_B}` },
    });
    expect(response.status).toBe(200);
    const check = await checkNumber(beta, { phoneNumberId: NUMBER_B, wabaId: WABA_B, appId: APP_B });
    expect(check.subscription).toMatchObject({ ok: true, subscribed: false, apps: [] });
    expect(
      wa.ledger.since(mark).filter((e) => e.kind === 'api.request' && e.appId === APP_B).length,
    ).toBeGreaterThan(0);
  });
});
