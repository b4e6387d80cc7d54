import { describe, expect, it } from 'vitest';
import type { Customer } from './customer.ts';
import type { InboundMessage, WebhookPayload } from './payloads.ts';
import { APP_SECRET, harness, helloWorld, PHONE, text } from './testing.ts';
import { verifyWebhookSignature } from './wire.ts';

const ALICE = '16505551234';
const BSUID = 'US.13491208655302741918';

const valueIn = (payload: WebhookPayload | undefined) => payload?.entry[0]?.changes[0]?.value ?? {};
const messagesOf = (payload: WebhookPayload | undefined) =>
  (valueIn(payload).messages ?? []) as InboundMessage[];

describe('simulated customer', () => {
  it('every inbound message type produces a signed, spec-valid webhook of that type', async () => {
    await using h = await harness();
    const alice = h.wa.customer({ waId: ALICE, name: 'Alice' });
    const business = (await h.send(helloWorld(ALICE))).json.messages[0].id as string;
    const sends: Array<[string, (c: Customer) => Promise<string>, (m: InboundMessage) => void]> = [
      [
        'text',
        (c) => c.sendText('Does it come in blue?'),
        (m) => expect(m.text).toEqual({ body: 'Does it come in blue?' }),
      ],
      [
        'text',
        (c) => c.sendText('quoting you', { replyTo: business, forwarded: true }),
        (m) => expect(m.context).toEqual({ from: PHONE.displayPhoneNumber, id: business, forwarded: true }),
      ],
      [
        'text',
        (c) =>
          c.sendText('from an ad', {
            referral: {
              source_url: 'https://fb.me/x',
              source_id: '1',
              source_type: 'ad',
              headline: 'h',
              body: 'b',
              media_type: 'image',
              image_url: 'https://example.com/i.jpg',
              ctwa_clid: 'clid',
            },
          }),
        (m) => expect(m.referral).toMatchObject({ source_type: 'ad', ctwa_clid: 'clid' }),
      ],
      [
        'image',
        (c) => c.sendImage({ caption: 'receipt' }),
        (m) => expect(m.image).toMatchObject({ caption: 'receipt', mime_type: 'image/jpeg' }),
      ],
      ['video', (c) => c.sendVideo(), (m) => expect(m.video).toMatchObject({ mime_type: 'video/mp4' })],
      [
        'audio',
        (c) => c.sendAudio(),
        (m) => expect(m.audio).toMatchObject({ mime_type: 'audio/ogg', voice: true }),
      ],
      [
        'document',
        (c) => c.sendDocument({ filename: 'a.pdf' }),
        (m) => expect(m.document).toMatchObject({ filename: 'a.pdf' }),
      ],
      [
        'sticker',
        (c) => c.sendSticker({ animated: true }),
        (m) => expect(m.sticker).toMatchObject({ mime_type: 'image/webp', animated: true }),
      ],
      [
        'location',
        (c) => c.sendLocation({ latitude: 37.44, longitude: -122.16 }),
        (m) => expect(m.location).toEqual({ latitude: 37.44, longitude: -122.16 }),
      ],
      [
        'location',
        (c) =>
          c.sendLocation({
            latitude: 1,
            longitude: 2,
            name: 'Philz',
            address: '101 Forest Ave',
            url: 'https://philz.example',
          }),
        (m) => expect(m.location).toMatchObject({ name: 'Philz' }),
      ],
      [
        'contacts',
        (c) =>
          c.sendContacts([
            {
              name: { formatted_name: 'Lucía Gómez', first_name: 'Lucía' },
              phones: [{ phone: '+1 983 555 2319', wa_id: '19835552319', type: 'MOBILE' }],
            },
          ]),
        (m) => expect(m.contacts).toHaveLength(1),
      ],
      [
        'interactive',
        (c) => c.replyWithButton(business, { id: 'cancel', title: 'Cancel' }),
        (m) => {
          expect(m.interactive).toEqual({
            type: 'button_reply',
            button_reply: { id: 'cancel', title: 'Cancel' },
          });
          expect(m.context).toEqual({ from: PHONE.displayPhoneNumber, id: business });
        },
      ],
      [
        'interactive',
        (c) => c.replyWithListItem(business, { id: 'express', title: 'Express', description: 'Next day' }),
        (m) =>
          expect(m.interactive).toEqual({
            type: 'list_reply',
            list_reply: { id: 'express', title: 'Express', description: 'Next day' },
          }),
      ],
      [
        'button',
        (c) => c.tapTemplateButton(business, { payload: 'STOP', text: 'Stop promotions' }),
        (m) => expect(m.button).toEqual({ payload: 'STOP', text: 'Stop promotions' }),
      ],
      [
        'reaction',
        (c) => c.react(business, '👍'),
        (m) => expect(m.reaction).toEqual({ message_id: business, emoji: '👍' }),
      ],
      [
        'reaction',
        (c) => c.removeReaction(business),
        (m) => expect(m.reaction).toEqual({ message_id: business }),
      ],
      [
        'order',
        (c) =>
          c.sendOrder({
            catalogId: '194836987003835',
            items: [{ productRetailerId: 'sku1', quantity: 2, itemPrice: 30, currency: 'USD' }],
          }),
        (m) =>
          expect(m.order).toEqual({
            catalog_id: '194836987003835',
            text: '',
            product_items: [{ product_retailer_id: 'sku1', quantity: 2, item_price: 30, currency: 'USD' }],
          }),
      ],
      [
        'unsupported',
        (c) => c.sendUnsupported({ type: 'edit' }),
        (m) => {
          expect(m.errors).toEqual([
            expect.objectContaining({ code: 131051, title: 'Message type unknown' }),
          ]);
          expect(m.unsupported).toEqual({ type: 'edit' });
        },
      ],
      ['request_welcome', (c) => c.requestWelcome(), () => {}],
    ];
    const before = h.receiver.requests.length;
    for (const [type, send, check] of sends) {
      const index = h.receiver.requests.length;
      const wamid = await send(alice);
      const request = h.receiver.requests.slice(index).find((r) => r.text.includes(wamid));
      expect(request, type).toBeDefined();
      expect(
        verifyWebhookSignature(
          APP_SECRET,
          request?.bytes ?? new Uint8Array(),
          request?.headers['x-hub-signature-256'],
        ),
      ).toBe(true);
      const payload = JSON.parse(request?.text ?? '{}') as WebhookPayload;
      expect(h.wa.spec.validateSchema('WebhookPayload', payload), type).toEqual({ ok: true, errors: [] });
      const [message] = messagesOf(payload);
      expect(message).toMatchObject({
        from: ALICE,
        id: wamid,
        type,
        timestamp: expect.stringMatching(/^\d+$/),
      });
      expect(valueIn(payload).contacts).toEqual([{ profile: { name: 'Alice' }, wa_id: ALICE }]);
      if (message !== undefined) check(message);
    }
    expect(h.receiver.requests.length).toBeGreaterThan(before);
    expect(h.wa.ledger.count('inbound.message')).toBe(sends.length);
  });

  it('system messages travel without contacts and change the customer’s identity', async () => {
    await using h = await harness();
    const alice = h.wa.customer({ waId: ALICE, userId: BSUID, name: 'Alice' });
    const wamid = await alice.changeNumber('+1 219 555 5358');
    const payload = h.payloads().find((p) => JSON.stringify(p).includes(wamid));
    expect(h.wa.spec.validateSchema('WebhookPayload', payload)).toEqual({ ok: true, errors: [] });
    expect(valueIn(payload).contacts).toBeUndefined();
    expect(messagesOf(payload)[0]).toMatchObject({
      from: ALICE,
      type: 'system',
      system: {
        type: 'user_changed_number',
        wa_id: '12195555358',
        body: `User Alice changed from ${ALICE} to 12195555358`,
        previous_user_id: BSUID,
      },
    });
    expect(alice.waId).toBe('12195555358');
    // The business now reaches her at the new number, in the same conversation (window still open).
    const response = await h.send(text('12195555358'));
    expect(response.json.contacts[0].wa_id).toBe('12195555358');

    const changed = await alice.changeUserId('US.99999999999999999999', { parentUserId: 'US.ENT.1234' });
    const second = h.payloads().find((p) => JSON.stringify(p).includes(changed));
    expect(h.wa.spec.validateSchema('WebhookPayload', second)).toEqual({ ok: true, errors: [] });
    expect(messagesOf(second)[0]?.system).toMatchObject({
      type: 'user_changed_user_id',
      user_id: 'US.99999999999999999999',
      parent_user_id: 'US.ENT.1234',
      previous_user_id: BSUID,
    });
    // A BSUID change names no phone number (Meta's system messages reference).
    expect(messagesOf(second)[0]?.from).toBeUndefined();
    expect(alice.userId).toBe('US.99999999999999999999');
    expect(h.wa.ledger.filter('customer.changed').map((e) => e.change)).toEqual(['number', 'user_id']);
    await expect(alice.batch((m) => [m.changeNumber('1'), m.text('x')])).rejects.toThrow(TypeError);
  });

  it('edits, deletions and the business’s own messages from the WhatsApp Business app arrive as Meta sends them', async () => {
    await using h = await harness();
    const alice = h.wa.customer({ waId: ALICE, name: 'Alice' });
    const original = await alice.sendText('Helo');
    const edit = await alice.editMessage(original, 'Hello');
    const revoke = await alice.revokeMessage(original);
    const of = (wamid: string) => messagesOf(h.payloads().find((p) => JSON.stringify(p).includes(wamid)))[0];
    expect(of(edit)).toMatchObject({
      from: ALICE,
      type: 'edit',
      edit: { original_message_id: original, message: { type: 'text', text: { body: 'Hello' } } },
    });
    expect(of(revoke)).toMatchObject({ type: 'revoke', revoke: { original_message_id: original } });
    const echo = await alice.echoFromBusinessApp({ type: 'text', text: { body: 'We open at 9' } });
    const payload = h.payloads().find((p) => JSON.stringify(p).includes(echo));
    const change = payload?.entry[0]?.changes[0];
    expect(change?.field).toBe('smb_message_echoes');
    expect(change?.value.message_echoes).toEqual([
      {
        from: '15550783881',
        to: ALICE,
        id: echo,
        timestamp: expect.stringMatching(/^\d+$/),
        type: 'text',
        text: { body: 'We open at 9' },
      },
    ]);
    expect(h.wa.ledger.filter('inbound.echo').map((e) => e.wamid)).toEqual([echo]);
  });

  it('a BSUID-only customer has no from/wa_id, and statuses to it carry recipient_user_id', async () => {
    await using h = await harness();
    const al = h.wa.customer({ userId: BSUID, parentUserId: 'US.ENT.777', username: 'al.cool', name: 'Al' });
    expect(al.id).toBe(BSUID);
    await al.sendText('hi, no number here');
    const payload = h.payloads()[0];
    expect(h.wa.spec.validateSchema('WebhookPayload', payload)).toEqual({ ok: true, errors: [] });
    const [message] = messagesOf(payload);
    expect(message?.from).toBeUndefined();
    expect(message).toMatchObject({ from_user_id: BSUID, from_parent_user_id: 'US.ENT.777' });
    expect(valueIn(payload).contacts).toEqual([
      { profile: { name: 'Al', username: 'al.cool' }, user_id: BSUID, parent_user_id: 'US.ENT.777' },
    ]);
    await h.send(text(BSUID));
    await h.wa.idle();
    const [status] = h.statuses();
    expect(status).toMatchObject({ status: 'sent', recipient_user_id: BSUID });
    expect(status?.recipient_id).toBeUndefined();
    for (const p of h.payloads()) expect(h.wa.spec.validateSchema('WebhookPayload', p).ok).toBe(true);
  });

  it('batches several messages in one POST', async () => {
    await using h = await harness();
    const alice = h.wa.customer({ waId: ALICE, name: 'Alice' });
    const wamids = await alice.batch((m) => [
      m.text('one'),
      m.image({ caption: 'two' }),
      m.location({ latitude: 1, longitude: 2 }),
    ]);
    expect(h.receiver.requests).toHaveLength(1);
    const payload = h.payloads()[0];
    expect(messagesOf(payload).map((m) => m.id)).toEqual(wamids);
    expect(h.wa.spec.validateSchema('WebhookPayload', payload).ok).toBe(true);
  });

  it('re-delivers the same webhook N times, one after the other or concurrently, recording one message', async () => {
    await using h = await harness();
    const alice = h.wa.customer({ waId: ALICE, name: 'Alice' });
    const sequential = await alice.sendText('dup', { deliveries: 2 });
    const concurrent = await alice.sendText('dup too', { deliveries: 3, concurrent: true });
    const bodiesFor = (wamid: string) => h.receiver.requests.filter((r) => r.text.includes(wamid));
    expect(bodiesFor(sequential)).toHaveLength(2);
    expect(bodiesFor(concurrent)).toHaveLength(3);
    expect(new Set(bodiesFor(concurrent).map((r) => r.text)).size).toBe(1);
    expect(new Set(bodiesFor(concurrent).map((r) => r.headers['x-hub-signature-256'])).size).toBe(1);
    expect(h.wa.ledger.count('inbound.message')).toBe(2);
    expect(h.wa.ledger.count('webhook.attempt', (e) => e.topic === 'message')).toBe(5);
  });

  it('retries an inbound webhook the gateway refused, in the background', async () => {
    await using h = await harness({
      respond: (_r, index) => (index === 0 ? 503 : 200),
      webhookRetry: { delaysMs: [300] },
    });
    const wamid = await h.wa.customer({ waId: ALICE, name: 'Alice' }).sendText('are you there?');
    expect(h.receiver.requests).toHaveLength(1); // returns after the first attempt
    await h.wa.idle();
    expect(h.receiver.requests.map((r) => r.status)).toEqual([503, 200]);
    expect(h.receiver.requests.every((r) => r.text.includes(wamid))).toBe(true);
  });

  it('controls the message timestamp', async () => {
    await using h = await harness();
    const at = Date.UTC(2026, 0, 2, 3, 4, 5);
    await h.wa.customer({ waId: ALICE, name: 'Alice' }).sendText('then', { timestamp: new Date(at) });
    expect(messagesOf(h.payloads()[0])[0]?.timestamp).toBe(String(at / 1000));
  });

  it('sends user_preferences webhooks for marketing stop and resume', async () => {
    await using h = await harness();
    const alice = h.wa.customer({ waId: ALICE, name: 'Alice' });
    await alice.stopMarketing();
    await alice.resumeMarketing();
    const [stop, resume] = h.payloads();
    expect(stop?.entry[0]?.changes[0]?.field).toBe('user_preferences');
    expect(valueIn(stop).user_preferences).toEqual([
      {
        wa_id: ALICE,
        detail: 'User requested to stop marketing messages',
        category: 'marketing_messages',
        value: 'stop',
        timestamp: expect.any(Number),
      },
    ]);
    expect((valueIn(resume).user_preferences as Array<{ value: string }>)[0]?.value).toBe('resume');
    for (const p of [stop, resume])
      expect(h.wa.spec.validateSchema('WebhookPayload', p)).toEqual({ ok: true, errors: [] });
    expect(h.wa.ledger.filter('inbound.user_preferences').map((e) => e.value)).toEqual(['stop', 'resume']);
  });

  it('re-opens a known customer instead of duplicating it, and validates identities', async () => {
    await using h = await harness();
    const first = h.wa.customer({ waId: ALICE, name: 'Alice' });
    const again = h.wa.customer({ waId: '+1 650 555 1234', name: 'Alice B.' });
    expect(again.name).toBe('Alice B.');
    expect(first.name).toBe('Alice B.');
    expect(h.wa.ledger.count('customer.created')).toBe(1);
    expect(() => h.wa.customer({ name: 'nobody' })).toThrow(TypeError);
    expect(() => h.wa.customer({ userId: 'not-a-bsuid', name: 'x' })).toThrow(TypeError);
    expect(() => h.wa.customer({ waId: ALICE, name: 'x', phoneNumberId: '1' })).toThrow(TypeError);
  });
});

