import { join } from 'node:path';
import {
  type ConnectorManifest,
  type MediaAccess,
  MediaStore,
  silentLogger,
  type WorkspacePolicies,
} from '@wabridge/core';
import {
  type Clock,
  startWebhookRecorder,
  startWhatsAppEmulator,
  type WhatsAppEmulator,
} from '@wabridge/sandbox';
import type { SlackEmulator, SlackEmulatorOptions } from '@wabridge/sandbox/slack';
import { createCloudApiClient, type SendHandler, WhatsAppSender } from '@wabridge/whatsapp';
import { createTestBridge, type TestBridge } from '@wabridge/whatsapp/testing';
import { type SlackConfigInput, slackConnector } from '../src/index.ts';
import { startSlack, threadOf } from './kit.ts';

const WA_TOKEN = 'wa-test-token';
const WA_SECRET = 'wa-test-secret';

export interface World {
  bridge: TestBridge;
  slack: SlackEmulator;
  wa: WhatsAppEmulator;
  config: SlackConfigInput;
  /** The Slack thread of a customer's conversation (root first). */
  thread(waId: string): Promise<ReturnType<SlackEmulator['thread']>>;
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

/**
 * The connector inside a whole core (real SQLite, queue, command processor, WhatsApp sender and
 * media store) between the WhatsApp and Slack emulators, wired over HTTP the way the gateway does:
 * WhatsApp webhooks are ingested, Slack callbacks go through the connector's inbound handler and
 * the command processor. (The gateway itself is exercised in tests/e2e.)
 */
export async function startWorld(
  options: {
    slack?: Partial<SlackEmulatorOptions>;
    config?: Partial<SlackConfigInput>;
    policies?: Partial<WorkspacePolicies>;
    clock?: Clock;
    backoff?: { baseMs?: number; factor?: number; capMs?: number; maxAttempts?: number };
    statusDelaysMs?: { sent?: number; delivered?: number | null; read?: number | null };
    /** Other connectors enabled next to Slack in the workspace, with their configs. */
    others?: { manifest: ConnectorManifest; config: Record<string, unknown> }[];
  } = {},
): Promise<World> {
  const now = options.clock?.now;
  let bridge: TestBridge | undefined;
  const waHook = await startWebhookRecorder({
    respond: async (request) => {
      await bridge?.ingest(JSON.parse(request.text));
      return 200;
    },
  });
  const wa = await startWhatsAppEmulator({
    appSecret: WA_SECRET,
    accessToken: WA_TOKEN,
    webhookUrl: `${waHook.url}/webhooks/whatsapp`,
    statusDelaysMs: { sent: 5, delivered: 10, read: 15, ...options.statusDelaysMs },
    rules: { pairRate: { enabled: false } },
    ...(now ? { now } : {}),
  });
  const slackHook = await startWebhookRecorder({
    respond: async (request) => {
      if (!bridge) return 503;
      const instance = await bridge.host.instance(bridge.workspaceId, 'slack');
      if (!instance?.inbound) return 404;
      const path = (request.path.split('?')[0] ?? '').replace(/^\/hooks\/slack\/[^/]+/, '');
      const result = await instance.inbound.handle(
        new Request(`http://gateway.test${request.path}`, {
          method: request.method,
          headers: request.headers,
          body: request.bytes.byteLength > 0 ? new Uint8Array(request.bytes) : null,
        }),
        {
          path,
          rawBody: request.bytes,
          findRefByExternalId: (kind, id) =>
            bridge!.store.findRefByExternalId(bridge!.workspaceId, 'slack', kind, id),
        },
      );
      if (result.commands.length > 0)
        await bridge.commands.accept(bridge.workspaceId, 'slack', result.commands);
      return result.response;
    },
  });
  // Tests run Slack 50 times faster than the real 1 message per second per channel.
  const { slack, config } = await startSlack(
    {
      rateLimits: {
        postsPerChannel: { perSecond: 50, burst: 5 },
        tiers: { tier2: 1200, tier3: 3000, tier4: 6000 },
      },
      ...(options.clock ? { clock: options.clock } : {}),
      ...options.slack,
    },
    { postsPerSecondPerChannel: 50, tier3PerMinute: 3000, tier4PerMinute: 6000, ...options.config },
  );
  slack.setCallbackUrls(`${slackHook.url}/hooks/slack/ws-test`);
  const client = createCloudApiClient({ accessToken: WA_TOKEN, baseUrl: wa.baseUrl });
  let media: MediaStore | undefined;
  let sender: WhatsAppSender | undefined;
  const lazyMedia: MediaAccess = {
    fetch: (id) => media!.fetch('ws-test', id),
    url: (id, ttl) => media!.url('ws-test', id, ttl),
  };
  const lazySender: SendHandler = { send: (job, signal) => sender!.send(job, signal) };
  bridge = await createTestBridge({
    manifests: [slackConnector, ...(options.others ?? []).map((o) => o.manifest)],
    connectors: {
      slack: config as Record<string, unknown>,
      ...Object.fromEntries((options.others ?? []).map((o) => [o.manifest.id, o.config])),
    },
    media: lazyMedia,
    sender: lazySender,
    ...(options.policies ? { policies: options.policies } : {}),
    ...(now ? { now } : {}),
    ...(options.backoff ? { backoff: options.backoff } : {}),
  });
  const ready = bridge;
  media = new MediaStore({
    store: ready.store,
    client: () => client,
    dir: join(ready.dir, 'media'),
    signingKey: Buffer.alloc(32, 1),
    publicUrl: 'http://gateway.test',
    ...(now ? { now } : {}),
  });
  sender = new WhatsAppSender({
    store: ready.store,
    host: ready.host,
    client: () => client,
    logger: silentLogger,
    recipientRatePerSecond: 1000,
    recipientBurst: 1000,
    ...(now ? { now } : {}),
  });
  const world: World = {
    bridge: ready,
    slack,
    wa,
    config,
    async thread(waId) {
      const conversation = await ready.conversationOf(waId);
      return conversation ? threadOf(slack, ready, conversation.id) : [];
    },
    async close() {
      await ready.worker.stop(500);
      await slack.close();
      await wa.close();
      await waHook.close();
      await slackHook.close();
      await ready.close();
    },
    [Symbol.asyncDispose]: () => world.close(),
  };
  return world;
}
