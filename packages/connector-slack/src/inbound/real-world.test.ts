import { randomUUID } from 'node:crypto';
import type { CommandOutcome, DomainCommand } from '@wabridge/core';
import { type Json, mutatedBodies, mutationTimeout } from '@wabridge/core/testing';
import type { SlackEmulator } from '@wabridge/sandbox/slack';
import { createTestBridge, type TestBridge } from '@wabridge/whatsapp/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SUPPORT, startSlack } from '../../test/kit.ts';
import { TEMPLATE_ACTION } from '../constants.ts';
import { slackConnector } from '../index.ts';
import { classifyReply, commandsForEvent, envelopeSchema } from './events.ts';

/**
 * Slack callbacks shaped as Slack's platform sends them (fields, subtypes and oddities seen in real
 * traffic, not only what the emulator produces), each signed and handed to the connector the way
 * the gateway's `/hooks/slack/<workspace>` route does, with the commands then applied by the core:
 * what matters is the status Slack gets back and what, if anything, reaches the customer.
 */

let slack: SlackEmulator;
let bridge: TestBridge;
/** The conversation card (thread root) our bot posted, and the customer's message it mirrored. */
let threadTs: string;
let mirroredTs: string;
let conversationId: string;

const WA_ID = '447700900399';
const OTHER_TEAM = 'T0PARTNER9';

beforeAll(async () => {
  const started = await startSlack({ echoBotMessages: false });
  slack = started.slack;
  bridge = await createTestBridge({
    manifests: [slackConnector],
    connectors: { slack: started.config as Record<string, unknown> },
  });
  await bridge.customerText('Hi, where is my order?', { waId: WA_ID });
  await bridge.worker.drain();
  const root = slack.history(SUPPORT)[0];
  threadTs = root?.ts ?? '';
  mirroredTs = slack.thread(SUPPORT, threadTs)[1]?.ts ?? '';
  conversationId = (await bridge.conversationOf(WA_ID))?.id ?? '';
  if (!threadTs || !mirroredTs || !conversationId) throw new Error('the conversation was not mirrored');
});
afterAll(async () => {
  await bridge?.close();
  await slack?.close();
});

let seq = 0;
/** A fresh Slack message ts, after the thread root. */
const nextTs = () => `${Number(threadTs.split('.')[0]) + 10 + seq++}.${String(100 + seq).padStart(6, '0')}`;

interface Delivered {
  status: number;
  body: unknown;
  commands: DomainCommand[];
  outcomes: CommandOutcome[];
}

/** Signs `body` like Slack, hands it to the connector, applies its commands like the hooks route. */
async function deliver(
  path: string,
  body: string,
  options: {
    contentType?: string;
    headers?: Record<string, string>;
    secret?: string;
    timestamp?: string;
    /** Changes the bytes after signing (a tampered body). */
    tamper?: (body: string) => string;
  } = {},
): Promise<Delivered> {
  const signed = slack.signedRequest(`http://gateway.test/hooks/slack/ws-test${path}`, body, {
    ...(options.contentType ? { contentType: options.contentType } : {}),
    ...(options.secret ? { secret: options.secret } : {}),
    ...(options.timestamp ? { timestamp: options.timestamp } : {}),
  });
  const sent = options.tamper ? options.tamper(body) : body;
  const request = new Request(signed.url, {
    method: 'POST',
    headers: { ...Object.fromEntries(signed.headers), ...options.headers },
    body: sent,
  });
  const instance = await bridge.host.instance(bridge.workspaceId, 'slack');
  const result = await instance!.inbound!.handle(request, {
    path,
    rawBody: new TextEncoder().encode(sent),
    findRefByExternalId: (kind, id) =>
      bridge.store.findRefByExternalId(bridge.workspaceId, 'slack', kind, id),
  });
  const outcomes =
    result.commands.length > 0
      ? await bridge.commands.accept(bridge.workspaceId, 'slack', result.commands)
      : [];
  const text = await result.response.text();
  let parsed: unknown = text;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    // Not JSON: kept as text.
  }
  return { status: result.response.status, body: parsed, commands: result.commands, outcomes };
}

/** An Events API envelope with every field Slack sends today. */
function envelope(event: Record<string, unknown>, extra: Record<string, unknown> = {}) {
  return {
    token: 'ZZZZZZWSxiZZZ2yIvs3peJ',
    team_id: slack.teamId,
    context_team_id: slack.teamId,
    context_enterprise_id: null,
    api_app_id: slack.appId,
    event: { event_ts: event.ts ?? nextTs(), ...event },
    type: 'event_callback',
    event_id: `Ev0${randomUUID().replace(/-/g, '').slice(0, 10).toUpperCase()}`,
    event_time: Math.floor(Date.now() / 1000),
    authorizations: [
      {
        enterprise_id: null,
        team_id: slack.teamId,
        user_id: slack.botUserId,
        is_bot: true,
        is_enterprise_install: false,
      },
    ],
    is_ext_shared_channel: false,
    event_context: `4-eyJldCI6Im1lc3NhZ2UiLCJ0aWQiOiJUMCIsImFpZCI6IkEwIiwiY2lkIjoiQzAifQ${seq}`,
    ...extra,
  };
}

const section = (...elements: Record<string, unknown>[]) => ({
  type: 'rich_text',
  block_id: randomUUID().slice(0, 4),
  elements: [{ type: 'rich_text_section', elements }],
});

/** A person's message as a Slack client sends it: client_msg_id, team, rich_text blocks. */
function human(text: string, extra: Record<string, unknown> = {}) {
  const ts = nextTs();
  return {
    user: 'U0GRACE001',
    type: 'message',
    ts,
    client_msg_id: randomUUID(),
    text,
    team: slack.teamId,
    blocks: [section({ type: 'text', text })],
    thread_ts: threadTs,
    parent_user_id: slack.botUserId,
    channel: SUPPORT,
    event_ts: ts,
    channel_type: 'channel',
    ...extra,
  };
}

const event = (e: Record<string, unknown>, extra: Record<string, unknown> = {}) =>
  JSON.stringify(envelope(e, extra));

async function outboundCount(): Promise<number> {
  const messages = await bridge.store.listMessages(bridge.workspaceId, conversationId, { limit: 1000 });
  return messages.filter((m) => m.direction === 'outbound').length;
}

