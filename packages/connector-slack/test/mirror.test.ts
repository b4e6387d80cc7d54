import { createHash } from 'node:crypto';
import { type ConnectorManifest, deliveryContext, hydrateEvent, silentLogger } from '@wabridge/core';
import { createClock } from '@wabridge/sandbox';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { parseRef } from '../src/index.ts';
import { SUPPORT } from './kit.ts';
import { startWorld, type World } from './world.ts';

const sha256 = (bytes: Uint8Array | string) => createHash('sha256').update(bytes).digest('hex');
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

let world: World | undefined;
afterEach(async () => {
  await world?.close();
  world = undefined;
});

/** Runs the queue until it is empty and the emulators have nothing pending (status webhooks come later). */
async function settle(w: World, rounds = 4) {
  for (let i = 0; i < rounds; i++) {
    await w.bridge.worker.drain();
    await w.wa.idle();
    await w.slack.idle();
    await sleep(30);
  }
  await w.bridge.worker.drain();
}

/**
 * Runs the next Slack job the way a lost answer leaves it: Slack makes the post, the finished ref
 * is never written (`error` is thrown instead) and the job stays leased for `leaseMs`.
 */
async function postButLoseTheRecord(w: World, leaseMs: number, error: string, lost = 'message') {
  const { bridge } = w;
  const [job] = await bridge.store.claimJobs({
    limit: 1,
    leaseMs,
    workerId: 'doomed',
    connectorIds: ['slack'],
  });
  const event = await hydrateEvent(bridge.store, job!, Date.now());
  const instance = await bridge.host.instance(bridge.workspaceId, 'slack');
  const ctx = deliveryContext(bridge.store, job!, new AbortController().signal, silentLogger);
  const losing = {
    ...ctx,
    refs: {
      ...ctx.refs,
      checkpoint: async (ref: Parameters<typeof ctx.refs.checkpoint>[0]) => {
        if (ref.kind === lost && parseRef(ref.externalId)) throw new Error(error);
        return ctx.refs.checkpoint(ref);
      },
    },
  };
  await expect(instance!.deliver(event!, losing)).rejects.toThrow(error);
  return job!;
}

