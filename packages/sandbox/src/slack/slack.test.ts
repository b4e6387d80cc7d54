import { createHmac } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { createClock } from '../shared/clock.ts';
import { startWebhookRecorder, type WebhookRecorder } from '../shared/recorder.ts';
import { type SlackEmulator, startSlackEmulator } from './index.ts';

const TOKEN = 'xoxb-sandbox';
const SECRET = 'sandbox-secret';
const CHANNEL = 'C0SUPPORT01';

let slack: SlackEmulator | undefined;
let receiver: WebhookRecorder | undefined;
afterEach(async () => {
  await slack?.close();
  await receiver?.close();
  slack = undefined;
  receiver = undefined;
});

async function call(method: string, args: Record<string, string>, token: string | null = TOKEN) {
  const response = await fetch(`${slack!.apiUrl}${method}`, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      ...(token ? { authorization: `Bearer ${token}` } : {}),
    },
    body: new URLSearchParams(args).toString(),
  });
  return {
    status: response.status,
    retryAfter: response.headers.get('retry-after'),
    body: (await response.json()) as Record<string, unknown>,
  };
}

describe('Slack emulator', () => {
  it('answers with Slack envelopes: ok results, ok:false errors, not_authed and invalid_auth', async () => {
    slack = await startSlackEmulator({ signingSecret: SECRET, botToken: TOKEN });
    expect((await call('auth.test', {})).body).toMatchObject({
      ok: true,
      team_id: 'T0WABRIDGE',
      user_id: slack.botUserId,
    });
    expect((await call('auth.test', {}, null)).body).toEqual({ ok: false, error: 'not_authed' });
    expect((await call('auth.test', {}, 'xoxb-wrong')).body).toEqual({ ok: false, error: 'invalid_auth' });
    expect((await call('conversations.info', { channel: 'C0NOPE' })).body).toEqual({
      ok: false,
      error: 'channel_not_found',
    });
    expect((await call('chat.nonsense', {})).body).toMatchObject({ ok: false, error: 'unknown_method' });
  });

  it('checks requests against Slack’s Web API spec where it covers the method', async () => {
    slack = await startSlackEmulator({ signingSecret: SECRET, botToken: TOKEN });
    expect((await call('chat.postMessage', { text: 'no channel' })).body).toEqual({
      ok: false,
      error: 'invalid_arguments',
      response_metadata: { messages: ['[ERROR] missing required field: channel'] },
    });
    expect(
      (await call('chat.postMessage', { channel: CHANNEL, text: 'x', unfurl_links: 'perhaps' })).body,
    ).toMatchObject({
      error: 'invalid_arguments',
    });
    expect((await call('chat.postMessage', { channel: CHANNEL, blocks: 'not json' })).body).toMatchObject({
      error: 'invalid_arguments',
    });
    // Not in the vendored spec: checked from Slack's method page.
    expect(
      (await call('files.getUploadURLExternal', { filename: 'a.txt', length: '-1' })).body,
    ).toMatchObject({ error: 'invalid_arguments' });
    expect(slack.ledger.count('api.invalid')).toBe(4);
  });

  it('limits posts per channel with 429 and a Retry-After in seconds', async () => {
    slack = await startSlackEmulator({
      signingSecret: SECRET,
      botToken: TOKEN,
      rateLimits: { postsPerChannel: { perSecond: 1, burst: 2 } },
    });
    const results = [];
    for (let i = 0; i < 3; i++)
      results.push(await call('chat.postMessage', { channel: CHANNEL, text: `m${i}` }));
    expect(results.map((r) => r.status)).toEqual([200, 200, 429]);
    expect(results[2]?.retryAfter).toBe('1');
    expect(results[2]?.body).toEqual({ ok: false, error: 'ratelimited' });
    expect(slack.history(CHANNEL).map((m) => m.text)).toEqual(['m0', 'm1']);
  });

  it('throttles with seeded chaos: 429 ratelimited with Retry-After, nothing done, until switched off', async () => {
    slack = await startSlackEmulator({
      signingSecret: SECRET,
      botToken: TOKEN,
      chaos: { seed: 3, throttleRate: 1 },
    });
    const throttled = await call('chat.postMessage', { channel: CHANNEL, text: 'hello' });
    expect(throttled).toMatchObject({
      status: 429,
      retryAfter: '1',
      body: { ok: false, error: 'ratelimited' },
    });
    expect(slack.history(CHANNEL)).toEqual([]);
    expect(slack.ledger.count('api.rate_limited', (e) => e.key === 'chaos')).toBe(1);
    slack.setChaos(null);
    expect((await call('chat.postMessage', { channel: CHANNEL, text: 'hello' })).status).toBe(200);
  });

  it('runs the files v2 flow: upload URL, raw bytes, completion into a thread, private download with the token', async () => {
    slack = await startSlackEmulator({ signingSecret: SECRET, botToken: TOKEN });
    const root = (await call('chat.postMessage', { channel: CHANNEL, text: 'root' })).body;
    const url = (await call('files.getUploadURLExternal', { filename: 'note.txt', length: '5' })).body;
    expect((await fetch(String(url.upload_url), { method: 'POST', body: 'hello' })).status).toBe(200);
    const done = await call('files.completeUploadExternal', {
      files: JSON.stringify([{ id: String(url.file_id), title: 'A note' }]),
      channel_id: CHANNEL,
      thread_ts: String(root.ts),
      initial_comment: 'see file',
    });
    const file = (done.body.files as Record<string, unknown>[])[0] as {
      url_private: string;
      shares: { public: Record<string, { ts: string }[]> };
    };
    const share = file.shares.public[CHANNEL]?.[0];
    expect(slack.thread(CHANNEL, String(root.ts)).map((m) => [m.text, m.files.map((f) => f.title)])).toEqual([
      ['root', []],
      ['see file', ['A note']],
    ]);
    expect(share?.ts).toBe(slack.thread(CHANNEL, String(root.ts))[1]?.ts);
    expect((await fetch(file.url_private)).status).toBe(403);
    const download = await fetch(file.url_private, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(await download.text()).toBe('hello');
  });

  it('signs callbacks like Slack and retries them with the same bytes and X-Slack-Retry-Num', async () => {
    let answered = 0;
    receiver = await startWebhookRecorder({ respond: () => (answered++ < 2 ? 500 : 200) });
    slack = await startSlackEmulator({
      signingSecret: SECRET,
      botToken: TOKEN,
      eventsUrl: `${receiver.url}/events`,
      eventRetryDelaysMs: [5, 5, 5],
    });
    const root = (await call('chat.postMessage', { channel: CHANNEL, text: 'root' })).body;
    await slack.idle();
    const agent = slack.agent({ id: 'U0GRACE', name: 'Grace' });
    const seen = receiver.requests.length;
    answered = 0;
    const reply = await agent.reply({ channel: CHANNEL, threadTs: String(root.ts) }, 'hello', {
      duplicates: 1,
    });
    await reply.callback.settled;
    const requests = receiver.requests.slice(seen);
    expect(requests.map((r) => r.headers['x-slack-retry-num'])).toEqual([undefined, '1', '2', '3']);
    expect(new Set(requests.map((r) => r.text)).size).toBe(1);
    for (const request of requests) {
      const expected = `v0=${createHmac('sha256', SECRET).update(`v0:${request.headers['x-slack-request-timestamp']}:${request.text}`).digest('hex')}`;
      expect(request.headers['x-slack-signature']).toBe(expected);
    }
    const body = JSON.parse(requests[0]?.text ?? '{}');
    expect(body).toMatchObject({
      type: 'event_callback',
      event: { type: 'message', user: 'U0GRACE', thread_ts: root.ts, text: 'hello' },
    });
  });

  it('goes down for an outage on its clock and comes back', async () => {
    const clock = createClock();
    slack = await startSlackEmulator({ signingSecret: SECRET, botToken: TOKEN, clock });
    slack.outage(10 * 60_000);
    expect((await call('auth.test', {})).status).toBe(503);
    clock.advance(10 * 60_000);
    expect((await call('auth.test', {})).status).toBe(200);
  });

  it('opens a modal only within 3 seconds of the interaction that allowed it', async () => {
    const clock = createClock();
    receiver = await startWebhookRecorder();
    slack = await startSlackEmulator({
      signingSecret: SECRET,
      botToken: TOKEN,
      clock,
      interactivityUrl: `${receiver.url}/interactivity`,
    });
    const blocks = JSON.stringify([
      {
        type: 'actions',
        block_id: 'b',
        elements: [{ type: 'button', action_id: 'go', value: 'v', text: { type: 'plain_text', text: 'Go' } }],
      },
    ]);
    const posted = (await call('chat.postMessage', { channel: CHANNEL, text: 'pick', blocks })).body;
    const agent = slack.agent({ id: 'U0GRACE', name: 'Grace' });
    const view = JSON.stringify({ type: 'modal', title: { type: 'plain_text', text: 'Hi' }, blocks: [] });
    const first = await agent.chooseOption({ channel: CHANNEL, ts: String(posted.ts) }, 'go', 'v');
    expect((await call('views.open', { trigger_id: first.triggerId, view })).body).toMatchObject({
      ok: true,
    });
    const second = await agent.chooseOption({ channel: CHANNEL, ts: String(posted.ts) }, 'go', 'v');
    clock.advance(3001);
    expect((await call('views.open', { trigger_id: second.triggerId, view })).body).toEqual({
      ok: false,
      error: 'expired_trigger_id',
    });
  });
});
