import { startTestGateway, TEST_ACCESS_TOKEN, TEST_APP_SECRET } from '@wabridge/gateway/testing';
import { type HubSpotEmulator, startHubSpotEmulator } from '@wabridge/sandbox/hubspot';
import { startWhatsAppEmulator, type WhatsAppEmulator } from '@wabridge/sandbox/whatsapp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/**
 * The HubSpot connector end to end: customers write through the WhatsApp emulator (signed
 * webhooks) to a real gateway over HTTP, the gateway's worker mirrors to the HubSpot emulator
 * through the official SDK, and the HubSpot emulator sends its signed webhooks back to the
 * gateway's `/hooks/hubspot/<workspace>/webhooks` route.
 */
const WORKSPACE = 'acme';
const PHONE_NUMBER_ID = '106540352242922';
const PORTAL_ID = 4_242_424;
const APP_ID = 777_001;
const CLIENT_SECRET = 'e2e-hubspot-client-secret';
const HUBSPOT_TOKEN = 'pat-e2e-hubspot';
const CUSTOMERS = 50;
const PER_CUSTOMER = 10;

type Gateway = Awaited<ReturnType<typeof startTestGateway>>;

let wa: WhatsAppEmulator;
let hs: HubSpotEmulator;
let gw: Gateway;

/** 20 customers exist in HubSpot already, saved by hand in assorted formats; 29 are new; one hides its number. */
const customers = Array.from({ length: CUSTOMERS }, (_, i) => {
  const waId = i % 3 === 0 ? `44207946${String(i).padStart(4, '0')}` : `1555070${String(i).padStart(4, '0')}`;
  const bsuidOnly = i === CUSTOMERS - 1;
  const national = waId.startsWith('44') ? waId.slice(2) : waId.slice(1);
  const formats = waId.startsWith('44')
    ? [
        `+44 ${national.slice(0, 2)} ${national.slice(2, 6)} ${national.slice(6)}`,
        `0${national}`,
        `0044${national}`,
      ]
    : [
        `+1 (${national.slice(0, 3)}) ${national.slice(3, 6)}-${national.slice(6)}`,
        `${national.slice(0, 3)}.${national.slice(3, 6)}.${national.slice(6)}`,
        `1-${national}`,
      ];
  return {
    waId: bsuidOnly ? null : waId,
    userId: bsuidOnly ? 'US.13491208655302741918' : null,
    name: `Customer ${i}`,
    existing:
      !bsuidOnly && i % 5 < 2
        ? { field: i % 2 === 0 ? 'phone' : 'mobilephone', value: formats[i % 3] ?? waId }
        : null,
  };
});

async function conversationOf(customer: (typeof customers)[number]) {
  const store = gw.runtime.store;
  for (const conversation of await store.listConversations(WORKSPACE)) {
    const contact = await store.getContact(WORKSPACE, conversation.contactId);
    if (
      (customer.waId && contact?.waId === customer.waId) ||
      (customer.userId && contact?.bsuid === customer.userId)
    ) {
      return conversation;
    }
  }
  throw new Error(`no conversation for ${customer.name}`);
}

async function hubspotIdOf(customer: (typeof customers)[number]) {
  const conversation = await conversationOf(customer);
  const ref = await gw.runtime.store.getRef(WORKSPACE, 'hubspot', 'contact', conversation.contactId);
  return { conversation, contactId: conversation.contactId, hubspotId: ref?.externalId ?? '' };
}