/** Status 200, no command at all: the callback is acknowledged and ignored. */
async function expectIgnored(body: string, label = body) {
  const before = await outboundCount();
  const result = await deliver('/events', body);
  expect(result.status, label).toBe(200);
  expect(result.commands, label).toEqual([]);
  expect(await outboundCount(), label).toBe(before);
}

/** Status 200 and exactly one agent.reply that the core sends to the customer. */
async function expectSent(body: string, label = body) {
  const before = await outboundCount();
  const result = await deliver('/events', body);
  expect(result.status, label).toBe(200);
  expect(
    result.commands.map((c) => c.type),
    label,
  ).toEqual(['agent.reply']);
  expect(
    result.outcomes.map((o) => o.status),
    label,
  ).toEqual(['sent']);
  expect(await outboundCount(), label).toBe(before + 1);
  return result.commands[0] as Extract<DomainCommand, { type: 'agent.reply' }>;
}

describe('signatures: verified strictly before anything is read', () => {
  const reply = () => event(human('should never go out'));
  const now = () => Math.floor(Date.now() / 1000);

  it.each([
    ['another secret', { secret: 'not-the-signing-secret' }],
    ['a timestamp 6 minutes old', { timestamp: String(now() - 360) }],
    ['a timestamp 6 minutes ahead', { timestamp: String(now() + 360) }],
    ['a body changed after signing', { tamper: (b: string) => b.replace('never', 'always') }],
    ['a body with a byte appended', { tamper: (b: string) => `${b} ` }],
  ])('refuses %s with 401 and records nothing', async (_label, options) => {
    const before = await outboundCount();
    const result = await deliver('/events', reply(), options);
    expect(result.status).toBe(401);
    expect(result.body).toEqual({ ok: false, error: 'invalid_signature' });
    expect(result.commands).toEqual([]);
    expect(await outboundCount()).toBe(before);
  });

  it('refuses missing, malformed and v1 signatures', async () => {
    const body = reply();
    const instance = await bridge.host.instance(bridge.workspaceId, 'slack');
    const signed = slack.signedRequest('http://gateway.test/events', body);
    const variants: Record<string, string>[] = [
      { 'content-type': 'application/json' },
      {
        'content-type': 'application/json',
        'x-slack-request-timestamp': signed.headers.get('x-slack-request-timestamp')!,
      },
      {
        'content-type': 'application/json',
        'x-slack-request-timestamp': signed.headers.get('x-slack-request-timestamp')!,
        'x-slack-signature': signed.headers.get('x-slack-signature')!.replace('v0=', 'v1='),
      },
      {
        'content-type': 'application/json',
        'x-slack-request-timestamp': `${signed.headers.get('x-slack-request-timestamp')}.5`,
        'x-slack-signature': signed.headers.get('x-slack-signature')!,
      },
      {
        'content-type': 'application/json',
        'x-slack-request-timestamp': signed.headers.get('x-slack-request-timestamp')!,
        'x-slack-signature': signed.headers.get('x-slack-signature')!.toUpperCase(),
      },
    ];
    for (const headers of variants) {
      const result = await instance!.inbound!.handle(
        new Request('http://gateway.test/events', { method: 'POST', headers, body }),
        { path: '/events', rawBody: new TextEncoder().encode(body), findRefByExternalId: async () => null },
      );
      expect(result.response.status, JSON.stringify(headers)).toBe(401);
      expect(result.commands).toEqual([]);
    }
  });

  it('answers url_verification only when signed, with the challenge as JSON', async () => {
    const body = JSON.stringify({
      token: 'Jhj5dZrVaK7ZwHHjRyZWjbDl',
      challenge: '3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P',
      type: 'url_verification',
    });
    const ok = await deliver('/events', body);
    expect(ok.status).toBe(200);
    expect(ok.body).toEqual({ challenge: '3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P' });
    const forged = await deliver('/events', body, { secret: 'forged' });
    expect(forged.status).toBe(401);
  });
});

