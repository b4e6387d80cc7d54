import { describe, expect, it } from 'vitest';
import type { InboundMessage } from './payloads.ts';
import { harness, helloWorld, text } from './testing.ts';

const ALICE = '16505551234';

async function control(baseUrl: string, path: string, body?: unknown) {
  const response = await fetch(`${baseUrl}${path}`, {
    method: body === undefined ? 'GET' : 'POST',
    headers: { 'content-type': 'application/json', origin: 'http://console.example' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  // biome-ignore lint/suspicious/noExplicitAny: test convenience for reading JSON answers
  return { status: response.status, headers: response.headers, json: (await response.json()) as any };
}

describe('control API /_sandbox/whatsapp', () => {
  it('lists its routes and answers browsers (CORS)', async () => {
    await using h = await harness();
    const index = await control(h.wa.controlUrl, '');
    expect(index.status).toBe(200);
    expect(index.json.routes.length).toBeGreaterThan(10);
    expect(index.json.routes[0]).toEqual({
      method: 'GET',
      path: '/_sandbox/whatsapp/',
      description: 'this listing',
    });
    expect(index.headers.get('access-control-allow-origin')).toBe('*');
    expect((await control(h.wa.controlUrl, '/nope')).status).toBe(404);
  });

  it('creates a customer and makes it send text, media and interactive replies to the gateway', async () => {
    await using h = await harness();
    const created = await control(h.wa.controlUrl, '/customers', { waId: ALICE, name: 'Alice' });
    expect(created.status).toBe(201);
    expect(created.json).toMatchObject({ id: ALICE, waId: ALICE, name: 'Alice' });

    const said = await control(h.wa.controlUrl, `/customers/${ALICE}/messages`, {
      type: 'text',
      text: 'from the console',
    });
    expect(said.json.wamid).toMatch(/^wamid\./);
    const pic = await control(h.wa.controlUrl, `/customers/${ALICE}/messages`, {
      type: 'image',
      caption: 'look',
      dataBase64: Buffer.from('png bytes').toString('base64'),
      mimeType: 'image/png',
    });
    const business = (await h.send(text(ALICE))).json.messages[0].id;
    await control(h.wa.controlUrl, `/customers/${ALICE}/messages`, {
      type: 'button_reply',
      messageId: business,
      id: 'yes',
      title: 'Yes',
    });
    await control(h.wa.controlUrl, `/customers/${ALICE}/messages`, { type: 'reaction', messageId: business });

    const inbound = h
      .payloads()
      .flatMap((p) => (p.entry[0]?.changes[0]?.value.messages as InboundMessage[] | undefined) ?? []);
    expect(inbound.map((m) => m.type)).toEqual(['text', 'image', 'interactive', 'reaction']);
    expect(inbound[1]?.id).toBe(pic.json.wamid);
    expect(inbound[3]?.reaction).toEqual({ message_id: business });
    for (const p of h.payloads()) expect(h.wa.spec.validateSchema('WebhookPayload', p).ok).toBe(true);
  });

  it('rejects invalid input with 400 and the validation issues', async () => {
    await using h = await harness();
    await control(h.wa.controlUrl, '/customers', { waId: ALICE, name: 'Alice' });
    const bad = await control(h.wa.controlUrl, `/customers/${ALICE}/messages`, { type: 'telepathy' });
    expect(bad.status).toBe(400);
    expect(bad.json.error.message).toBe('invalid request');
    const unknown = await control(h.wa.controlUrl, '/customers/999/messages', { type: 'text', text: 'x' });
    expect(unknown.status).toBe(400);
    expect(unknown.json.error.message).toContain('no customer 999');
  });

  it('arms failNext, advances time and changes rules', async () => {
    await using h = await harness();
    await control(h.wa.controlUrl, '/fail-next', { code: 2, count: 1 });
    expect((await h.send(helloWorld(ALICE))).json.error.code).toBe(2);
    expect((await h.send(helloWorld(ALICE))).status).toBe(200);

    await control(h.wa.controlUrl, '/customers', { waId: ALICE, name: 'Alice' });
    await control(h.wa.controlUrl, `/customers/${ALICE}/messages`, { type: 'text', text: 'hi' });
    expect((await h.send(text(ALICE))).status).toBe(200);
    const advanced = await control(h.wa.controlUrl, '/advance-time', { ms: 25 * 60 * 60 * 1000 });
    expect(h.wa.clock.now() - advanced.json.now).toBeLessThan(1000);
    expect(h.wa.clock.offsetMs).toBe(25 * 60 * 60 * 1000);
    expect((await h.send(text(ALICE))).json.error.code).toBe(131047);

    const rules = await control(h.wa.controlUrl, '/rules', { customerServiceWindow: { enabled: false } });
    expect(rules.json.rules.customerServiceWindow.enabled).toBe(false);
    expect((await h.send(text(ALICE))).status).toBe(200);
    expect((await control(h.wa.controlUrl, '/rules', { nonsense: true })).status).toBe(400);
  });

  it('shows conversations per recipient with the window and message statuses', async () => {
    await using h = await harness();
    await control(h.wa.controlUrl, '/customers', { waId: ALICE, name: 'Alice' });
    const { json } = await control(h.wa.controlUrl, `/customers/${ALICE}/messages`, {
      type: 'text',
      text: 'hi',
    });
    const out = (await h.send(text(ALICE, 'hello'))).json.messages[0].id;
    await h.wa.idle();
    const all = await control(h.wa.controlUrl, '/conversations');
    expect(all.json.conversations).toHaveLength(1);
    const one = await control(h.wa.controlUrl, `/conversations/${ALICE}`);
    const [conversation] = one.json.conversations;
    expect(conversation).toMatchObject({ recipient: ALICE, name: 'Alice', windowOpen: true });
    expect(conversation.messages).toEqual([
      expect.objectContaining({ direction: 'in', wamid: json.wamid, type: 'text' }),
      expect.objectContaining({ direction: 'out', wamid: out, status: 'read' }),
    ]);
    expect(conversation.messages[1].statuses.map((s: { status: string }) => s.status)).toEqual([
      'sent',
      'delivered',
      'read',
    ]);
    expect((await control(h.wa.controlUrl, '/conversations/0000')).status).toBe(404);
  });

  it('serves the ledger, filtered by kind and by seq', async () => {
    await using h = await harness();
    await h.send(helloWorld(ALICE));
    const mark = h.wa.ledger.mark();
    await h.send(helloWorld(ALICE));
    const accepted = await control(h.wa.controlUrl, '/ledger?kind=send.accepted');
    expect(accepted.json.entries).toHaveLength(2);
    const recent = await control(h.wa.controlUrl, `/ledger?kind=send.accepted&since=${mark}`);
    expect(recent.json.entries).toHaveLength(1);
    expect(recent.json.entries[0]).toMatchObject({ platform: 'whatsapp', kind: 'send.accepted', to: ALICE });
  });

  it('sends raw webhooks, marketing preferences, user reads and identity changes', async () => {
    await using h = await harness();
    await control(h.wa.controlUrl, '/customers', { waId: ALICE, name: 'Alice', readsMessages: false });
    const raw = await control(h.wa.controlUrl, '/webhooks', {
      payload: { hello: 'world' },
      deliveries: 2,
      concurrent: true,
    });
    expect(raw.json.statuses).toEqual([200, 200]);
    await control(h.wa.controlUrl, `/customers/${ALICE}/marketing`, { value: 'stop' });
    expect(h.payloads().at(-1)?.entry[0]?.changes[0]?.field).toBe('user_preferences');

    await control(h.wa.controlUrl, `/customers/${ALICE}/messages`, { type: 'text', text: 'hi' });
    const out = (await h.send(text(ALICE))).json.messages[0].id;
    await h.wa.idle();
    expect(h.statuses().map((s) => s.status)).toEqual(['sent', 'delivered']);
    await control(h.wa.controlUrl, `/customers/${ALICE}/read`, { wamid: out });
    expect(h.statuses().map((s) => s.status)).toEqual(['sent', 'delivered', 'read']);

    const changed = await control(h.wa.controlUrl, `/customers/${ALICE}/change-number`, {
      waId: '12195555358',
    });
    expect(changed.json.wamid).toMatch(/^wamid\./);
    expect((await control(h.wa.controlUrl, '/customers')).json.customers[0].waId).toBe('12195555358');
  });

  it('reports state and sets the webhook URL', async () => {
    await using h = await harness();
    const state = await control(h.wa.controlUrl, '/state');
    expect(state.json).toMatchObject({ apiUrl: h.wa.apiUrl, webhookUrl: `${h.receiver.url}/webhook` });
    expect(state.json.errors.map((e: { code: number }) => e.code)).toContain(131056);
    await control(h.wa.controlUrl, '/webhook-url', { url: `${h.receiver.url}/other` });
    await h.send(helloWorld(ALICE));
    await h.wa.idle();
    expect(h.receiver.requests.at(-1)?.path).toBe('/other');
  });
});
