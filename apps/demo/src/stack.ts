import { randomBytes, randomInt, randomUUID } from 'node:crypto';
import { createWriteStream, mkdirSync, mkdtempSync, rmSync, type WriteStream } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { serve as serveHttp } from '@hono/node-server';
import type { TemplateDefinition } from '@wabridge/core';
import {
  createApp,
  createLogger,
  createMetrics,
  createRuntime,
  defaultRegistry,
  type Env,
  hubspotConnectLink,
  loadEnv,
  type Runtime,
  SignInLinks,
  installLink as slackInstallLink,
  teamsConnectLink,
} from '@wabridge/gateway';
import { type Clock, createClock } from '@wabridge/sandbox';
import { type SandboxConsole, startSandboxConsole } from '@wabridge/sandbox/console';
import {
  type GraphEmulator,
  type GraphUser,
  startGraphEmulator,
  trustCertificateInProcess,
} from '@wabridge/sandbox/graph';
import { type HubSpotEmulator, startHubSpotEmulator } from '@wabridge/sandbox/hubspot';
import { type SlackEmulator, type SlackUser, startSlackEmulator } from '@wabridge/sandbox/slack';
import { startWhatsAppEmulator, type WhatsAppEmulator } from '@wabridge/sandbox/whatsapp';

/** The cast of the demo: one business, one customer, one agent per tool. */
export const DEMO = {
  workspace: 'demo',
  workspaceName: 'Acme Support',
  phoneNumber: {
    phoneNumberId: '106540352242922',
    displayPhoneNumber: '15550783881',
    wabaId: '102290129340398',
    verifiedName: 'Acme Support',
  },
  // A UK number from Ofcom's range reserved for drama (07700 900xxx): it belongs to nobody.
  customer: { waId: '447700900123', name: 'Ada Lovelace' },
  slack: {
    channel: { id: 'C0SUPPORT01', name: 'whatsapp-support' },
    agent: { id: 'U0GRACE001', name: 'Grace Hopper' } satisfies SlackUser,
  },
  teams: {
    teamId: 'fbe2bf47-16c8-47cf-b4a5-4b9b187c508b',
    channelId: '19:4a1f5b2c8d6e4f0a9b3c7d1e2f3a4b5c@thread.tacv2',
    agent: {
      id: '5d7c6a1e-3b2f-4e8d-9c0a-1f2e3d4c5b6a',
      displayName: 'Alan Turing',
      userPrincipalName: 'alan@acme.example',
    } satisfies GraphUser,
  },
  hubspot: { portalId: 4_242_424, appId: 777_001, userId: 31_337 },
} as const;

/** Approved templates: registered in the WhatsApp emulator and offered to agents by the workspace. */
export const DEMO_TEMPLATES: (TemplateDefinition & { quickReplies?: string[] })[] = [
  {
    name: 'delivery_check',
    language: 'en_US',
    category: 'utility',
    body: 'Hi {{1}}, did your order {{2}} arrive safely?',
    parameters: 2,
    quickReplies: ['Yes, it arrived', 'No, not yet'],
  },
  {
    name: 'order_update',
    language: 'en_US',
    category: 'utility',
    body: 'Hi {{1}}, there is news about your order {{2}}. Reply to this message to talk to us.',
    parameters: 2,
  },
];

export interface DemoStackOptions {
  /** Port of the console (0 = any free port). */
  consolePort?: number;
  /** Log level of the gateway's JSON log (written to `gateway.log` in the temporary directory). */
  logLevel?: Env['LOG_LEVEL'];
  /** Slack posts per second per channel, in the emulator and the connector (real Slack: 1). */
  slackPostsPerSecond?: number;
  /** Extra buttons on the console (the CLI adds "play the scripted conversation"). */
  consoleActions?: Parameters<typeof startSandboxConsole>[0]['actions'];
}