describe('agent replies in a conversation thread', () => {
  it('sends a real reply once, however many times Slack retries it', async () => {
    const body = event(human('Your order ships today 🚚', { user_profile: { real_name: 'Grace Hopper' } }));
    const first = await expectSent(body);
    expect(first).toMatchObject({
      threadId: `${SUPPORT}:${threadTs}`,
      agent: { id: 'U0GRACE001', name: 'Grace Hopper' },
      text: 'Your order ships today 🚚',
      mode: 'send',
    });
    const before = await outboundCount();
    for (const [num, reason] of [
      ['1', 'http_timeout'],
      ['2', 'http_error'],
      ['3', 'unknown_error'],
    ] as const) {
      const retry = await deliver('/events', body, {
        headers: { 'x-slack-retry-num': num, 'x-slack-retry-reason': reason },
      });
      expect(retry.status).toBe(200);
      expect(retry.commands).toEqual([first]);
      // The core finds the reply already recorded (by its key, or as a message it knows).
      expect(retry.outcomes.map((o) => o.status)).not.toContain('sent');
    }
    expect(await outboundCount()).toBe(before);
  });

  it('sends a message Slack delivers again under another event id only once ((channel, ts) is the message)', async () => {
    const message = human('Sent twice by Slack');
    await expectSent(event(message));
    const again = await deliver('/events', event(message));
    expect(again.status).toBe(200);
    expect(again.outcomes.map((o) => o.status)).not.toContain('sent');
  });

  it('sends a reply also sent to the channel (thread_broadcast)', async () => {
    const reply = await expectSent(
      event(
        human('Update for everyone: shipped', {
          subtype: 'thread_broadcast',
          root: { type: 'message', ts: threadTs, bot_id: slack.botId, text: 'card', user: slack.botUserId },
        }),
      ),
    );
    expect(reply.text).toBe('Update for everyone: shipped');
  });

  it('sends a /me message in the thread', async () => {
    const reply = await expectSent(event(human('is checking the warehouse', { subtype: 'me_message' })));
    expect(reply.text).toBe('is checking the warehouse');
  });

  it('writes a blocks-only message (empty text) back from its rich_text', async () => {
    const reply = await expectSent(
      event(
        human('', {
          blocks: [
            {
              type: 'rich_text',
              block_id: 'aB1',
              elements: [
                {
                  type: 'rich_text_section',
                  elements: [
                    { type: 'text', text: 'Hello ' },
                    { type: 'text', text: 'Ada', style: { bold: true } },
                    { type: 'text', text: ', tracking: ' },
                    { type: 'link', url: 'https://track.example/42?a=1&b=2', text: 'here' },
                    { type: 'text', text: ' ' },
                    { type: 'emoji', name: 'thumbsup', unicode: '1f44d' },
                    { type: 'text', text: ' 1 < 2 & code ' },
                    { type: 'text', text: 'A-1', style: { code: true } },
                    { type: 'text', text: '\n' },
                  ],
                },
                {
                  type: 'rich_text_list',
                  style: 'ordered',
                  indent: 0,
                  elements: [
                    { type: 'rich_text_section', elements: [{ type: 'text', text: 'pack' }] },
                    { type: 'rich_text_section', elements: [{ type: 'text', text: 'ship' }] },
                  ],
                },
                {
                  type: 'rich_text_quote',
                  elements: [{ type: 'text', text: 'quoted' }],
                },
              ],
            },
          ],
        }),
      ),
    );
    expect(reply.text).toBe(
      'Hello *Ada*, tracking: here (https://track.example/42?a=1&b=2) 👍 1 < 2 & code ```A-1```\n1. pack\n2. ship\n> quoted',
    );
  });

  it('converts Slack markup, entities, emoji and unicode into what a WhatsApp user reads', async () => {
    const cases: [string, string][] = [
      ['Olá 👋🏽 — ça va? 日本語 ✅', 'Olá 👋🏽 — ça va? 日本語 ✅'],
      ['1 &lt; 2 &amp;&amp; 3 &gt; 2', '1 < 2 && 3 > 2'],
      ['&gt; quoted line\nanswer', '> quoted line\nanswer'],
      ['See <https://t.example/a?x=1&amp;y=2|the page>', 'See the page (https://t.example/a?x=1&y=2)'],
      ['Go to <http://example.com|example.com>', 'Go to example.com'],
      ['Go to <https://example.com/>', 'Go to https://example.com/'],
      ['Mail <mailto:help@example.com|help@example.com>', 'Mail help@example.com'],
      ['Ask in <#C0OPS0001|ops> or <#C0OPS0002> or <#C0OPS0003|>', 'Ask in #ops or #channel or #channel'],
      ['Thanks :slightly_smiling_face: :+1::skin-tone-4: :heart: :tada:', 'Thanks 🙂 👍🏽 \u2764\uFE0F 🎉'],
      ['Custom :partyparrot: at 10:30:00', 'Custom :partyparrot: at 10:30:00'],
      ['*bold* _it_ ~gone~ `code`', '*bold* _it_ ~gone~ ```code```'],
      ['Due <!date^1800000000^{date_short}|Jan 15, 2027>', 'Due Jan 15, 2027'],
    ];
    for (const [text, expected] of cases) {
      const reply = await expectSent(event(human(text)), text);
      expect(reply.text, text).toBe(expected);
    }
  });

  it('keeps replies that talk to colleagues as notes: mentions, <!here>, the note prefix', async () => {
    for (const text of [
      '<@U0BOB0001> can you check?',
      '<!here> who has this?',
      '<!subteam^S0OPS|@ops> help',
      '// internal',
    ]) {
      const result = await deliver('/events', event(human(text)));
      expect(result.status, text).toBe(200);
      expect(
        result.commands.map((c) => c.type === 'agent.reply' && c.mode),
        text,
      ).toEqual(['note']);
      expect(
        result.outcomes.map((o) => o.status),
        text,
      ).toEqual(['ignored']);
    }
  });

  it('recognises the send and note prefixes as Slack escapes them (`&gt;&gt;` for `>>`)', () => {
    const explicit = {
      notePrefix: '//',
      sendMode: 'explicit' as const,
      sendPrefix: '>>',
      mentionsAreNotes: true,
    };
    expect(classifyReply('&gt;&gt; Hello Ada', explicit)).toEqual({ mode: 'send', text: 'Hello Ada' });
    expect(classifyReply('  &gt;&gt;Hello &amp; bye', explicit)).toEqual({
      mode: 'send',
      text: 'Hello & bye',
    });
    expect(classifyReply('>> Hello Ada', explicit)).toEqual({ mode: 'send', text: 'Hello Ada' });
    expect(classifyReply('&gt; just a quote', explicit).mode).toBe('note');
    const note = { ...explicit, sendMode: 'reply' as const, notePrefix: '<note>' };
    expect(classifyReply('&lt;note&gt; private', note).mode).toBe('note');
  });

  it('sends an agent’s files, but not files Slack hides, deleted or stored elsewhere', async () => {
    const image = {
      id: 'F0IMAGE001',
      created: 1_800_000_000,
      timestamp: 1_800_000_000,
      name: 'parcel.jpg',
      title: 'parcel.jpg',
      mimetype: 'image/jpeg',
      filetype: 'jpg',
      pretty_type: 'JPEG',
      user: 'U0GRACE001',
      user_team: slack.teamId,
      editable: false,
      size: 123_456,
      mode: 'hosted',
      is_external: false,
      external_type: '',
      is_public: true,
      public_url_shared: false,
      display_as_bot: false,
      username: '',
      url_private: 'https://files.slack.com/files-pri/T0-F0IMAGE001/parcel.jpg',
      url_private_download: 'https://files.slack.com/files-pri/T0-F0IMAGE001/download/parcel.jpg',
      thumb_64: 'https://files.slack.com/files-tmb/T0-F0IMAGE001-x/parcel_64.jpg',
      original_w: 1024,
      original_h: 768,
      permalink: 'https://acme.slack.com/files/U0GRACE001/F0IMAGE001/parcel.jpg',
      is_starred: false,
      has_rich_preview: false,
      file_access: 'visible',
    };
    const pdf = {
      ...image,
      id: 'F0PDF00001',
      name: 'invoice.pdf',
      title: 'Invoice',
      mimetype: 'application/pdf',
      size: 2048,
    };
    const reply = await expectSent(
      event(
        human('Here you go', {
          subtype: 'file_share',
          upload: false,
          display_as_bot: false,
          files: [
            image,
            pdf,
            { id: 'F0HIDDEN01', mode: 'hidden_by_limit' },
            { id: 'F0GONE0001', mode: 'tombstone' },
            { id: 'F0GDRIVE01', mode: 'external', name: 'Doc', is_external: true, external_type: 'gdrive' },
            { mode: 'hidden_by_limit' },
          ],
        }),
      ),
    );
    expect(reply.attachments).toEqual([
      { ref: 'F0IMAGE001', filename: 'parcel.jpg', mimeType: 'image/jpeg', size: 123_456 },
      { ref: 'F0PDF00001', filename: 'invoice.pdf', mimeType: 'application/pdf', size: 2048 },
    ]);
    // Only files Slack hides: nothing to send, nothing sent, and the agent is told so in the thread.
    const hidden = await deliver(
      '/events',
      event(
        human('', {
          subtype: 'file_share',
          blocks: undefined,
          files: [{ id: 'F0HIDDEN02', mode: 'hidden_by_limit' }],
        }),
      ),
    );
    expect(hidden.status).toBe(200);
    expect(hidden.outcomes).toMatchObject([{ status: 'notice', kind: 'content_unsupported' }]);
    await bridge.worker.drain();
    expect(slack.thread(SUPPORT, threadTs).at(-1)?.text).toMatch(
      /^:no_entry_sign: Not sent: WhatsApp carries text, images and files/,
    );
  });

  it('sends a reply of a Slack Connect partner, whose event names their own team', async () => {
    const reply = await expectSent(
      event(
        human('Partner here: I fixed the address', {
          user: 'U0PARTNER1',
          team: OTHER_TEAM,
          user_team: OTHER_TEAM,
          source_team: OTHER_TEAM,
          user_profile: {
            real_name: 'Pat Partner',
            display_name: '',
            team: OTHER_TEAM,
            is_restricted: false,
          },
        }),
        { team_id: OTHER_TEAM, context_team_id: OTHER_TEAM, is_ext_shared_channel: true },
      ),
    );
    expect(reply.agent).toEqual({ id: 'U0PARTNER1', name: 'Pat Partner' });
  });

  it('ignores an event of another installation, even in a shared channel', async () => {
    await expectIgnored(
      event(human('not ours'), {
        team_id: OTHER_TEAM,
        authorizations: [{ enterprise_id: null, team_id: OTHER_TEAM, user_id: 'U0THEIRBOT', is_bot: true }],
      }),
    );
    await expectIgnored(event(human('another app'), { api_app_id: 'A0OTHERAPP' }));
  });
});