describe('mirroring WhatsApp into Slack', () => {
  it('puts a conversation in one thread under a card, every message type once, in WhatsApp order', async () => {
    world = await startWorld();
    const ada = world.wa.customer({ waId: '447700900123', name: 'Ada Lovelace' });
    const photo = new TextEncoder().encode('\xff\xd8\xff\xe0 a photo of the parcel');
    const t0 = Date.now() - 60_000;
    const at = (i: number) => ({ timestamp: t0 + i * 1000 });
    await ada.sendText('Hello <!channel> & welcome', at(0));
    await ada.sendImage({ bytes: photo, mimeType: 'image/jpeg', caption: 'the parcel' }, at(1));
    await ada.sendLocation({ latitude: 51.5, longitude: -0.12, name: 'Depot' }, at(2));
    await ada.sendContacts(
      [{ name: { formatted_name: 'Bob Smith' }, phones: [{ phone: '+44 7700 900456' }] }],
      at(3),
    );
    await ada.sendDocument({ filename: 'invoice.pdf', caption: 'invoice' }, at(4));
    await ada.sendAudio({ voice: true }, at(5));
    await ada.replyWithButton('wamid.business.1', { id: 'yes', title: 'Yes please' }, at(6));
    await ada.sendUnsupported({ ...at(7), type: 'poll' });
    await ada.sendSticker({}, at(8));
    await ada.sendText('last one', at(9));
    await settle(world);

    const thread = await world.thread('447700900123');
    const [root, ...replies] = thread;
    expect(root?.text).toContain('Ada Lovelace');
    expect(JSON.stringify(root?.blocks)).toContain('+44••••••0123');
    expect(JSON.stringify(root?.blocks)).not.toContain('447700900123');
    expect(replies).toHaveLength(10);
    expect(replies[0]?.text).toBe('Hello &lt;!channel&gt; &amp; welcome');
    expect(replies[1]?.files.map((f) => f.sha256)).toEqual([sha256(photo)]);
    expect(replies[1]?.text).toContain('the parcel');
    expect(replies[2]?.text).toContain('https://www.google.com/maps/search/?api=1&query=51.5,-0.12');
    expect(replies[3]?.text).toContain('Bob Smith');
    expect(replies[3]?.text).toContain('+44••••••0456');
    expect(replies[4]?.files[0]?.name).toBe('invoice.pdf');
    expect(replies[5]?.text).toContain('Voice message');
    expect(replies[5]?.files).toHaveLength(1);
    expect(replies[6]?.text).toContain('Chose “Yes please”');
    expect(replies[7]?.text).toContain('WhatsApp did not pass this message on (a poll message)');
    expect(replies[8]?.files).toHaveLength(1);
    expect(replies[9]?.text).toBe('last one');
    expect(await world.bridge.store.listDeadJobs()).toEqual([]);
  });

  it('sorts messages by WhatsApp time even when their webhooks arrive out of order', async () => {
    world = await startWorld({ policies: { reorderWindowMs: 200 } });
    const ada = world.wa.customer({ waId: '447700900124', name: 'Ada' });
    const t0 = Date.now() - 10_000;
    await ada.sendText('second', { timestamp: t0 + 2000 });
    await ada.sendText('first', { timestamp: t0 + 1000 });
    await ada.sendText('third', { timestamp: t0 + 3000 });
    await sleep(250);
    await settle(world);
    expect((await world.thread('447700900124')).slice(1).map((m) => m.text)).toEqual([
      'first',
      'second',
      'third',
    ]);
  });

  it('mirrors a reaction on the reacted message, replaces it, and removes it with the customer', async () => {
    world = await startWorld();
    const ada = world.wa.customer({ waId: '447700900125', name: 'Ada' });
    const wamid = await ada.sendText('Is my order shipped?');
    await settle(world);
    await ada.react(wamid, '👍');
    await settle(world);
    const target = () => world!.thread('447700900125').then((t) => t[1]);
    expect((await target())?.reactions).toEqual([{ name: '+1', users: [world.slack.botUserId] }]);
    await ada.react(wamid, '❤️');
    await settle(world);
    expect((await target())?.reactions.map((r) => r.name)).toEqual(['heart']);
    await ada.removeReaction(wamid);
    await settle(world);
    expect((await target())?.reactions).toEqual([]);
    // Reactions change the reacted message; they add nothing to the thread.
    expect(await world.thread('447700900125')).toHaveLength(2);
  });

  it('updates the card when consent changes and says so in the thread', async () => {
    world = await startWorld();
    const ada = world.wa.customer({ waId: '447700900126', name: 'Ada' });
    await ada.sendText('hi');
    await settle(world);
    const before = (await world.thread('447700900126'))[0];
    expect(JSON.stringify(before?.blocks)).toContain('Opted in');
    await ada.sendText('STOP');
    await settle(world);
    const thread = await world.thread('447700900126');
    expect(JSON.stringify(thread[0]?.blocks)).toContain('Opted out of all messages');
    expect(thread[0]?.edited).toBe(true);
    expect(thread.at(-1)?.text).toContain(
      'opted out of all WhatsApp messages by replying with an opt-out keyword',
    );
  });

  it('shows on the card the link another connector published for the contact, and drops it when withdrawn', async () => {
    // A CRM-like connector next to Slack: it knows nothing of Slack, Slack nothing of it; the
    // link goes through the kit (ctx.links). It withdraws the link when the customer says "forget".
    const crm: ConnectorManifest = {
      id: 'crm',
      displayName: 'CRM',
      configSchema: z.object({}),
      secretFields: [],
      capabilities: { events: ['message.inbound'], inbound: false },
      create: () => ({
        async deliver(event, ctx) {
          if (event.type !== 'message.inbound') return {};
          const contactId = event.contact.id;
          if (event.message.text === 'forget') await ctx.links.withdraw(contactId);
          else
            await ctx.links.publish({
              contactId,
              label: 'CRM record',
              url: `https://crm.test/c/${contactId}`,
            });
          return {};
        },
      }),
    };
    world = await startWorld({ others: [{ manifest: crm, config: {} }] });
    const ada = world.wa.customer({ waId: '447700900127', name: 'Ada' });
    await ada.sendText('hi');
    await settle(world);
    const conversation = await world.bridge.conversationOf('447700900127');
    const url = `https://crm.test/c/${conversation?.contactId}`;
    // The card of the first message may have been posted before the link was: the next one shows it.
    await ada.sendText('are you there?');
    await settle(world);
    const card = JSON.stringify((await world.thread('447700900127'))[0]?.blocks);
    expect(card).toContain(url);
    expect(card).toContain('CRM record');
    await ada.sendText('forget');
    await settle(world);
    await ada.sendText('and now?');
    await settle(world);
    expect(JSON.stringify((await world.thread('447700900127'))[0]?.blocks)).not.toContain(url);
    expect(await world.bridge.store.listDeadJobs()).toEqual([]);
  });

  it('shows a message sent from elsewhere in the thread and follows its statuses to read', async () => {
    world = await startWorld();
    const ada = world.wa.customer({ waId: '447700900127', name: 'Ada' });
    await ada.sendText('hello?');
    await settle(world);
    const conversation = await world.bridge.conversationOf('447700900127');
    await world.bridge.store.recordOutbound({
      commandKey: { source: 'api', key: 'api-1' },
      workspaceId: world.bridge.workspaceId,
      conversationId: conversation!.id,
      message: {
        id: 'msg_api_1',
        type: 'text',
        text: 'Your parcel left the depot',
        content: { text: 'Your parcel left the depot', attachments: [] },
        sender: { via: 'teams', agentId: 'grace', agentName: 'Grace Hopper' },
        relatesTo: null,
        timestamp: Date.now(),
      },
      originRef: null,
    });
    await settle(world, 6);
    const mirror = (await world.thread('447700900127')).at(-1);
    expect(mirror?.username).toBe('Grace Hopper (via teams)');
    expect(mirror?.text).toBe('Your parcel left the depot');
    expect(JSON.stringify(mirror?.blocks)).toContain(':eyes: Read');
    expect(world.wa.sentMessages().filter((m) => m.to === '447700900127')).toHaveLength(1);
  });

  it('shows a customer’s edit on the mirrored message, and a deletion removes its text and file', async () => {
    world = await startWorld();
    const ada = world.wa.customer({ waId: '447700900132', name: 'Ada' });
    const text = await ada.sendText('Pickup at 5pm');
    const photo = await ada.sendImage({ bytes: 'label photo', mimeType: 'image/jpeg', caption: 'the label' });
    await settle(world);
    const fileId = (await world.thread('447700900132'))[2]?.files[0]?.id;
    await ada.editMessage(text, 'Pickup at 6pm');
    await ada.revokeMessage(photo);
    await settle(world);
    const thread = await world.thread('447700900132');
    // Nothing was added to the thread: the two posts changed in place.
    expect(thread).toHaveLength(3);
    expect(thread[1]?.text).toBe('Pickup at 6pm');
    expect(thread[1]?.edited).toBe(true);
    expect(JSON.stringify(thread[1]?.blocks)).toContain('edited <!date^');
    expect(thread[2]?.text).toContain('This message was deleted by the customer.');
    expect(thread[2]?.text).not.toContain('the label');
    expect(world.slack.ledger.count('file.deleted', (e) => e.fileId === fileId)).toBe(1);
    // The archive keeps every version.
    const store = world.bridge.store;
    expect((await store.getMessageByWamid(world.bridge.workspaceId, text))?.text).toBe('Pickup at 5pm');
    expect((await store.listRevisions(world.bridge.workspaceId, text)).map((m) => m.text)).toEqual([
      'Pickup at 6pm',
    ]);
    // A repeated delivery of the edit changes nothing more.
    const updates = world.slack.ledger.count('message.updated');
    await ada.editMessage(text, 'Pickup at 6pm', { deliveries: 2 });
    await settle(world);
    expect((await world.thread('447700900132'))[1]?.text).toBe('Pickup at 6pm');
    expect(world.slack.ledger.count('message.updated') - updates).toBeLessThanOrEqual(2);
  });

  it('a deletion that fails half-way (Slack down after the file went) ends right when retried', async () => {
    world = await startWorld({ backoff: { baseMs: 20, factor: 1, capMs: 20 } });
    const ada = world.wa.customer({ waId: '447700900135', name: 'Ada' });
    const photo = await ada.sendImage({ bytes: 'boarding pass', mimeType: 'image/jpeg', caption: 'my pass' });
    await settle(world);
    const fileId = (await world.thread('447700900135'))[1]?.files[0]?.id;
    await ada.revokeMessage(photo);
    // The file is deleted, then chat.update meets an outage: the job is retried from the start.
    let calls = 0;
    const offCall = world.slack.ledger.subscribe((e) => {
      if (e.kind === 'api.call' && e.method === 'files.delete' && ++calls === 1)
        world?.slack.failNext({ kind: 'unavailable', status: 503 });
    });
    await settle(world, 8);
    offCall();
    const [, post] = await world.thread('447700900135');
    expect(post?.text).toContain('This message was deleted by the customer.');
    expect(post?.text).not.toContain('my pass');
    expect(world.slack.ledger.count('file.deleted', (e) => e.fileId === fileId)).toBe(1);
    expect(
      world.slack.ledger.count('api.call', (e) => e.method === 'chat.update' && e.httpStatus === 503),
    ).toBe(1);
    expect(await world.bridge.store.listDeadJobs()).toEqual([]);
  });

  it('an edit that overtakes its original still ends with the edited text, posted once', async () => {
    world = await startWorld();
    const ada = world.wa.customer({ waId: '447700900133', name: 'Ada' });
    await ada.sendText('hello');
    await settle(world);
    const original = ada.build.text('Meet at the north gate', { timestamp: Date.now() - 5000 });
    await ada.editMessage(original.wamid, 'Meet at the south gate');
    await settle(world);
    await ada.send(original);
    await settle(world);
    const thread = await world.thread('447700900133');
    expect(thread.map((m) => m.text)).toEqual([thread[0]?.text, 'hello', 'Meet at the south gate']);
  });

  it('mirrors what the business sent from the WhatsApp Business app, and never sends it again', async () => {
    world = await startWorld();
    const ada = world.wa.customer({ waId: '447700900134', name: 'Ada' });
    await ada.sendText('Do you have it in blue?');
    await settle(world);
    const echo = await ada.echoFromBusinessApp({ type: 'text', text: { body: 'Yes, in blue and red' } });
    await ada.echoFromBusinessApp({
      type: 'image',
      image: { id: '999000111', mime_type: 'image/jpeg', caption: 'blue one' },
    });
    await settle(world);
    const thread = await world.thread('447700900134');
    expect(thread).toHaveLength(4);
    expect(thread[2]?.text).toContain('Yes, in blue and red');
    expect(JSON.stringify(thread[2]?.blocks)).toContain('Sent from the WhatsApp Business app');
    // The photo is gone at Meta (an unknown media id): the same note every target shows.
    expect(thread[3]?.text).toContain('blue one');
    expect(thread[3]?.text).toContain('no longer available from WhatsApp');
    expect(world.wa.sentMessages().filter((m) => m.to === '447700900134')).toHaveLength(0);
    // The business deletes it in the app: the mirror follows.
    await ada.echoFromBusinessApp({ type: 'revoke', revoke: { original_message_id: echo } });
    await settle(world);
    expect((await world.thread('447700900134'))[2]?.text).toContain('deleted by the business');
    expect(await world.bridge.store.listDeadJobs()).toEqual([]);
  });

  it('finds its own post after a crash between posting and recording it, instead of posting twice', async () => {
    world = await startWorld();
    const ada = world.wa.customer({ waId: '447700900128', name: 'Ada' });
    await ada.sendText('first');
    await settle(world);
    await ada.sendText('posted just before the crash');
    // The process dies right after Slack accepted the post: the ref is never written.
    await postButLoseTheRecord(world, 50, 'process crashed');
    await sleep(80);
    const searches = world.slack.ledger.count('api.call', (e) => e.method === 'conversations.replies');
    await settle(world);
    const texts = (await world.thread('447700900128')).map((m) => m.text);
    expect(texts.filter((t) => t === 'posted just before the crash')).toHaveLength(1);
    expect(world.slack.ledger.count('api.call', (e) => e.method === 'conversations.replies')).toBe(
      searches + 1,
    );
  });

  it('shows the final status on a post whose first attempt timed out and was found by the retry', async () => {
    world = await startWorld();
    const ada = world.wa.customer({ waId: '447700900135', name: 'Ada' });
    await ada.sendText('hello?');
    await settle(world);
    const { bridge } = world;
    const conversation = await bridge.conversationOf('447700900135');
    await bridge.store.recordOutbound({
      commandKey: { source: 'api', key: 'api-timeout' },
      workspaceId: bridge.workspaceId,
      conversationId: conversation!.id,
      message: {
        id: 'msg_api_timeout',
        type: 'text',
        text: 'Your order ships today',
        content: { text: 'Your order ships today', attachments: [] },
        sender: { via: 'api', agentId: null, agentName: null },
        relatesTo: null,
        timestamp: Date.now(),
      },
      originRef: null,
    });
    // The mirror's first attempt: Slack makes the post (rendered as not yet sent), the answer is
    // lost (a timeout), and the job stays leased while WhatsApp's statuses arrive.
    const job = await postButLoseTheRecord(world, 60_000, 'timed out');
    await settle(world, 6);
    expect((await bridge.store.getMessage(bridge.workspaceId, 'msg_api_timeout'))?.state).toBe('read');
    // The retry finds the post by its nonce; the statuses after it must still show "read" on it.
    await bridge.store.retryJob(job.lease, { runAt: 0, error: 'transient: timed out', countAttempt: true });
    await settle(world, 6);
    const mirrors = (await world.thread('447700900135')).filter((m) => m.text === 'Your order ships today');
    expect(mirrors).toHaveLength(1);
    expect(JSON.stringify(mirrors[0]?.blocks)).toContain(':eyes: Read');
    expect(await bridge.store.listDeadJobs()).toEqual([]);
  });

  it('brings a card found by the retry up to date at once, not at the next event', async () => {
    world = await startWorld();
    const ada = world.wa.customer({ waId: '447700900141', name: 'Ada' });
    await ada.sendText('hello?');
    // The first attempt makes the thread's card (the number masked) and loses Slack's answer.
    const job = await postButLoseTheRecord(world, 60_000, 'timed out', 'conversation');
    const { bridge } = world;
    await bridge.store.updateWorkspace(bridge.workspaceId, { policies: { numberMasking: 'none' } });
    await bridge.store.retryJob(job.lease, { runAt: 0, error: 'transient: timed out', countAttempt: true });
    await settle(world);
    const [root, ...replies] = await world.thread('447700900141');
    expect(JSON.stringify(root?.blocks)).not.toContain('••••');
    expect(JSON.stringify(root?.blocks)).toContain('7700900141');
    expect(replies.map((m) => m.text)).toEqual(['hello?']);
    expect(world.slack.ledger.count('api.call', (e) => e.method === 'chat.postMessage')).toBe(2);
  });

  it('shares a file once after a crash between the upload and recording the share', async () => {
    world = await startWorld();
    const ada = world.wa.customer({ waId: '447700900129', name: 'Ada' });
    await ada.sendText('first');
    await settle(world);
    await ada.sendImage({ bytes: 'jpeg bytes', mimeType: 'image/jpeg' });
    await postButLoseTheRecord(world, 50, 'process crashed');
    await sleep(80);
    await settle(world);
    const shares = (await world.thread('447700900129')).filter((m) => m.files.length > 0);
    expect(shares).toHaveLength(1);
    expect(world.slack.ledger.count('file.shared')).toBe(1);
  });

  it('routes conversations by business number, customer prefix or tag, and keeps a thread where it started', async () => {
    world = await startWorld({
      slack: {
        channels: [
          { id: SUPPORT, name: 'support' },
          { id: 'C0UKTEAM01', name: 'uk' },
          { id: 'C0VIPTEAM1', name: 'vip' },
        ],
      },
      config: {
        tags: { vip: ['4477009009'] },
        routes: [
          { tag: 'vip', channel: 'C0VIPTEAM1' },
          { customerPrefix: '+44', channel: 'C0UKTEAM01' },
        ],
      },
    });
    await world.wa.customer({ waId: '447700900999', name: 'VIP' }).sendText('vip');
    await world.wa.customer({ waId: '447700900111', name: 'UK' }).sendText('uk');
    await world.wa.customer({ waId: '15550001111', name: 'US' }).sendText('us');
    await settle(world);
    const channelOf = async (waId: string) => {
      const conversation = await world!.bridge.conversationOf(waId);
      const ref = await world!.bridge.store.getRef(
        world!.bridge.workspaceId,
        'slack',
        'conversation',
        conversation!.id,
      );
      return parseRef(ref?.externalId)?.channel;
    };
    expect(await channelOf('447700900999')).toBe('C0VIPTEAM1');
    expect(await channelOf('447700900111')).toBe('C0UKTEAM01');
    expect(await channelOf('15550001111')).toBe(SUPPORT);
  });

  it('shows on the card when the 24-hour window closes, though nothing else happened', async () => {
    const clock = createClock();
    world = await startWorld({ clock });
    await world.wa.customer({ waId: '447700900130', name: 'Ada' }).sendText('hi', { timestamp: clock.now() });
    await settle(world);
    const card = async () => JSON.stringify((await world!.thread('447700900130'))[0]?.blocks);
    expect(await card()).toContain('Open — closes by');
    const instance = await world.bridge.host.instance(world.bridge.workspaceId, 'slack');
    await instance!.maintain!();
    expect(await card()).toContain('Open — closes by');
    clock.advance(24 * 60 * 60 * 1000 + 60_000);
    await instance!.maintain!();
    expect(await card()).toContain('Closed — only approved templates can be sent');
  });

  it('erases what it mirrored of a conversation and leaves a tombstone card', async () => {
    world = await startWorld();
    const ada = world.wa.customer({ waId: '447700900131', name: 'Ada Lovelace' });
    await ada.sendText('my address is 1 Main St');
    await ada.sendImage({ bytes: 'id card scan', mimeType: 'image/jpeg' });
    await settle(world);
    const [root] = await world.thread('447700900131');
    await world.slack
      .agent({ id: 'U0GRACE001', name: 'Grace' })
      .reply({ channel: root!.channel, threadTs: root!.ts }, '// checking');
    await settle(world);
    const fileId = (await world.thread('447700900131'))[2]?.files[0]?.id;
    // The core's erasure job: delivered with a real job's lease.
    await ada.sendText('one more');
    const { bridge } = world;
    const [job] = await bridge.store.claimJobs({
      limit: 1,
      leaseMs: 5000,
      workerId: 'eraser',
      connectorIds: ['slack'],
    });
    const event = await hydrateEvent(bridge.store, job!, Date.now());
    const instance = await bridge.host.instance(bridge.workspaceId, 'slack');
    const ctx = deliveryContext(bridge.store, job!, new AbortController().signal, silentLogger);
    await instance!.deliver(
      {
        ...event!,
        type: 'conversation.erased',
        erasure: { requestedBy: 'dpo', reason: 'GDPR', at: Date.now() },
      },
      ctx,
    );
    await bridge.store.completeJob(job!.lease, []);
    const thread = world.slack.thread(root!.channel, root!.ts);
    expect(thread.map((m) => m.text)).toEqual(['WhatsApp conversation erased', '// checking']);
    expect(JSON.stringify(thread[0]?.blocks)).toContain('1 reply written by people remain');
    expect(world.slack.ledger.count('file.deleted', (e) => e.fileId === fileId)).toBe(1);
  });
});
