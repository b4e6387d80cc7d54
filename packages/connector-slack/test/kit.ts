import { type SlackEmulator, startSlackEmulator } from '@wabridge/sandbox/slack';
import type { ConnectorTestKit, TestBridge } from '@wabridge/whatsapp/testing';
import { parseRef } from '../src/api/refs.ts';
import { type SlackConfigInput, slackConnector } from '../src/index.ts';

export const SIGNING_SECRET = 'test-signing-secret';
export const BOT_TOKEN = 'xoxb-test-bot-token';
export const TEAM_ID = 'T0WABRIDGE';
export const SUPPORT = 'C0SUPPORT01';

/** Starts a Slack emulator and the connector config pointing at it. */
export async function startSlack(
  options: Partial<Parameters<typeof startSlackEmulator>[0]> = {},
  config: Partial<SlackConfigInput> = {},
): Promise<{ slack: SlackEmulator; config: SlackConfigInput }> {
  const slack = await startSlackEmulator({
    signingSecret: SIGNING_SECRET,
    botToken: BOT_TOKEN,
    teamId: TEAM_ID,
    channels: [{ id: SUPPORT, name: 'support' }],
    eventRetryDelaysMs: [20, 40, 80],
    ...options,
  });
  return {
    slack,
    config: {
      botToken: BOT_TOKEN,
      signingSecret: SIGNING_SECRET,
      teamId: TEAM_ID,
      appId: slack.appId,
      defaultChannel: SUPPORT,
      slackApiUrl: slack.apiUrl,
      ...config,
    },
  };
}

/** The root and replies of a conversation's thread, as Slack shows them. */
export async function threadOf(slack: SlackEmulator, bridge: TestBridge, conversationId: string) {
  const ref = await bridge.store.getRef(bridge.workspaceId, 'slack', 'conversation', conversationId);
  const root = parseRef(ref?.externalId);
  return root ? slack.thread(root.channel, root.ts) : [];
}

/**
 * The kit of the shared conformance suite. Each conformance customer gets its own channel (a
 * route per number): the suite's failure cases run back to back, and after its 429 case the
 * connector rightly holds back the channel Slack rate-limited for Retry-After.
 */
export function slackTestKit(): ConnectorTestKit {
  let slack: SlackEmulator;
  const customers = Array.from({ length: 40 }, (_, i) => `1555020${String(i + 1).padStart(4, '0')}`);
  const channelOf = (i: number) => `C0CONF${String(i + 1).padStart(4, '0')}`;
  return {
    manifest: slackConnector,
    async start() {
      const started = await startSlack(
        {
          channels: [
            { id: SUPPORT, name: 'support' },
            ...customers.map((_, i) => ({ id: channelOf(i), name: `conf-${i + 1}` })),
          ],
          echoBotMessages: false,
          rateLimits: { postsPerChannel: { perSecond: 100, burst: 10 }, tiers: false },
        },
        {
          postsPerSecondPerChannel: 100,
          routes: customers.map((number, i) => ({ channel: channelOf(i), customerPrefix: number })),
        },
      );
      slack = started.slack;
      return { config: started.config, stop: () => slack.close() };
    },
    async mirrored(bridge, conversationId) {
      return (await threadOf(slack, bridge, conversationId)).slice(1).map((m) => m.text);
    },
    failNext(failure) {
      if (failure === 'rate_limited') slack.failNext({ kind: 'rate_limited', retryAfterSeconds: 1 });
      else if (failure === 'unavailable') slack.failNext({ kind: 'unavailable', status: 503 });
      else slack.failNext({ kind: 'error', error: 'invalid_blocks' });
    },
    inbound: {
      async echo(bridge, conversationId) {
        const thread = await threadOf(slack, bridge, conversationId);
        const ours = thread.filter((m) => m.bot && m.threadTs);
        const last = ours[ours.length - 1];
        if (!last) throw new Error('nothing mirrored in the thread');
        return slack.botEventRequest('http://gateway.test/events', last.channel, last.ts);
      },
      async forged() {
        const body = JSON.stringify({ type: 'url_verification', challenge: 'forged', token: 'x' });
        return slack.signedRequest('http://gateway.test/events', body, { secret: 'not-the-signing-secret' });
      },
    },
  };
}
