import { type GraphEmulator, plainText } from '@wabridge/sandbox/graph';
import { describeConnectorConformance, type TestBridge } from '@wabridge/whatsapp/testing';
import { teamsConnector } from '../src/index.ts';
import {
  configFor,
  encryptionConfig,
  type HookFront,
  rootOf,
  startGraph,
  startHookFront,
} from './support.ts';

let graph: GraphEmulator;
let front: HookFront;
let current: TestBridge | null = null;

/** The connector's subscription (created through the real handshake, via the hook front). */
async function subscription(bridge: TestBridge) {
  current = bridge;
  const instance = await bridge.host.instance(bridge.workspaceId, 'teams');
  await instance?.maintain?.();
  const [sub] = graph.subscriptions();
  if (!sub) throw new Error('the connector created no subscription');
  return sub;
}

describeConnectorConformance('teams', {
  manifest: teamsConnector,
  async start() {
    // Generous emulator limits: the suite checks ordering and idempotency, not pacing.
    graph = await startGraph({ limits: { channelRequestsPerSecond: 50, channelBurst: 50 } });
    front = await startHookFront(() => current);
    const config = configFor(graph, {
      ...(await encryptionConfig()),
      subscription: { notificationBaseUrl: front.url },
      pacing: { requestsPerSecond: 4, messagesPerSecond: 4, messageBurst: 4 },
    });
    return {
      config: config as Record<string, unknown>,
      async stop() {
        await front.close();
        await graph.close();
      },
    };
  },
  async mirrored(bridge, conversationId) {
    const rootId = await rootOf(bridge, conversationId);
    return rootId ? graph.replies(rootId).map((m) => plainText(m.body)) : [];
  },
  failNext(failure) {
    if (failure === 'rate_limited') graph.failNext({ status: 429, retryAfterSeconds: 2 });
    else if (failure === 'unavailable') graph.failNext({ status: 503 });
    else graph.failNext({ status: 400, code: 'BadRequest' });
  },
  inbound: {
    async echo(bridge, conversationId) {
      const sub = await subscription(bridge);
      const rootId = await rootOf(bridge, conversationId);
      const own = graph
        .replies(rootId ?? '')
        .filter((m) => m.postedBy === 'bridge')
        .at(-1);
      if (!own) throw new Error('no post of the connector in the thread');
      return new Request(sub.notificationUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: graph.notificationPayload({ subscriptionId: sub.id, messageId: own.id }),
      });
    },
    async forged(bridge) {
      const sub = await subscription(bridge);
      const message = graph.roots().at(-1);
      if (!message) throw new Error('no message to forge a notification about');
      return new Request(sub.notificationUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: graph.notificationPayload({
          subscriptionId: sub.id,
          messageId: message.id,
          clientState: 'forged-client-state',
        }),
      });
    },
  },
});
