import { TEST_DISPLAY_NUMBER, TEST_PHONE_NUMBER_ID, type TestBridge } from '@wabridge/whatsapp/testing';
import { afterEach, describe, expect, it } from 'vitest';
import {
  APP_ID,
  deliverHook,
  hookUrl,
  hubspotContactOf,
  PORTAL_ID,
  startBridge,
  startHookReceiver,
} from './kit.ts';

let cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const close of cleanup.reverse()) await close();
  cleanup = [];
});

async function setup(options: { hooks?: boolean; appId?: boolean } = {}) {
  const { hubspot, bridge } = await startBridge(cleanup, options);
  if (options.hooks) {
    const receiver = await startHookReceiver(bridge);
    cleanup.push(() => receiver.close());
    hubspot.setWebhookUrl(receiver.url);
  }
  return { hubspot, bridge };
}

/** A customer who wrote once; returns our contact id and the linked HubSpot contact. */
async function customer(bridge: TestBridge, waId: string) {
  await bridge.customerText('hello', { waId });
  await bridge.worker.drain();
  const conversation = await bridge.conversationOf(waId);
  const hubspotId = (await hubspotContactOf(bridge, conversation?.id ?? '')) ?? '';
  return { conversation: conversation!, contactId: conversation?.contactId ?? '', hubspotId };
}

/** An agent reply from Slack or Teams on a stand-in thread of the conversation. */
async function reply(
  bridge: TestBridge,
  connectorId: 'slack' | 'teams',
  conversationId: string,
  text: string,
) {
  await bridge.store.putRef(bridge.workspaceId, {
    connectorId,
    kind: 'conversation',
    entityId: conversationId,
    externalId: `thread-${connectorId}-${conversationId}`,
    data: {},
  });
  const [outcome] = await bridge.commands.accept(bridge.workspaceId, connectorId, [
    {
      type: 'agent.reply',
      idempotencyKey: `${connectorId}-${text}`,
      threadId: `thread-${connectorId}-${conversationId}`,
      messageId: `${connectorId}-msg-${text}`,
      agent: { id: 'agent-1', name: 'Grace' },
      text,
      attachments: [],
      mode: 'send',
    },
  ]);
  return outcome;
}

async function sendJobs(bridge: TestBridge) {
  const stats = await bridge.store.jobStats();
  return stats.byConnector.whatsapp?.ready ?? 0;
}

describe('consent, bridge → HubSpot', () => {
  it('a STOP on WhatsApp reads opted-out in HubSpot, with the source and time of the change', async () => {
    const { hubspot, bridge } = await setup();
    const { hubspotId } = await customer(bridge, '15550401001');
    expect(hubspot.contact(hubspotId)?.properties.wabridge_whatsapp_consent).toBe('opted_in');
    const at = Date.now() - 60_000;
    await bridge.customerText('STOP', { waId: '15550401001', timestamp: at });
    await bridge.worker.drain();
    expect(hubspot.contact(hubspotId)?.properties).toMatchObject({
      wabridge_whatsapp_consent: 'opted_out',
      wabridge_whatsapp_consent_source: 'keyword',
      wabridge_whatsapp_consent_updated_at: new Date(Math.floor(at / 1000) * 1000).toISOString(),
    });
  });

  it('a marketing opt-out in WhatsApp reads "opted out of marketing" in HubSpot', async () => {
    const { hubspot, bridge } = await setup();
    const { hubspotId } = await customer(bridge, '15550401002');
    await bridge.ingest({
      object: 'whatsapp_business_account',
      entry: [
        {
          id: '102290129340398',
          changes: [
            {
              field: 'user_preferences',
              value: {
                messaging_product: 'whatsapp',
                metadata: {
                  display_phone_number: TEST_DISPLAY_NUMBER,
                  phone_number_id: TEST_PHONE_NUMBER_ID,
                },
                contacts: [{ profile: { name: 'Ada' }, wa_id: '15550401002' }],
                user_preferences: [
                  {
                    wa_id: '15550401002',
                    detail: 'User requested to stop marketing messages',
                    category: 'marketing_messages',
                    value: 'stop',
                    timestamp: Math.floor(Date.now() / 1000),
                  },
                ],
              },
            },
          ],
        },
      ],
    });
    await bridge.worker.drain();
    expect(hubspot.contact(hubspotId)?.properties).toMatchObject({
      wabridge_whatsapp_consent: 'marketing_opted_out',
      wabridge_whatsapp_consent_source: 'meta_preference',
    });
  });
});

