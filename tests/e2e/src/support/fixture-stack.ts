import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Metrics, noopMetrics } from '@wabridge/core';
import {
  createApp,
  createLogger,
  createRuntime,
  defaultRegistry,
  loadEnv,
  type Runtime,
} from '@wabridge/gateway';
import { startServer } from '@wabridge/sandbox';
import { fromHtml, fromSlackText, textOf } from '@wabridge/sandbox/console';
import {
  type GraphEmulator,
  plainText,
  startGraphEmulator,
  trustCertificateInProcess,
} from '@wabridge/sandbox/graph';
import { type HubSpotEmulator, startHubSpotEmulator } from '@wabridge/sandbox/hubspot';
import { type SlackEmulator, startSlackEmulator } from '@wabridge/sandbox/slack';
import { startWhatsAppEmulator, type WhatsAppEmulator } from '@wabridge/sandbox/whatsapp';

/**
 * The four emulators, started once, and a real gateway (HTTP edge, SQLite store, worker,
 * the built-in Slack, Teams and HubSpot connectors) that `fresh()` replaces with a new one on an
 * empty database: recorded bodies reuse Meta's placeholder ids (one wamid appears in two of Meta's
 * examples), so each body gets an archive of its own, while the emulators keep what every run
 * posted and a run is read back through its own refs.
 */
export const NUMBERS = ['106540352242922', '106540352242923'];
const TEAM = 'fbe2bf47-16c8-47cf-b4a5-4b9b187c508b';
const CHANNEL = '19:fixtures0aaaaaaaaaaaaaaaaaaaaaaa@thread.tacv2';
const SLACK_CHANNEL = 'C0FIXTURES';

export interface FixtureStack {
  /** Every business number of the workspace: NUMBERS, then the extra ones. */
  numbers: string[];
  whatsapp: WhatsAppEmulator;
  slack: SlackEmulator;
  graph: GraphEmulator;
  /** The current run's HubSpot portal (each run gets a new one). */
  readonly hubspot: HubSpotEmulator;
  /** A new gateway and workspace on an empty database; the previous one is closed. */
  fresh(): Promise<FixtureRun>;
  close(): Promise<void>;
}

export interface FixtureRun {
  runtime: Runtime;
  workspaceId: string;
  /** Waits until the emulators are idle and no job is ready or running. */
  settle(timeoutMs?: number): Promise<void>;
  /** What one target shows for one of our messages, as plain text; null when it shows nothing. */
  shown(target: 'slack' | 'teams' | 'hubspot', messageId: string): Promise<string | null>;
  /** Roots (threads) this run created: Slack channel messages, Teams channel posts. */
  roots(): { slack: number; teams: number };
  /** The plain text of every post and entry this run created, in every target. */
  everything(): string[];
}

/** What a test may change about the stack; the defaults are the fixtures' own. */
export interface FixtureStackOptions {
  /** Delays of the WhatsApp emulator's own status webhooks after a send (see StatusDelays). */
  statusDelaysMs?: { sent: number; delivered: number | null; read: number | null };
  /** Where the gateway reports its metrics (default nowhere). */
  metrics?: Metrics;
  /**
   * More business numbers, each with a Teams channel of its own (routed by number), for tests
   * with more conversations than one channel's 4 requests/s can carry in time. See `numbers`.
   */
  extraNumbers?: number;
  /** Jobs the worker runs at once (the gateway's default otherwise). */
  workerConcurrency?: number;
}

