import { afterEach, describe, expect, it } from 'vitest';
import { parseRef } from '../src/index.ts';
import { startWorld, type World } from './world.ts';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const DAY = 24 * 60 * 60 * 1000;

const ORDER_UPDATE = {
  name: 'order_update',
  language: 'en_US',
  category: 'utility' as const,
  body: 'Hi {{1}}, your order {{2}} has news.',
  parameters: 2,
};

let world: World | undefined;
afterEach(async () => {
  await world?.close();
  world = undefined;
});

async function settle(w: World, rounds = 4) {
  for (let i = 0; i < rounds; i++) {
    await w.bridge.worker.drain();
    await w.wa.idle();
    await w.slack.idle();
    await sleep(30);
  }
  await w.bridge.worker.drain();
}

/** A customer who wrote (at `at`), and the Slack thread of the conversation. */
async function conversation(w: World, waId: string, at = Date.now()) {
  await w.wa.customer({ waId, name: 'Ada Lovelace' }).sendText('I need help', { timestamp: at });
  await settle(w);
  const root = (await w.thread(waId))[0];
  if (!root) throw new Error('no thread');
  return { channel: root.channel, threadTs: root.ts };
}

const sentTo = (w: World, waId: string) => w.wa.sentMessages().filter((m) => m.to === waId);

