import type { InboundResult } from '@wabridge/core';
import type { SlackEmulator } from '@wabridge/sandbox/slack';
import { createTestBridge, type TestBridge } from '@wabridge/whatsapp/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SUPPORT, startSlack } from '../../test/kit.ts';
import { slackConnector } from '../index.ts';

let slack: SlackEmulator;
let bridge: TestBridge;
let threadTs: string;

beforeAll(async () => {
  const started = await startSlack({ echoBotMessages: false });
  slack = started.slack;
  bridge = await createTestBridge({
    manifests: [slackConnector],
    connectors: { slack: started.config as Record<string, unknown> },
  });
  await bridge.customerText('hello', { waId: '447700900301' });
  await bridge.worker.drain();
  threadTs = slack.history(SUPPORT)[0]?.ts ?? '';
});
afterAll(async () => {
  await bridge?.close();
  await slack?.close();
});

async function handle(request: Request, path = new URL(request.url).pathname): Promise<InboundResult> {
  const instance = await bridge.host.instance(bridge.workspaceId, 'slack');
  return instance!.inbound!.handle(request, {
    path,
    rawBody: new Uint8Array(await request.clone().arrayBuffer()),
    findRefByExternalId: (kind, id) =>
      bridge.store.findRefByExternalId(bridge.workspaceId, 'slack', kind, id),
  });
}

function event(event: Record<string, unknown>, envelope: Record<string, unknown> = {}) {
  return JSON.stringify({
    type: 'event_callback',
    team_id: slack.teamId,
    api_app_id: slack.appId,
    event_id: `Ev${Math.random().toString(36).slice(2)}`,
    event_time: Math.floor(Date.now() / 1000),
    event: { type: 'message', channel: SUPPORT, channel_type: 'channel', ...event },
    ...envelope,
  });
}

describe('Slack callbacks', () => {
  it('answers url_verification with the challenge, once the signature is checked', async () => {
    const body = JSON.stringify({ type: 'url_verification', challenge: 'c-123', token: 'x' });
    const result = await handle(slack.signedRequest('http://gateway.test/events', body));
    expect(result.response.status).toBe(200);
    expect(await result.response.json()).toEqual({ challenge: 'c-123' });
  });

  it('answers signed but malformed bodies with 400 and records nothing', async () => {
    const bodies: [string, string, string | undefined][] = [
      ['/events', 'not json', undefined],
      ['/events', '[1, 2]', undefined],
      ['/interactivity', `payload=${encodeURIComponent('null')}`, 'application/x-www-form-urlencoded'],
      ['/interactivity', `payload=${encodeURIComponent('{broken')}`, 'application/x-www-form-urlencoded'],
    ];
    for (const [path, body, contentType] of bodies) {
      const request = slack.signedRequest(
        `http://gateway.test${path}`,
        body,
        contentType ? { contentType } : {},
      );
      const result = await handle(request, path);
      expect(result.response.status, `${path} ${body}`).toBe(400);
      expect(result.commands).toEqual([]);
    }
  });

  it('refuses a replayed request older than 5 minutes and records nothing', async () => {
    const old = String(Math.floor(Date.now() / 1000) - 360);
    const body = event({ user: 'U0GRACE', text: 'hi', ts: '1800000000.000200', thread_ts: threadTs });
    const result = await handle(slack.signedRequest('http://gateway.test/events', body, { timestamp: old }));
    expect(result.response.status).toBe(401);
    expect(result.commands).toEqual([]);
  });

  it('turns a thread reply into one agent.reply keyed by the event id, the same on every retry', async () => {
    const body = event({
      user: 'U0GRACE',
      text: 'On it',
      ts: '1800000000.000300',
      thread_ts: threadTs,
      user_profile: { real_name: 'Grace' },
    });
    const first = await handle(slack.signedRequest('http://gateway.test/events', body));
    const retry = await handle(slack.signedRequest('http://gateway.test/events', body));
    expect(first.commands).toEqual(retry.commands);
    expect(first.commands).toEqual([
      {
        type: 'agent.reply',
        idempotencyKey: JSON.parse(body).event_id,
        threadId: `${SUPPORT}:${threadTs}`,
        messageId: `${SUPPORT}:1800000000.000300`,
        agent: { id: 'U0GRACE', name: 'Grace' },
        text: 'On it',
        attachments: [],
        mode: 'send',
      },
    ]);
  });

  it('ignores bot posts, our own uploads, top-level messages, link previews and other teams', async () => {
    const cases = [
      event({
        user: slack.botUserId,
        bot_id: 'B0OTHER',
        text: 'a bot',
        ts: '1800000000.000400',
        thread_ts: threadTs,
      }),
      event({
        user: slack.botUserId,
        subtype: 'file_share',
        text: 'our upload',
        ts: '1800000000.000500',
        thread_ts: threadTs,
      }),
      event({ user: 'U0GRACE', text: 'not in a thread', ts: '1800000000.000600' }),
      event({
        subtype: 'message_changed',
        ts: '1800000000.000700',
        message: { user: 'U0GRACE', text: 'with preview', ts: '1800000000.000300', thread_ts: threadTs },
      }),
      event(
        { user: 'U0GRACE', text: 'elsewhere', ts: '1800000000.000800', thread_ts: threadTs },
        { team_id: 'T0OTHER' },
      ),
    ];
    for (const body of cases) {
      const result = await handle(slack.signedRequest('http://gateway.test/events', body));
      expect(result.response.status, body).toBe(200);
      expect(result.commands, body).toEqual([]);
    }
  });

  it('answers Slack’s certificate check and unknown routes without reading further', async () => {
    const ssl = await handle(
      new Request('http://gateway.test/commands', {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: 'ssl_check=1&token=x',
      }),
    );
    expect(ssl.response.status).toBe(200);
    const unknown = await handle(slack.signedRequest('http://gateway.test/nope', '{}'));
    expect(unknown.response.status).toBe(404);
  });
});
