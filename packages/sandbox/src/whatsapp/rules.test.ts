import { describe, expect, it } from 'vitest';
import { harness, helloWorld, text } from './testing.ts';

const ALICE = '16505551234';
const BOB = '16505550000';
const HOUR = 60 * 60 * 1000;
/** A frozen base time: only advanceTime() moves the emulator clock, so rate tests do not depend on machine speed. */
const frozen = () => 1_780_000_000_000;

describe('customer service window (131047)', () => {
  it('refuses free-form messages to a user who never wrote, but accepts templates', async () => {
    await using h = await harness();
    const response = await h.send(text(ALICE));
    expect(response.status).toBe(400);
    expect(response.json.error).toMatchObject({
      code: 131047,
      message: '(#131047) Re-engagement message',
      error_data: { messaging_product: 'whatsapp', details: expect.stringContaining('more than 24 hours') },
    });
    expect(h.wa.ledger.last('send.rejected')?.rule).toBe('window');
    expect((await h.send(helloWorld(ALICE))).status).toBe(200);
  });

  it('opens with the user’s message and closes 24 hours later on the emulator clock', async () => {
    await using h = await harness();
    await h.wa.customer({ waId: ALICE, name: 'Alice' }).sendText('hi');
    expect((await h.send(text(ALICE))).status).toBe(200);
    h.wa.advanceTime(24 * HOUR - 5000);
    expect((await h.send(text(ALICE))).status).toBe(200);
    h.wa.advanceTime(5000);
    expect((await h.send(text(ALICE))).json.error?.code).toBe(131047);
    expect(h.wa.ledger.last('clock.advanced')?.ms).toBe(5000);
  });

  it('counts from the message timestamp: a message dated 25 hours ago leaves the window closed', async () => {
    await using h = await harness();
    const alice = h.wa.customer({ waId: ALICE, name: 'Alice' });
    await alice.sendText('old', { timestamp: h.wa.clock.now() - 25 * HOUR });
    expect((await h.send(text(ALICE))).json.error?.code).toBe(131047);
    await alice.sendText('new');
    expect((await h.send(text(ALICE))).status).toBe(200);
  });

  it('can report the refusal as a failed status webhook instead, and can be switched off', async () => {
    await using h = await harness({ rules: { customerServiceWindow: { report: 'status' } } });
    const response = await h.send(text(ALICE));
    expect(response.status).toBe(200);
    await h.wa.idle();
    expect(h.statuses().map((s) => [s.status, s.errors?.[0]?.code])).toEqual([['failed', 131047]]);
    h.wa.configure({ customerServiceWindow: { enabled: false } });
    await h.send(text(ALICE));
    await h.wa.idle();
    expect(h.statuses().at(-1)?.status).toBe('read');
  });
});

describe('throughput (130429)', () => {
  it('refuses messages over the per-second limit of a business number until the second has passed', async () => {
    await using h = await harness({
      now: frozen,
      rules: { throughput: { perSecond: 3 }, pairRate: { enabled: false } },
    });
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) statuses.push((await h.send(helloWorld(`1650555000${i}`))).status);
    expect(statuses).toEqual([200, 200, 200, 400]);
    const refused = await h.send(helloWorld(ALICE));
    expect(refused.json.error).toMatchObject({ code: 130429, message: '(#130429) Rate limit hit' });
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    h.wa.advanceTime(1000);
    expect((await h.send(helloWorld(ALICE))).status).toBe(200);
  });
});

