import { createHash } from 'node:crypto';
import {
  deliveryContext,
  hydrateEvent,
  type MediaAccess,
  silentLogger,
  WabridgeError,
  WHATSAPP_SENDER,
} from '@wabridge/core';
import { createClock } from '@wabridge/sandbox';
import type { HubSpotEmulator } from '@wabridge/sandbox/hubspot';
import { createTestBridge, type TestBridge } from '@wabridge/whatsapp/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { hubspotConnector } from '../src/index.ts';
import { callsSince, hubspotContactOf, startHubSpot } from './kit.ts';

let cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const close of cleanup.reverse()) await close();
  cleanup = [];
});

async function setup(extra: Record<string, unknown> = {}, media?: MediaAccess) {
  const { hubspot, config } = await startHubSpot();
  cleanup.push(() => hubspot.close());
  const bridge = await createTestBridge({
    manifests: [hubspotConnector],
    connectors: { hubspot: { ...config, ...extra } },
    ...(media ? { media } : {}),
  });
  cleanup.push(() => bridge.close());
  return { hubspot, bridge };
}

async function timeline(bridge: TestBridge, hubspot: HubSpotEmulator, waId: string) {
  const conversation = await bridge.conversationOf(waId);
  return hubspot.timeline((await hubspotContactOf(bridge, conversation?.id ?? '')) ?? '');
}