describe('echoes and other bots: never sent', () => {
  it('ignores our own posts as Slack echoes them (the card, the mirrored customer message)', async () => {
    for (const ts of [threadTs, mirroredTs]) {
      const echo = slack.botEventRequest('http://gateway.test/events', SUPPORT, ts);
      const result = await deliver('/events', await echo.text());
      expect(result.status).toBe(200);
      expect(result.commands).toEqual([]);
    }
  });

  it('ignores bot posts in every shape Slack sends them', async () => {
    const ours = { bot_id: slack.botId, app_id: slack.appId };
    const profile = (id: string, app: string) => ({
      id,
      deleted: false,
      name: 'some bot',
      updated: 1_700_000_000,
      app_id: app,
      icons: { image_36: 'https://a.slack-edge.com/x.png' },
      team_id: slack.teamId,
    });
    const cases: Record<string, unknown>[] = [
      // Ours: chat.postMessage in the thread, with and without the bot user, as a bot_message.
      { ...human('mirror'), ...ours, user: slack.botUserId, bot_profile: profile(slack.botId, slack.appId) },
      { ...human('mirror'), ...ours, user: undefined, client_msg_id: undefined },
      {
        ...human('mirror'),
        subtype: 'bot_message',
        bot_id: slack.botId,
        username: 'Ada (WhatsApp)',
        user: undefined,
      },
      // Ours: a file upload carries the bot user only.
      {
        ...human('upload'),
        subtype: 'file_share',
        user: slack.botUserId,
        files: [{ id: 'F0OURS0001', name: 'a.jpg' }],
      },
      // Another app: a bot post, a legacy bot_message with no bot id, a post with a user token.
      {
        ...human('other'),
        bot_id: 'B0OTHER001',
        app_id: 'A0OTHER001',
        bot_profile: profile('B0OTHER001', 'A0OTHER001'),
      },
      { ...human('other'), subtype: 'bot_message', user: undefined, username: 'Zapier', icons: {} },
      {
        ...human('other, on behalf of a user'),
        user: 'U0GRACE001',
        app_id: 'A0OTHER001',
        client_msg_id: undefined,
      },
      { ...human('profile only'), bot_profile: profile('B0OTHER002', 'A0OTHER002') },
      // A reply broadcast to the channel by our bot.
      { ...human('broadcast'), subtype: 'thread_broadcast', ...ours, user: slack.botUserId },
    ];
    for (const e of cases) await expectIgnored(event(e), JSON.stringify(e));
  });

  it('ignores edits and deletions of bot posts, and link previews of an agent’s reply', async () => {
    const reply = human('See https://example.com');
    const previous = { ...reply, edited: { user: 'U0GRACE001', ts: reply.ts } };
    const cases = [
      // Our bot updated the card or a mirror (chat.update).
      {
        type: 'message',
        subtype: 'message_changed',
        hidden: true,
        channel: SUPPORT,
        ts: nextTs(),
        message: {
          ...human('updated mirror'),
          ts: mirroredTs,
          bot_id: slack.botId,
          app_id: slack.appId,
          user: slack.botUserId,
          edited: { user: slack.botUserId, ts: nextTs() },
        },
        previous_message: { ...human('mirror'), ts: mirroredTs, bot_id: slack.botId, user: slack.botUserId },
      },
      // Slack unfurled a link in an agent's reply: no `edited`.
      {
        type: 'message',
        subtype: 'message_changed',
        hidden: true,
        channel: SUPPORT,
        ts: nextTs(),
        message: { ...reply, attachments: [{ from_url: 'https://example.com', title: 'Example' }] },
        previous_message: reply,
      },
      // ...in a reply edited before: `edited` is unchanged.
      {
        type: 'message',
        subtype: 'message_changed',
        hidden: true,
        channel: SUPPORT,
        ts: nextTs(),
        message: { ...previous, attachments: [{ from_url: 'https://example.com', title: 'Example' }] },
        previous_message: previous,
      },
      // The thread root (our card) gaining a reply.
      {
        type: 'message',
        subtype: 'message_changed',
        hidden: true,
        channel: SUPPORT,
        ts: nextTs(),
        message: {
          type: 'message',
          user: slack.botUserId,
          bot_id: slack.botId,
          ts: threadTs,
          thread_ts: threadTs,
          reply_count: 9,
        },
        previous_message: {
          type: 'message',
          user: slack.botUserId,
          bot_id: slack.botId,
          ts: threadTs,
          thread_ts: threadTs,
        },
      },
      // Our bot deleted a post of its own.
      {
        type: 'message',
        subtype: 'message_deleted',
        hidden: true,
        channel: SUPPORT,
        ts: nextTs(),
        deleted_ts: mirroredTs,
        previous_message: { ...human('mirror'), ts: mirroredTs, bot_id: slack.botId, user: slack.botUserId },
      },
    ];
    for (const e of cases) {
      const result = await deliver('/events', event(e));
      expect(result.status, e.subtype).toBe(200);
      expect(result.commands, JSON.stringify(e)).toEqual([]);
    }
  });

  it('turns an agent’s edit and deletion of a sent reply into one notice each', async () => {
    const sent = human('Arrives Monday');
    await expectSent(event(sent));
    const editedTs = nextTs();
    const edit = await deliver(
      '/events',
      event({
        type: 'message',
        subtype: 'message_changed',
        hidden: true,
        channel: SUPPORT,
        channel_type: 'channel',
        ts: editedTs,
        message: { ...sent, text: 'Arrives Tuesday', edited: { user: 'U0GRACE001', ts: editedTs } },
        previous_message: sent,
      }),
    );
    expect(edit.commands.map((c) => c.type)).toEqual(['agent.edit']);
    expect(edit.outcomes).toMatchObject([{ status: 'notice', kind: 'edit_unsupported' }]);
    const deletion = await deliver(
      '/events',
      event({
        type: 'message',
        subtype: 'message_deleted',
        hidden: true,
        channel: SUPPORT,
        channel_type: 'channel',
        ts: nextTs(),
        deleted_ts: sent.ts,
        previous_message: sent,
      }),
    );
    expect(deletion.commands.map((c) => c.type)).toEqual(['agent.delete']);
    expect(deletion.outcomes).toMatchObject([{ status: 'notice', kind: 'delete_unsupported' }]);
  });
});