describe('pair rate (131056)', () => {
  it('allows a burst to one user, then answers HTTP 429 with Retry-After; other users are unaffected', async () => {
    await using h = await harness({ now: frozen, rules: { pairRate: { burst: 2, refillEveryMs: 6000 } } });
    expect((await h.send(helloWorld(ALICE))).status).toBe(200);
    expect((await h.send(helloWorld(ALICE))).status).toBe(200);
    const limited = await h.send(helloWorld(ALICE));
    expect(limited.status).toBe(429);
    expect(limited.json.error).toMatchObject({
      code: 131056,
      message: '(#131056) (Business Account, Consumer Account) pair rate limit hit',
    });
    expect(limited.headers.get('retry-after')).toBe('6');
    expect((await h.send(helloWorld(BOB))).status).toBe(200);
    h.wa.advanceTime(6000);
    expect((await h.send(helloWorld(ALICE))).status).toBe(200);
    expect((await h.send(helloWorld(ALICE))).status).toBe(429);
  });

  it('defaults to a 45-message burst refilled every 6 s, and is easy to relax', async () => {
    await using h = await harness({ now: frozen });
    expect(h.wa.rules.pairRate).toEqual({ enabled: true, burst: 45, refillEveryMs: 6000 });
    const codes: number[] = [];
    for (let i = 0; i < 46; i++) codes.push((await h.send(helloWorld(ALICE))).status);
    expect(codes.filter((c) => c === 200)).toHaveLength(45);
    expect(codes.at(-1)).toBe(429);
    h.wa.configure({ pairRate: { enabled: false } });
    expect((await h.send(helloWorld(ALICE))).status).toBe(200);
  });

  it('counts a user once whatever format the number is written in', async () => {
    await using h = await harness({ rules: { pairRate: { burst: 1 } } });
    expect((await h.send(helloWorld('+1 650-555-1234'))).status).toBe(200);
    expect((await h.send(helloWorld(ALICE))).status).toBe(429);
  });
});

describe('undeliverable recipients (131026)', () => {
  it('refuses sends to recipients configured as undeliverable', async () => {
    await using h = await harness({ rules: { undeliverable: { recipients: ['+1 650 555 0000'] } } });
    const response = await h.send(helloWorld(BOB));
    expect(response.status).toBe(400);
    expect(response.json.error).toMatchObject({ code: 131026, message: '(#131026) Message Undeliverable' });
    expect((await h.send(helloWorld(ALICE))).status).toBe(200);
  });

  it('reports them as a failed status when configured so (as Cloud API usually does)', async () => {
    await using h = await harness({ rules: { undeliverable: { recipients: [BOB], report: 'status' } } });
    const response = await h.send(helloWorld(BOB));
    expect(response.status).toBe(200);
    await h.wa.idle();
    const [status] = h.statuses();
    expect(status).toMatchObject({ id: response.json.messages[0].id, status: 'failed', recipient_id: BOB });
    expect(status?.errors?.[0]).toMatchObject({
      code: 131026,
      title: 'Message Undeliverable',
      error_data: { details: expect.any(String) },
    });
    expect(status?.pricing).toBeUndefined();
  });

  it('fails messages to recipients with an asynchronous failure rule', async () => {
    await using h = await harness({
      rules: { asyncFailures: { [ALICE]: { code: 131049, details: 'ecosystem' } } },
    });
    expect((await h.send(helloWorld(ALICE))).status).toBe(200);
    await h.wa.idle();
    expect(h.statuses()[0]?.errors?.[0]).toMatchObject({
      code: 131049,
      error_data: { details: 'ecosystem' },
    });
  });
});

describe('failNext', () => {
  it('fails the next N sends with the given code and the catalogue’s HTTP status, then recovers', async () => {
    await using h = await harness();
    h.wa.failNext({ code: 131000, count: 2 });
    const results = [];
    for (let i = 0; i < 3; i++) results.push(await h.send(helloWorld(ALICE)));
    expect(results.map((r) => r.status)).toEqual([500, 500, 200]);
    expect(results[0]?.json.error).toMatchObject({ code: 131000, message: '(#131000) Something went wrong' });
    expect(h.wa.ledger.filter('send.rejected').map((e) => e.rule)).toEqual(['fail_next', 'fail_next']);
  });

  it('can target one recipient, override the HTTP status and details, and use codes outside the catalogue', async () => {
    await using h = await harness();
    h.wa.failNext({ code: 4242, recipient: BOB, httpStatus: 503, details: 'custom' });
    expect((await h.send(helloWorld(ALICE))).status).toBe(200);
    const failed = await h.send(helloWorld(BOB));
    expect(failed.status).toBe(503);
    expect(failed.json.error).toMatchObject({ code: 4242, error_data: { details: 'custom' } });
  });

  it('asStatus accepts the send and reports the error in a failed status webhook', async () => {
    await using h = await harness();
    h.wa.failNext({ code: 131053, asStatus: true });
    const response = await h.send(helloWorld(ALICE));
    expect(response.status).toBe(200);
    await h.wa.idle();
    expect(h.statuses().map((s) => [s.status, s.errors?.[0]?.code])).toEqual([['failed', 131053]]);
  });
});