/** Drains until nothing is ready, letting short retry delays pass. */
async function settle(bridge: TestBridge) {
  for (let i = 0; i < 50; i++) {
    await bridge.worker.drain();
    const stats = await bridge.store.jobStats();
    const hubspotJobs = stats.byConnector.hubspot;
    if (!hubspotJobs || (hubspotJobs.ready === 0 && hubspotJobs.running === 0)) return;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** An agent reply from Slack, through the core's command processor, on a stand-in thread. */
async function agentReply(bridge: TestBridge, waId: string, text: string) {
  const conversation = await bridge.conversationOf(waId);
  await bridge.store.putRef(bridge.workspaceId, {
    connectorId: 'slack',
    kind: 'conversation',
    entityId: conversation?.id ?? '',
    externalId: `T-${waId}`,
    data: {},
  });
  const [outcome] = await bridge.commands.accept(bridge.workspaceId, 'slack', [
    {
      type: 'agent.reply',
      idempotencyKey: `reply-${text}`,
      threadId: `T-${waId}`,
      messageId: `slack-msg-${text}`,
      agent: { id: 'U42', name: 'Grace Hopper' },
      text,
      attachments: [],
      mode: 'send',
    },
  ]);
  return outcome;
}

describe('WhatsApp messages on the HubSpot timeline', () => {
  it('writes each message as a WhatsApp communication logged from the CRM, at the WhatsApp time, on the contact', async () => {
    const { hubspot, bridge } = await setup();
    const sentAt = Date.UTC(2026, 2, 14, 9, 30, 0);
    await bridge.customerText('Do you ship to <Lisbon> & Porto?', {
      waId: '15550301001',
      name: 'Ada Lovelace',
      timestamp: sentAt,
    });
    await bridge.worker.drain();
    const [entry, ...rest] = await timeline(bridge, hubspot, '15550301001');
    expect(rest).toEqual([]);
    expect(entry?.properties).toMatchObject({
      hs_communication_channel_type: 'WHATS_APP',
      hs_communication_logged_from: 'CRM',
      hs_timestamp: new Date(sentAt).toISOString(),
      wabridge_direction: 'inbound',
    });
    const body = entry?.properties.hs_communication_body ?? '';
    expect(body).toContain('received from Ada Lovelace');
    expect(body).toContain('Do you ship to &lt;Lisbon&gt; &amp; Porto?');
    expect(body).not.toContain('<Lisbon>');
  });

  it('shows an agent reply as sent, with the agent and the tool it came from', async () => {
    const { hubspot, bridge } = await setup();
    await bridge.customerText('hi', { waId: '15550301002' });
    expect(await agentReply(bridge, '15550301002', 'Hello from support')).toMatchObject({ status: 'sent' });
    await bridge.worker.drain();
    const entries = await timeline(bridge, hubspot, '15550301002');
    expect(entries.map((e) => e.properties.wabridge_direction)).toEqual(['inbound', 'outbound']);
    // Slack is not registered in this rig, so its id stands for its name (the gateway writes the
    // registered connector's name with the message: see Sender.viaName).
    expect(entries[1]?.properties.hs_communication_body).toContain('sent by Grace Hopper via slack');
    expect(entries[1]?.properties.wabridge_delivery_state).toBe('sent');
  });

  it('shows a reply WhatsApp could not deliver as not delivered, on the same entry', async () => {
    const { hubspot, bridge } = await setup();
    await bridge.customerText('hi', { waId: '15550301003' });
    const outcome = await agentReply(bridge, '15550301003', 'This one will bounce');
    await bridge.worker.drain();
    // The WhatsApp sender gives up on the message the way the core does it for real.
    const [send] = await bridge.store.claimJobs({
      limit: 1,
      leaseMs: 10_000,
      workerId: 'test-sender',
      connectorIds: [WHATSAPP_SENDER],
    });
    expect(send).toBeDefined();
    await bridge.store.markFailed(send!.lease, outcome?.status === 'sent' ? outcome.messageId : '', {
      code: 131026,
      title: 'Message undeliverable',
      meaning: 'The number is not on WhatsApp or cannot receive this message.',
      action: 'Check the number or reach the customer another way.',
    });
    await bridge.store.completeJob(send!.lease, []);
    await bridge.worker.drain();
    const entries = await timeline(bridge, hubspot, '15550301003');
    expect(entries).toHaveLength(2);
    expect(entries[1]?.properties.wabridge_delivery_state).toBe('failed');
    expect(entries[1]?.properties.hs_communication_body).toContain('Not delivered');
    expect(entries[1]?.properties.hs_communication_body).toContain('not on WhatsApp');
  });

  it('describes media as a link to the gateway, never uploading the bytes by default', async () => {
    const { hubspot, bridge } = await setup();
    await bridge.customerMessage(
      {
        type: 'image',
        image: { id: 'media-1', mime_type: 'image/jpeg', sha256: 'x', caption: 'my receipt' },
      },
      { waId: '15550301004' },
    );
    await bridge.worker.drain();
    const [entry] = await timeline(bridge, hubspot, '15550301004');
    const body = entry?.properties.hs_communication_body ?? '';
    const message = (
      await bridge.store.listMessages(
        bridge.workspaceId,
        (await bridge.conversationOf('15550301004'))?.id ?? '',
      )
    )[0];
    expect(body).toContain('Image — image/jpeg');
    expect(body).toContain(`href="http://gateway.test/media/test/${message?.id}"`);
    expect(body).toContain('my receipt');
    expect(entry?.properties.hs_attachment_ids).toBeUndefined();
    expect(hubspot.ledger.count('file.uploaded')).toBe(0);
  });

  it('uploads media to HubSpot Files and attaches it when the workspace enables it, once per message', async () => {
    const bytes = new TextEncoder().encode('%PDF-1.4 invoice');
    const media: MediaAccess = {
      fetch: async () => ({
        bytes,
        mimeType: 'application/pdf',
        filename: 'invoice.pdf',
        sha256: createHash('sha256').update(bytes).digest('hex'),
      }),
      url: (id) => `http://gateway.test/media/test/${id}`,
    };
    const { hubspot, bridge } = await setup({ media: { upload: true } }, media);
    await bridge.customerMessage(
      {
        type: 'document',
        document: { id: 'media-2', mime_type: 'application/pdf', sha256: 'x', filename: 'invoice.pdf' },
      },
      { waId: '15550301005' },
    );
    // HubSpot keeps the first upload but the answer is lost: the retry must not upload it again.
    hubspot.failNext('lost_response', { path: '/files/v3/files' });
    hubspot.failNext('unavailable', { path: '/communications/batch/create' });
    await settle(bridge);
    const [entry] = await timeline(bridge, hubspot, '15550301005');
    const fileId = entry?.properties.hs_attachment_ids ?? '';
    expect(hubspot.file(fileId)?.bytes).toEqual(bytes);
    expect(hubspot.file(fileId)?.folderPath).toBe('/wabridge');
    expect(entry?.properties.hs_communication_body).toContain('(attached)');
    expect(hubspot.ledger.count('file.uploaded')).toBe(1);
    expect(hubspot.ledger.count('api.call', (c) => c.path === '/files/v3/files')).toBe(2);
  });

  it('rewrites an edited message in place, at its WhatsApp time, and a deletion removes its content and file', async () => {
    const bytes = new TextEncoder().encode('JPEG label');
    const media: MediaAccess = {
      fetch: async () => ({
        bytes,
        mimeType: 'image/jpeg',
        filename: 'label.jpg',
        sha256: createHash('sha256').update(bytes).digest('hex'),
      }),
      url: (id) => `http://gateway.test/media/test/${id}`,
    };
    const { hubspot, bridge } = await setup({ media: { upload: true } }, media);
    const sentAt = Date.UTC(2026, 2, 14, 9, 30, 0);
    const customer = { waId: '15550301010', name: 'Ada', timestamp: sentAt };
    const text = await bridge.customerText('Deliver to 12 Babage Row', customer);
    const photo = await bridge.customerMessage(
      { type: 'image', image: { id: 'm-1', mime_type: 'image/jpeg', caption: 'my ID card' } },
      { ...customer, timestamp: sentAt + 1000 },
    );
    await settle(bridge);
    const before = await timeline(bridge, hubspot, '15550301010');
    const fileId = before[1]?.properties.hs_attachment_ids ?? '';
    expect(hubspot.file(fileId)).not.toBeNull();
    await bridge.customerMessage(
      {
        type: 'edit',
        edit: {
          original_message_id: text,
          message: { type: 'text', text: { body: 'Deliver to 12 Babbage Row' } },
        },
      },
      { ...customer, timestamp: sentAt + 60_000 },
    );
    await bridge.customerMessage(
      { type: 'revoke', revoke: { original_message_id: photo } },
      { ...customer, timestamp: sentAt + 120_000 },
    );
    await settle(bridge);
    const after = await timeline(bridge, hubspot, '15550301010');
    expect(after.map((e) => e.id)).toEqual(before.map((e) => e.id));
    expect(after[0]?.properties.hs_timestamp).toBe(new Date(sentAt).toISOString());
    expect(after[0]?.properties.hs_communication_body).toContain('Deliver to 12 Babbage Row');
    expect(after[0]?.properties.hs_communication_body).not.toContain('Babage');
    expect(after[0]?.properties.hs_communication_body).toContain('Edited 2026-03-14 09:31 UTC');
    expect(after[1]?.properties.hs_communication_body).toContain('This message was deleted by the customer.');
    expect(after[1]?.properties.hs_communication_body).not.toContain('ID card');
    expect(after[1]?.properties.hs_attachment_ids ?? '').toBe('');
    expect(hubspot.file(fileId)).toBeNull();
    expect(await bridge.store.listDeadJobs()).toEqual([]);
  });

  it('says a file is no longer available from WhatsApp instead of linking to nothing', async () => {
    const media: MediaAccess = {
      fetch: async () => {
        throw new WabridgeError('permanent', 'WhatsApp Cloud API: Unsupported get request (code 100)');
      },
      url: (id) => `http://gateway.test/media/test/${id}`,
    };
    const { hubspot, bridge } = await setup({}, media);
    await bridge.customerMessage(
      { type: 'video', video: { id: 'gone', caption: 'the noise' } },
      { waId: '15550301011' },
    );
    await settle(bridge);
    const [entry] = await timeline(bridge, hubspot, '15550301011');
    const body = entry?.properties.hs_communication_body ?? '';
    expect(body).toContain('This file is no longer available from WhatsApp');
    expect(body).toContain('the noise');
    expect(body).not.toContain('gateway.test/media');
  });

  it('logs what the business sent from the WhatsApp Business app as sent from there', async () => {
    const { hubspot, bridge } = await setup();
    await bridge.customerText('hi', { waId: '15550301012' });
    await bridge.businessEcho('Hello from the shop', '15550301012', {
      wamid: 'wamid.echo.hubspot',
      timestamp: Date.now() + 5000,
    });
    await settle(bridge);
    const [, echo] = await timeline(bridge, hubspot, '15550301012');
    expect(echo?.properties.wabridge_direction).toBe('outbound');
    expect(echo?.properties.hs_communication_body).toContain('sent from the WhatsApp Business app');
    expect(echo?.properties.hs_communication_body).toContain('Hello from the shop');
  });

  it('writes a batch of messages with one create call per 100 entries', async () => {
    const { hubspot, bridge } = await setup();
    await bridge.customerText('warm-up', { waId: '15550301006' });
    await bridge.worker.drain();
    const mark = hubspot.ledger.mark();
    for (let i = 0; i < 150; i++) await bridge.customerText(`bulk ${i}`, { waId: '15550301006' });
    await bridge.worker.drain();
    const creates = callsSince(hubspot, mark, '/communications/batch/create');
    expect(creates.map((c) => c.records)).toEqual([100, 50]);
    const bodies = (await timeline(bridge, hubspot, '15550301006')).map(
      (e) => e.properties.hs_communication_body ?? '',
    );
    for (let i = 0; i < 150; i++) expect(bodies.filter((b) => b.includes(`bulk ${i}<`))).toHaveLength(1);
  });

  it('a retry after HubSpot wrote the entries but the answer was lost creates nothing twice', async () => {
    const { hubspot, bridge } = await setup();
    await bridge.customerText('warm-up', { waId: '15550301007' });
    await bridge.worker.drain();
    hubspot.failNext('lost_response', { path: '/communications/batch/create' });
    for (let i = 0; i < 5; i++) await bridge.customerText(`lost answer ${i}`, { waId: '15550301007' });
    await settle(bridge);
    expect(hubspot.ledger.count('api.call', (c) => c.status === 502)).toBe(1);
    const bodies = (await timeline(bridge, hubspot, '15550301007')).map(
      (e) => e.properties.hs_communication_body ?? '',
    );
    expect(bodies).toHaveLength(6);
    for (let i = 0; i < 5; i++) expect(bodies.filter((b) => b.includes(`lost answer ${i}`))).toHaveLength(1);
    // The retries (jittered, so possibly in more than one batch) found the entries by their key.
    expect(
      hubspot.ledger.count('api.call', (c) => c.path.endsWith('/communications/batch/read')),
    ).toBeGreaterThan(0);
  });

  it('a retry that meets a 429 on a later chunk still settles the entries an earlier chunk found written', async () => {
    const { hubspot, bridge } = await setup();
    await bridge.customerText('warm-up', { waId: '15550301008' });
    await bridge.worker.drain();
    const mark = hubspot.ledger.mark();
    // First attempt: the first 100 entries are written and the answer is lost (a crash after the
    // call would leave the same). The retry: the first chunk answers "exists" for all 100, the
    // second chunk gets a 429.
    hubspot.failNext('lost_response', { path: '/communications/batch/create' });
    hubspot.failNext('rate_limited', { path: '/communications/batch/create', skip: 1 });
    for (let i = 0; i < 150; i++) await bridge.customerText(`chunked ${i}`, { waId: '15550301008' });
    await settle(bridge);
    // The entries HubSpot already had were read right after the 429, in the same attempt: they
    // were settled then, and not sent again.
    const calls = hubspot.ledger
      .since(mark)
      .flatMap((e) =>
        e.kind === 'api.call' && /\/communications\/batch\/(create|read)$/.test(e.path)
          ? [`${e.path.split('/').pop()} ${e.status} ${e.records}`]
          : [],
      );
    expect(calls.slice(0, 4)).toEqual(['create 502 100', 'create 207 100', 'create 429 0', 'read 200 100']);
    const bodies = (await timeline(bridge, hubspot, '15550301008')).map(
      (e) => e.properties.hs_communication_body ?? '',
    );
    expect(bodies).toHaveLength(151);
    for (let i = 0; i < 150; i++) expect(bodies.filter((b) => b.includes(`chunked ${i}<`))).toHaveLength(1);
  });

  it('puts messages on the open deal and ticket of the contact when the workspace asks for it', async () => {
    const { hubspot, bridge } = await setup({ associate: { openDeal: true, openTicket: true } });
    const contact = hubspot.seedContact({ firstname: 'Deal', phone: '+15550301008' });
    hubspot.seedObject('deals', { dealname: 'Old', dealstage: 'closedwon' }, { contactId: contact });
    const open = hubspot.seedObject(
      'deals',
      { dealname: 'Renewal', dealstage: 'contractsent' },
      { contactId: contact },
    );
    const ticket = hubspot.seedObject(
      'tickets',
      { subject: 'Broken', hs_pipeline_stage: '1' },
      { contactId: contact },
    );
    hubspot.seedObject('tickets', { subject: 'Done', hs_pipeline_stage: '4' }, { contactId: contact });
    await bridge.customerText('about my renewal', { waId: '15550301008' });
    await bridge.worker.drain();
    const [entry] = hubspot.timeline(contact);
    expect(hubspot.associations('communications', entry?.id ?? '', 'deals')).toEqual([open]);
    expect(hubspot.associations('communications', entry?.id ?? '', 'tickets')).toEqual([ticket]);
  });

  it('archives the timeline entries of an erased conversation', async () => {
    const { hubspot, bridge } = await setup();
    await bridge.customerText('to be forgotten 1', { waId: '15550301009' });
    await bridge.customerText('to be forgotten 2', { waId: '15550301009' });
    await bridge.customerText('kept', { waId: '15550301010' });
    await bridge.worker.drain();
    await bridge.customerText('erase me', { waId: '15550301009' });
    const [job] = await bridge.store.claimJobs({
      limit: 1,
      leaseMs: 10_000,
      workerId: 'test',
      connectorIds: ['hubspot'],
    });
    const event = job ? await hydrateEvent(bridge.store, job, Date.now()) : null;
    const instance = await bridge.host.instance(bridge.workspaceId, 'hubspot');
    if (!job || !event || !instance) throw new Error('expected a job, its event and the connector');
    const erased = {
      ...event,
      type: 'conversation.erased' as const,
      erasure: { requestedBy: 'dpo', reason: 'GDPR', at: Date.now() },
    };
    await instance.deliver(
      erased,
      deliveryContext(bridge.store, job, new AbortController().signal, silentLogger),
    );
    expect(await timeline(bridge, hubspot, '15550301009')).toEqual([]);
    expect(await timeline(bridge, hubspot, '15550301010')).toHaveLength(1);
    expect(hubspot.ledger.count('object.archived', (e) => e.objectType === 'communications')).toBe(2);
  });
});

describe('where HubSpot refuses a unique message key on communications', () => {
  it('falls back to pending markers and a search by key, waiting for the index, and still writes once', async () => {
    const clock = createClock();
    const { hubspot, config } = await startHubSpot({
      clock,
      uniquePropertyObjects: ['contacts'],
      searchIndexLagMs: 5_000,
    });
    cleanup.push(() => hubspot.close());
    const bridge = await createTestBridge({
      manifests: [hubspotConnector],
      connectors: { hubspot: config },
      now: clock.now,
    });
    cleanup.push(() => bridge.close());
    await bridge.customerText('before', { waId: '15550302001' });
    await bridge.worker.drain();
    expect(
      hubspot.ledger
        .filter('property.created', (p) => p.name === 'wabridge_message_key')
        .map((p) => p.unique),
    ).toEqual([false]);

    await bridge.customerText('written, then the worker dies', { waId: '15550302001' });
    const [job] = await bridge.store.claimJobs({
      limit: 1,
      leaseMs: 50,
      workerId: 'doomed',
      connectorIds: ['hubspot'],
    });
    const event = job ? await hydrateEvent(bridge.store, job, clock.now()) : null;
    const instance = await bridge.host.instance(bridge.workspaceId, 'hubspot');
    if (!job || !event || !instance) throw new Error('expected a job, its event and the connector');
    await instance.deliver(
      event,
      deliveryContext(bridge.store, job, new AbortController().signal, silentLogger),
    );
    clock.advance(1_000); // the lease is gone; search would not show the entry yet
    await bridge.worker.drain();
    expect(hubspot.communications()).toHaveLength(2);
    clock.advance(20_000);
    await bridge.worker.drain();
    const bodies = (await timeline(bridge, hubspot, '15550302001')).map(
      (e) => e.properties.hs_communication_body ?? '',
    );
    expect(bodies.filter((b) => b.includes('the worker dies'))).toHaveLength(1);
    expect(hubspot.communications()).toHaveLength(2);
    expect((await bridge.store.jobStats()).byConnector.hubspot?.ready ?? 0).toBe(0);
  });
});