export async function startFixtureStack(options: FixtureStackOptions = {}): Promise<FixtureStack> {
  const secret = (label: string) => `fx-${label}-${randomBytes(12).toString('hex')}`;
  const appSecret = secret('app');
  const accessToken = secret('wa');
  const numbers = [
    ...NUMBERS,
    ...Array.from({ length: options.extraNumbers ?? 0 }, (_, i) => `1065403529${String(i).padStart(5, '0')}`),
  ];
  // The first two numbers share the fixtures' channel, as they always did; each extra one has its own.
  const channelOf = (i: number) =>
    i < NUMBERS.length
      ? CHANNEL
      : `19:fixtures${String(i).padStart(3, '0')}aaaaaaaaaaaaaaaaaaaaaaa@thread.tacv2`;
  const channels = [...new Set(numbers.map((_, i) => channelOf(i)))];
  const whatsapp = await startWhatsAppEmulator({
    appSecret,
    accessToken,
    phoneNumbers: numbers.map((phoneNumberId, i) => ({
      phoneNumberId,
      displayPhoneNumber: `1555078388${i + 1}`,
      wabaId: '419561257915477',
    })),
    rules: { pairRate: { enabled: false } },
    webhookRetry: { delaysMs: [200, 1000], timeoutMs: 10_000 },
    ...(options.statusDelaysMs ? { statusDelaysMs: options.statusDelaysMs } : {}),
  });
  const slack = await startSlackEmulator({
    signingSecret: secret('slack'),
    botToken: `xoxb-${randomBytes(12).toString('hex')}`,
    channels: [{ id: SLACK_CHANNEL, name: 'whatsapp-fixtures' }],
    rateLimits: {
      postsPerChannel: { perSecond: 100, burst: 100 },
      tiers: { tier2: 1000, tier3: 1000, tier4: 1000 },
    },
  });
  const hubspotToken = `pat-na1-${randomBytes(16).toString('hex')}`;
  // A new portal for every run: a contact's consent property set by one body (Meta's button
  // example says "Unsubscribe") must not reach the next run through the CRM.
  const startHubSpot = () =>
    startHubSpotEmulator({
      accessToken: hubspotToken,
      clientSecret: secret('hubspot-client'),
      portalId: 4_242_424,
      appId: 777_001,
    });
  let hubspot = await startHubSpot();
  const graph = await startGraphEmulator({
    teams: [
      {
        id: TEAM,
        displayName: 'Support',
        channels: channels.map((id, i) => ({ id, displayName: i === 0 ? 'WhatsApp' : `WhatsApp ${i}` })),
      },
    ],
    limits: { channelRequestsPerSecond: 100, channelBurst: 100 },
  });
  trustCertificateInProcess(graph.certificate);

  let handler: ((request: Request) => Response | Promise<Response>) | null = null;
  const server = await startServer({
    fetch: (request) => (handler ? handler(request) : new Response('starting', { status: 503 })),
  });
  let current: { runtime: Runtime; dir: string } | null = null;
  let seq = 0;

  const closeCurrent = async () => {
    if (!current) return;
    const { runtime, dir } = current;
    current = null;
    handler = null;
    // Graph would keep notifying the closed gateway's subscription.
    for (const subscription of graph.subscriptions()) graph.expireSubscription(subscription.id);
    await runtime.close();
    rmSync(dir, { recursive: true, force: true });
  };

  async function fresh(): Promise<FixtureRun> {
    await closeCurrent();
    await hubspot.close();
    hubspot = await startHubSpot();
    const dir = mkdtempSync(join(tmpdir(), 'wabridge-fixtures-'));
    const workspaceId = `fixtures${++seq}`;
    const env = loadEnv({
      NODE_ENV: 'test',
      PORT: String(server.port),
      HOST: '127.0.0.1',
      PUBLIC_URL: server.url,
      LOG_LEVEL: process.env.WABRIDGE_TEST_LOG ?? 'silent',
      WABRIDGE_DATA_DIR: dir,
      WABRIDGE_MASTER_KEY: randomBytes(32).toString('base64'),
      WHATSAPP_APP_SECRET: appSecret,
      WHATSAPP_VERIFY_TOKEN: 'fx-verify',
      WHATSAPP_ACCESS_TOKEN: accessToken,
      WHATSAPP_API_BASE_URL: whatsapp.url,
      ...(options.workerConcurrency ? { WORKER_CONCURRENCY: String(options.workerConcurrency) } : {}),
    });
    const runtime = await createRuntime({
      env,
      registry: defaultRegistry(),
      logger: createLogger(env.LOG_LEVEL),
      metrics: options.metrics ?? noopMetrics,
      worker: true,
      // In this thread, so the checks can read the archive's tables as the gateway suite does.
      threadedStore: false,
      workerOptions: {
        pollIntervalMs: 20,
        backoff: { baseMs: 100, factor: 2, capMs: 2000, maxAttempts: 20 },
      },
    });
    current = { runtime, dir };
    const app = createApp(runtime);
    handler = (request) => app.fetch(request);
    const { admin } = runtime;
    await admin.createWorkspace('fixtures', { id: workspaceId, name: 'Lucky Shrub' });
    for (const [i, phoneNumberId] of numbers.entries()) {
      await admin.addPhoneNumber('fixtures', workspaceId, {
        phoneNumberId,
        displayPhoneNumber: `1555078388${i + 1}`,
      });
    }
    await admin.setConnector('fixtures', workspaceId, 'slack', {
      enabled: true,
      config: {
        botToken: slack.botToken,
        signingSecret: slack.signingSecret,
        teamId: slack.teamId,
        appId: slack.appId,
        defaultChannel: SLACK_CHANNEL,
        slackApiUrl: slack.apiUrl,
        postsPerSecondPerChannel: 100,
        tier3PerMinute: 1000,
        tier4PerMinute: 1000,
      },
    });
    await admin.setConnector('fixtures', workspaceId, 'teams', {
      enabled: true,
      config: {
        tenantId: graph.tenantId,
        clientId: graph.app.clientId,
        clientSecret: graph.app.clientSecret,
        refreshToken: graph.signIn(),
        teamId: TEAM,
        channelId: CHANNEL,
        ...(numbers.length > NUMBERS.length
          ? {
              routes: numbers.map((phoneNumberId, i) => ({
                phoneNumberId,
                teamId: TEAM,
                channelId: channelOf(i),
              })),
            }
          : {}),
        authorityHost: graph.authorityHost,
        graphBaseUrl: graph.graphBaseUrl,
        pacing: { requestsPerSecond: 4, messagesPerSecond: 4, messageBurst: 4 },
      },
    });
    await admin.setConnector('fixtures', workspaceId, 'hubspot', {
      enabled: true,
      config: {
        accessToken: hubspotToken,
        clientSecret: hubspot.clientSecret,
        basePath: hubspot.url,
        portalId: String(hubspot.portalId),
        appId: String(hubspot.appId),
      },
    });
    whatsapp.setWebhookUrl(`${server.url}/webhooks/whatsapp`);
    slack.setCallbackUrls(`${server.url}/hooks/slack/${workspaceId}`);
    hubspot.setWebhookUrl(`${server.url}/hooks/hubspot/${workspaceId}/webhooks`);
    runtime.routing.invalidate();
    await runtime.host.maintainAll();
    runtime.worker?.start();

    const slackBefore = slack.history(SLACK_CHANNEL).length;
    const teamsBefore = graph.roots(TEAM, CHANNEL).length;
    const hubspotBefore = new Set(hubspot.communications().map((c) => c.id));
    const store = runtime.store;

    const settle = async (timeoutMs = 60_000) => {
      const deadline = Date.now() + timeoutMs;
      let quiet = 0;
      while (quiet < 2) {
        await Promise.all([whatsapp.idle(), slack.idle(), hubspot.idle(), graph.idle()]);
        const stats = await store.jobStats();
        const busy = stats.ready + stats.running > 0;
        quiet = busy ? 0 : quiet + 1;
        if (Date.now() > deadline) throw new Error(`did not settle: ${JSON.stringify(stats.byConnector)}`);
        await new Promise((resolve) => setTimeout(resolve, busy ? 40 : 25));
      }
    };

    const slackText = (m: { text: string; blocks?: unknown[] | undefined; files: { name: string }[] }) => {
      const parts = [textOf(fromSlackText(m.text))];
      for (const block of (m.blocks ?? []) as {
        text?: { text?: string };
        elements?: { text?: string }[];
      }[]) {
        if (block.text?.text) parts.push(textOf(fromSlackText(block.text.text)));
        for (const element of block.elements ?? [])
          if (element.text) parts.push(textOf(fromSlackText(element.text)));
      }
      for (const file of m.files) parts.push(`[file ${file.name}]`);
      return parts.join('\n');
    };
    const teamsText = (m: {
      body: { contentType: 'text' | 'html'; content: string };
      attachments: { content?: string | null }[];
    }) => {
      const parts = [plainText(m.body)];
      for (const attachment of m.attachments) {
        const texts: string[] = [];
        const visit = (node: unknown) => {
          if (Array.isArray(node)) node.forEach(visit);
          else if (node && typeof node === 'object') {
            const record = node as Record<string, unknown>;
            if (typeof record.text === 'string') texts.push(record.text);
            Object.values(record).forEach(visit);
          }
        };
        try {
          visit(JSON.parse(attachment.content ?? 'null'));
        } catch {
          // Not a card.
        }
        parts.push(...texts);
      }
      return parts.join('\n');
    };
    const hubspotText = (body: string) => textOf(fromHtml(body));

    return {
      runtime,
      workspaceId,
      settle,
      async shown(target, messageId) {
        const ref = await store.getRef(workspaceId, target, 'message', messageId);
        if (!ref) return null;
        if (target === 'slack') {
          const match = /^([A-Z0-9]+):(\d+\.\d+)$/.exec(ref.externalId);
          const message = match ? slack.message(match[1] as string, match[2] as string) : undefined;
          return message ? slackText(message) : null;
        }
        if (target === 'teams') {
          const data = ref.data as { messageId?: string; channelId?: string };
          const message = data.messageId
            ? graph.message(data.messageId, TEAM, data.channelId ?? CHANNEL)
            : undefined;
          return message && !message.deletedDateTime ? teamsText(message) : null;
        }
        const entry = hubspot.object('communications', ref.externalId);
        return entry ? hubspotText(entry.properties.hs_communication_body ?? '') : null;
      },
      roots() {
        return {
          slack: slack.history(SLACK_CHANNEL).length - slackBefore,
          teams: graph.roots(TEAM, CHANNEL).length - teamsBefore,
        };
      },
      everything() {
        const texts: string[] = [];
        for (const root of slack.history(SLACK_CHANNEL).slice(slackBefore))
          for (const m of slack.thread(SLACK_CHANNEL, root.ts).slice(1)) texts.push(slackText(m));
        for (const root of graph.roots(TEAM, CHANNEL).slice(teamsBefore))
          for (const m of graph.replies(root.id, TEAM, CHANNEL)) texts.push(teamsText(m));
        for (const entry of hubspot.communications())
          if (!hubspotBefore.has(entry.id))
            texts.push(hubspotText(entry.properties.hs_communication_body ?? ''));
        return texts;
      },
    };
  }

  return {
    numbers,
    whatsapp,
    slack,
    graph,
    get hubspot() {
      return hubspot;
    },
    fresh,
    async close() {
      await closeCurrent();
      await server.close();
      await Promise.all([whatsapp.close(), slack.close(), hubspot.close(), graph.close()]);
    },
  };
}
