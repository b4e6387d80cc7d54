import { describe, expect, it } from 'vitest';
import { Ledger } from '../shared/ledger.ts';
import { OPERATIONS } from './spec.ts';
import { harness, helloWorld, PHONE, TOKEN, text } from './testing.ts';
import type { WhatsAppEvent } from './types.ts';

const ALICE = '16505551234';

describe('POST /{version}/{phone-number-id}/messages', () => {
  it('accepts a text inside the service window and answers Meta’s success shape', async () => {
    await using h = await harness();
    await h.wa.customer({ waId: ALICE, name: 'Alice' }).sendText('hi');
    const response = await h.send(text('+1 (650) 555-1234', 'hello Alice'));
    expect(response.status).toBe(200);
    expect(response.json).toEqual({
      messaging_product: 'whatsapp',
      contacts: [{ input: '+1 (650) 555-1234', wa_id: ALICE }],
      messages: [{ id: expect.stringMatching(/^wamid\./) }],
    });
    expect(
      h.wa.spec.validateResponseBody('POST', OPERATIONS.sendMessage, 200, 'application/json', response.json)
        .ok,
    ).toBe(true);
    expect(response.headers.get('facebook-api-version')).toBe('v23.0');
    expect(response.headers.get('x-fb-trace-id')).toBeTruthy();
    const accepted = h.wa.ledger.filter('send.accepted');
    expect(accepted).toHaveLength(1);
    expect(accepted[0]).toMatchObject({
      to: '+1 (650) 555-1234',
      waId: ALICE,
      type: 'text',
      text: 'hello Alice',
    });
  });

  it('accepts every supported message type and records each send', async () => {
    await using h = await harness();
    const alice = h.wa.customer({ waId: ALICE, name: 'Alice' });
    const inbound = await alice.sendText('hi');
    const base = { messaging_product: 'whatsapp', recipient_type: 'individual', to: ALICE };
    const bodies: Array<Record<string, unknown>> = [
      { ...base, type: 'text', text: { body: 'plain', preview_url: false } },
      { ...base, type: 'text', text: { body: 'reply' }, context: { message_id: inbound } },
      { ...base, type: 'image', image: { link: 'https://example.com/a.jpg', caption: 'pic' } },
      { ...base, type: 'image', image: { id: '123456' } },
      { ...base, type: 'audio', audio: { link: 'https://example.com/a.ogg' } },
      { ...base, type: 'video', video: { id: '123', caption: 'clip' } },
      {
        ...base,
        type: 'document',
        document: { link: 'https://example.com/a.pdf', filename: 'a.pdf', caption: 'doc' },
      },
      { ...base, type: 'sticker', sticker: { id: '99' } },
      { ...base, type: 'reaction', reaction: { message_id: inbound, emoji: '👍' } },
      {
        ...base,
        type: 'location',
        location: { latitude: 37.48, longitude: -122.14, name: 'HQ', address: '1 Hacker Way' },
      },
      {
        ...base,
        type: 'contacts',
        contacts: [
          {
            name: { formatted_name: 'Bob Smith', first_name: 'Bob' },
            phones: [{ phone: '+1 555 0100', type: 'WORK' }],
          },
        ],
      },
      {
        ...base,
        type: 'interactive',
        interactive: {
          type: 'button',
          body: { text: 'Pick one' },
          action: { buttons: [{ type: 'reply', reply: { id: 'yes', title: 'Yes' } }] },
        },
      },
      {
        ...base,
        type: 'interactive',
        interactive: {
          type: 'list',
          body: { text: 'Choose' },
          action: { button: 'Options', sections: [{ title: 'S', rows: [{ id: 'r1', title: 'Row 1' }] }] },
        },
      },
      helloWorld(ALICE),
    ];
    for (const body of bodies) {
      const response = await h.send(body);
      expect(response.status, JSON.stringify(response.json)).toBe(200);
    }
    const accepted = h.wa.ledger.filter('send.accepted');
    expect(accepted.map((e) => e.type)).toEqual(bodies.map((b) => b.type));
    expect(accepted[1]?.replyTo).toBe(inbound);
    expect(accepted[2]?.media).toEqual({ link: 'https://example.com/a.jpg', caption: 'pic' });
    expect(accepted[3]?.media).toEqual({ id: '123456', known: false });
    expect(accepted[8]?.reaction).toEqual({ messageId: inbound, emoji: '👍' });
    expect(accepted[13]?.template).toMatchObject({ name: 'hello_world', language: 'en_US', params: [] });
    await expect(h.send(helloWorld(ALICE)).then((r) => r.json.messages[0].message_status)).resolves.toBe(
      'accepted',
    );
  });

  it('treats a body without `type` as text, as Meta does', async () => {
    await using h = await harness();
    await h.wa.customer({ waId: ALICE, name: 'Alice' }).sendText('hi');
    const { type: _type, ...noType } = text(ALICE, 'no type');
    expect((await h.send(noType)).status).toBe(200);
    expect(h.wa.ledger.last('send.accepted')?.type).toBe('text');
  });

  it('rejects a malformed send with 400, code 100 and the validation messages', async () => {
    await using h = await harness();
    const response = await h.send({
      messaging_product: 'whatsapp',
      to: ALICE,
      type: 'text',
      text: { body: 42 },
      extra: true,
    });
    expect(response.status).toBe(400);
    expect(response.json.error).toMatchObject({
      message: '(#100) Invalid parameter',
      type: 'OAuthException',
      code: 100,
      error_data: { messaging_product: 'whatsapp' },
      fbtrace_id: expect.any(String),
    });
    expect(response.json.error.error_data.details).toContain('/text/body must be string');
    expect(response.json.error.error_data.details).toContain("(root) has unknown property 'extra'");
    expect(h.wa.ledger.last('send.rejected')).toMatchObject({
      rule: 'validation',
      code: 100,
      httpStatus: 400,
    });
    expect(h.wa.ledger.count('send.accepted')).toBe(0);
  });

  it('rejects what the spec leaves open but Meta does not: messaging_product, group sends, an empty `to`', async () => {
    await using h = await harness();
    expect((await h.send({ ...text(ALICE), messaging_product: 'sms' })).json.error.code).toBe(100);
    expect((await h.send({ ...text(ALICE), recipient_type: 'group' })).json.error.code).toBe(100);
    expect((await h.send({ ...text(''), to: '' })).json.error.code).toBe(100);
  });

  it('requires the bearer token: 401, code 190 and a WWW-Authenticate header otherwise', async () => {
    await using h = await harness();
    for (const token of [null, 'wrong-token']) {
      const response = await h.send(text(ALICE), { token });
      expect(response.status).toBe(401);
      expect(response.json.error).toMatchObject({ code: 190, type: 'OAuthException' });
      expect(response.headers.get('www-authenticate')).toContain('invalid_token');
    }
    expect(h.wa.ledger.filter('send.rejected').map((e) => e.rule)).toEqual(['auth', 'auth']);
    // ?access_token= works like the header
    const viaQuery = await h.api(`/v23.0/${PHONE.phoneNumberId}?access_token=${TOKEN}`, { token: null });
    expect(viaQuery.status).toBe(200);
  });

  it('a rotated token invalidates the old one', async () => {
    await using h = await harness();
    h.wa.setAccessToken('new-token');
    expect((await h.send(helloWorld(ALICE))).status).toBe(401);
    expect((await h.send(helloWorld(ALICE), { token: 'new-token' })).status).toBe(200);
  });

  it('answers an unknown phone number id with code 100, subcode 33', async () => {
    await using h = await harness();
    const response = await h.send(text(ALICE), { phoneNumberId: '999' });
    expect(response.status).toBe(400);
    expect(response.json.error).toMatchObject({ code: 100, error_subcode: 33 });
    expect(response.json.error.message).toContain("Object with ID '999' does not exist");
  });

  it('answers invalid JSON and unknown paths with Meta-shaped errors', async () => {
    await using h = await harness();
    const invalid = await h.api(`/v23.0/${PHONE.phoneNumberId}/messages`, { method: 'POST', body: '{nope' });
    expect(invalid.json.error).toMatchObject({ code: 100 });
    const unknown = await h.api('/v23.0/foo/bar/baz');
    expect(unknown.status).toBe(400);
    expect(unknown.json.error).toMatchObject({
      code: 2500,
      message: 'Unknown path components: /v23.0/foo/bar/baz',
    });
  });

  it('sends to a BSUID-only user and answers with the user_id', async () => {
    await using h = await harness();
    const bsuid = 'US.13491208655302741918';
    await h.wa.customer({ userId: bsuid, username: 'al', name: 'Al' }).sendText('hi');
    const response = await h.send(text(bsuid));
    expect(response.status).toBe(200);
    expect(response.json.contacts).toEqual([{ input: bsuid, user_id: bsuid }]);
  });

  it('skips spec validation when validateRequests is false (Meta-level checks remain)', async () => {
    await using h = await harness({ validateRequests: false });
    expect((await h.send({ ...helloWorld(ALICE), not_in_the_spec: true })).status).toBe(200);
    expect((await h.send({ ...helloWorld(ALICE), messaging_product: 'sms' })).status).toBe(400);
  });

  it('records into a ledger shared with other emulators', async () => {
    const shared = new Ledger<
      WhatsAppEvent | { platform: 'slack'; kind: 'chat.postMessage'; channel: string }
    >();
    shared.record({ platform: 'slack', kind: 'chat.postMessage', channel: 'C1' });
    await using h = await harness({ ledger: shared });
    await h.send(helloWorld(ALICE));
    expect(h.wa.ledger).toBe(shared);
    expect(shared.filter((e) => e.platform === 'whatsapp' && e.kind === 'send.accepted')).toHaveLength(1);
    expect(shared.entries()[0]?.kind).toBe('chat.postMessage');
  });

  it('records every API request', async () => {
    await using h = await harness();
    await h.send(helloWorld(ALICE));
    await h.api(`/v23.0/${PHONE.phoneNumberId}`);
    expect(h.wa.ledger.filter('api.request').map((e) => [e.method, e.path, e.status])).toEqual([
      ['POST', `/v23.0/${PHONE.phoneNumberId}/messages`, 200],
      ['GET', `/v23.0/${PHONE.phoneNumberId}`, 200],
    ]);
  });
});

