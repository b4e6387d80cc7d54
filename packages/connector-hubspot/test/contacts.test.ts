import { createTestBridge, type TestBridge } from '@wabridge/whatsapp/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { hubspotConnector } from '../src/index.ts';
import {
  bsuidMessage,
  callsSince,
  hubspotContactOf,
  PORTAL_ID,
  startHookReceiver,
  startHubSpot,
} from './kit.ts';

let cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const close of cleanup.reverse()) await close();
  cleanup = [];
});

async function setup(options: { policy?: 'recreate' | 'skip'; hooks?: boolean } = {}) {
  const { hubspot, config } = await startHubSpot();
  cleanup.push(() => hubspot.close());
  const bridge = await createTestBridge({
    manifests: [hubspotConnector],
    connectors: { hubspot: { ...config, ...(options.policy ? { deletedContacts: options.policy } : {}) } },
  });
  cleanup.push(() => bridge.close());
  if (options.hooks) {
    const receiver = await startHookReceiver(bridge);
    cleanup.push(() => receiver.close());
    hubspot.setWebhookUrl(receiver.url);
  }
  return { hubspot, bridge };
}

/** The link to the contact's HubSpot page the other mirrors show (ctx.links), '' once withdrawn. */
async function publishedLink(bridge: TestBridge, waId: string) {
  const conversation = await bridge.conversationOf(waId);
  if (!conversation) return null;
  const ref = await bridge.store.getRef(bridge.workspaceId, 'hubspot', 'link', conversation.contactId);
  return ref ? { url: ref.externalId, label: ref.data.label } : null;
}

const pageOf = (hubspotId: string) => `https://app.hubspot.com/contacts/${PORTAL_ID}/record/0-1/${hubspotId}`;

async function linkedContact(bridge: TestBridge, waId: string) {
  const conversation = await bridge.conversationOf(waId);
  return conversation ? hubspotContactOf(bridge, conversation.id) : null;
}

