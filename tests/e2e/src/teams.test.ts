import { startTestGateway, TEST_ACCESS_TOKEN, TEST_APP_SECRET } from '@wabridge/gateway/testing';
import {
  type GraphEmulator,
  plainText,
  startGraphEmulator,
  trustCertificateInProcess,
} from '@wabridge/sandbox/graph';
import { startWhatsAppEmulator, type WhatsAppEmulator } from '@wabridge/sandbox/whatsapp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/**
 * The Teams connector end to end: customers write through the WhatsApp emulator to a real gateway
 * over HTTP; the gateway's worker mirrors into the Graph emulator over HTTPS through the official
 * Graph client (MSAL tokens from the emulator's token endpoint); Graph's change notifications come
 * back to the gateway's `/hooks/teams/<workspace>/…` routes, and agent replies go out through the
 * WhatsApp emulator. Graph's real limits apply (4 requests/s per channel), so the four business
 * numbers are routed to four channels.
 */
const WORKSPACE = 'acme';
const TEAM = 'fbe2bf47-16c8-47cf-b4a5-4b9b187c508b';
const NUMBERS = ['106540352242922', '106540352242923', '106540352242924', '106540352242925'];
const CHANNELS = NUMBERS.map((_, i) => `19:e2e${i}aaaaaaaaaaaaaaaaaaaaaaaaaaaa@thread.tacv2`);
const CUSTOMERS = 20;
const PER_CUSTOMER = 10;

type Gateway = Awaited<ReturnType<typeof startTestGateway>>;

let wa: WhatsAppEmulator;
let graph: GraphEmulator;
let gw: Gateway;

const customers = Array.from({ length: CUSTOMERS }, (_, i) => ({
  waId: `1555090${String(i).padStart(4, '0')}`,
  name: `Customer ${i}`,
  number: NUMBERS[i % NUMBERS.length] as string,
  channel: CHANNELS[i % NUMBERS.length] as string,
}));

async function threadOf(customer: (typeof customers)[number]) {
  const store = gw.runtime.store;
  for (const conversation of await store.listConversations(WORKSPACE)) {
    const contact = await store.getContact(WORKSPACE, conversation.contactId);
    if (contact?.waId !== customer.waId) continue;
    const ref = await store.getRef(WORKSPACE, 'teams', 'conversation', conversation.id);
    const data = ref?.data as { rootId?: string; channelId?: string } | undefined;
    if (!data?.rootId) throw new Error(`${customer.name} has no thread`);
    return { conversation, rootId: data.rootId, channelId: data.channelId ?? '' };
  }
  throw new Error(`no conversation for ${customer.name}`);
}

async function idleTeams(timeoutMs = 90_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const stats = await gw.runtime.store.jobStats();
    const busy = ['teams', 'whatsapp'].some((c) => {
      const s = stats.byConnector[c];
      return s !== undefined && s.ready + s.running > 0;
    });
    if (!busy) return;
    if (Date.now() > deadline) throw new Error(`jobs still queued: ${JSON.stringify(stats.byConnector)}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('Teams end to end: gateway over HTTP, WhatsApp and Graph emulators', () => {
  beforeAll(async () => {
    wa = await startWhatsAppEmulator({
      appSecret: TEST_APP_SECRET,
      accessToken: TEST_ACCESS_TOKEN,
      phoneNumbers: NUMBERS.map((id, i) => ({
        phoneNumberId: id,
        displayPhoneNumber: `1555078388${i}`,
        wabaId: '102290129340398',
      })),
    });
    graph = await startGraphEmulator({
      teams: [
        {
          id: TEAM,
          displayName: 'Support',
          channels: CHANNELS.map((id, i) => ({ id, displayName: `WhatsApp ${i}` })),
        },
      ],
    });
    // The gateway runs in this process: trust the emulator's throwaway certificate here, only here.
    trustCertificateInProcess(graph.certificate);
    gw = await startTestGateway({ env: { WHATSAPP_API_BASE_URL: wa.url } });
    wa.setWebhookUrl(gw.webhookUrl);
    const { admin } = gw.runtime;
    await admin.createWorkspace('e2e', { id: WORKSPACE, name: 'Acme' });
    for (const [i, id] of NUMBERS.entries()) {
      await admin.addPhoneNumber('e2e', WORKSPACE, {
        phoneNumberId: id,
        displayPhoneNumber: `1555078388${i}`,
      });
    }
    await admin.setConnector('e2e', WORKSPACE, 'teams', {
      enabled: true,
      config: {
        tenantId: graph.tenantId,
        clientId: graph.app.clientId,
        clientSecret: graph.app.clientSecret,
        refreshToken: graph.signIn(),
        teamId: TEAM,
        channelId: CHANNELS[0],
        routes: NUMBERS.slice(1).map((phoneNumberId, i) => ({
          phoneNumberId,
          teamId: TEAM,
          channelId: CHANNELS[i + 1],
        })),
        authorityHost: graph.authorityHost,
        graphBaseUrl: graph.graphBaseUrl,
        // Graph allows 4 requests/s per channel: posting at 3/s leaves room for reading replies.
        pacing: { requestsPerSecond: 4, messagesPerSecond: 3, messageBurst: 3 },
      },
    });
    // What the worker's minute-by-minute upkeep does: one subscription per channel, validated over HTTP.
    gw.runtime.routing.invalidate();
    await gw.runtime.host.maintainAll();
  });

  afterAll(async () => {
    await gw?.close();
    await graph?.close();
    await wa?.close();
  });

  it('subscribes to every channel it posts to, through the validation handshake', () => {
    expect(
      graph
        .subscriptions()
        .map((s) => s.resource)
        .sort(),
    ).toEqual(CHANNELS.map((c) => `/teams/${TEAM}/channels/${encodeURIComponent(c)}/messages`).sort());
    expect(graph.ledger.filter('subscription.validation').every((v) => v.ok)).toBe(true);
  });

  it('20 conversations × 10 messages become 20 threads, each message once and in order; agent replies reach WhatsApp once each', async () => {
    const base = Date.now() - 60 * 60 * 1000;
    const sent = new Map<number, string[]>();
    const t0 = Date.now();
    for (let round = 0; round < PER_CUSTOMER; round++) {
      for (const [i, customer] of customers.entries()) {
        const text = `m${round} from ${customer.name} <b>&`;
        await wa
          .customer({ waId: customer.waId, name: customer.name, phoneNumberId: customer.number })
          .sendText(text, { timestamp: base + (round * CUSTOMERS + i) * 1000 });
        sent.set(i, [...(sent.get(i) ?? []), text]);
      }
    }
    await graph.ledger.waitFor('message.created', {
      count: CUSTOMERS * (PER_CUSTOMER + 1),
      where: (e) => e.postedBy === 'bridge',
      timeoutMs: 120_000,
    });
    await idleTeams();
    const mirroredIn = Date.now() - t0;

    for (const [i, customer] of customers.entries()) {
      const { rootId, channelId } = await threadOf(customer);
      expect(channelId, customer.name).toBe(customer.channel);
      const replies = graph.replies(rootId, TEAM, channelId).map((m) => plainText(m.body));
      expect(replies, customer.name).toEqual(sent.get(i));
    }
    expect(CHANNELS.map((c) => graph.roots(TEAM, c).length)).toEqual([5, 5, 5, 5]);
    const throttled = graph.ledger.count('throttled');

    // Every thread gets an agent reply from Teams: each reaches the customer once.
    const t1 = Date.now();
    const replyTo = new Map<string, string>();
    for (const customer of customers) {
      const { rootId, channelId } = await threadOf(customer);
      const text = `Agent answer for ${customer.name} & co`;
      replyTo.set(text, customer.waId);
      graph.agentReply({ rootId, teamId: TEAM, channelId, text });
    }
    await wa.ledger.waitFor('send.accepted', { count: CUSTOMERS, timeoutMs: 60_000 });
    const repliedIn = Date.now() - t1;
    await graph.idle();
    await idleTeams();
    const accepted = wa.ledger.filter('send.accepted');
    expect(accepted).toHaveLength(CUSTOMERS);
    for (const [text, waId] of replyTo) {
      expect(
        accepted.filter((a) => a.text === text).map((a) => a.to),
        text,
      ).toEqual([waId]);
    }
    // Delivery and read statuses come back to the thread as reactions on the agent's reply.
    for (const customer of customers.slice(0, 4)) {
      const { rootId, channelId } = await threadOf(customer);
      await expect
        .poll(
          () =>
            graph
              .replies(rootId, TEAM, channelId)
              .find((m) => m.postedBy === 'human')
              ?.reactions.map((r) => r.reactionType),
          {
            timeout: 10_000,
          },
        )
        .toContain('👀');
    }
    expect(await gw.runtime.store.listDeadJobs()).toEqual([]);
    process.stdout.write(
      `Teams e2e: ${CUSTOMERS * (PER_CUSTOMER + 1)} posts over ${CHANNELS.length} channels mirrored in ${mirroredIn} ms (${throttled} requests answered 429 and retried); ${CUSTOMERS} agent replies sent to WhatsApp in ${repliedIn} ms\n`,
    );
  });

  it('a subscription Graph dropped silently is re-created, and a reply posted meanwhile still reaches WhatsApp', async () => {
    const customer = customers[0] as (typeof customers)[number];
    const { rootId, channelId } = await threadOf(customer);
    const before = graph.subscriptions().find((s) => s.resource.includes(encodeURIComponent(channelId)));
    graph.expireSubscription(before?.id ?? '');
    const mark = wa.ledger.mark();
    graph.agentReply({ rootId, teamId: TEAM, channelId, text: 'posted while the subscription was gone' });
    await graph.idle();
    expect(wa.ledger.since(mark).filter((e) => e.kind === 'send.accepted')).toHaveLength(0);
    await gw.runtime.host.maintainAll();
    const [sentEntry] = await wa.ledger.waitFor('send.accepted', {
      since: mark,
      where: (e) => e.text === 'posted while the subscription was gone',
      timeoutMs: 20_000,
    });
    expect(sentEntry?.to).toBe(customer.waId);
    await idleTeams();
    expect(wa.ledger.since(mark).filter((e) => e.kind === 'send.accepted')).toHaveLength(1);
    expect(graph.subscriptions()).toHaveLength(CHANNELS.length);
  });
});