/**
 * Everything the demo runs, in one process: a shared clock, the four emulators, a real gateway
 * (embedded SQLite, the built-in connectors, its worker) and the sandbox console. Every file goes
 * under `dir`, which `close()` removes.
 */
export interface DemoStack {
  dir: string;
  clock: Clock;
  whatsapp: WhatsAppEmulator;
  slack: SlackEmulator;
  hubspot: HubSpotEmulator;
  graph: GraphEmulator;
  runtime: Runtime;
  gatewayUrl: string;
  console: SandboxConsole;
  /** The admin console signed in as the demo owner, once (a one-time link; see DEMO_OWNER). */
  adminSignInUrl: string;
  /** Links that connect the demo workspace's Slack, HubSpot or Teams again by clicking (one hour). */
  connectLinks: { slack: string; hubspot: string; teams: string };
  /** The demo owner's credentials, for signing in again after the link was used. */
  adminOwner: { email: string; password: string };
  logPath: string;
  /** Waits until the emulators have delivered everything and the gateway's queue is empty. */
  settle(timeoutMs?: number): Promise<void>;
  /**
   * A day (or any time) passes for every system at once: the shared clock jumps, then the gateway
   * does the upkeep it would have done meanwhile (connector maintenance, e.g. Graph subscriptions).
   */
  advance(ms: number): Promise<void>;
  close(): Promise<void>;
}

export async function startDemoStack(options: DemoStackOptions = {}): Promise<DemoStack> {
  const dir = mkdtempSync(join(tmpdir(), 'wabridge-demo-'));
  const cleanups: (() => Promise<void> | void)[] = [() => rmSync(dir, { recursive: true, force: true })];
  const closeAll = async () => {
    for (const cleanup of cleanups.splice(0).reverse()) {
      try {
        await cleanup();
      } catch {
        // Keep closing the rest: a half-closed demo must still free its ports and directory.
      }
    }
  };
  try {
    return await start(dir, cleanups, closeAll, options);
  } catch (error) {
    await closeAll();
    throw error;
  }
}