describe('agent replies from Slack to WhatsApp', () => {
  it('sends a thread reply to the customer once, though Slack delivers the event four times', async () => {
    world = await startWorld();
    const thread = await conversation(world, '447700900201');
    const grace = world.slack.agent({ id: 'U0GRACE001', name: 'Grace Hopper' });
    const reply = await grace.reply(
      thread,
      'Your parcel arrives *tomorrow* — see <https://track.example/42|tracking>',
      {
        duplicates: 3,
      },
    );
    await reply.callback.settled;
    await settle(world, 6);
    const attempts = world.slack.ledger.filter('callback.attempt', (e) => e.id === reply.eventId);
    expect(attempts.map((a) => a.retryNum)).toEqual([0, 1, 2, 3]);
    expect(attempts.every((a) => a.status === 200)).toBe(true);
    const sent = sentTo(world, '447700900201');
    expect(sent).toHaveLength(1);
    const accepted = world.wa.ledger.filter('send.accepted', (e) => e.to === '447700900201');
    expect(accepted.map((e) => e.text)).toEqual([
      'Your parcel arrives *tomorrow* — see tracking (https://track.example/42)',
    ]);
    // The agent's message shows its progress as one reaction, now "read".
    const mine = world.slack.message(thread.channel, reply.ts);
    expect(mine?.reactions.map((r) => r.name)).toEqual(['eyes']);
  });

  it('never relays its own posts, uploads and updates that come back as events', async () => {
    world = await startWorld();
    const ada = world.wa.customer({ waId: '447700900202', name: 'Ada' });
    await ada.sendText('one');
    await ada.sendImage({ bytes: 'jpeg', mimeType: 'image/jpeg' });
    await ada.sendText('STOP');
    await ada.sendText('START');
    await settle(world);
    const echoes = world.slack.ledger.filter('callback.attempt', (e) => e.channel === 'event');
    // Posts, the file share and the card's updates all came back as signed events, and were answered.
    expect(echoes.length).toBeGreaterThanOrEqual(7);
    expect(echoes.every((e) => e.status === 200)).toBe(true);
    expect(world.wa.sentMessages()).toEqual([]);
  });

  it('keeps internal notes in Slack: the note prefix and replies that mention a colleague', async () => {
    world = await startWorld();
    const thread = await conversation(world, '447700900203');
    const grace = world.slack.agent({ id: 'U0GRACE001', name: 'Grace' });
    await grace.reply(thread, '// customer is a VIP, be nice');
    await grace.reply(thread, '<@U0BOB0001> can you check the warehouse?');
    await grace.reply(thread, 'Sure, checking now');
    await settle(world, 6);
    expect(world.wa.ledger.filter('send.accepted').map((e) => e.text)).toEqual(['Sure, checking now']);
  });

  it('archives internal notes, their edits and deletions, marked internal, only when the workspace policy says so', async () => {
    const notesOf = (w: World) =>
      w.bridge.store.db.all<{ kind: string; record: Uint8Array }>(
        "SELECT kind, record FROM archive_records WHERE workspace_id = :ws AND kind = 'note' ORDER BY seq",
        { ws: w.bridge.workspaceId },
      );
    // Off (the default): a note stays in Slack only.
    world = await startWorld();
    const off = await conversation(world, '447700900213');
    await world.slack.agent({ id: 'U0GRACE001', name: 'Grace' }).reply(off, '// not for the archive');
    await settle(world, 6);
    expect(notesOf(world)).toEqual([]);
    await world.close();

    world = await startWorld({ policies: { archiveInternalNotes: true } });
    const thread = await conversation(world, '447700900203');
    const grace = world.slack.agent({ id: 'U0GRACE001', name: 'Grace Hopper' });
    const note = await grace.reply(thread, '// customer is a VIP, be nice', { duplicates: 2 });
    await grace.reply(thread, '<@U0BOB0001> can you check the warehouse?');
    await grace.reply(thread, 'Sure, checking now');
    await settle(world, 6);
    await grace.edit(note, '// customer is a VIP since 2019, be nice');
    await grace.delete(note);
    await settle(world, 6);
    // The notes never left: only the reply went to the customer.
    expect(world.wa.ledger.filter('send.accepted').map((e) => e.text)).toEqual(['Sure, checking now']);
    const records = notesOf(world).map(
      (r) => JSON.parse(Buffer.from(r.record).toString('utf8')) as { data: Record<string, unknown> },
    );
    expect(records.map((r) => [r.data.type, r.data.internal, r.data.direction])).toEqual([
      ['note', true, 'internal'],
      ['note', true, 'internal'],
      ['edit', true, 'internal'],
      ['revoke', true, 'internal'],
    ]);
    const [first, , edit, revoke] = records as [
      (typeof records)[0],
      unknown,
      (typeof records)[0],
      (typeof records)[0],
    ];
    expect(first.data.sender).toEqual({
      via: 'slack',
      agentId: 'U0GRACE001',
      agentName: 'Grace Hopper',
    });
    expect(first.data.platform).toEqual({
      thread_id: `${thread.channel}:${thread.threadTs}`,
      message_id: `${note.channel}:${note.ts}`,
    });
    expect([edit.data.relates_to, revoke.data.relates_to]).toEqual([first.data.id, first.data.id]);
    // The text is sealed content, not in the record: opened through the store, it is the note's.
    const seqs = world.bridge.store.db
      .all<{ seq: number }>(
        "SELECT seq FROM archive_records WHERE workspace_id = :ws AND kind = 'note' ORDER BY seq",
        {
          ws: world.bridge.workspaceId,
        },
      )
      .map((r) => r.seq);
    const contents = await world.bridge.store.archiveContent(world.bridge.workspaceId, seqs);
    expect(contents.map((c) => (c.content as { text?: string } | null)?.text ?? null)).toEqual([
      '// customer is a VIP, be nice',
      '<@U0BOB0001> can you check the warehouse?',
      '// customer is a VIP since 2019, be nice',
      null,
    ]);
  });

  it('in explicit mode sends only replies with the send prefix, without it', async () => {
    world = await startWorld({ config: { sendMode: 'explicit', sendPrefix: '>>' } });
    const thread = await conversation(world, '447700900204');
    const grace = world.slack.agent({ id: 'U0GRACE001', name: 'Grace' });
    await grace.reply(thread, 'thinking out loud here');
    await grace.reply(thread, '>> Hello Ada, we are on it');
    await settle(world, 6);
    expect(world.wa.ledger.filter('send.accepted').map((e) => e.text)).toEqual(['Hello Ada, we are on it']);
  });

  it('sends files an agent attaches as WhatsApp media', async () => {
    world = await startWorld();
    const thread = await conversation(world, '447700900205');
    const grace = world.slack.agent({ id: 'U0GRACE001', name: 'Grace' });
    await grace.reply(thread, 'Here is your invoice', {
      files: [{ name: 'invoice.pdf', bytes: '%PDF-1.4 invoice', mimeType: 'application/pdf' }],
    });
    await settle(world, 6);
    const accepted = world.wa.ledger.filter('send.accepted', (e) => e.to === '447700900205');
    expect(accepted.map((e) => e.type)).toEqual(['text', 'document']);
    expect(accepted[1]?.media?.filename).toBe('invoice.pdf');
    expect(
      world.wa.ledger.filter('media.uploaded', (e) => e.source === 'business').map((e) => e.fileSize),
    ).toEqual([16]);
  });

  it('does not send to an opted-out customer: a notice in the thread and a mark on the reply', async () => {
    world = await startWorld();
    const ada = world.wa.customer({ waId: '447700900206', name: 'Ada Lovelace' });
    await ada.sendText('hello');
    await ada.sendText('STOP');
    await settle(world);
    const root = (await world.thread('447700900206'))[0]!;
    const grace = world.slack.agent({ id: 'U0GRACE001', name: 'Grace' });
    const reply = await grace.reply({ channel: root.channel, threadTs: root.ts }, 'Are you still there?');
    await settle(world);
    expect(sentTo(world, '447700900206')).toEqual([]);
    const notice = (await world.thread('447700900206')).at(-1);
    expect(notice?.text).toContain(
      'Not sent: Ada Lovelace opted out of WhatsApp messages by replying with an opt-out keyword',
    );
    expect(world.slack.message(root.channel, reply.ts)?.reactions.map((r) => r.name)).toEqual([
      'no_entry_sign',
    ]);
  });

  it('does not send outside the 24-hour window; a template picked in Slack goes out with its parameters', async () => {
    world = await startWorld({ policies: { templates: [ORDER_UPDATE] } });
    world.wa.addTemplate({
      name: 'order_update',
      language: 'en_US',
      category: 'UTILITY',
      body: ORDER_UPDATE.body,
    });
    const thread = await conversation(world, '447700900207', Date.now() - 2 * DAY);
    const grace = world.slack.agent({ id: 'U0GRACE001', name: 'Grace' });
    await grace.reply(thread, 'Hello again!');
    await settle(world);
    expect(sentTo(world, '447700900207')).toEqual([]);
    const notice = (await world.thread('447700900207')).at(-1)!;
    expect(notice.text).toContain('Not sent: the 24-hour customer service window closed');
    expect(JSON.stringify(notice.blocks)).toContain('order_update|en_US|2');

    const pick = await grace.chooseOption(
      { channel: notice.channel, ts: notice.ts },
      'wabridge_template',
      'order_update|en_US|2',
    );
    expect(pick.status).toBe(200);
    const opened = world.slack.ledger.last('view.opened');
    expect(opened?.triggerId).toBe(pick.triggerId);
    // A missing parameter is refused on its field; the modal stays open.
    const incomplete = await grace.submitView(opened!.viewId, { param_1: 'Ada' });
    expect(incomplete.body).toEqual({
      response_action: 'errors',
      errors: { param_2: 'Required by the template' },
    });
    const submitted = await grace.submitView(opened!.viewId, { param_1: 'Ada', param_2: '#1042' });
    expect(submitted.status).toBe(200);
    await settle(world, 6);
    const sent = world.wa.ledger.filter('send.accepted', (e) => e.to === '447700900207');
    expect(sent.map((e) => e.template?.params)).toEqual([['Ada', '#1042']]);
    expect(sent[0]?.template?.rendered).toBe('Hi Ada, your order #1042 has news.');
    // The template shows in the thread like any message sent to the customer.
    const mirrored = (await world.thread('447700900207')).at(-1);
    expect(mirrored?.text).toContain('Hi Ada, your order #1042 has news.');
  });

  it('sends a template named in the slash command to the thread it links', async () => {
    world = await startWorld({ policies: { templates: [ORDER_UPDATE] } });
    world.wa.addTemplate({
      name: 'order_update',
      language: 'en_US',
      category: 'UTILITY',
      body: ORDER_UPDATE.body,
    });
    const thread = await conversation(world, '447700900208', Date.now() - 2 * DAY);
    const grace = world.slack.agent({ id: 'U0GRACE001', name: 'Grace' });
    const link = `https://wabridge-sandbox.slack.com/archives/${thread.channel}/p${thread.threadTs.replace('.', '')}`;
    const answer = await grace.slashCommand('/whatsapp', `template ${link} order_update en_US | Ada | #7`, {
      channel: thread.channel,
    });
    expect(answer.body).toMatchObject({ response_type: 'ephemeral' });
    expect(String((answer.body as { text: string }).text)).toContain('Sending template *order_update*');
    const wrong = await grace.slashCommand(
      '/whatsapp',
      'template C0NOPE0001:1700000000.000100 order_update en_US | a | b',
      {
        channel: thread.channel,
      },
    );
    expect(String((wrong.body as { text: string }).text)).toContain('not a WhatsApp conversation');
    await settle(world, 6);
    expect(
      world.wa.ledger.filter('send.accepted', (e) => e.to === '447700900208').map((e) => e.template?.params),
    ).toEqual([['Ada', '#7']]);
  });

  it('answers an edit or a deletion of a sent reply with a notice instead of dropping it', async () => {
    world = await startWorld();
    const thread = await conversation(world, '447700900209');
    const grace = world.slack.agent({ id: 'U0GRACE001', name: 'Grace' });
    const reply = await grace.reply(thread, 'Your refund is 10 EUR');
    await settle(world);
    await grace.edit(reply, 'Your refund is 100 EUR');
    await settle(world);
    expect((await world.thread('447700900209')).at(-1)?.text).toContain(
      'WhatsApp cannot edit a message already sent',
    );
    await grace.delete(reply);
    await settle(world);
    expect((await world.thread('447700900209')).at(-1)?.text).toContain(
      'WhatsApp cannot delete a message for the customer',
    );
    expect(sentTo(world, '447700900209')).toHaveLength(1);
  });

  it('tells the agent why WhatsApp failed a reply it had accepted', async () => {
    world = await startWorld();
    const thread = await conversation(world, '447700900210');
    world.wa.failNext({ code: 131026, asStatus: true });
    const grace = world.slack.agent({ id: 'U0GRACE001', name: 'Grace' });
    const reply = await grace.reply(thread, 'Hello?');
    await settle(world, 6);
    expect(world.slack.message(thread.channel, reply.ts)?.reactions.map((r) => r.name)).toEqual(['x']);
    const explanation = (await world.thread('447700900210')).at(-1);
    expect(explanation?.text).toContain('your reply was not delivered');
    expect(parseRef(`${thread.channel}:${reply.ts}`)).not.toBeNull();
  });
});
