import { createHash } from 'node:crypto';
import { startTestGateway, TEST_ACCESS_TOKEN, TEST_APP_SECRET } from '@wabridge/gateway/testing';
import { type SlackEmulator, startSlackEmulator } from '@wabridge/sandbox/slack';
import { startWhatsAppEmulator, type WhatsAppEmulator } from '@wabridge/sandbox/whatsapp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/**
 * The Slack connector end to end: customers write through the WhatsApp emulator to a real gateway
 * over HTTP; the gateway's worker mirrors into the Slack emulator through `@slack/web-api`; Slack's
 * signed Events API, interactivity and slash-command callbacks come back to the gateway's
 * `/hooks/slack/<workspace>/…` routes, and agent replies go out through the WhatsApp emulator.
 * Slack's per-channel posting limit is kept, 40 times faster than the real 1 message per second
 * (bench/backlog.ts measures the real rate).
 */
const WORKSPACE = 'acme';
const CHANNEL = 'C0SUPPORT01';
const CUSTOMERS = 20;
const PER_CUSTOMER = 10;
const DAY = 24 * 60 * 60 * 1000;
const ORDER_UPDATE = {
  name: 'order_update',
  language: 'en_US',
  category: 'utility' as const,
  body: 'Hi {{1}}, order {{2}} has news.',
  parameters: 2,
};

type Gateway = Awaited<ReturnType<typeof startTestGateway>>;

let wa: WhatsAppEmulator;
let slack: SlackEmulator;
let gw: Gateway;

const sha256 = (bytes: Uint8Array | string) => createHash('sha256').update(bytes).digest('hex');
const customers = Array.from({ length: CUSTOMERS }, (_, i) => ({
  waId: `1555080${String(i).padStart(4, '0')}`,
  name: `Customer ${i}`,
}));

async function threadOf(waId: string) {
  const store = gw.runtime.store;
  for (const conversation of await store.listConversations(WORKSPACE)) {
    const contact = await store.getContact(WORKSPACE, conversation.contactId);
    if (contact?.waId !== waId) continue;
    const ref = await store.getRef(WORKSPACE, 'slack', 'conversation', conversation.id);
    const [channel, ts] = (ref?.externalId ?? '').split(':');
    if (!channel || !ts) throw new Error(`${waId} has no thread`);
    return { channel, threadTs: ts, messages: slack.thread(channel, ts) };
  }
  throw new Error(`no conversation for ${waId}`);
}

