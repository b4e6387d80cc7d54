/**
 * Test rig for the Teams connector: the Graph emulator over HTTPS (its throwaway certificate
 * trusted in this process only), and a small HTTP front that routes Graph's callbacks to the
 * connector exactly like the gateway's `/hooks/<connector>/<workspace>/…` route does (handle,
 * then record the returned commands).
 */
import { type Logger, type MediaAccess, silentLogger, type WorkspacePolicies } from '@wabridge/core';
import {
  startServer,
  startWebhookRecorder,
  startWhatsAppEmulator,
  type WebhookRecorder,
  type WhatsAppEmulator,
} from '@wabridge/sandbox';
import {
  createThrowawayCertificate,
  type GraphEmulator,
  type GraphEmulatorOptions,
  startGraphEmulator,
  trustCertificateInProcess,
} from '@wabridge/sandbox/graph';
import { createCloudApiClient, type SendHandler, WhatsAppSender } from '@wabridge/whatsapp';
import { createTestBridge, type TestBridge } from '@wabridge/whatsapp/testing';
import { type TeamsConfigInput, teamsConnector } from '../src/index.ts';

export async function startGraph(options: GraphEmulatorOptions = {}): Promise<GraphEmulator> {
  const graph = await startGraphEmulator(options);
  trustCertificateInProcess(graph.certificate);
  return graph;
}

/** Connector config pointing at the emulator, with a fresh sign-in of the service account. */
export function configFor(graph: GraphEmulator, extra: Partial<TeamsConfigInput> = {}): TeamsConfigInput {
  return {
    tenantId: graph.tenantId,
    clientId: graph.app.clientId,
    clientSecret: graph.app.clientSecret,
    refreshToken: graph.signIn(),
    teamId: graph.teamId,
    channelId: graph.channelId,
    authorityHost: graph.authorityHost,
    graphBaseUrl: graph.graphBaseUrl,
    ...extra,
  };
}

/** A certificate and key for encrypted resource data. */
export async function encryptionConfig(): Promise<Partial<TeamsConfigInput>> {
  const pair = await createThrowawayCertificate('wabridge-notifications');
  return {
    encryptionCertificate: pair.cert,
    encryptionPrivateKey: pair.key,
    encryptionCertificateId: 'wabridge-test-cert',
  };
}

export interface HookFront {
  url: string;
  /** Paths matching this answer 503 without reaching the connector (an unreachable gateway). */
  refuse: RegExp | null;
  /** Every answer the connector gave, newest last. */
  responses: Array<{ path: string; status: number; commands: number }>;
  close(): Promise<void>;
}

/** Routes `/hooks/teams/<workspace>/…` to the bridge's Teams instance, like the gateway does. */
export async function startHookFront(bridge: () => TestBridge | null): Promise<HookFront> {
  const responses: HookFront['responses'] = [];
  const app = {
    async fetch(incoming: Request): Promise<Response> {
      const url = new URL(incoming.url);
      const match = /^\/hooks\/teams\/([^/]+)(\/.*)?$/.exec(url.pathname);
      if (!match?.[1]) return new Response('not found', { status: 404 });
      if (front.refuse?.test(url.pathname)) return new Response('unavailable', { status: 503 });
      const workspace = decodeURIComponent(match[1]);
      const current = bridge();
      const instance = current ? await current.host.instance(workspace, 'teams') : null;
      if (!current || !instance?.inbound) return new Response('not ready', { status: 503 });
      const raw = new Uint8Array(await incoming.arrayBuffer());
      const request = new Request(incoming.url, {
        method: incoming.method,
        headers: incoming.headers,
        ...(raw.byteLength > 0 ? { body: raw } : {}),
      });
      const path = match[2] ?? '/';
      const result = await instance.inbound.handle(request, {
        path,
        rawBody: raw,
        findRefByExternalId: (kind, id) => current.store.findRefByExternalId(workspace, 'teams', kind, id),
      });
      if (result.commands.length > 0) await current.commands.accept(workspace, 'teams', result.commands);
      responses.push({ path, status: result.response.status, commands: result.commands.length });
      return result.response;
    },
  };
  const server = await startServer(app);
  const front: HookFront = { url: server.url, refuse: null, responses, close: () => server.close() };
  return front;
}

/** The root id of a conversation's thread, from the connector's ref. */
export async function rootOf(bridge: TestBridge, conversationId: string): Promise<string | null> {
  const ref = await bridge.store.getRef(bridge.workspaceId, 'teams', 'conversation', conversationId);
  const rootId = (ref?.data as { rootId?: string } | undefined)?.rootId;
  return rootId && rootId !== '' ? rootId : null;
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls until `check` returns a value (not undefined/false), or fails after `timeoutMs`. */
export async function eventually<T>(
  check: () => Promise<T | undefined | false> | T | undefined | false,
  timeoutMs = 10_000,
): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > until) throw new Error(`condition not met within ${timeoutMs} ms`);
    await sleep(25);
  }
}

/** A clock tests can move forward; it follows the wall clock otherwise. */
export function manualClock() {
  let offset = 0;
  return {
    now: () => Date.now() + offset,
    advance(ms: number) {
      offset += ms;
    },
  };
}