describe('everything else Slack sends: acknowledged, ignored', () => {
  it('ignores message subtypes that are not an agent writing', async () => {
    const base = { type: 'message', channel: SUPPORT, channel_type: 'channel' };
    const cases: Record<string, unknown>[] = [
      {
        ...base,
        subtype: 'channel_join',
        user: 'U0NEW00001',
        text: '<@U0NEW00001> has joined the channel',
        ts: nextTs(),
        inviter: 'U0GRACE001',
      },
      {
        ...base,
        subtype: 'channel_leave',
        user: 'U0NEW00001',
        text: '<@U0NEW00001> has left the channel',
        ts: nextTs(),
      },
      {
        ...base,
        subtype: 'channel_topic',
        user: 'U0GRACE001',
        topic: 'WhatsApp',
        text: 'set the channel topic: WhatsApp',
        ts: nextTs(),
      },
      {
        ...base,
        subtype: 'channel_purpose',
        user: 'U0GRACE001',
        purpose: 'x',
        text: 'set the channel purpose: x',
        ts: nextTs(),
      },
      {
        ...base,
        subtype: 'channel_name',
        user: 'U0GRACE001',
        old_name: 'a',
        name: 'b',
        text: 'renamed',
        ts: nextTs(),
      },
      {
        ...base,
        subtype: 'reminder_add',
        user: 'U0GRACE001',
        text: 'set up a reminder “call Ada” in this channel at 9AM tomorrow',
        ts: nextTs(),
      },
      {
        ...base,
        subtype: 'huddle_thread',
        user: 'U0GRACE001',
        text: '',
        ts: nextTs(),
        thread_ts: threadTs,
        room: { id: 'R0HUDDLE01', name: '', created_by: 'U0GRACE001', participants: [], channels: [SUPPORT] },
        no_notifications: true,
        permalink: 'https://acme.slack.com/call/R0HUDDLE01',
      },
      {
        ...base,
        subtype: 'ekm_access_denied',
        user: 'UREVOKEDU',
        text: 'Your admin has revoked access to this message.',
        ts: nextTs(),
        thread_ts: threadTs,
      },
      {
        ...base,
        subtype: 'pinned_item',
        user: 'U0GRACE001',
        text: 'pinned a message',
        ts: nextTs(),
        item_type: 'C',
        item: {},
      },
      { ...base, subtype: 'channel_archive', user: 'U0GRACE001', text: 'archived the channel', ts: nextTs() },
      {
        ...base,
        subtype: 'message_replied',
        hidden: true,
        ts: nextTs(),
        message: { type: 'message', user: slack.botUserId, ts: threadTs, thread_ts: threadTs, replies: [] },
      },
      {
        ...base,
        subtype: 'tombstone',
        user: 'USLACKBOT',
        hidden: true,
        text: 'This message was deleted.',
        ts: threadTs,
        thread_ts: threadTs,
      },
      {
        ...base,
        subtype: 'assistant_app_thread',
        user: 'U0GRACE001',
        text: 'New chat',
        ts: nextTs(),
        assistant_app_thread: { title: 'x' },
      },
      {
        ...base,
        subtype: 'some_future_subtype',
        user: 'U0GRACE001',
        text: 'hi',
        ts: nextTs(),
        thread_ts: threadTs,
      },
    ];
    for (const e of cases) await expectIgnored(event(e), String(e.subtype));
  });

  it('ignores messages outside conversation threads: top level, other threads, DMs', async () => {
    const top = human('Morning all');
    delete (top as Partial<typeof top>).thread_ts;
    delete (top as Partial<typeof top>).parent_user_id;
    await expectIgnored(event(top));
    // A thread's root carries thread_ts = ts once it has replies.
    const root = human('Root of a colleague thread');
    await expectIgnored(event({ ...root, thread_ts: root.ts }));
    // A colleague thread: not a conversation wabridge mirrors.
    const foreign = await deliver('/events', event(human('Lunch?', { thread_ts: '1700000000.000100' })));
    expect(foreign.status).toBe(200);
    expect(foreign.outcomes.map((o) => o.status)).not.toContain('sent');
    const dm = await deliver(
      '/events',
      event(human('hi bot', { channel: 'D0DIRECT01', channel_type: 'im' })),
    );
    expect(dm.status).toBe(200);
    expect(dm.outcomes.map((o) => o.status)).not.toContain('sent');
  });

  it('ignores other event types, including shapes unlike a message', async () => {
    const ts = nextTs();
    const cases: Record<string, unknown>[] = [
      {
        type: 'app_mention',
        user: 'U0GRACE001',
        text: `<@${slack.botUserId}> status?`,
        ts,
        channel: SUPPORT,
        thread_ts: threadTs,
        team: slack.teamId,
        blocks: [],
      },
      {
        type: 'reaction_added',
        user: 'U0GRACE001',
        reaction: 'eyes',
        item_user: slack.botUserId,
        item: { type: 'message', channel: SUPPORT, ts: mirroredTs },
      },
      {
        type: 'reaction_removed',
        user: 'U0GRACE001',
        reaction: '+1::skin-tone-2',
        item: { type: 'message', channel: SUPPORT, ts: mirroredTs },
      },
      {
        type: 'app_home_opened',
        user: 'U0GRACE001',
        channel: 'D0HOME0001',
        tab: 'home',
        view: { id: 'V0HOME', type: 'home' },
      },
      {
        type: 'member_joined_channel',
        user: slack.botUserId,
        channel: SUPPORT,
        channel_type: 'C',
        team: slack.teamId,
        inviter: 'U0GRACE001',
      },
      {
        type: 'member_left_channel',
        user: 'U0GRACE001',
        channel: SUPPORT,
        channel_type: 'C',
        team: slack.teamId,
      },
      { type: 'tokens_revoked', tokens: { oauth: ['U0GRACE001'], bot: [slack.botUserId] } },
      { type: 'app_uninstalled' },
      {
        type: 'user_change',
        user: { id: 'U0GRACE001', team_id: slack.teamId, name: 'grace', profile: { real_name: 'Grace' } },
        cache_ts: 1_700_000_000,
      },
      { type: 'team_join', user: { id: 'U0NEW00001', name: 'new', deleted: false } },
      {
        type: 'channel_created',
        channel: { id: 'C0NEW00001', name: 'fresh', created: 1_700_000_000, creator: 'U0GRACE001' },
      },
      { type: 'channel_rename', channel: { id: SUPPORT, name: 'whatsapp', created: 1_700_000_000 } },
      { type: 'channel_shared', connected_team_id: 'E0ORG00001', channel: SUPPORT },
      {
        type: 'file_shared',
        file_id: 'F0IMAGE001',
        user_id: 'U0GRACE001',
        file: { id: 'F0IMAGE001' },
        channel_id: SUPPORT,
      },
      {
        type: 'link_shared',
        channel: SUPPORT,
        is_bot_user_member: true,
        user: 'U0GRACE001',
        message_ts: ts,
        unfurl_id: 'x',
        links: [{ domain: 'example.com', url: 'https://example.com' }],
      },
      {
        type: 'pin_added',
        user: 'U0GRACE001',
        channel_id: SUPPORT,
        item: { type: 'message', channel: SUPPORT, message: { type: 'message', ts: mirroredTs } },
      },
      {
        type: 'message_metadata_posted',
        app_id: slack.appId,
        bot_id: slack.botId,
        user_id: slack.botUserId,
        channel_id: SUPPORT,
        message_ts: mirroredTs,
        metadata: { event_type: 'wabridge_post' },
      },
      {
        type: 'assistant_thread_started',
        assistant_thread: { user_id: 'U0GRACE001', context: {}, channel_id: 'D0X', thread_ts: ts },
      },
      { type: 'some_future_event', user: 42, channel: ['odd'], text: { rich: true }, ts: 1.5, files: 'none' },
      // A message event with fields of odd shapes: still a 200.
      {
        type: 'message',
        channel: SUPPORT,
        user: { id: 'U0X' },
        text: null,
        ts: nextTs(),
        thread_ts: threadTs,
        edited: 'yes',
        files: [null, 3],
        user_profile: { real_name: null },
      },
    ];
    for (const e of cases) await expectIgnored(event(e), String(e.type));
  });

  it('answers other envelopes with 200: rate limiting, unknown types, org-wide shapes', async () => {
    const bodies = [
      {
        token: 'x',
        type: 'app_rate_limited',
        team_id: slack.teamId,
        minute_rate_limited: 1_518_467_820,
        api_app_id: slack.appId,
      },
      { token: 'x', type: 'some_future_envelope', team_id: slack.teamId, api_app_id: slack.appId },
      // An org-wide install: no team at the top.
      {
        ...envelope(human('org')),
        team_id: null,
        enterprise_id: 'E0ORG00001',
        authorizations: [{ enterprise_id: 'E0ORG00001', team_id: null, is_enterprise_install: true }],
      },
      {
        token: 'x',
        type: 'event_callback',
        team_id: null,
        enterprise_id: 'E0ORG00001',
        api_app_id: slack.appId,
        event: { type: 'team_access_granted', team_ids: ['T1'] },
        event_id: 'Ev0ORG',
      },
      // An event_callback with no event, or an event of no type.
      { ...envelope({}), event: undefined },
      { ...envelope({}), event: { channel: SUPPORT } },
      { ...envelope({}), event: 'message' },
    ];
    for (const body of bodies) await expectIgnored(JSON.stringify(body), JSON.stringify(body).slice(0, 120));
  });

  it('answers a signed body that is not an event at all with 400 and no retry', async () => {
    for (const body of ['not json', '[]', '"x"', '', '{"no_type":true}']) {
      const result = await deliver('/events', body);
      expect(result.status, body).toBe(400);
      expect(result.commands).toEqual([]);
    }
  });

  it('reads events whatever content type and route suffix they come with', async () => {
    for (const contentType of [
      'application/json; charset=utf-8',
      'text/plain',
      'application/x-www-form-urlencoded',
    ]) {
      const before = await outboundCount();
      const result = await deliver('/events', event(human(`type ${contentType}`)), { contentType });
      expect(result.status, contentType).toBe(200);
      expect(
        result.outcomes.map((o) => o.status),
        contentType,
      ).toEqual(['sent']);
      expect(await outboundCount()).toBe(before + 1);
    }
    // A Request URL saved without `/events`.
    for (const path of ['/', '']) {
      const result = await deliver(path, event(human(`at "${path}"`)));
      expect(result.status, path).toBe(200);
      expect(
        result.outcomes.map((o) => o.status),
        path,
      ).toEqual(['sent']);
    }
    const challenge = await deliver(
      '/',
      JSON.stringify({ type: 'url_verification', challenge: 'c-bare', token: 'x' }),
    );
    expect(challenge.body).toEqual({ challenge: 'c-bare' });
  });

  it('handles a large event (long text, many blocks) without failing', async () => {
    const long = 'Long answer. '.repeat(300).trim();
    const blocks = Array.from({ length: 2000 }, (_, i) =>
      section({ type: 'text', text: `padding ${i} ${'x'.repeat(300)}` }),
    );
    const body = event(human(long, { blocks }));
    expect(body.length).toBeGreaterThan(700_000);
    const reply = await expectSent(body);
    expect(reply.text).toBe(long);
  });
});