describe('finding the HubSpot contact of a WhatsApp user', () => {
  it('matches existing contacts by the normalised phone in any format, not across countries, with one search and one upsert per batch', async () => {
    const { hubspot, bridge } = await setup();
    const seeded = {
      '15550201001': hubspot.seedContact({ firstname: 'Plus', phone: '+1 (555) 020-1001' }),
      '15550201002': hubspot.seedContact({ firstname: 'National', mobilephone: '555-020-1002' }),
      '15550201003': hubspot.seedContact({ firstname: 'Trunk', phone: '1 555 020 1003' }),
      '442079461004': hubspot.seedContact({ firstname: 'London', phone: '+44 20 7946 1004' }),
      '442079461005': hubspot.seedContact({ firstname: 'Zeros', phone: '0044 20 7946 1005' }),
    };
    // Same national digits as 15550201006, but in the UK: must not be taken for the US number.
    const decoy = hubspot.seedContact({ firstname: 'Decoy', phone: '+44 555 020 1006' });
    const mark = hubspot.ledger.mark();
    for (const waId of Object.keys(seeded)) await bridge.customerText(`hello from ${waId}`, { waId });
    await bridge.customerText('hello from the new one', { waId: '15550201006', name: 'Nadia New' });
    await bridge.worker.drain();

    for (const [waId, id] of Object.entries(seeded)) expect(await linkedContact(bridge, waId), waId).toBe(id);
    const created = await linkedContact(bridge, '15550201006');
    expect(created).not.toBe(decoy);
    expect(hubspot.contact(created ?? '')?.properties).toMatchObject({
      firstname: 'Nadia',
      lastname: 'New',
      phone: '+15550201006',
      wabridge_whatsapp_consent: 'opted_in',
    });
    expect(callsSince(hubspot, mark, '/contacts/search')).toHaveLength(1);
    expect(callsSince(hubspot, mark, '/contacts/batch/upsert')).toHaveLength(1);
    expect(hubspot.contacts()).toHaveLength(Object.keys(seeded).length + 2);
  });

  it('finds a BSUID-only user by the BSUID property, and creates one with name and BSUID when absent', async () => {
    const { hubspot, bridge } = await setup();
    await bridge.worker.drain();
    const known = hubspot.seedContact({ firstname: 'Known' });
    // The BSUID property exists once the connector installed its properties.
    await (await bridge.host.instance(bridge.workspaceId, 'hubspot'))?.maintain?.();
    hubspot.updateContact(known, { wabridge_bsuid: 'US.1000000000000000001' });
    await bridge.ingest(
      bsuidMessage('wamid.bsuid.1', 'hi, no number here', 'US.1000000000000000001', 'Known User'),
    );
    await bridge.ingest(bsuidMessage('wamid.bsuid.2', 'me neither', 'US.2000000000000000002', 'Brand New'));
    await bridge.worker.drain();

    const [first, second] = await bridge.store.listConversations(bridge.workspaceId);
    const ids = [
      await hubspotContactOf(bridge, first?.id ?? ''),
      await hubspotContactOf(bridge, second?.id ?? ''),
    ];
    expect(ids).toContain(known);
    const createdId = ids.find((id) => id !== known) ?? '';
    expect(hubspot.contact(createdId)?.properties).toMatchObject({
      firstname: 'Brand',
      lastname: 'New',
      wabridge_bsuid: 'US.2000000000000000002',
    });
    expect(hubspot.contact(createdId)?.properties.phone).toBeUndefined();
  });

  it('remembers the mapping: later batches of a known contact make no search and no contact write', async () => {
    const { hubspot, bridge } = await setup();
    await bridge.customerText('first', { waId: '15550202001' });
    await bridge.worker.drain();
    const mark = hubspot.ledger.mark();
    await bridge.customerText('second', { waId: '15550202001' });
    await bridge.customerText('third', { waId: '15550202001' });
    await bridge.worker.drain();
    const calls = callsSince(hubspot, mark);
    expect(calls.map((c) => c.path)).toEqual(['/crm/v3/objects/communications/batch/create']);
    expect(calls[0]?.records).toBe(2);
  });

  it('installs its property group and properties once per portal, and a second workspace reuses them', async () => {
    const { hubspot, config } = await startHubSpot();
    cleanup.push(() => hubspot.close());
    const first = await createTestBridge({ manifests: [hubspotConnector], connectors: { hubspot: config } });
    cleanup.push(() => first.close());
    await first.customerText('install', { waId: '15550203001' });
    await first.worker.drain();
    await first.customerText('installed', { waId: '15550203001' });
    await first.worker.drain();
    expect(hubspot.ledger.count('group.created')).toBe(2);
    const properties = hubspot.ledger.filter('property.created');
    expect(properties.map((p) => `${p.objectType}.${p.name}`).sort()).toEqual([
      'communications.wabridge_conversation_id',
      'communications.wabridge_delivery_state',
      'communications.wabridge_direction',
      'communications.wabridge_message_key',
      'contacts.wabridge_bsuid',
      'contacts.wabridge_contact_key',
      'contacts.wabridge_whatsapp_consent',
      'contacts.wabridge_whatsapp_consent_source',
      'contacts.wabridge_whatsapp_consent_updated_at',
    ]);
    expect(properties.filter((p) => p.unique).map((p) => p.name)).toEqual([
      'wabridge_contact_key',
      'wabridge_message_key',
    ]);

    const second = await createTestBridge({ manifests: [hubspotConnector], connectors: { hubspot: config } });
    cleanup.push(() => second.close());
    await second.customerText('other workspace', { waId: '15550203002' });
    await second.worker.drain();
    expect(hubspot.ledger.count('property.created')).toBe(properties.length);
    expect(hubspot.ledger.count('group.created')).toBe(2);
    const conversation = await second.conversationOf('15550203002');
    expect(hubspot.timeline((await hubspotContactOf(second, conversation?.id ?? '')) ?? '')).toHaveLength(1);
  });
});

