import { describe, expect, it } from 'vitest';
import { APP_SECRET, harness, helloWorld, text } from './testing.ts';
import { verifyWebhookSignature } from './wire.ts';

const ALICE = '16505551234';

describe('status webhooks', () => {
  it('are signed with X-Hub-Signature-256 over the exact raw bytes, keyed with the App Secret', async () => {
    await using h = await harness();
    await h.wa.customer({ waId: ALICE, name: 'Zoë' }).sendText('héllo 👋');
    await h.send(text(ALICE, 'ça va ✅'));
    await h.wa.idle();
    expect(h.receiver.requests.length).toBe(4); // the inbound message + sent, delivered, read
    for (const request of h.receiver.requests) {
      const signature = request.headers['x-hub-signature-256'];
      expect(signature).toMatch(/^sha256=[0-9a-f]{64}$/);
      expect(verifyWebhookSignature(APP_SECRET, request.bytes, signature)).toBe(true);
      expect(verifyWebhookSignature('another-secret', request.bytes, signature)).toBe(false);
      expect(request.headers['content-type']).toBe('application/json');
      expect(request.method).toBe('POST');
      expect(request.path).toBe('/webhook');
    }
    // Meta escapes non-ASCII before signing: re-serialising the parsed body gives other bytes.
    const first = h.receiver.requests[0];
    expect(first?.text).toContain('Zo\\u00eb');
    expect(first?.text).toContain('\\ud83d\\udc4b');
    expect(
      verifyWebhookSignature(
        APP_SECRET,
        JSON.stringify(JSON.parse(first?.text ?? '')),
        first?.headers['x-hub-signature-256'],
      ),
    ).toBe(false);
  });

  it('progress sent → delivered → read for each accepted message, Meta-shaped and spec-valid', async () => {
    await using h = await harness();
    await h.wa.customer({ waId: ALICE, name: 'Alice' }).sendText('hi');
    const a = (await h.send(text(ALICE, 'one'))).json.messages[0].id;
    const b = (await h.send(text(ALICE, 'two'))).json.messages[0].id;
    await h.wa.idle();
    const statuses = h.statuses();
    for (const id of [a, b]) {
      expect(statuses.filter((s) => s.id === id).map((s) => s.status)).toEqual(['sent', 'delivered', 'read']);
    }
    const sent = statuses.find((s) => s.id === a && s.status === 'sent');
    expect(sent).toEqual({
      id: a,
      status: 'sent',
      timestamp: expect.stringMatching(/^\d+$/),
      recipient_id: ALICE,
      conversation: {
        id: expect.stringMatching(/^[0-9a-f]{32}$/),
        expiration_timestamp: expect.any(String),
        origin: { type: 'service' },
      },
      pricing: { billable: false, pricing_model: 'PMP', category: 'service', type: 'free_customer_service' },
    });
    const delivered = statuses.find((s) => s.id === a && s.status === 'delivered');
    expect(delivered?.conversation).toEqual({ id: sent?.conversation?.id, origin: { type: 'service' } });
    for (const payload of h.payloads()) {
      expect(h.wa.spec.validateSchema('WebhookPayload', payload)).toEqual({ ok: true, errors: [] });
      expect(payload.entry[0]?.id).toBe(h.wa.phoneNumbers[0]?.wabaId);
    }
    expect(h.wa.ledger.filter('status.emitted', (e) => e.wamid === a).map((e) => e.status)).toEqual([
      'sent',
      'delivered',
      'read',
    ]);
    expect(h.wa.sentMessages().map((m) => m.status)).toEqual(['read', 'read']);
  });

  it('price templates by category: a marketing template outside the window is billable', async () => {
    await using h = await harness({ templates: [{ name: 'promo', body: 'Sale', category: 'MARKETING' }] });
    await h.send({
      messaging_product: 'whatsapp',
      to: ALICE,
      type: 'template',
      template: { name: 'promo', language: { code: 'en_US' } },
    });
    await h.wa.idle();
    expect(h.statuses()[0]).toMatchObject({
      conversation: { origin: { type: 'marketing' } },
      pricing: { billable: true, category: 'marketing', type: 'regular' },
    });
  });

  it('echo biz_opaque_callback_data of the send', async () => {
    await using h = await harness();
    await h.send({ ...helloWorld(ALICE), biz_opaque_callback_data: 'job-42' });
    await h.wa.idle();
    expect(h.statuses().map((s) => s.biz_opaque_callback_data)).toEqual(['job-42', 'job-42', 'job-42']);
    for (const payload of h.payloads())
      expect(h.wa.spec.validateSchema('WebhookPayload', payload).ok).toBe(true);
  });

  it('give a reaction only a `sent` status', async () => {
    await using h = await harness();
    const inbound = await h.wa.customer({ waId: ALICE, name: 'Alice' }).sendText('hi');
    await h.send({
      messaging_product: 'whatsapp',
      to: ALICE,
      type: 'reaction',
      reaction: { message_id: inbound, emoji: '❤️' },
    });
    await h.wa.idle();
    expect(h.statuses().map((s) => s.status)).toEqual(['sent']);
  });

  it('stop at delivered for a user who does not read, until the user reads', async () => {
    await using h = await harness();
    const alice = h.wa.customer({ waId: ALICE, name: 'Alice', readsMessages: false });
    await alice.sendText('hi');
    const id = (await h.send(text(ALICE))).json.messages[0].id;
    await h.wa.idle();
    expect(h.statuses().map((s) => s.status)).toEqual(['sent', 'delivered']);
    await alice.read(id);
    await h.wa.idle();
    expect(h.statuses().map((s) => s.status)).toEqual(['sent', 'delivered', 'read']);
    await alice.read(id); // statuses never repeat or go backwards
    expect(h.statuses()).toHaveLength(3);
  });

  it('follow the configured delays; null disables a step', async () => {
    await using h = await harness({ statusDelaysMs: { sent: 1, delivered: null } });
    await h.send(helloWorld(ALICE));
    await h.wa.idle();
    expect(h.statuses().map((s) => s.status)).toEqual(['sent']);
  });

  it('are retried with back-off while the gateway does not answer 2xx, and the next status waits', async () => {
    // First two POSTs fail: the `sent` webhook is retried twice before it is acknowledged.
    await using h = await harness({ respond: (_request, index) => (index < 2 ? 500 : 200) });
    const id = (await h.send(helloWorld(ALICE))).json.messages[0].id;
    await h.wa.idle();
    const attempts = h.wa.ledger
      .filter('webhook.attempt')
      .map((e) => [e.label, e.attempt, e.status, e.nextRetryInMs]);
    expect(attempts).toEqual([
      [`${id} sent`, 1, 500, 10],
      [`${id} sent`, 2, 500, 20],
      [`${id} sent`, 3, 200, undefined],
      [`${id} delivered`, 1, 200, undefined],
      [`${id} read`, 1, 200, undefined],
    ]);
    expect(h.wa.ledger.filter('webhook.outcome').map((e) => [e.outcome, e.attempts])).toEqual([
      ['acknowledged', 3],
      ['acknowledged', 1],
      ['acknowledged', 1],
    ]);
    // The receiver saw the same sent webhook three times (duplicates, as with Meta).
    expect(h.statuses().map((s) => s.status)).toEqual(['sent', 'sent', 'sent', 'delivered', 'read']);
  });

  it('give up after the last retry and record it', async () => {
    await using h = await harness({ respond: 500, webhookRetry: { delaysMs: [5] } });
    await h.send(helloWorld(ALICE));
    await h.wa.idle();
    expect(h.wa.ledger.filter('webhook.outcome').map((e) => e.outcome)).toEqual([
      'gave_up',
      'gave_up',
      'gave_up',
    ]);
    expect(h.wa.ledger.count('webhook.attempt')).toBe(6);
  });

  it('are skipped (and recorded) while no webhook URL is configured', async () => {
    await using h = await harness();
    await using bare = await harness({ webhookUrl: undefined });
    await bare.send(helloWorld(ALICE));
    await bare.wa.idle();
    expect(bare.wa.ledger.filter('webhook.skipped').map((e) => e.topic)).toEqual([
      'status',
      'status',
      'status',
    ]);
    bare.wa.setWebhookUrl(`${h.receiver.url}/late`);
    await bare.send(helloWorld(ALICE));
    await bare.wa.idle();
    expect(h.receiver.requests.map((r) => r.path)).toEqual(['/late', '/late', '/late']);
  });
});