describe('interactivity payloads', () => {
  const form = (payload: unknown) => `payload=${encodeURIComponent(JSON.stringify(payload))}`;
  const interact = (payload: unknown, contentType = 'application/x-www-form-urlencoded') =>
    deliver('/interactivity', form(payload), { contentType });
  const common = () => ({
    team: { id: slack.teamId, domain: 'acme' },
    user: { id: 'U0GRACE001', username: 'grace', name: 'grace', team_id: slack.teamId },
    api_app_id: slack.appId,
    token: 'ZZZZZZWSxiZZZ2yIvs3peJ',
    is_enterprise_install: false,
    enterprise: null,
  });

  it('answers block_actions of any action with 200 and commands nothing', async () => {
    const payloads = [
      // The card's link button (Slack sends block_actions for url buttons too).
      {
        type: 'block_actions',
        ...common(),
        container: { type: 'message', message_ts: threadTs, channel_id: SUPPORT, is_ephemeral: false },
        trigger_id: '1234567890123.1234567890123.abcdef',
        channel: { id: SUPPORT, name: 'support' },
        message: { type: 'message', ts: threadTs, bot_id: slack.botId, text: 'card', blocks: [] },
        state: { values: {} },
        response_url: 'https://hooks.slack.com/actions/T0/1/x',
        actions: [
          {
            action_id: 'open_hubspot',
            block_id: 'b1',
            text: { type: 'plain_text', text: 'HubSpot' },
            value: 'x',
            url: 'https://app.hubspot.com',
            type: 'button',
            action_ts: '1700000000.1',
          },
        ],
      },
      // The template picker, with a trigger Slack no longer honours: the modal fails, the answer does not.
      {
        type: 'block_actions',
        ...common(),
        container: {
          type: 'message',
          message_ts: mirroredTs,
          channel_id: SUPPORT,
          is_ephemeral: false,
          thread_ts: threadTs,
        },
        trigger_id: 'expired.trigger',
        channel: { id: SUPPORT, name: 'support' },
        message: {
          type: 'message',
          ts: mirroredTs,
          thread_ts: threadTs,
          bot_id: slack.botId,
          text: 'notice',
        },
        actions: [
          {
            type: 'static_select',
            action_id: TEMPLATE_ACTION,
            block_id: 'tpl',
            selected_option: {
              text: { type: 'plain_text', text: 'order_update' },
              value: 'order_update|en_US|2',
            },
            action_ts: '1700000000.2',
          },
        ],
      },
      // Odd but plausible: no actions, actions not a list, an action with no id.
      { type: 'block_actions', ...common(), trigger_id: 't' },
      { type: 'block_actions', ...common(), trigger_id: 't', actions: {} },
      { type: 'block_actions', ...common(), trigger_id: 't', actions: [null, {}] },
    ];
    for (const payload of payloads) {
      const result = await interact(payload);
      expect(result.status, JSON.stringify(payload).slice(0, 100)).toBe(200);
      expect(result.commands).toEqual([]);
    }
  });

  it('answers shortcuts, message actions, other views and suggestions with 200', async () => {
    const payloads = [
      { type: 'shortcut', ...common(), callback_id: 'new_thing', trigger_id: 't', action_ts: '1700000000.3' },
      {
        type: 'message_action',
        ...common(),
        callback_id: 'send_to_customer',
        trigger_id: 't',
        channel: { id: SUPPORT, name: 'support' },
        message: { type: 'message', user: 'U0GRACE001', ts: mirroredTs, text: 'x' },
        response_url: 'https://hooks.slack.com/app/x',
        message_ts: mirroredTs,
      },
      {
        type: 'view_submission',
        ...common(),
        trigger_id: 't',
        view: { id: 'V0OTHER', callback_id: 'other_modal', state: { values: {} }, private_metadata: '' },
      },
      {
        type: 'view_submission',
        ...common(),
        view: { id: 'V0BAD', callback_id: TEMPLATE_ACTION, private_metadata: 'not json' },
      },
      {
        type: 'view_closed',
        ...common(),
        view: { id: 'V0CLOSE', callback_id: TEMPLATE_ACTION },
        is_cleared: false,
      },
      { type: 'block_suggestion', ...common(), action_id: 'x', block_id: 'y', value: 'or' },
      { type: 'some_future_interaction', ...common() },
    ];
    for (const payload of payloads) {
      const result = await interact(payload);
      expect(result.status, payload.type).toBe(200);
      expect(result.commands).toEqual([]);
    }
  });

  it('turns the template modal’s submission into one agent.template, also from a Slack Connect partner', async () => {
    const metadata = JSON.stringify({
      threadId: `${SUPPORT}:${threadTs}`,
      name: 'order_update',
      language: 'en_US',
      parameters: 1,
    });
    const view = (id: string) => ({
      id,
      team_id: slack.teamId,
      app_installed_team_id: slack.teamId,
      type: 'modal',
      callback_id: TEMPLATE_ACTION,
      private_metadata: metadata,
      hash: '1700000000.abc',
      state: { values: { param_1: { value: { type: 'plain_text_input', value: 'Ada 👋' } } } },
      title: { type: 'plain_text', text: 'Send a template' },
      blocks: [],
    });
    const ours = await interact({
      type: 'view_submission',
      ...common(),
      trigger_id: 't',
      view: view('V0TPL0001'),
      response_urls: [],
    });
    expect(ours.status).toBe(200);
    expect(ours.commands).toMatchObject([
      {
        type: 'agent.template',
        idempotencyKey: 'view:V0TPL0001',
        template: { name: 'order_update', parameters: ['Ada 👋'] },
      },
    ]);
    const partner = await interact({
      type: 'view_submission',
      ...common(),
      team: { id: OTHER_TEAM, domain: 'partner' },
      user: { id: 'U0PARTNER1', username: 'pat', name: 'pat', team_id: OTHER_TEAM },
      view: { ...view('V0TPL0002'), team_id: OTHER_TEAM },
    });
    expect(partner.status).toBe(200);
    expect(partner.commands.map((c) => c.type)).toEqual(['agent.template']);
    // A missing parameter keeps the modal open with an error, and commands nothing.
    const empty = view('V0TPL0003');
    empty.state.values.param_1.value.value = '  ';
    const missing = await interact({ type: 'view_submission', ...common(), view: empty });
    expect(missing.body).toMatchObject({
      response_action: 'errors',
      errors: { param_1: expect.any(String) },
    });
    expect(missing.commands).toEqual([]);
  });

  it('ignores interactions of another team, and refuses unsigned ones', async () => {
    const foreign = await interact({
      type: 'block_actions',
      ...common(),
      team: { id: OTHER_TEAM, domain: 'x' },
      actions: [],
    });
    expect(foreign.status).toBe(200);
    const forged = await deliver('/interactivity', form({ type: 'block_actions', ...common() }), {
      contentType: 'application/x-www-form-urlencoded',
      secret: 'forged',
    });
    expect(forged.status).toBe(401);
    // A bare Request URL: a form with `payload` is an interaction.
    const bare = await deliver('/', form({ type: 'view_closed', ...common(), view: { id: 'V0' } }), {
      contentType: 'application/x-www-form-urlencoded',
    });
    expect(bare.status).toBe(200);
  });
});

