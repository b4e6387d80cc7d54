import { type DomainEvent, deliveryContext, hydrateEvent, silentLogger, WabridgeError } from '@wabridge/core';
import { plainText } from '@wabridge/sandbox/graph';
import { afterEach, describe, expect, it } from 'vitest';
import { type Rig, startRig } from './support.ts';

let rig: Rig | null = null;
afterEach(async () => {
  await rig?.close();
  rig = null;
});

const cardOf = (message: { attachments: Array<{ content?: string | null }> }) =>
  JSON.parse(message.attachments[0]?.content ?? '{}') as { body: Array<Record<string, unknown>> };

describe('mirroring WhatsApp into Teams', () => {
  it('gives each conversation one thread whose card shows the contact, the masked number, consent and the window', async () => {
    rig = await startRig();
    const { bridge, graph } = rig;
    for (let i = 0; i < 3; i++) {
      await bridge.customerText(`hello ${i}`, { waId: '15550001111', name: 'Ada Lovelace' });
      await bridge.customerText(`hi ${i}`, { waId: '15550002222', name: 'Alan Turing' });
    }
    await bridge.worker.drain();
    const roots = graph.roots();
    expect(roots).toHaveLength(2);
    const ada = await rig.root((await rig.conversation('15550001111')).id);
    const root = graph.message(ada);
    expect(root?.subject).toBe('WhatsApp · Ada Lovelace');
    const facts = cardOf(root as never).body.find((b) => b.type === 'FactSet') as {
      facts: Array<{ title: string; value: string }>;
    };
    const fact = (title: string) => facts.facts.find((f) => f.title === title)?.value;
    expect(fact('Contact')).toBe('Ada Lovelace');
    expect(fact('WhatsApp')).toBe('+15•••••1111');
    expect(fact('Consent')).toBe('Opted in');
    expect(fact('Reply window')).toMatch(/^Open until /);
    expect(graph.replies(ada).map((m) => plainText(m.body))).toEqual(['hello 0', 'hello 1', 'hello 2']);
  });

  it('escapes customer text: no HTML, mention, link or card markdown can be injected', async () => {
    rig = await startRig();
    const { bridge, graph } = rig;
    const text =
      '<script>alert(1)</script><at id="0">Everyone</at> <a href="https://evil.example">x</a> & more';
    await bridge.customerText(text, { waId: '15550003333', name: '*Bold* [click](https://evil.example)' });
    await bridge.worker.drain();
    const rootId = await rig.root((await rig.conversation('15550003333')).id);
    const [reply] = graph.replies(rootId);
    expect(reply?.body.content).not.toMatch(/<script|<at |<a href/);
    expect(reply?.body.content).toContain('&lt;script&gt;alert(1)&lt;/script&gt;&lt;at id=&quot;0&quot;&gt;');
    expect(plainText(reply?.body ?? { contentType: 'html', content: '' })).toBe(text);
    const card = graph.message(rootId)?.attachments[0]?.content ?? '';
    expect(card).toContain('\\\\*Bold\\\\* \\\\[click\\\\]\\\\(https://evil.example\\\\)');
  });

  it('splits a message over the size limit into ordered parts that each fit', async () => {
    rig = await startRig({ config: { maxMessageBytes: 2048 }, graph: { limits: { maxMessageBytes: 2048 } } });
    const { bridge, graph } = rig;
    const words = Array.from({ length: 700 }, (_, i) => `w${i}<&>`);
    const text = words.join(' ');
    await bridge.customerText(text, { waId: '15550004444' });
    await bridge.worker.drain();
    const rootId = await rig.root((await rig.conversation('15550004444')).id);
    const parts = graph.replies(rootId);
    expect(parts.length).toBeGreaterThanOrEqual(3);
    for (const part of graph.ledger.filter('message.created', (e) => e.replyToId === rootId))
      expect(part.bytes).toBeLessThanOrEqual(2048);
    expect(parts.map((p) => plainText(p.body)).join(' ')).toBe(text);
    expect(graph.ledger.count('message.rejected')).toBe(0);
    expect(await bridge.store.listDeadJobs()).toEqual([]);
  });

  it('shows every content type readably, with shared numbers masked like everywhere else', async () => {
    rig = await startRig();
    const { bridge, graph } = rig;
    const customer = { waId: '15550007777', name: 'Sheena' };
    await bridge.customerMessage(
      {
        type: 'contacts',
        contacts: [
          {
            name: { formatted_name: 'Lucía Gómez' },
            phones: [{ phone: '+1 (983) 555-2319', type: 'MOBILE' }],
          },
        ],
      },
      customer,
    );
    await bridge.customerMessage(
      {
        type: 'interactive',
        interactive: { type: 'button_reply', button_reply: { id: 'change', title: 'Change' } },
      },
      customer,
    );
    await bridge.customerMessage({ type: 'request_welcome' }, customer);
    await bridge.customerMessage(
      {
        type: 'order',
        order: {
          catalog_id: '194836987003835',
          product_items: [
            { product_retailer_id: 'di9ozbzfi4', quantity: 2, item_price: 30, currency: 'USD' },
            { product_retailer_id: 'nqryix03ez', quantity: 1, item_price: 25, currency: 'USD' },
          ],
        },
      },
      customer,
    );
    await bridge.customerMessage(
      {
        type: 'location',
        location: {
          latitude: 37.48,
          longitude: -122.14,
          name: 'Meta HQ',
          address: '1 Hacker Way',
          url: 'https://meta.com',
        },
      },
      customer,
    );
    await bridge.worker.drain();
    const rootId = await rig.root((await rig.conversation('15550007777')).id);
    const texts = graph.replies(rootId).map((m) => plainText(m.body));
    expect(texts[0]).toContain('Lucía Gómez · +19•••••2319 (mobile)');
    expect(texts.join('\n')).not.toContain('555-2319');
    expect(texts[1]).toContain('Chose “Change”');
    expect(texts[2]).toContain('Opened the chat for the first time');
    expect(texts[3]).toContain('2 × di9ozbzfi4 at 30 USD = 60 USD');
    expect(texts[3]).toContain('Total: 85 USD');
    expect(texts[4]).toContain('Location: Meta HQ');
    expect(texts[4]).toContain('Address: 1 Hacker Way');
    expect(graph.replies(rootId)[4]?.body.content).toContain('href="https://meta.com"');
    for (const text of texts) expect(text).not.toMatch(/cannot show|^\s*$/);
  });

  it('updates the mirrored post in place for an edit and a deletion, without adding to the thread', async () => {
    rig = await startRig();
    const { bridge, graph } = rig;
    const customer = { waId: '15550008888', name: 'Sheena' };
    const wamid = await bridge.customerText('See you at 5', customer);
    const photo = await bridge.customerMessage(
      { type: 'image', image: { id: 'm1', caption: 'my receipt' } },
      customer,
    );
    await bridge.worker.drain();
    await bridge.customerMessage(
      {
        type: 'edit',
        edit: { original_message_id: wamid, message: { type: 'text', text: { body: 'See you at 6' } } },
      },
      customer,
    );
    await bridge.customerMessage({ type: 'revoke', revoke: { original_message_id: photo } }, customer);
    await bridge.worker.drain();
    const rootId = await rig.root((await rig.conversation('15550008888')).id);
    const replies = graph.replies(rootId);
    expect(replies).toHaveLength(2);
    expect(plainText(replies[0]!.body)).toBe('See you at 6');
    expect(replies[0]?.lastEditedDateTime).toBeTruthy();
    expect(replies[0]?.attachments[0]?.content).toContain('edited');
    expect(plainText(replies[1]!.body)).toContain('This message was deleted by the customer.');
    expect(replies[1]?.body.content).not.toContain('my receipt');
    expect(replies[1]?.body.content).not.toContain('/media/');
    expect(graph.ledger.count('message.created', (e) => e.replyToId === rootId)).toBe(2);
  });

  it('shows what the business sent from the WhatsApp Business app as sent from there', async () => {
    rig = await startRig();
    const { bridge, graph } = rig;
    await bridge.customerText('Is it in stock?', { waId: '15550009999' });
    await bridge.businessEcho('Yes, two left', '15550009999');
    await bridge.worker.drain();
    const rootId = await rig.root((await rig.conversation('15550009999')).id);
    const [, echo] = graph.replies(rootId);
    expect(plainText(echo!.body)).toBe('Yes, two left');
    expect(echo?.attachments[0]?.content).toContain('Sent from the WhatsApp Business app');
  });

  it('posts a message the business sent elsewhere after a first attempt Graph refused', async () => {
    rig = await startRig();
    const { bridge, graph } = rig;
    await bridge.customerText('Is it in stock?', { waId: '15550009998' });
    await bridge.worker.drain();
    // The first post of the echo leaves a pending marker, then fails: the retry must still post it
    // (the marker is ours, not an agent's reply that the thread already shows).
    graph.failNext({ status: 503 });
    await bridge.businessEcho('Yes, two left', '15550009998');
    await rig.settle();
    const rootId = await rig.root((await rig.conversation('15550009998')).id);
    expect(graph.replies(rootId).map((m) => plainText(m.body))).toEqual(['Is it in stock?', 'Yes, two left']);
    const [, echo] = await bridge.store.listMessages(
      bridge.workspaceId,
      (await rig.conversation('15550009998')).id,
    );
    const ref = await bridge.store.getRef(bridge.workspaceId, 'teams', 'message', echo!.id);
    expect(ref?.data).toMatchObject({ mirror: true });
  });

  it('says the file is no longer available from WhatsApp instead of linking a file that is gone', async () => {
    rig = await startRig({
      media: {
        fetch: async () => {
          throw new WabridgeError('permanent', 'WhatsApp Cloud API: Unsupported get request (code 100)');
        },
        url: (id) => `http://gateway.test/media/test/${id}`,
      },
    });
    const { bridge, graph } = rig;
    await bridge.customerMessage(
      { type: 'document', document: { id: 'gone', filename: 'invoice.pdf' } },
      { waId: '15550001212' },
    );
    await bridge.worker.drain();
    const rootId = await rig.root((await rig.conversation('15550001212')).id);
    const [reply] = graph.replies(rootId);
    expect(plainText(reply!.body)).toContain('invoice.pdf');
    expect(plainText(reply!.body)).toContain('This file is no longer available from WhatsApp');
    expect(reply?.body.content).not.toContain('/media/');
    expect(await bridge.store.listDeadJobs()).toEqual([]);
  });

  it('links media through the gateway media endpoint', async () => {
    rig = await startRig();
    const { bridge, graph } = rig;
    await bridge.customerMessage(
      {
        type: 'image',
        image: { id: 'media-1', mime_type: 'image/jpeg', sha256: 'x', caption: 'the receipt' },
      },
      { waId: '15550005555' },
    );
    await bridge.worker.drain();
    const conversation = await rig.conversation('15550005555');
    const [reply] = graph.replies(await rig.root(conversation.id));
    const [message] = await bridge.store.listMessages(bridge.workspaceId, conversation.id);
    expect(reply?.body.content).toContain(`href="http://gateway.test/media/test/${message?.id}"`);
    expect(plainText(reply?.body ?? { contentType: 'html', content: '' })).toContain('the receipt');
  });

  it('finds a reply whose response was lost by its nonce instead of posting it twice', async () => {
    rig = await startRig();
    const { bridge, graph } = rig;
    await bridge.customerText('first', { waId: '15550006666' });
    await bridge.worker.drain();
    // Graph creates the reply, but the answer never reaches us (a 504 from a proxy on the way back).
    graph.failNext({ status: 504, afterEffect: true });
    await bridge.customerText('second', { waId: '15550006666' });
    await rig.settle();
    const rootId = await rig.root((await rig.conversation('15550006666')).id);
    expect(graph.replies(rootId).map((m) => plainText(m.body))).toEqual(['first', 'second']);
    expect(graph.ledger.count('message.created', (e) => e.text === 'second')).toBe(1);
  });

  it('finds a thread whose creation answer was lost instead of opening a second one', async () => {
    rig = await startRig();
    const { bridge, graph } = rig;
    graph.failNext({ status: 504, afterEffect: true });
    await bridge.customerText('opening line', { waId: '15550007777' });
    await rig.settle();
    expect(graph.roots()).toHaveLength(1);
    const rootId = await rig.root((await rig.conversation('15550007777')).id);
    expect(graph.replies(rootId).map((m) => plainText(m.body))).toEqual(['opening line']);
  });

  it('updates the card and says so in the thread when the customer opts out', async () => {
    rig = await startRig();
    const { bridge, graph } = rig;
    await bridge.customerText('hello', { waId: '15550008888', name: 'Grace' });
    await bridge.customerText('STOP', { waId: '15550008888', name: 'Grace' });
    await bridge.worker.drain();
    const rootId = await rig.root((await rig.conversation('15550008888')).id);
    const facts = cardOf(graph.message(rootId) as never).body.find((b) => b.type === 'FactSet') as {
      facts: Array<{ title: string; value: string }>;
    };
    expect(facts.facts.find((f) => f.title === 'Consent')?.value).toMatch(
      /^Opted out of all messages \\\(keyword\\\)/,
    );
    const texts = graph.replies(rootId).map((m) => plainText(m.body));
    // The kit's words, as in the Slack thread and the core's notices.
    expect(texts).toContain(
      '🔕 Grace opted out of all WhatsApp messages by replying with an opt-out keyword. Replies from this thread will not be sent.',
    );
  });

  it('on erasure, turns the card into an erasure notice and deletes every post of ours in the thread', async () => {
    rig = await startRig();
    const { bridge, graph } = rig;
    await bridge.customerText('my address is 1 Main St', { waId: '15550009999', name: 'Erin' });
    await bridge.customerText('and my card ends 4242', { waId: '15550009999', name: 'Erin' });
    await bridge.worker.drain();
    const conversation = await rig.conversation('15550009999');
    const rootId = await rig.root(conversation.id);
    const human = graph.agentReply({ rootId, text: 'noted' });
    // The erasure job: what the queue hands the connector once the conversation is erased.
    await bridge.customerText('one more', { waId: '15550009999', name: 'Erin' });
    const [job] = await bridge.store.claimJobs({
      limit: 1,
      leaseMs: 10_000,
      workerId: 'test',
      connectorIds: ['teams'],
    });
    if (!job) throw new Error('expected a job');
    const base = (await hydrateEvent(bridge.store, job, Date.now())) as DomainEvent;
    const erasedAt = Date.now();
    const event: DomainEvent = {
      ...base,
      type: 'conversation.erased',
      conversation: { ...base.conversation, erasedAt },
      erasure: { requestedBy: 'dpo', reason: 'GDPR request', at: erasedAt },
    } as DomainEvent;
    const instance = await rig.instance();
    await instance.deliver(
      event,
      deliveryContext(bridge.store, job, new AbortController().signal, silentLogger),
    );
    const root = graph.message(rootId);
    expect(root?.subject).toBe('WhatsApp conversation (erased)');
    expect(root?.attachments[0]?.content).not.toContain('Erin');
    const replies = graph.replies(rootId);
    expect(
      replies
        .filter((m) => m.postedBy === 'bridge')
        .every((m) => m.deletedDateTime !== null && m.body.content === ''),
    ).toBe(true);
    // What people wrote stays theirs: only the sender can delete it.
    expect(graph.message(human.id)?.deletedDateTime).toBeNull();
  });
});