export interface RigOptions {
  graph?: GraphEmulatorOptions;
  config?: Partial<TeamsConfigInput>;
  policies?: Partial<WorkspacePolicies>;
  logger?: Logger;
  backoff?: Parameters<typeof createTestBridge>[0]['backoff'];
  /**
   * Also run the WhatsApp emulator and the core's WhatsApp sender, so agent replies are really
   * sent (uploads and sends show in `wa.ledger`); customers then write through `wa.customer`.
   */
  whatsapp?: boolean;
  /** Where WhatsApp media comes from (default: a stand-in file for every message). */
  media?: MediaAccess;
}

const WA_TOKEN = 'wa-test-token';

/** The WhatsApp emulator with its webhooks ingested by the bridge, and the sender the worker runs. */
async function startWhatsApp(bridge: () => TestBridge | null, now: () => number) {
  const hook: WebhookRecorder = await startWebhookRecorder({
    respond: async (request) => {
      await bridge()?.ingest(JSON.parse(request.text));
      return 200;
    },
  });
  const wa: WhatsAppEmulator = await startWhatsAppEmulator({
    appSecret: 'wa-test-secret',
    accessToken: WA_TOKEN,
    webhookUrl: `${hook.url}/webhooks/whatsapp`,
    statusDelaysMs: { sent: 5, delivered: 10, read: 15 },
    rules: { pairRate: { enabled: false } },
    now,
  });
  const client = createCloudApiClient({ accessToken: WA_TOKEN, baseUrl: wa.baseUrl });
  let sender: WhatsAppSender | null = null;
  const handler: SendHandler = {
    send(job, signal) {
      if (!sender) throw new Error('the WhatsApp sender is not ready');
      return sender.send(job, signal);
    },
  };
  return {
    wa,
    handler,
    /** Creates the sender once the bridge (its store and connector host) exists. */
    attach(ready: TestBridge) {
      sender = new WhatsAppSender({
        store: ready.store,
        host: ready.host,
        client: () => client,
        logger: silentLogger,
        recipientRatePerSecond: 1000,
        recipientBurst: 1000,
        now,
      });
    },
    async close() {
      await wa.close();
      await hook.close();
    },
  };
}

/**
 * A full core (createTestBridge) with the Teams connector against the Graph emulator, Graph's
 * callbacks routed back through the hook front, and one clock for the bridge and the emulator.
 */
export async function startRig(options: RigOptions = {}) {
  const clock = manualClock();
  const graph = await startGraph({
    now: clock.now,
    ...options.graph,
    limits: { channelRequestsPerSecond: 50, channelBurst: 50, ...options.graph?.limits },
  });
  let current: TestBridge | null = null;
  const front = await startHookFront(() => current);
  const whatsapp = options.whatsapp ? await startWhatsApp(() => current, clock.now) : null;
  const config = configFor(graph, {
    pacing: { requestsPerSecond: 4, messagesPerSecond: 4, messageBurst: 4 },
    ...options.config,
    subscription: { notificationBaseUrl: front.url, ...options.config?.subscription },
  });
  const bridge = await createTestBridge({
    manifests: [teamsConnector],
    connectors: { teams: config as Record<string, unknown> },
    now: clock.now,
    ...(options.policies ? { policies: options.policies } : {}),
    ...(options.logger ? { logger: options.logger } : {}),
    ...(options.backoff ? { backoff: options.backoff } : {}),
    ...(whatsapp ? { sender: whatsapp.handler } : {}),
    ...(options.media ? { media: options.media } : {}),
  });
  whatsapp?.attach(bridge);
  current = bridge;
  const instance = async () => {
    const live = await bridge.host.instance(bridge.workspaceId, 'teams');
    if (!live) throw new Error('the Teams connector is not enabled');
    return live;
  };
  return {
    graph,
    front,
    bridge,
    clock,
    config,
    instance,
    /** The WhatsApp emulator (with `whatsapp: true`). */
    get wa(): WhatsAppEmulator {
      if (!whatsapp) throw new Error('start the rig with whatsapp: true');
      return whatsapp.wa;
    },
    async maintain() {
      await (await instance()).maintain?.();
    },
    async root(conversationId: string) {
      const rootId = await rootOf(bridge, conversationId);
      if (!rootId) throw new Error(`conversation ${conversationId} has no thread`);
      return rootId;
    },
    async conversation(waId: string) {
      const conversation = await bridge.conversationOf(waId);
      if (!conversation) throw new Error(`no conversation with ${waId}`);
      return conversation;
    },
    /** Drains until no Teams job is left, waiting out retries scheduled a little later. */
    async settle(timeoutMs = 15_000) {
      const until = Date.now() + timeoutMs;
      for (;;) {
        await bridge.worker.drain();
        const stats = await bridge.store.jobStats();
        const teams = stats.byConnector.teams;
        if (!teams || teams.ready + teams.running === 0) return;
        if (Date.now() > until) throw new Error(`Teams jobs still pending after ${timeoutMs} ms`);
        await sleep(20);
      }
    },
    /** Runs the queue until `check` holds (callbacks arrive on their own; their jobs need a worker). */
    async until<T>(
      check: () => Promise<T | undefined | false> | T | undefined | false,
      timeoutMs = 10_000,
    ): Promise<T> {
      return eventually(async () => {
        await bridge.worker.drain();
        return check();
      }, timeoutMs);
    },
    async outbound(conversationId: string) {
      return (await bridge.store.listMessages(bridge.workspaceId, conversationId)).filter(
        (m) => m.direction === 'outbound',
      );
    },
    async close() {
      await bridge.close();
      await front.close();
      await graph.close();
      await whatsapp?.close();
    },
  };
}

export type Rig = Awaited<ReturnType<typeof startRig>>;