describe('the event parser on its own', () => {
  it(
    'answers mutated events without failing, and acts on each at most once',
    async () => {
      // Real shapes, each changed at one to three random places (see mutate): none may throw or
      // earn a 5xx (Slack would retry it, then disable the subscription), and a second delivery of
      // the same bytes must send nothing more to WhatsApp.
      const sent = human('Arrives Monday');
      // Fresh each time (new ts and event ids), as plain JSON.
      const seeds = (): Json[] =>
        JSON.parse(
          JSON.stringify([
            envelope(human('Where is my parcel?')),
            envelope(
              human('Here', {
                subtype: 'file_share',
                files: [
                  {
                    id: 'F0PDF00002',
                    name: 'invoice.pdf',
                    mimetype: 'application/pdf',
                    size: 2048,
                    mode: 'hosted',
                  },
                ],
              }),
            ),
            envelope({
              type: 'message',
              subtype: 'message_changed',
              hidden: true,
              channel: SUPPORT,
              ts: nextTs(),
              message: { ...sent, text: 'Arrives Tuesday', edited: { user: 'U0GRACE001', ts: nextTs() } },
              previous_message: sent,
            }),
            envelope({
              type: 'message',
              subtype: 'message_deleted',
              hidden: true,
              channel: SUPPORT,
              ts: nextTs(),
              deleted_ts: sent.ts,
              previous_message: sent,
            }),
            envelope({
              type: 'message',
              subtype: 'bot_message',
              bot_id: 'B0OTHER01',
              text: 'Build passed',
              ts: nextTs(),
              thread_ts: threadTs,
              channel: SUPPORT,
            }),
            { token: 'Jhj5dZrVaK7ZwHHjRyZWjbDl', challenge: 'a1b2c3', type: 'url_verification' },
            {
              token: 'Jhj5dZrVaK7ZwHHjRyZWjbDl',
              type: 'app_rate_limited',
              team_id: slack.teamId,
              minute_rate_limited: 1518467820,
              api_app_id: slack.appId,
            },
          ]),
        );
      for (const { body, where } of mutatedBodies(seeds, 150, 'event')) {
        const text = JSON.stringify(body);
        const first = await deliver('/events', text);
        expect(first.status, where).toBeLessThan(500);
        const sends = await outboundCount();
        const again = await deliver('/events', text);
        expect(again.status, where).toBe(first.status);
        expect(
          again.outcomes.filter((o) => o.status === 'sent'),
          where,
        ).toEqual([]);
        expect(await outboundCount(), where).toBe(sends);
      }
    },
    mutationTimeout(150, 100),
  );

  it('never throws on what Slack might send, and keeps the usable part of odd messages', () => {
    const own = { botUserId: 'U0BOT', botId: 'B0BOT', appId: 'A0APP' };
    const config = { notePrefix: '//', sendMode: 'reply' as const, sendPrefix: '>>', mentionsAreNotes: true };
    const parsed = envelopeSchema.parse({
      type: 'event_callback',
      team_id: 'T0',
      event_id: 'Ev1',
      event: {
        type: 'message',
        channel: 'C0',
        user: 'U1',
        text: 'hi',
        ts: '2.000200',
        thread_ts: '1.000100',
        user_profile: { real_name: null, display_name: 'Gee' },
        files: [{ id: 'F1', name: 'a.png', mimetype: 'image/png', size: 'big' }, { name: 'no id' }],
        edited: null,
      },
    });
    expect(commandsForEvent(parsed, own, config)).toMatchObject([
      {
        type: 'agent.reply',
        agent: { id: 'U1', name: 'Gee' },
        text: 'hi',
        attachments: [{ ref: 'F1', filename: 'a.png', mimeType: 'image/png', size: null }],
      },
    ]);
  });
});