describe('mark as read', () => {
  it('marks a received message read (with typing indicator) and answers { success: true }', async () => {
    await using h = await harness();
    const alice = h.wa.customer({ waId: ALICE, name: 'Alice' });
    const first = await alice.sendText('one');
    const second = await alice.sendText('two');
    const response = await h.send({
      messaging_product: 'whatsapp',
      status: 'read',
      message_id: second,
      typing_indicator: { type: 'text' },
    });
    expect(response.status).toBe(200);
    expect(response.json).toEqual({ success: true });
    expect(h.wa.ledger.last('read.marked')).toMatchObject({ messageId: second, typingIndicator: true });
    const conversation = await fetch(`${h.wa.controlUrl}/conversations/${ALICE}`).then((r) => r.json());
    const reads = conversation.conversations[0].messages.map(
      (m: { wamid: string; readAt: number | null }) => [m.wamid, m.readAt !== null],
    );
    expect(reads).toEqual([
      [first, true], // marking one message read marks earlier ones too
      [second, true],
    ]);
  });

  it('refuses an unknown message id and a malformed request', async () => {
    await using h = await harness();
    const unknown = await h.send({ messaging_product: 'whatsapp', status: 'read', message_id: 'wamid.nope' });
    expect(unknown.status).toBe(400);
    expect(unknown.json.error.code).toBe(100);
    const malformed = await h.send({ messaging_product: 'whatsapp', status: 'read' });
    expect(malformed.json.error.error_data.details).toContain("must have required property 'message_id'");
  });
});