describe('raw webhooks and verification', () => {
  it('sendWebhook posts a hand-built payload; its messages count as inbound (window, mark-as-read)', async () => {
    await using h = await harness();
    const payload = {
      object: 'whatsapp_business_account',
      entry: [
        {
          id: PHONE.wabaId,
          changes: [
            {
              field: 'messages',
              value: {
                messaging_product: 'whatsapp',
                metadata: {
                  display_phone_number: PHONE.displayPhoneNumber,
                  phone_number_id: PHONE.phoneNumberId,
                },
                contacts: [{ profile: { name: 'Raw' }, wa_id: ALICE }],
                messages: [
                  {
                    from: ALICE,
                    id: 'wamid.RAW1',
                    timestamp: String(Math.floor(Date.now() / 1000)),
                    type: 'text',
                    text: { body: 'raw' },
                  },
                ],
              },
            },
          ],
        },
      ],
    };
    const result = await h.wa.sendWebhook(payload);
    expect(result.statuses).toEqual([200]);
    expect(h.receiver.requests[0]?.text).toBe(JSON.stringify(payload));
    expect((await h.send(text(ALICE))).status).toBe(200);
    expect(
      (await h.send({ messaging_product: 'whatsapp', status: 'read', message_id: 'wamid.RAW1' })).status,
    ).toBe(200);
  });

  it('sendWebhook can send exact raw bytes, a wrong signature, or none', async () => {
    await using h = await harness();
    await h.wa.sendWebhook('{"not":"json"', { signature: 'invalid' });
    await h.wa.sendWebhook({ a: 1 }, { signature: 'missing' });
    const [invalid, missing] = h.receiver.requests;
    expect(invalid?.text).toBe('{"not":"json"');
    expect(
      verifyWebhookSignature(
        APP_SECRET,
        invalid?.bytes ?? new Uint8Array(),
        invalid?.headers['x-hub-signature-256'],
      ),
    ).toBe(false);
    expect(missing?.headers['x-hub-signature-256']).toBeUndefined();
  });

  it('verifyWebhook performs Meta’s GET handshake and checks the echoed challenge', async () => {
    await using h = await harness({
      verifyToken: 'let-me-in',
      respond: (request) => {
        const url = new URL(request.path, 'http://x');
        const ok =
          url.searchParams.get('hub.mode') === 'subscribe' &&
          url.searchParams.get('hub.verify_token') === 'let-me-in';
        return ok ? new Response(url.searchParams.get('hub.challenge')) : 403;
      },
    });
    expect(await h.wa.verifyWebhook()).toMatchObject({ ok: true, status: 200 });
    expect(await h.wa.verifyWebhook('wrong')).toMatchObject({ ok: false, status: 403 });
    expect(h.wa.ledger.filter('webhook.verification').map((e) => e.ok)).toEqual([true, false]);
  });
});