async function start(
  dir: string,
  cleanups: (() => Promise<void> | void)[],
  closeAll: () => Promise<void>,
  options: DemoStackOptions,
): Promise<DemoStack> {
  // One clock for every platform and the gateway: "a day passes" is then true everywhere at once.
  const clock = createClock();
  const secret = (label: string) => `demo-${label}-${randomBytes(12).toString('hex')}`;
  const whatsappSecrets = {
    appSecret: secret('app'),
    accessToken: secret('wa'),
    verifyToken: secret('verify'),
  };
  const slackPace = options.slackPostsPerSecond ?? 10;

  const whatsapp = await startWhatsAppEmulator({
    appSecret: whatsappSecrets.appSecret,
    accessToken: whatsappSecrets.accessToken,
    verifyToken: whatsappSecrets.verifyToken,
    phoneNumbers: [DEMO.phoneNumber],
    templates: DEMO_TEMPLATES.map((t) => ({
      name: t.name,
      language: t.language,
      category: t.category.toUpperCase() as 'UTILITY',
      body: t.body,
      ...(t.quickReplies ? { quickReplies: t.quickReplies } : {}),
    })),
    // Ticks appear quickly but visibly one after the other.
    statusDelaysMs: { sent: 40, delivered: 250, read: 700 },
    // A person clicking fast in the console should not meet WhatsApp's per-user pace.
    rules: { pairRate: { enabled: false } },
    webhookRetry: { delaysMs: [200, 1000, 4000], timeoutMs: 5000 },
    now: clock.now,
  });
  cleanups.push(() => whatsapp.close());

  // The Slack app can also be installed with "Add to Slack" (OAuth v2 against the emulator).
  const slackApp = {
    clientId: `${randomInt(1e9, 1e10)}.${randomInt(1e9, 1e10)}`,
    clientSecret: secret('slack-client'),
  };
  const slack = await startSlackEmulator({
    signingSecret: secret('slack-signing'),
    botToken: `xoxb-${randomBytes(12).toString('hex')}`,
    channels: [DEMO.slack.channel],
    oauth: slackApp,
    rateLimits: {
      postsPerChannel: { perSecond: slackPace, burst: 3 },
      tiers: { tier2: 200, tier3: 500, tier4: 1000 },
    },
    eventRetryDelaysMs: [500, 2000, 8000],
    clock,
  });
  cleanups.push(() => slack.close());

  // Shaped like a private app token (pat-<region>-…): the connector refuses other shapes.
  const hubspotToken = `pat-na1-${randomBytes(16).toString('hex')}`;
  const hubspotClientSecret = secret('hubspot-client');
  const hubspot = await startHubSpotEmulator({
    accessToken: hubspotToken,
    clientSecret: hubspotClientSecret,
    // A public app too, for "Connect HubSpot": the same secret, so the portal's webhooks verify
    // whichever way the workspace signed in.
    oauth: {
      clientId: randomUUID(),
      clientSecret: hubspotClientSecret,
      appId: DEMO.hubspot.appId,
      refreshTokenRotation: true,
    },
    portalId: DEMO.hubspot.portalId,
    appId: DEMO.hubspot.appId,
    subscriptions: [
      { eventType: 'contact.propertyChange', propertyName: 'wabridge_whatsapp_consent' },
      { eventType: 'contact.deletion' },
      { eventType: 'contact.privacyDeletion' },
      { eventType: 'contact.merge' },
    ],
    webhookRetryDelaysMs: [500, 2000, 8000],
    clock,
  });
  cleanups.push(() => hubspot.close());
  // Ada is already a customer in the CRM, typed in by hand years ago: the connector finds her by phone.
  hubspot.seedContact({
    firstname: 'Ada',
    lastname: 'Lovelace',
    email: 'ada@analytical-engines.example',
    country: 'United Kingdom',
    phone: '+44 7700 900123',
  });

  const graph = await startGraphEmulator({
    teams: [
      {
        id: DEMO.teams.teamId,
        displayName: 'Customer Support',
        channels: [{ id: DEMO.teams.channelId, displayName: 'WhatsApp' }],
      },
    ],
    notificationRetryDelaysMs: [500, 2000, 8000],
    now: clock.now,
  });
  cleanups.push(() => graph.close());
  // The gateway runs in this process: trust the throwaway certificate here, for this process only.
  trustCertificateInProcess(graph.certificate);

  // The gateway. Its HTTP server listens first (with a late-bound handler) so that PUBLIC_URL, which
  // signed media links and Graph's notification URL are built from, is known before start-up.
  let handler: ((request: Request, env: unknown) => Response | Promise<Response>) | null = null;
  const { server: httpServer, port } = await new Promise<{
    server: ReturnType<typeof serveHttp>;
    port: number;
  }>((resolve) => {
    const server = serveHttp(
      {
        fetch: (request: Request, env: unknown) =>
          handler ? handler(request, env) : new Response('starting', { status: 503 }),
        port: 0,
        hostname: '127.0.0.1',
      },
      (info: AddressInfo) => resolve({ server, port: info.port }),
    );
  });
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        const server = httpServer as unknown as { close(cb: () => void): void; closeAllConnections(): void };
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  );
  const gatewayUrl = `http://127.0.0.1:${port}`;
  const env = loadEnv({
    NODE_ENV: 'development',
    PORT: String(port),
    HOST: '127.0.0.1',
    PUBLIC_URL: gatewayUrl,
    LOG_LEVEL: options.logLevel ?? 'info',
    WABRIDGE_DATA_DIR: join(dir, 'data'),
    WABRIDGE_MASTER_KEY: randomBytes(32).toString('base64'),
    WHATSAPP_APP_SECRET: whatsappSecrets.appSecret,
    WHATSAPP_VERIFY_TOKEN: whatsappSecrets.verifyToken,
    WHATSAPP_ACCESS_TOKEN: whatsappSecrets.accessToken,
    WHATSAPP_API_BASE_URL: whatsapp.url,
    // "Add to Slack", "Connect HubSpot" and "Connect Teams" against the emulators' consent pages.
    SLACK_CLIENT_ID: slackApp.clientId,
    SLACK_CLIENT_SECRET: slackApp.clientSecret,
    SLACK_STATE_SECRET: secret('slack-state'),
    SLACK_SIGNING_SECRET: slack.signingSecret,
    SLACK_AUTHORIZE_URL: slack.authorizeUrl,
    SLACK_API_URL: slack.apiUrl,
    HUBSPOT_CLIENT_ID: hubspot.oauthApp?.clientId,
    HUBSPOT_CLIENT_SECRET: hubspot.oauthApp?.clientSecret,
    HUBSPOT_STATE_SECRET: secret('hubspot-state'),
    HUBSPOT_AUTHORIZE_URL: hubspot.authorizeUrl,
    HUBSPOT_API_URL: hubspot.url,
    TEAMS_TENANT_ID: graph.tenantId,
    TEAMS_CLIENT_ID: graph.app.clientId,
    TEAMS_CLIENT_SECRET: graph.app.clientSecret,
    TEAMS_STATE_SECRET: secret('teams-state'),
    TEAMS_AUTHORITY_HOST: graph.authorityHost,
    TEAMS_GRAPH_URL: graph.graphBaseUrl,
  });
  mkdirSync(env.dataDir, { recursive: true });
  const logPath = join(dir, 'gateway.log');
  const logStream: WriteStream = createWriteStream(logPath);
  cleanups.push(() => new Promise<void>((resolve) => logStream.end(() => resolve())));
  const logger = createLogger(env.LOG_LEVEL, logStream);
  let current: Runtime | null = null;
  const metrics = createMetrics(() => current?.store ?? null);
  const runtime = await createRuntime({
    env,
    registry: defaultRegistry(),
    logger,
    metrics,
    worker: true,
    now: clock.now,
    // Snappy: an idle worker looks again every 50 ms (it is also woken by every local commit).
    workerOptions: {
      pollIntervalMs: 50,
      backoff: { baseMs: 250, factor: 2, capMs: 10_000, maxAttempts: 20 },
    },
  });
  current = runtime;
  cleanups.push(() => runtime.close());
  const signInLinks = new SignInLinks({ now: clock.now });
  const app = createApp(runtime, { metricsRegistry: metrics.registry, signInLinks });
  handler = (request, serverEnv) => app.fetch(request, serverEnv as never);

  // The workspace: the business number, and Slack, Teams and HubSpot pointed at their emulators.
  const { admin } = runtime;
  // The demo owner: a fresh password per run (the data goes away at exit), signed in by a link.
  const adminOwner = { email: 'owner@demo.wabridge.example', password: secret('owner') };
  await runtime.access.createAccount('demo', { ...adminOwner, name: 'Demo Owner', owner: true });
  const adminSignInUrl = `${gatewayUrl}${signInLinks.issue(adminOwner)}`;
  await admin.createWorkspace('demo', {
    id: DEMO.workspace,
    name: DEMO.workspaceName,
    policies: { templates: DEMO_TEMPLATES.map(({ quickReplies: _q, ...t }) => t) },
  });
  await admin.addPhoneNumber('demo', DEMO.workspace, DEMO.phoneNumber);
  await admin.setConnector('demo', DEMO.workspace, 'slack', {
    enabled: true,
    config: {
      botToken: slack.botToken,
      signingSecret: slack.signingSecret,
      teamId: slack.teamId,
      appId: slack.appId,
      defaultChannel: DEMO.slack.channel.id,
      slackApiUrl: slack.apiUrl,
      postsPerSecondPerChannel: slackPace,
      tier3PerMinute: 500,
      tier4PerMinute: 1000,
    },
  });
  await admin.setConnector('demo', DEMO.workspace, 'teams', {
    enabled: true,
    config: {
      tenantId: graph.tenantId,
      clientId: graph.app.clientId,
      clientSecret: graph.app.clientSecret,
      refreshToken: graph.signIn(),
      teamId: DEMO.teams.teamId,
      channelId: DEMO.teams.channelId,
      authorityHost: graph.authorityHost,
      graphBaseUrl: graph.graphBaseUrl,
      // Graph's real limit is 4 requests per second per channel; the demo posts at that pace.
      pacing: { requestsPerSecond: 4, messagesPerSecond: 4, messageBurst: 4 },
    },
  });
  await admin.setConnector('demo', DEMO.workspace, 'hubspot', {
    enabled: true,
    config: {
      accessToken: hubspotToken,
      clientSecret: hubspot.clientSecret,
      basePath: hubspot.url,
      portalId: String(DEMO.hubspot.portalId),
      appId: String(DEMO.hubspot.appId),
    },
  });
  whatsapp.setWebhookUrl(`${gatewayUrl}/webhooks/whatsapp`);
  slack.setCallbackUrls(`${gatewayUrl}/hooks/slack/${DEMO.workspace}`);
  hubspot.setWebhookUrl(`${gatewayUrl}/hooks/hubspot/${DEMO.workspace}/webhooks`);
  runtime.routing.invalidate();
  // First maintenance before the first message: HubSpot properties, Slack identity, the Graph
  // subscription (through its validation handshake over HTTP).
  await runtime.host.maintainAll();
  runtime.worker?.start();

  const consoleServer = await startSandboxConsole({
    title: `wabridge demo — ${DEMO.workspaceName}`,
    whatsapp,
    slack,
    hubspot,
    graph,
    customer: { waId: DEMO.customer.waId, name: DEMO.customer.name },
    slackChannel: DEMO.slack.channel.id,
    slackAgent: DEMO.slack.agent,
    teams: { teamId: DEMO.teams.teamId, channelId: DEMO.teams.channelId },
    teamsAgent: DEMO.teams.agent,
    hubspotUserId: DEMO.hubspot.userId,
    links: { 'admin console': `${gatewayUrl}/admin/workspaces/${DEMO.workspace}`, gateway: gatewayUrl },
    ...(options.consoleActions ? { actions: options.consoleActions } : {}),
    ...(options.consolePort === undefined ? {} : { port: options.consolePort }),
  });
  cleanups.push(() => consoleServer.close());

  const settle = async (timeoutMs = 30_000) => {
    const deadline = Date.now() + timeoutMs;
    let quiet = 0;
    // Two quiet looks in a row: a status webhook or a notification can queue a job right after one.
    while (quiet < 2) {
      await Promise.all([whatsapp.idle(), slack.idle(), hubspot.idle(), graph.idle()]);
      const stats = await runtime.store.jobStats();
      const busy = stats.ready + stats.running > 0;
      quiet = busy ? 0 : quiet + 1;
      if (Date.now() > deadline) {
        throw new Error(`the demo did not settle in ${timeoutMs} ms: ${JSON.stringify(stats.byConnector)}`);
      }
      await new Promise((resolve) => setTimeout(resolve, busy ? 50 : 30));
    }
  };

  return {
    dir,
    clock,
    whatsapp,
    slack,
    hubspot,
    graph,
    runtime,
    gatewayUrl,
    console: consoleServer,
    adminSignInUrl,
    adminOwner,
    connectLinks: {
      // The connect routes check expiry against the wall clock, not the demo's.
      slack: slackInstallLink(env, DEMO.workspace),
      hubspot: hubspotConnectLink(env, DEMO.workspace),
      teams: teamsConnectLink(env, DEMO.workspace),
    },
    logPath,
    settle,
    async advance(ms: number) {
      clock.advance(ms);
      await runtime.host.maintainAll();
    },
    close: closeAll,
  };
}