describe('consent, HubSpot → bridge', () => {
  it('an opt-out set in HubSpot is recorded with source HubSpot, portal and user, and refuses Slack and Teams replies', async () => {
    const { hubspot, bridge } = await setup({ hooks: true });
    const { conversation, contactId, hubspotId } = await customer(bridge, '15550402001');
    hubspot.updateContact(hubspotId, { wabridge_whatsapp_consent: 'opted_out' }, { userId: 7 });
    await hubspot.idle();

    const history = await bridge.store.consentHistory(bridge.workspaceId, contactId);
    expect(history.map((e) => [e.category, e.state, e.source, e.actor])).toEqual([
      ['all', 'opted_out', 'hubspot', `hubspot:portal/${PORTAL_ID}:user/7`],
    ]);
    for (const connectorId of ['slack', 'teams'] as const) {
      const outcome = await reply(bridge, connectorId, conversation.id, `reply from ${connectorId}`);
      expect(outcome).toMatchObject({ status: 'notice', kind: 'opted_out' });
      const notice = await bridge.store.getNotice(
        bridge.workspaceId,
        outcome?.status === 'notice' ? outcome.noticeId : '',
      );
      expect(notice?.text).toContain('opted out of WhatsApp messages in HubSpot');
    }
    expect(await sendJobs(bridge)).toBe(0);
    // The change came from HubSpot: written back, only its source and time move (the state is
    // already there), and the echo of our write records nothing new.
    await bridge.worker.drain();
    await hubspot.idle();
    await bridge.worker.drain();
    expect(hubspot.contact(hubspotId)?.properties).toMatchObject({
      wabridge_whatsapp_consent: 'opted_out',
      wabridge_whatsapp_consent_source: 'hubspot',
    });
    expect(await bridge.store.consentHistory(bridge.workspaceId, contactId)).toHaveLength(history.length);
  });

  it('opting back in from HubSpot lets replies through again; "opted out of marketing" keeps service replies', async () => {
    const { hubspot, bridge } = await setup({ hooks: true });
    const { conversation, contactId, hubspotId } = await customer(bridge, '15550402002');
    hubspot.updateContact(hubspotId, { wabridge_whatsapp_consent: 'opted_out' });
    await hubspot.idle();
    hubspot.updateContact(hubspotId, { wabridge_whatsapp_consent: 'marketing_opted_out' });
    await hubspot.idle();
    const snapshot = await bridge.store.consentSnapshot(bridge.workspaceId, contactId);
    expect([snapshot.all.state, snapshot.marketing.state]).toEqual(['opted_in', 'opted_out']);
    expect(await reply(bridge, 'slack', conversation.id, 'service reply')).toMatchObject({ status: 'sent' });
  });

  it("drops HubSpot's echo of a value the bridge wrote, before it reaches the ledger", async () => {
    const { hubspot, bridge } = await setup({ hooks: true });
    const { contactId, hubspotId } = await customer(bridge, '15550402003');
    await bridge.customerText('STOP', { waId: '15550402003' });
    await bridge.worker.drain();
    await hubspot.idle();
    const echoes = hubspot.ledger.filter(
      'webhook.attempt',
      (e) => e.ok && e.subscriptionTypes.includes('contact.propertyChange'),
    );
    expect(echoes.length).toBeGreaterThan(0);
    const history = await bridge.store.consentHistory(bridge.workspaceId, contactId);
    expect(history.map((e) => e.source)).toEqual(['keyword']);
    expect(hubspot.contact(hubspotId)?.properties.wabridge_whatsapp_consent).toBe('opted_out');
    // The request itself produced no command (the filter is the connector's, not the core's no-op check).
    const event = hubspot.propertyChangeEvent(hubspotId, 'wabridge_whatsapp_consent', 'opted_in', {
      changeSource: 'INTEGRATION',
      sourceId: String(APP_ID),
    });
    const result = await deliverHook(bridge, hubspot.webhookRequest([event], { url: hookUrl(bridge) }));
    expect(result).toMatchObject({ status: 200, commands: [] });
  });

  it('refuses forged, stale and replayed webhooks, and they change nothing', async () => {
    const { hubspot, bridge } = await setup();
    const { contactId, hubspotId } = await customer(bridge, '15550402004');
    const event = hubspot.propertyChangeEvent(hubspotId, 'wabridge_whatsapp_consent', 'opted_out', {
      changeSource: 'CRM_UI',
      sourceId: 'userId:9',
    });
    const url = hookUrl(bridge);
    const now = Date.now();
    const attempts = {
      forged: hubspot.webhookRequest([event], { url, secret: 'guessed-secret' }),
      stale: hubspot.webhookRequest([event], { url, timestamp: now - 5 * 60_000 - 1000 }),
      future: hubspot.webhookRequest([event], { url, timestamp: now + 5 * 60_000 + 1000 }),
      otherUrl: hubspot.webhookRequest([event], {
        url: 'http://attacker.test/hooks/hubspot/ws-test/webhooks',
      }),
    };
    for (const [name, request] of Object.entries(attempts)) {
      const forwarded = name === 'otherUrl' ? new Request(url, request) : request;
      expect((await deliverHook(bridge, forwarded)).status, name).toBe(401);
    }
    const unsigned = new Request(url, { method: 'POST', body: JSON.stringify([event]) });
    expect((await deliverHook(bridge, unsigned)).status).toBe(401);
    expect(await bridge.store.consentHistory(bridge.workspaceId, contactId)).toEqual([]);

    const genuine = hubspot.webhookRequest([event], { url });
    const replayed = genuine.clone();
    expect((await deliverHook(bridge, genuine)).outcomes.map((o) => o.status)).toEqual(['consent_recorded']);
    expect((await deliverHook(bridge, replayed)).status).toBe(401);
    // HubSpot's own retry of the same events is signed afresh: accepted, and records nothing twice.
    const retry = hubspot.webhookRequest([event], { url, timestamp: Date.now() + 1 });
    const again = await deliverHook(bridge, retry);
    expect(again.status).toBe(200);
    expect(again.outcomes.map((o) => o.status)).not.toContain('consent_recorded');
    expect(await bridge.store.consentHistory(bridge.workspaceId, contactId)).toHaveLength(1);
  });

  it('ignores events of another portal and other properties', async () => {
    const { hubspot, bridge } = await setup();
    const { contactId, hubspotId } = await customer(bridge, '15550402005');
    const elsewhere = {
      ...hubspot.propertyChangeEvent(hubspotId, 'wabridge_whatsapp_consent', 'opted_out'),
      portalId: 999,
    };
    const other = hubspot.propertyChangeEvent(hubspotId, 'firstname', 'Mallory');
    const result = await deliverHook(
      bridge,
      hubspot.webhookRequest([elsewhere, other], { url: hookUrl(bridge) }),
    );
    expect(result).toMatchObject({ status: 200, commands: [] });
    expect(await bridge.store.consentHistory(bridge.workspaceId, contactId)).toEqual([]);
  });

  it('without an app id, the echo still changes nothing: the core drops a no-op change', async () => {
    const { hubspot, bridge } = await setup({ hooks: true, appId: false });
    const { contactId } = await customer(bridge, '15550402006');
    await bridge.customerText('STOP', { waId: '15550402006' });
    await bridge.worker.drain();
    await hubspot.idle();
    expect((await bridge.store.consentHistory(bridge.workspaceId, contactId)).map((e) => e.source)).toEqual([
      'keyword',
    ]);
  });

  it('adopts an opt-out recorded in HubSpot before the customer ever wrote, when the contact is linked', async () => {
    const { hubspot, bridge } = await setup();
    await (await bridge.host.instance(bridge.workspaceId, 'hubspot'))?.maintain?.();
    const existing = hubspot.seedContact({
      firstname: 'Careful',
      phone: '+1 555 040 2007',
      wabridge_whatsapp_consent: 'opted_out',
    });
    const { conversation, contactId, hubspotId } = await customer(bridge, '15550402007');
    expect(hubspotId).toBe(existing);
    const history = await bridge.store.consentHistory(bridge.workspaceId, contactId);
    expect(history.map((e) => [e.category, e.state, e.source])).toEqual([['all', 'opted_out', 'hubspot']]);
    expect(await reply(bridge, 'slack', conversation.id, 'hello?')).toMatchObject({
      status: 'notice',
      kind: 'opted_out',
    });
    expect(hubspot.contact(existing)?.properties.wabridge_whatsapp_consent).toBe('opted_out');
  });

  it('never lets a HubSpot "opted in" found at link time undo a WhatsApp opt-out', async () => {
    const { hubspot, bridge } = await setup();
    await (await bridge.host.instance(bridge.workspaceId, 'hubspot'))?.maintain?.();
    await bridge.customerText('STOP', { waId: '15550402008' });
    hubspot.seedContact({ firstname: 'Eager', phone: '+15550402008', wabridge_whatsapp_consent: 'opted_in' });
    await bridge.worker.drain();
    const conversation = await bridge.conversationOf('15550402008');
    const snapshot = await bridge.store.consentSnapshot(bridge.workspaceId, conversation?.contactId ?? '');
    expect(snapshot.all).toMatchObject({ state: 'opted_out', source: 'keyword' });
  });
});