async function idleQueue(timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const stats = (await gw.runtime.store.jobStats()).byConnector.hubspot;
    if (!stats || (stats.ready === 0 && stats.running === 0)) return;
    if (Date.now() > deadline) throw new Error(`HubSpot jobs still queued: ${JSON.stringify(stats)}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('HubSpot end to end: gateway over HTTP, WhatsApp and HubSpot emulators', () => {
  const seeded = new Map<number, string>();

  beforeAll(async () => {
    wa = await startWhatsAppEmulator({ appSecret: TEST_APP_SECRET, accessToken: TEST_ACCESS_TOKEN });
    hs = await startHubSpotEmulator({
      accessToken: HUBSPOT_TOKEN,
      clientSecret: CLIENT_SECRET,
      portalId: PORTAL_ID,
      appId: APP_ID,
      subscriptions: [
        { eventType: 'contact.propertyChange', propertyName: 'wabridge_whatsapp_consent' },
        { eventType: 'contact.deletion' },
        { eventType: 'contact.privacyDeletion' },
        { eventType: 'contact.merge' },
      ],
    });
    customers.forEach((customer, i) => {
      if (customer.existing)
        seeded.set(
          i,
          hs.seedContact({ firstname: `Known ${i}`, [customer.existing.field]: customer.existing.value }),
        );
    });
    gw = await startTestGateway({ env: { WHATSAPP_API_BASE_URL: wa.url } });
    wa.setWebhookUrl(gw.webhookUrl);
    const { admin } = gw.runtime;
    await admin.createWorkspace('e2e', { id: WORKSPACE, name: 'Acme' });
    await admin.addPhoneNumber('e2e', WORKSPACE, {
      phoneNumberId: PHONE_NUMBER_ID,
      displayPhoneNumber: '15550783881',
    });
    await admin.setConnector('e2e', WORKSPACE, 'hubspot', {
      enabled: true,
      config: {
        accessToken: HUBSPOT_TOKEN,
        clientSecret: CLIENT_SECRET,
        basePath: hs.url,
        portalId: String(PORTAL_ID),
        appId: String(APP_ID),
      },
    });
    hs.setWebhookUrl(`${gw.hookUrl('hubspot', WORKSPACE)}/webhooks`);
    // The admin changes were made in this process: no need to wait for the routing cache to notice.
    gw.runtime.routing.invalidate();
  });

  afterAll(async () => {
    await gw?.close();
    await hs?.close();
    await wa?.close();
  });

  it('500 messages across 50 contacts: each conversation on one contact, each message once, in time order, ≥ 50 records per call', async () => {
    const mark = hs.ledger.mark();
    // A backlog: the worker is held while the 500 messages arrive, as after a restart or an outage.
    await gw.runtime.worker?.stop();
    const base = Date.now() - 2 * 60 * 60 * 1000;
    const sent = new Map<number, string[]>();
    for (let round = 0; round < PER_CUSTOMER; round++) {
      for (let i = 0; i < CUSTOMERS; i++) {
        const customer = customers[i]!;
        const text = `m${round} from ${customer.name}`;
        const who = wa.customer({
          name: customer.name,
          ...(customer.waId ? { waId: customer.waId } : {}),
          ...(customer.userId ? { userId: customer.userId } : {}),
        });
        await who.sendText(text, { timestamp: base + (round * CUSTOMERS + i) * 1000 });
        sent.set(i, [...(sent.get(i) ?? []), text]);
      }
    }
    gw.runtime.worker?.start();
    await hs.ledger.waitFor('object.created', {
      count: CUSTOMERS * PER_CUSTOMER,
      since: mark,
      where: (e) => e.objectType === 'communications',
      timeoutMs: 60_000,
    });
    await idleQueue();

    const contacts = new Set<string>();
    for (const [i, texts] of sent) {
      const customer = customers[i]!;
      const { hubspotId } = await hubspotIdOf(customer);
      contacts.add(hubspotId);
      if (seeded.has(i)) expect(hubspotId, customer.name).toBe(seeded.get(i));
      const bodies = hs.timeline(hubspotId).map((c) => c.properties.hs_communication_body ?? '');
      expect(bodies, customer.name).toHaveLength(PER_CUSTOMER);
      // In time order, each exactly once.
      expect(
        bodies.map((b) => texts.findIndex((t) => b.includes(`${t}<`))),
        customer.name,
      ).toEqual(texts.map((_, k) => k));
    }
    expect(contacts.size).toBe(CUSTOMERS);
    expect(hs.communications()).toHaveLength(CUSTOMERS * PER_CUSTOMER);
    expect(hs.contacts()).toHaveLength(CUSTOMERS);
    const bsuidContact = hs.contact((await hubspotIdOf(customers[CUSTOMERS - 1]!)).hubspotId);
    expect(bsuidContact?.properties).toMatchObject({
      wabridge_bsuid: 'US.13491208655302741918',
      firstname: 'Customer',
    });
    expect(await gw.runtime.store.listDeadJobs()).toEqual([]);

    // Every call counts: property setup, searches, contact upserts, timeline writes.
    const stats = hs.apiStats();
    const byPath = new Map<string, number>();
    for (const call of hs.ledger.filter('api.call')) byPath.set(call.path, (byPath.get(call.path) ?? 0) + 1);
    process.stdout.write(
      `HubSpot e2e: ${stats.records} records in ${stats.calls} API calls = ${stats.recordsPerCall.toFixed(1)} records/call; ${((CUSTOMERS * PER_CUSTOMER) / stats.calls).toFixed(1)} messages/call\n${[...byPath].map(([p, n]) => `  ${n} × ${p}`).join('\n')}\n`,
    );
    expect(stats.recordsPerCall).toBeGreaterThanOrEqual(50);
  });

  it('a consent change in HubSpot is recorded (source HubSpot) and refuses Slack and Teams replies; a WhatsApp STOP reads opted-out in HubSpot', async () => {
    const [first, second] = [customers[1]!, customers[2]!];
    const { conversation, contactId, hubspotId } = await hubspotIdOf(first);
    const changedAt = Date.now();
    hs.updateContact(hubspotId, { wabridge_whatsapp_consent: 'opted_out' }, { userId: 31337 });
    await hs.idle(); // the gateway recorded the change before it acknowledged the webhook
    const recordedIn = Date.now() - changedAt;
    const history = await gw.runtime.store.consentHistory(WORKSPACE, contactId);
    expect(history.map((e) => [e.category, e.state, e.source, e.actor])).toEqual([
      ['all', 'opted_out', 'hubspot', `hubspot:portal/${PORTAL_ID}:user/31337`],
    ]);
    const sendsBefore = wa.sentMessages().length;
    for (const connectorId of ['slack', 'teams']) {
      await gw.runtime.store.putRef(WORKSPACE, {
        connectorId,
        kind: 'conversation',
        entityId: conversation.id,
        externalId: `${connectorId}-thread-1`,
        data: {},
      });
      const [outcome] = await gw.runtime.commands.accept(WORKSPACE, connectorId, [
        {
          type: 'agent.reply',
          idempotencyKey: `${connectorId}-reply-1`,
          threadId: `${connectorId}-thread-1`,
          messageId: `${connectorId}-message-1`,
          agent: { id: 'agent-7', name: 'Grace' },
          text: 'Any news on your order?',
          attachments: [],
          mode: 'send',
        },
      ]);
      expect(outcome, connectorId).toMatchObject({ status: 'notice', kind: 'opted_out' });
    }
    // Nothing may be queued for WhatsApp: run every job there is, then look.
    await gw.runtime.worker?.drain();
    expect(wa.sentMessages()).toHaveLength(sendsBefore);
    process.stdout.write(
      `HubSpot consent change recorded by the gateway ${recordedIn} ms after it was made\n`,
    );

    const other = await hubspotIdOf(second);
    const mark = hs.ledger.mark();
    await wa.customer({ waId: second.waId ?? '', name: second.name }).sendText('STOP');
    await hs.ledger.waitFor('object.updated', {
      since: mark,
      where: (e) => e.id === other.hubspotId && e.changed.wabridge_whatsapp_consent === 'opted_out',
      timeoutMs: 10_000,
    });
    expect(hs.contact(other.hubspotId)?.properties).toMatchObject({
      wabridge_whatsapp_consent: 'opted_out',
      wabridge_whatsapp_consent_source: 'keyword',
    });
    await hs.idle();
    // HubSpot's echo of that write changed nothing in the ledger.
    expect((await gw.runtime.store.consentHistory(WORKSPACE, other.contactId)).map((e) => e.source)).toEqual([
      'keyword',
    ]);
  });

  it('forged, stale and replayed HubSpot webhooks are refused over HTTP and change nothing', async () => {
    const customer = customers[4]!;
    const { contactId, hubspotId } = await hubspotIdOf(customer);
    const url = `${gw.hookUrl('hubspot', WORKSPACE)}/webhooks`;
    const event = hs.propertyChangeEvent(hubspotId, 'wabridge_whatsapp_consent', 'opted_out');
    const post = (request: Request) => fetch(request).then((r) => r.status);
    expect(await post(hs.webhookRequest([event], { url, secret: 'guess' }))).toBe(401);
    expect(await post(hs.webhookRequest([event], { url, timestamp: Date.now() - 6 * 60_000 }))).toBe(401);
    expect(await post(new Request(url, { method: 'POST', body: JSON.stringify([event]) }))).toBe(401);
    expect(await gw.runtime.store.consentHistory(WORKSPACE, contactId)).toEqual([]);

    const genuine = hs.webhookRequest([event], { url });
    const replay = genuine.clone();
    expect(await post(genuine)).toBe(200);
    expect(await post(replay)).toBe(401);
    expect(await gw.runtime.store.consentHistory(WORKSPACE, contactId)).toHaveLength(1);
  });
});