describe('templates (132001, 132000)', () => {
  const templates = [
    { name: 'order_update', body: 'Hi {{1}}, your order {{2}} has shipped.', header: 'Order {{1}}' },
    { name: 'welcome', body: 'Welcome {{first_name}}!', language: 'pt_BR' },
    { name: 'promo', body: 'Sale today', category: 'MARKETING' as const },
  ];
  const template = (name: string, code: string, components: unknown[] = []) => ({
    messaging_product: 'whatsapp',
    to: ALICE,
    type: 'template',
    template: { name, language: { code }, components },
  });

  it('refuses a template that does not exist in that language with 132001', async () => {
    await using h = await harness({ templates });
    for (const body of [template('nope', 'en_US'), template('welcome', 'en_US')]) {
      const response = await h.send(body);
      expect(response.status).toBe(400);
      expect(response.json.error).toMatchObject({
        code: 132001,
        message: '(#132001) Template name does not exist in the translation',
      });
    }
  });

  it('refuses a wrong parameter count with 132000 and renders the right one', async () => {
    await using h = await harness({ templates });
    const wrong = await h.send(
      template('order_update', 'en_US', [
        { type: 'header', parameters: [{ type: 'text', text: '#42' }] },
        { type: 'body', parameters: [{ type: 'text', text: 'Alice' }] },
      ]),
    );
    expect(wrong.json.error).toMatchObject({ code: 132000 });
    expect(wrong.json.error.error_data.details).toBe(
      'body: number of localizable_params (1) does not match the expected number of params (2)',
    );
    const right = await h.send(
      template('order_update', 'en_US', [
        { type: 'header', parameters: [{ type: 'text', text: '#42' }] },
        {
          type: 'body',
          parameters: [
            { type: 'text', text: 'Alice' },
            { type: 'text', text: '#42' },
          ],
        },
      ]),
    );
    expect(right.status).toBe(200);
    expect(h.wa.ledger.last('send.accepted')?.template).toEqual({
      name: 'order_update',
      language: 'en_US',
      category: 'UTILITY',
      params: ['Alice', '#42'],
      headerParams: ['#42'],
      rendered: 'Hi Alice, your order #42 has shipped.',
    });
  });

  it('renders named parameters', async () => {
    await using h = await harness({ templates });
    const response = await h.send(
      template('welcome', 'pt_BR', [
        { type: 'body', parameters: [{ type: 'text', parameter_name: 'first_name', text: 'Ana' }] },
      ]),
    );
    expect(response.status).toBe(200);
    expect(h.wa.ledger.last('send.accepted')?.text).toBeUndefined();
    expect(h.wa.ledger.last('send.accepted')?.template?.rendered).toBe('Welcome Ana!');
  });

  it('refuses MARKETING templates to a user who stopped marketing (131050) until they resume', async () => {
    await using h = await harness({ templates });
    const alice = h.wa.customer({ waId: ALICE, name: 'Alice' });
    await alice.stopMarketing();
    const refused = await h.send(template('promo', 'en_US'));
    expect(refused.json.error).toMatchObject({ code: 131050 });
    expect(
      (
        await h.send(
          template('welcome', 'pt_BR', [
            { type: 'body', parameters: [{ type: 'text', parameter_name: 'first_name', text: 'A' }] },
          ]),
        )
      ).status,
    ).toBe(200);
    await alice.resumeMarketing();
    expect((await h.send(template('promo', 'en_US'))).status).toBe(200);
  });
});