describe('merged and deleted HubSpot contacts', () => {
  it('follows a merge announced by webhook: later messages land on the surviving contact', async () => {
    const { hubspot, bridge } = await setup({ hooks: true });
    await bridge.customerText('before the merge', { waId: '15550204001' });
    await bridge.worker.drain();
    const original = (await linkedContact(bridge, '15550204001')) ?? '';
    const survivor = hubspot.seedContact({ firstname: 'Survivor' });
    hubspot.mergeContacts(survivor, original);
    await hubspot.idle();
    expect(await linkedContact(bridge, '15550204001')).toBe(survivor);
    expect(await publishedLink(bridge, '15550204001')).toEqual({
      url: pageOf(original),
      label: 'HubSpot contact',
    });
    await bridge.customerText('after the merge', { waId: '15550204001' });
    await bridge.worker.drain();
    // The next delivery publishes the survivor's page for the other mirrors.
    expect((await publishedLink(bridge, '15550204001'))?.url).toBe(pageOf(survivor));
    const bodies = hubspot.timeline(survivor).map((c) => c.properties.hs_communication_body);
    expect(bodies.filter((b) => b?.includes('before the merge'))).toHaveLength(1);
    expect(bodies.filter((b) => b?.includes('after the merge'))).toHaveLength(1);
  });

  it('follows a merge whose webhook never arrived, when a consent update is answered by the survivor', async () => {
    const { hubspot, bridge } = await setup();
    await bridge.customerText('hello', { waId: '15550204002' });
    await bridge.worker.drain();
    const original = (await linkedContact(bridge, '15550204002')) ?? '';
    const survivor = hubspot.seedContact({ firstname: 'Survivor' });
    hubspot.mergeContacts(survivor, original); // no webhook URL: the merge goes unnoticed
    await bridge.customerText('STOP', { waId: '15550204002' });
    await bridge.worker.drain();
    expect(await linkedContact(bridge, '15550204002')).toBe(survivor);
    expect(hubspot.contact(survivor)?.properties.wabridge_whatsapp_consent).toBe('opted_out');
  });

  it('recreates a contact deleted in HubSpot (default policy), once', async () => {
    const { hubspot, bridge } = await setup({ hooks: true });
    await bridge.customerText('hello', { waId: '15550205001', name: 'Dora Deleted' });
    await bridge.worker.drain();
    const original = (await linkedContact(bridge, '15550205001')) ?? '';
    expect((await publishedLink(bridge, '15550205001'))?.url).toBe(pageOf(original));
    hubspot.deleteContact(original);
    await hubspot.idle();
    expect(await linkedContact(bridge, '15550205001')).toBe(`removed:${original}`);
    // The record is gone: its link is withdrawn (other mirrors stop showing it).
    expect((await publishedLink(bridge, '15550205001'))?.url).toBe('');
    await bridge.customerText('are you there?', { waId: '15550205001', name: 'Dora Deleted' });
    await bridge.customerText('hello?', { waId: '15550205001', name: 'Dora Deleted' });
    await bridge.worker.drain();
    const recreated = (await linkedContact(bridge, '15550205001')) ?? '';
    expect(recreated).not.toBe(original);
    expect((await publishedLink(bridge, '15550205001'))?.url).toBe(pageOf(recreated));
    expect(hubspot.contact(recreated)?.properties).toMatchObject({
      firstname: 'Dora',
      phone: '+15550205001',
    });
    expect(hubspot.timeline(recreated)).toHaveLength(2);
    expect(hubspot.contacts().filter((c) => c.properties.phone === '+15550205001')).toHaveLength(1);
  });

  it('recreates a contact whose deletion webhook was lost, when HubSpot refuses the association', async () => {
    const { hubspot, bridge } = await setup();
    await bridge.customerText('hello', { waId: '15550205002' });
    await bridge.worker.drain();
    const original = (await linkedContact(bridge, '15550205002')) ?? '';
    hubspot.deleteContact(original); // nobody hears about it
    await bridge.customerText('still there?', { waId: '15550205002' });
    await bridge.worker.drain();
    const recreated = (await linkedContact(bridge, '15550205002')) ?? '';
    expect(recreated).not.toBe(original);
    expect(hubspot.timeline(recreated).map((c) => c.properties.hs_communication_body)).toEqual([
      expect.stringContaining('still there?'),
    ]);
    expect(await bridge.store.listDeadJobs()).toEqual([]);
  });

  it('writes nothing for a contact deleted in HubSpot when the policy is skip', async () => {
    const { hubspot, bridge } = await setup({ policy: 'skip' });
    await bridge.customerText('hello', { waId: '15550205003' });
    await bridge.worker.drain();
    const original = (await linkedContact(bridge, '15550205003')) ?? '';
    hubspot.deleteContact(original);
    const contacts = hubspot.contacts().length;
    await bridge.customerText('not mirrored', { waId: '15550205003' });
    await bridge.worker.drain();
    expect(hubspot.contacts()).toHaveLength(contacts);
    expect(
      hubspot.communications().filter((c) => c.properties.hs_communication_body?.includes('not mirrored')),
    ).toEqual([]);
    expect(await bridge.store.listDeadJobs()).toEqual([]);
    expect((await bridge.store.jobStats()).ready).toBe(0);
  });

  it('never recreates a contact deleted for privacy, whatever the policy', async () => {
    const { hubspot, bridge } = await setup({ hooks: true, policy: 'recreate' });
    await bridge.customerText('hello', { waId: '15550205004' });
    await bridge.worker.drain();
    const original = (await linkedContact(bridge, '15550205004')) ?? '';
    hubspot.deleteContact(original, { privacy: true });
    await hubspot.idle();
    const contacts = hubspot.contacts().length;
    await bridge.customerText('after the GDPR deletion', { waId: '15550205004' });
    await bridge.worker.drain();
    expect(hubspot.contacts()).toHaveLength(contacts);
    expect(hubspot.communications().some((c) => c.properties.hs_communication_body?.includes('GDPR'))).toBe(
      false,
    );
    expect(await bridge.store.listDeadJobs()).toEqual([]);
  });
});