async function idle(timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    await slack.idle();
    await wa.idle();
    const stats = await gw.runtime.store.jobStats();
    const busy = ['slack', 'whatsapp'].some((c) => {
      const s = stats.byConnector[c];
      return s !== undefined && s.ready + s.running > 0;
    });
    if (!busy) return;
    if (Date.now() > deadline) throw new Error(`jobs still queued: ${JSON.stringify(stats.byConnector)}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('Slack end to end: gateway over HTTP, WhatsApp and Slack emulators, real @slack/web-api', () => {
  beforeAll(async () => {
    wa = await startWhatsAppEmulator({
      appSecret: TEST_APP_SECRET,
      accessToken: TEST_ACCESS_TOKEN,
      statusDelaysMs: { sent: 5, delivered: 20, read: 40 },
      rules: { pairRate: { enabled: false } },
      templates: [{ name: 'order_update', language: 'en_US', category: 'UTILITY', body: ORDER_UPDATE.body }],
    });
    slack = await startSlackEmulator({
      signingSecret: 'e2e-signing-secret',
      botToken: 'xoxb-e2e-bot',
      channels: [{ id: CHANNEL, name: 'whatsapp-support' }],
      rateLimits: {
        postsPerChannel: { perSecond: 40, burst: 3 },
        tiers: { tier2: 800, tier3: 2000, tier4: 4000 },
      },
      eventRetryDelaysMs: [50, 100, 200],
    });
    gw = await startTestGateway({ env: { WHATSAPP_API_BASE_URL: wa.url } });
    wa.setWebhookUrl(gw.webhookUrl);
    slack.setCallbackUrls(gw.hookUrl('slack', WORKSPACE));
    const { admin } = gw.runtime;
    await admin.createWorkspace('e2e', {
      id: WORKSPACE,
      name: 'Acme',
      policies: { templates: [ORDER_UPDATE] },
    });
    await admin.addPhoneNumber('e2e', WORKSPACE, {
      phoneNumberId: '106540352242922',
      displayPhoneNumber: '15550783881',
    });
    await admin.setConnector('e2e', WORKSPACE, 'slack', {
      enabled: true,
      config: {
        botToken: slack.botToken,
        signingSecret: slack.signingSecret,
        teamId: slack.teamId,
        appId: slack.appId,
        defaultChannel: CHANNEL,
        slackApiUrl: slack.apiUrl,
        postsPerSecondPerChannel: 40,
        tier3PerMinute: 2000,
        tier4PerMinute: 4000,
      },
    });
    gw.runtime.routing.invalidate();
    await gw.runtime.host.maintainAll();
  });

  afterAll(async () => {
    await gw?.close();
    await slack?.close();
    await wa?.close();
  });

  it('20 conversations × 10 interleaved messages of mixed types become 20 threads, in WhatsApp order, each message once, media present', async () => {
    const base = Date.now() - 60 * 60 * 1000;
    const photos = customers.map((c) => `\xff\xd8\xff photo of ${c.name}`);
    const t0 = Date.now();
    for (let round = 0; round < PER_CUSTOMER; round++) {
      for (const [i, c] of customers.entries()) {
        const customer = wa.customer({ waId: c.waId, name: c.name });
        const at = { timestamp: base + (round * CUSTOMERS + i) * 1000 };
        switch (round) {
          case 0:
            await customer.sendText(`hello from ${c.name}`, at);
            break;
          case 1:
            await customer.sendImage(
              { bytes: photos[i] as string, mimeType: 'image/jpeg', caption: 'my receipt' },
              at,
            );
            break;
          case 2:
            await customer.sendLocation({ latitude: 48.85, longitude: 2.35, name: 'Home' }, at);
            break;
          case 3:
            await customer.sendContacts(
              [{ name: { formatted_name: `Friend of ${c.name}` }, phones: [{ phone: '+33 6 12 34 56 78' }] }],
              at,
            );
            break;
          case 4:
            await customer.sendDocument({ filename: `order-${i}.pdf`, caption: 'the order' }, at);
            break;
          case 5:
            await customer.replyWithButton(
              'wamid.HBgLMTU1NTA4MDAwMDAVAgARGBI',
              { id: 'track', title: 'Track my order' },
              at,
            );
            break;
          case 6:
            await customer.sendAudio({ voice: true }, at);
            break;
          case 7:
            await customer.sendSticker({}, at);
            break;
          default:
            await customer.sendText(`message ${round} from ${c.name} <b>&`, at);
        }
      }
    }
    await slack.ledger.waitFor('message.posted', {
      count: CUSTOMERS * (PER_CUSTOMER + 1),
      where: (e) => e.bot && e.channel === CHANNEL,
      timeoutMs: 120_000,
    });
    await idle();
    const mirroredIn = Date.now() - t0;

    for (const [i, c] of customers.entries()) {
      const { messages } = await threadOf(c.waId);
      const [root, ...replies] = messages;
      expect(root?.text, c.name).toContain(c.name);
      expect(replies, c.name).toHaveLength(PER_CUSTOMER);
      expect(replies[0]?.text).toBe(`hello from ${c.name}`);
      expect(replies[1]?.files.map((f) => f.sha256)).toEqual([sha256(photos[i] as string)]);
      expect(replies[2]?.text).toContain('query=48.85,2.35');
      expect(replies[3]?.text).toContain(`Friend of ${c.name}`);
      expect(replies[4]?.files.map((f) => f.name)).toEqual([`order-${i}.pdf`]);
      expect(replies[5]?.text).toContain('Chose “Track my order”');
      expect(replies[6]?.files).toHaveLength(1);
      expect(replies[7]?.files).toHaveLength(1);
      expect(replies[8]?.text).toBe(`message 8 from ${c.name} &lt;b&gt;&amp;`);
      expect(replies[9]?.text).toBe(`message 9 from ${c.name} &lt;b&gt;&amp;`);
    }
    expect(slack.history(CHANNEL)).toHaveLength(CUSTOMERS);
    expect(await gw.runtime.store.listDeadJobs()).toEqual([]);
    const calls = slack.ledger.count('api.call');
    process.stdout.write(
      `Slack e2e: ${CUSTOMERS * (PER_CUSTOMER + 1)} posts (${CUSTOMERS * 4} files) mirrored in ${mirroredIn} ms; ${calls} Web API calls, ${slack.ledger.count('api.rate_limited')} answered 429\n`,
    );
  });

  it('agent replies reach WhatsApp once each, though Slack delivers every event 4 times and our own posts come back; notes never do', async () => {
    const mark = wa.ledger.mark();
    const grace = slack.agent({ id: 'U0GRACE001', name: 'Grace Hopper' });
    const expected = new Map<string, string>();
    for (const c of customers) {
      const { channel, threadTs } = await threadOf(c.waId);
      await grace.reply({ channel, threadTs }, `// note about ${c.name}: check the refund first`, {
        duplicates: 3,
      });
      const text = `Hello ${c.name}, your order ships today`;
      expected.set(text, c.waId);
      await grace.reply({ channel, threadTs }, text, { duplicates: 3 });
    }
    await wa.ledger.waitFor('send.accepted', { count: CUSTOMERS, since: mark, timeoutMs: 60_000 });
    await idle();
    const accepted = wa.ledger.since(mark).filter((e) => e.kind === 'send.accepted');
    expect(accepted).toHaveLength(CUSTOMERS);
    for (const [text, waId] of expected) {
      expect(
        accepted.filter((a) => 'text' in a && a.text === text).map((a) => ('to' in a ? a.to : '')),
        text,
      ).toEqual([waId]);
    }
    expect(accepted.some((a) => 'text' in a && String(a.text).includes('note about'))).toBe(false);
    // Every reply was delivered 4 times (retry numbers 0–3) and answered 200 each time.
    const replies = slack.ledger.filter('callback.attempt', (e) => e.channel === 'event' && e.retryNum > 0);
    expect(replies.length).toBe(CUSTOMERS * 2 * 3);
    expect(slack.ledger.filter('callback.attempt').every((e) => e.status === 200)).toBe(true);
    // Our own posts came back as events too (echoes), and none of them went to WhatsApp.
    expect(
      slack.ledger.count('callback.attempt', (e) => e.channel === 'event' && e.retryNum === 0),
    ).toBeGreaterThan(CUSTOMERS * (PER_CUSTOMER + 1));
    // Each reply shows its progress as one reaction, ending at "read".
    await expect
      .poll(
        async () => {
          const { messages } = await threadOf(customers[0]!.waId);
          return messages.find((m) => m.text.startsWith('Hello Customer 0'))?.reactions.map((r) => r.name);
        },
        { timeout: 10_000 },
      )
      .toEqual(['eyes']);
  });

  it('an opted-out customer and a closed window get no message but a clear notice; a template chosen in Slack is sent with its parameters', async () => {
    const grace = slack.agent({ id: 'U0GRACE001', name: 'Grace Hopper' });
    const mark = wa.ledger.mark();

    const optedOut = wa.customer({ waId: '15550809001', name: 'Olivia Optout' });
    await optedOut.sendText('Please STOP', {});
    await optedOut.sendText('STOP');
    await idle();
    const stopped = await threadOf('15550809001');
    await grace.reply(stopped, 'We miss you!');
    await idle();
    expect((await threadOf('15550809001')).messages.at(-1)?.text).toContain(
      'Not sent: Olivia Optout opted out of WhatsApp messages',
    );

    const late = wa.customer({ waId: '15550809002', name: 'Liam Late' });
    await late.sendText('anyone there?', { timestamp: Date.now() - 2 * DAY });
    await idle();
    const closed = await threadOf('15550809002');
    await grace.reply(closed, 'Sorry for the delay!');
    await idle();
    const notice = (await threadOf('15550809002')).messages.at(-1)!;
    expect(notice.text).toContain('Not sent: the 24-hour customer service window closed');
    expect(wa.ledger.since(mark).filter((e) => e.kind === 'send.accepted')).toHaveLength(0);

    const picked = await grace.chooseOption(
      { channel: notice.channel, ts: notice.ts },
      'wabridge_template',
      'order_update|en_US|2',
    );
    expect(picked.status).toBe(200);
    const view = slack.ledger.last('view.opened');
    const submitted = await grace.submitView(view!.viewId, { param_1: 'Liam', param_2: '#1042' });
    expect(submitted.status).toBe(200);
    const [sent] = await wa.ledger.waitFor('send.accepted', { since: mark, timeoutMs: 20_000 });
    expect(sent?.to).toBe('15550809002');
    expect(sent?.template?.params).toEqual(['Liam', '#1042']);
    await idle();
    expect(wa.ledger.since(mark).filter((e) => e.kind === 'send.accepted')).toHaveLength(1);
    expect((await threadOf('15550809002')).messages.at(-1)?.text).toContain('Hi Liam, order #1042 has news.');
  });
});