describe('GET /{version}/{waba-id}/message_templates', () => {
  it('lists the approved templates in the shape of the spec, with name filter and paging', async () => {
    await using h = await harness({
      templates: [
        {
          name: 'order_update',
          body: 'Hi {{1}}, order {{2}} shipped',
          category: 'UTILITY',
          quickReplies: ['Track'],
        },
        { name: 'promo', body: 'Sale!', category: 'MARKETING', footer: 'Reply STOP', language: 'de_DE' },
      ],
    });
    const all = await h.api(`/v23.0/${PHONE.wabaId}/message_templates`);
    expect(all.status).toBe(200);
    expect(
      h.wa.spec.validateResponseBody('GET', OPERATIONS.messageTemplates, 200, 'application/json', all.json)
        .ok,
    ).toBe(true);
    expect(all.json.data.map((t: { name: string }) => t.name)).toEqual(['order_update', 'promo']);
    expect(all.json.data[0]).toMatchObject({
      status: 'APPROVED',
      category: 'UTILITY',
      language: 'en_US',
      components: [
        {
          type: 'BODY',
          text: 'Hi {{1}}, order {{2}} shipped',
          example: { body_text: [['example_1', 'example_2']] },
        },
        { type: 'BUTTONS', buttons: [{ type: 'QUICK_REPLY', text: 'Track' }] },
      ],
    });
    const filtered = await h.api(`/v23.0/${PHONE.wabaId}/message_templates?name=promo`);
    expect(filtered.json.data).toHaveLength(1);
    const page = await h.api(`/v23.0/${PHONE.wabaId}/message_templates?limit=1`);
    expect(page.json.data).toHaveLength(1);
    const next = await fetch(page.json.paging.next, { headers: { authorization: `Bearer ${TOKEN}` } }).then(
      (r) => r.json(),
    );
    expect(next.data.map((t: { name: string }) => t.name)).toEqual(['promo']);
    expect((await h.api('/v23.0/42/message_templates')).json.error.error_subcode).toBe(33);
  });
});
