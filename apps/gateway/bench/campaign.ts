// npm run bench:campaign — issue 22's campaign: N outbound messages (default 20,000), each receiving
// sent, delivered and read within one minute, with Slack, Teams and HubSpot on, against the sandbox
// emulators over HTTP and the real gateway process (`wabridge serve`). Checks, and exits non-zero
// when one fails:
//   - every target ends with each message's final state (the store: read; Slack and Teams: the
//     message's status line says Read; HubSpot: its timeline entry is there);
//   - 0 × 429 from every emulator (and no WhatsApp throughput refusal);
//   - status deliveries made (jobs_delivered_total{event="message.status"}) ≤ 1.2 × N × 3.
// The phases: this process configures a fresh data directory (workspace, numbers, connectors), has
// every customer write in once and records the campaign (one message each, as an API would), then
// starts the gateway, which sends the campaign to WhatsApp and mirrors everything. Once every message
// is accepted by WhatsApp, the storm: sent, delivered and read of every message as signed webhooks
// through the gateway's HTTP edge, 3N in one minute (1,000/s for 20,000), the sent of every message
// in the first 20 s, delivered in the next, read in the last, while the worker delivers.
// Options: --messages 20000  --numbers 50 (business numbers, each its own Teams channel; Graph allows
//          3,000 messages a day per channel)  --storm-seconds 60  --concurrency 64 (WORKER_CONCURRENCY)
//          --drain-timeout 3600 (s)  --keep-data (leave the gateway's data directory for a look after)
// Through npm, options follow a `--`: npm run bench:campaign -- --messages 2000
//
// Limits: Graph's are the real ones (4 requests/s per channel), HubSpot's and WhatsApp's the
// emulators' defaults. Slack's are raised (posts 200/s per channel, Tier 3 and 4 at 6,000/min)
// so that 20,000 threads fit in minutes: at Slack's real Tier 3 (50+/min) the status updates of a
// 20,000-message campaign alone would take 400 minutes even when each message gets one. Slack's
// updates are still 6× slower than the storm, as the real ones are (by far more).
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { parseArgs } from 'node:util';
import { newId, noopMetrics } from '@wabridge/core';
import { freePort } from '@wabridge/core/testing';
import { type GraphEmulator, startGraphEmulator, trustCertificateInProcess } from '@wabridge/sandbox/graph';
import { type HubSpotEmulator, startHubSpotEmulator } from '@wabridge/sandbox/hubspot';
import { type SlackEmulator, startSlackEmulator } from '@wabridge/sandbox/slack';
import { startWhatsAppEmulator, type WhatsAppEmulator } from '@wabridge/sandbox/whatsapp';
import { createLogger, createRuntime, defaultRegistry, loadEnv, type Runtime } from '../src/index.ts';
import { gatewayEnv, machineBusy, machineTimes, processMemory, SERVE_NODE_FLAGS } from './support.ts';

const { values } = parseArgs({
  options: {
    messages: { type: 'string', default: '20000' },
    numbers: { type: 'string', default: '50' },
    'storm-seconds': { type: 'string', default: '60' },
    concurrency: { type: 'string', default: '64' },
    'drain-timeout': { type: 'string', default: '3600' },
    'keep-data': { type: 'boolean', default: false },
  },
});
const MESSAGES = Number(values.messages);
const NUMBERS = Number(values.numbers);
const STORM_MS = Number(values['storm-seconds']) * 1000;
const DRAIN_TIMEOUT_MS = Number(values['drain-timeout']) * 1000;
if (![MESSAGES, NUMBERS, STORM_MS, DRAIN_TIMEOUT_MS].every((n) => Number.isInteger(n) && n > 0))
  throw new Error('--messages, --numbers, --storm-seconds and --drain-timeout take positive whole numbers');
if (!/^[1-9]\d*$/.test(values.concurrency)) throw new Error('--concurrency takes a positive whole number');

const CONNECTORS = ['slack', 'teams', 'hubspot'] as const;
const WORKSPACE = 'campaign';
const TEAM = 'fbe2bf47-16c8-47cf-b4a5-4b9b187c508b';
const SLACK_CHANNEL = 'C0CAMPAIGN1';
const SLACK_POSTS_PER_SECOND = 200;
const SLACK_TIER_PER_MINUTE = 6000;
const WABA = '419561257915477';
const METRICS_TOKEN = 'bench-campaign-metrics';
const GATEWAY = new URL('../bin/wabridge.mjs', import.meta.url).pathname;

const started = Date.now();
const out = (line: string) => process.stdout.write(`${line}\n`);

/**
 * Stalls of this process's event loop (the emulators and the storm's sender share it): a timer
 * due every 50 ms that fires late by `ms` ended a stall at `at`. An emulator stalled for a second
 * or more admits the requests that arrived meanwhile all at once, which its per-second limits then
 * see as a burst no client sent: each 429 is reported with the longest stall just before it.
 */
const STALL_TICK_MS = 50;
const stalls: { at: number; ms: number }[] = [];
let lastTick = Date.now();
const stallWatch = setInterval(() => {
  const now = Date.now();
  const late = now - lastTick - STALL_TICK_MS;
  if (late >= 250) stalls.push({ at: now, ms: late });
  lastTick = now;
}, STALL_TICK_MS);
stallWatch.unref();
/** The longest stall that ended within `windowMs` before `at` (0 when none). */
const stallBefore = (at: number, windowMs = 3000) =>
  stalls
    .filter((s) => s.at <= at + STALL_TICK_MS && s.at >= at - windowMs)
    .reduce((m, s) => Math.max(m, s.ms), 0);
const phase = (what: string) => out(`[${((Date.now() - started) / 1000).toFixed(1).padStart(7)} s] ${what}`);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const pad = (n: number, width: number) => String(n).padStart(width, '0');

const numberIds = Array.from({ length: NUMBERS }, (_, i) => `1065403529${pad(i, 5)}`);
const displayOf = (i: number) => `1555078${pad(i, 4)}`;
const channelOf = (i: number) => `19:campaign${pad(i, 3)}aaaaaaaaaaaaaaaaaaaaaaa@thread.tacv2`;
const waIdOf = (c: number) => `1555${pad(c, 7)}`;
/** The business number customer `c` writes to and hears from. */
const numberOf = (c: number) => c % NUMBERS;

/** One webhook as Meta sends it to business number `n`: a customer's message or a status. */
function webhook(n: number, value: Record<string, unknown>) {
  return {
    object: 'whatsapp_business_account',
    entry: [
      {
        id: WABA,
        changes: [
          {
            field: 'messages',
            value: {
              messaging_product: 'whatsapp',
              metadata: { display_phone_number: displayOf(n), phone_number_id: numberIds[n] },
              ...value,
            },
          },
        ],
      },
    ],
  };
}

/** Runs `work` for 0..count-1, `width` at a time. */
async function pool(count: number, width: number, work: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      for (let i = next++; i < count; i = next++) await work(i);
    }),
  );
}

// ---- the emulators (this process) ----------------------------------------------------------------
const secret = (label: string) => `bench-${label}-${randomBytes(12).toString('hex')}`;
const appSecret = secret('app');
const accessToken = secret('wa');
const hubspotToken = `pat-na1-${randomBytes(16).toString('hex')}`;
const whatsapp: WhatsAppEmulator = await startWhatsAppEmulator({
  appSecret,
  accessToken,
  phoneNumbers: numberIds.map((phoneNumberId, i) => ({
    phoneNumberId,
    displayPhoneNumber: displayOf(i),
    wabaId: WABA,
  })),
  // The customers wrote in through the store (see setUp), which the emulator did not see: its
  // 24-hour window rule is off; the gateway checks the window itself before every send.
  rules: { pairRate: { enabled: false }, customerServiceWindow: { enabled: false } },
  webhookRetry: { delaysMs: [200, 1000, 5000], timeoutMs: 30_000 },
  // The storm is sent by this bench, all of it: no status webhooks of the emulator's own.
  statusDelaysMs: { sent: 3_600_000, delivered: null, read: null },
});
const slack: SlackEmulator = await startSlackEmulator({
  signingSecret: secret('slack'),
  botToken: `xoxb-${randomBytes(12).toString('hex')}`,
  channels: [{ id: SLACK_CHANNEL, name: 'whatsapp-campaign' }],
  rateLimits: {
    postsPerChannel: { perSecond: SLACK_POSTS_PER_SECOND, burst: SLACK_POSTS_PER_SECOND },
    tiers: { tier2: 20, tier3: SLACK_TIER_PER_MINUTE, tier4: SLACK_TIER_PER_MINUTE },
  },
});
const hubspot: HubSpotEmulator = await startHubSpotEmulator({
  accessToken: hubspotToken,
  clientSecret: secret('hubspot-client'),
  portalId: 4_242_424,
  appId: 777_001,
});
// Graph's own limits: 4 requests/s per channel, 3,000 messages a day per channel (the connector
// paces at 3/s, its default, with messages at 3/s within that).
const graph: GraphEmulator = await startGraphEmulator({
  teams: [
    {
      id: TEAM,
      displayName: 'Support',
      channels: numberIds.map((_, i) => ({ id: channelOf(i), displayName: `WhatsApp ${i + 1}` })),
    },
  ],
});
trustCertificateInProcess(graph.certificate);

const scratch = mkdtempSync(join(tmpdir(), 'wabridge-bench-campaign-'));
const dataDir = join(scratch, 'data');
const caFile = join(scratch, 'graph-ca.pem');
writeFileSync(caFile, graph.certificate);
const port = await freePort();
const gatewayUrl = `http://127.0.0.1:${port}`;
const childEnv: NodeJS.ProcessEnv = {
  ...gatewayEnv(port, dataDir, appSecret),
  WHATSAPP_ACCESS_TOKEN: accessToken,
  WHATSAPP_API_BASE_URL: whatsapp.url,
  PUBLIC_URL: gatewayUrl,
  WORKER_CONCURRENCY: values.concurrency,
  METRICS_TOKEN,
  // Every pacing hand-back is a warning; they are counted from /metrics instead.
  LOG_LEVEL: 'error',
  // The Graph emulator's throwaway certificate, for the gateway process.
  NODE_EXTRA_CA_CERTS: caFile,
};

let gateway: ChildProcess | null = null;
const stopGateway = async () => {
  const child = gateway;
  gateway = null;
  if (!child || child.exitCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  await Promise.race([exited, sleep(30_000).then(() => child.kill('SIGKILL'))]);
};
const cleanUp = async () => {
  await stopGateway();
  await Promise.allSettled([whatsapp.close(), slack.close(), hubspot.close(), graph.close()]);
  if (values['keep-data']) out(`data directory kept: ${scratch}`);
  else rmSync(scratch, { recursive: true, force: true });
};

// Interrupted: stop the gateway child too (it is not in this process's group under npm).
for (const signal of ['SIGINT', 'SIGTERM'] as const)
  process.once(signal, () => void cleanUp().finally(() => process.exit(130)));

try {
  const failures = await run();
  process.exitCode = failures.length === 0 ? 0 : 1;
  out(
    failures.length === 0 ? 'campaign: every check passed' : `campaign: FAILED\n  ${failures.join('\n  ')}`,
  );
} catch (error) {
  process.exitCode = 1;
  out(`campaign: FAILED: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
} finally {
  await cleanUp();
}

// ---- the run ---------------------------------------------------------------------------------------
async function run(): Promise<string[]> {
  out(
    `campaign: ${MESSAGES} messages x (sent, delivered, read) in ${STORM_MS / 1000} s, ${NUMBERS} numbers, ` +
      `Slack + Teams + HubSpot, WORKER_CONCURRENCY ${values.concurrency}; load average ${loadavg()
        .map((l) => l.toFixed(2))
        .join(' ')}`,
  );
  const messageIds = await setUp();
  phase(`set up: ${MESSAGES} customers wrote in, ${MESSAGES} campaign messages recorded`);

  const db = () => new DatabaseSync(join(dataDir, 'wabridge.db'), { readOnly: true });
  await startGateway();
  const cpu0 = machineTimes();
  phase('gateway started: sending the campaign and mirroring');

  // The storm begins once WhatsApp has accepted every message (each has its wamid).
  const wamids = await waitFor('every campaign message accepted by WhatsApp', DRAIN_TIMEOUT_MS, () => {
    const reader = db();
    try {
      const failed = reader
        .prepare(
          `SELECT count(*) AS n, max(error) AS error FROM messages WHERE direction = 'outbound' AND state = 'failed'`,
        )
        .get() as { n: number; error: string | null };
      if (Number(failed.n) > 0)
        throw new Error(`${failed.n} campaign messages failed to send: ${failed.error}`);
      const rows = reader
        .prepare(
          `SELECT id, wamid FROM messages WHERE workspace_id = ? AND direction = 'outbound' AND wamid IS NOT NULL`,
        )
        .all(WORKSPACE) as { id: string; wamid: string }[];
      return rows.length >= MESSAGES ? new Map(rows.map((r) => [r.id, r.wamid])) : null;
    } finally {
      reader.close();
    }
  });
  phase('every campaign message accepted by WhatsApp: the storm begins');
  const backlogAtStorm = queued(db);

  const storm = await sendStorm(messageIds, wamids);
  phase(
    `storm sent: ${storm.sent} status webhooks in ${(storm.ms / 1000).toFixed(1)} s ` +
      `(${Math.round(storm.sent / (storm.ms / 1000))}/s; ${storm.late} left > 1 s late), ${storm.failed} failed; ` +
      `queue then ${JSON.stringify(queued(db))}`,
  );
  await waitFor('the queue to drain', DRAIN_TIMEOUT_MS, async () => {
    // Not WhatsApp's: its own status webhooks are pending for an hour (see statusDelaysMs).
    await Promise.all([slack.idle(), hubspot.idle(), graph.idle()]);
    const q = queued(db);
    return q.jobs + q.pending === 0 ? true : null;
  });
  const cpu1 = machineTimes();
  const drainedAt = Date.now();
  phase('queue drained');
  const load = loadavg();
  const metrics = await scrape();
  const memory = processMemory(gateway?.pid);
  await stopGateway();

  // ---- the checks, on the store the gateway left and what each emulator shows -------------------
  const checks = await readBack(messageIds);
  const throttled = {
    slack: slack.ledger.count('api.rate_limited'),
    teams: graph.ledger.count('throttled'),
    hubspot: hubspot.ledger.count('api.rate_limited'),
    whatsapp: whatsapp.ledger.count('send.rejected', (e) => e.code === 130429),
  };
  const delivered = Object.fromEntries(
    CONNECTORS.map((c) => [
      c,
      metrics.get(`wabridge_jobs_delivered_total{connector="${c}",event="message.status"}`) ?? 0,
    ]),
  ) as Record<(typeof CONNECTORS)[number], number>;
  const skipped = Object.fromEntries(
    CONNECTORS.map((c) => [
      c,
      [...metrics]
        .filter(([k]) => k.startsWith(`wabridge_jobs_skipped_total{connector="${c}",event="message.status"`))
        .reduce((sum, [, v]) => sum + v, 0),
    ]),
  );
  const coalescedBy = Object.fromEntries(
    CONNECTORS.map((c) => [c, metrics.get(`wabridge_jobs_coalesced{connector="${c}"}`) ?? 0]),
  );
  const coalesced = Object.values(coalescedBy).reduce((a, b) => a + b, 0);
  const handedBack = Object.fromEntries(
    CONNECTORS.map((c) => [
      c,
      metrics.get(`wabridge_jobs_retried_total{connector="${c}",code="rate_limited"}`) ?? 0,
    ]),
  );
  const totalDelivered = delivered.slack + delivered.teams + delivered.hubspot;
  const budget = 1.2 * MESSAGES * CONNECTORS.length;
  const fannedOut = 3 * MESSAGES * CONNECTORS.length;
  const totalSkipped = Object.values(skipped).reduce((a, b) => a + b, 0);

  out('');
  out(`campaign figures (${new Date().toISOString()})`);
  out(
    `  messages                     ${MESSAGES} x 3 statuses x ${CONNECTORS.length} connectors = ${fannedOut} status jobs fanned out`,
  );
  out(
    `  backlog when the storm began ${JSON.stringify(backlogAtStorm)} (jobs queued, events not yet admitted)`,
  );
  out(
    `  status deliveries made       ${totalDelivered} ${JSON.stringify(delivered)}; budget 1.2 x N x 3 = ${budget}; ratio ${(totalDelivered / (MESSAGES * CONNECTORS.length)).toFixed(3)} per message and connector`,
  );
  out(
    `  dropped before running       ${coalesced} coalesced at admission ${JSON.stringify(coalescedBy)}; completed without a delivery ${totalSkipped} ${JSON.stringify(skipped)}`,
  );
  out(`  429s                         ${JSON.stringify(throttled)}`);
  for (const entry of [
    ...slack.ledger.filter('api.rate_limited').slice(0, 3),
    ...graph.ledger.filter('throttled').slice(0, 3),
    ...hubspot.ledger.filter('api.rate_limited').slice(0, 3),
  ])
    out(`    429: ${JSON.stringify(entry)}`);
  const refusals = [
    ...slack.ledger.filter('api.rate_limited'),
    ...graph.ledger.filter('throttled'),
    ...hubspot.ledger.filter('api.rate_limited'),
  ].map((entry) => stallBefore(entry.at));
  out(
    `  emulators' stalls            ${stalls.length} of 250 ms or more, longest ${Math.max(0, ...stalls.map((s) => s.ms))} ms; ` +
      `429s within 3 s after a stall of 1 s or more: ${refusals.filter((ms) => ms >= 1000).length} of ${refusals.length} ` +
      `(stalls before each: ${refusals.slice(0, 12).join(', ')} ms)`,
  );
  out(
    `  pacing hand-backs            ${JSON.stringify(handedBack)} (jobs our own pacing sent back to the queue)`,
  );
  out(`  final states                 ${JSON.stringify(checks.summary)}`);
  out(
    `  gateway memory               peak RSS ${memory?.hwm.toFixed(0) ?? '?'} MB, now ${memory?.rss.toFixed(0) ?? '?'} MB (the backlog lives in the database)`,
  );
  out(
    `  whole run                    ${((Date.now() - started) / 1000).toFixed(0)} s; storm start to drained ${((drainedAt - storm.begin) / 1000).toFixed(0)} s`,
  );
  out(
    `  machine busy                 ${machineBusy(cpu0, cpu1)?.toFixed(0) ?? '?'}% of all cores; load average ${load.map((l) => l.toFixed(2)).join(' ')}`,
  );

  const failures: string[] = [];
  if (checks.problems.length > 0)
    failures.push(
      `${checks.problems.length} final states wrong, e.g. ${checks.problems.slice(0, 5).join('; ')}`,
    );
  if (Object.values(throttled).some((n) => n > 0)) failures.push(`429s: ${JSON.stringify(throttled)}`);
  if (totalDelivered > budget) failures.push(`status deliveries ${totalDelivered} > ${budget}`);
  // What was not delivered was dropped as superseded or not shown, not lost.
  if (totalDelivered + coalesced + totalSkipped !== fannedOut)
    failures.push(
      `delivered ${totalDelivered} + coalesced ${coalesced} + skipped ${totalSkipped} != ${fannedOut} fanned out`,
    );
  if (storm.failed > 0) failures.push(`${storm.failed} status webhooks not acknowledged`);
  return failures;
}

/** Configures the data directory, has every customer write in and records the campaign. */
async function setUp(): Promise<string[]> {
  const runtime: Runtime = await createRuntime({
    env: loadEnv(childEnv),
    registry: defaultRegistry(),
    logger: createLogger('warn'),
    metrics: noopMetrics,
    worker: false,
  });
  try {
    const { admin, store } = runtime;
    await admin.createWorkspace('bench', { id: WORKSPACE, name: 'Campaign' });
    for (const [i, phoneNumberId] of numberIds.entries())
      await admin.addPhoneNumber('bench', WORKSPACE, { phoneNumberId, displayPhoneNumber: displayOf(i) });
    await admin.setConnector('bench', WORKSPACE, 'slack', {
      enabled: true,
      config: {
        botToken: slack.botToken,
        signingSecret: slack.signingSecret,
        teamId: slack.teamId,
        appId: slack.appId,
        defaultChannel: SLACK_CHANNEL,
        slackApiUrl: slack.apiUrl,
        postsPerSecondPerChannel: SLACK_POSTS_PER_SECOND,
        // The default 25 ms between two posts is for Slack's real 1 post/s (2.5% of the interval,
        // for arrival jitter); at the raised 200/s it would make each post wait 30 ms instead of 5,
        // one sixth of the rate the emulator allows, and the campaign's 40,000 posts would queue in
        // worker slots for 20 minutes. The emulator's bucket allows a burst of 200: 1 ms is enough.
        postSpacingMarginMs: 1,
        tier3PerMinute: SLACK_TIER_PER_MINUTE,
        tier4PerMinute: SLACK_TIER_PER_MINUTE,
      },
    });
    await admin.setConnector('bench', WORKSPACE, 'teams', {
      enabled: true,
      config: {
        tenantId: graph.tenantId,
        clientId: graph.app.clientId,
        clientSecret: graph.app.clientSecret,
        refreshToken: graph.signIn(),
        teamId: TEAM,
        channelId: channelOf(0),
        routes: numberIds.map((phoneNumberId, i) => ({
          phoneNumberId,
          teamId: TEAM,
          channelId: channelOf(i),
        })),
        authorityHost: graph.authorityHost,
        graphBaseUrl: graph.graphBaseUrl,
        pacing: { requestsPerSecond: 3, messagesPerSecond: 3, messageBurst: 3 },
      },
    });
    await admin.setConnector('bench', WORKSPACE, 'hubspot', {
      enabled: true,
      config: {
        accessToken: hubspotToken,
        clientSecret: hubspot.clientSecret,
        basePath: hubspot.url,
        portalId: String(hubspot.portalId),
        appId: String(hubspot.appId),
      },
    });
    runtime.routing.invalidate();

    // Every customer wrote in once, ten minutes ago: a conversation each, its window open.
    const wroteAt = Math.floor(Date.now() / 1000) - 600;
    await pool(MESSAGES, 64, async (c) => {
      const body = webhook(numberOf(c), {
        contacts: [{ profile: { name: `Campaign Customer ${pad(c, 5)}` }, wa_id: waIdOf(c) }],
        messages: [
          {
            from: waIdOf(c),
            id: `wamid.campaign.in.${c}`,
            timestamp: String(wroteAt),
            type: 'text',
            text: { body: `question ${pad(c, 5)}` },
          },
        ],
      });
      await runtime.webhooks.ingestBody(new TextEncoder().encode(JSON.stringify(body)));
    });
    const conversations = await store.listConversations(WORKSPACE, { limit: MESSAGES + 1 });
    if (conversations.length !== MESSAGES)
      throw new Error(`expected ${MESSAGES} conversations, found ${conversations.length}`);

    // The campaign: one message to every customer, recorded as an API would (send job + mirrors).
    const ids: string[] = new Array(MESSAGES);
    const byContact = new Map<string, number>();
    for (const [i, conversation] of conversations.entries()) byContact.set(conversation.contactId, i);
    await pool(conversations.length, 64, async (i) => {
      const conversation = conversations[i];
      if (!conversation) return;
      const { messageId } = await store.recordOutbound({
        commandKey: { source: 'campaign', key: `campaign-${i}` },
        workspaceId: WORKSPACE,
        conversationId: conversation.id,
        message: {
          id: newId('msg'),
          type: 'text',
          text: `Your order ships today (${pad(i, 5)})`,
          content: {},
          sender: { via: 'api', agentId: null, agentName: 'Campaign' },
          relatesTo: null,
          timestamp: Date.now(),
        },
        originRef: null,
      });
      ids[i] = messageId;
    });
    return ids;
  } finally {
    await runtime.close();
  }
}

async function startGateway(): Promise<void> {
  // The settings `serve`'s launcher applies (the environment below says they are applied, so it
  // does not relaunch): without them the gateway's heaps grew unbounded by `serve`'s limits.
  const child = spawn(process.execPath, [...SERVE_NODE_FLAGS, GATEWAY, 'serve'], {
    env: childEnv,
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  gateway = child;
  child.once('exit', (code, signal) => {
    if (gateway === child) out(`gateway exited early: ${code ?? signal}`);
  });
  await waitFor('the gateway to answer /readyz', 60_000, async () => {
    try {
      return (await fetch(`${gatewayUrl}/readyz`)).ok ? true : null;
    } catch {
      return null;
    }
  });
  whatsapp.setWebhookUrl(`${gatewayUrl}/webhooks/whatsapp`);
}

/** Jobs in the queues and events not yet admitted to them. */
function queued(db: () => DatabaseSync): { jobs: number; pending: number } {
  const reader = db();
  try {
    const row = reader
      .prepare('SELECT (SELECT count(*) FROM jobs) AS jobs, (SELECT count(*) FROM jobs_new) AS pending')
      .get() as { jobs: number; pending: number };
    return { jobs: Number(row.jobs), pending: Number(row.pending) };
  } finally {
    reader.close();
  }
}

/**
 * Sends sent, delivered and read of every message as signed webhooks, open loop: webhook k of the
 * 3N is due at k × STORM_MS / 3N whether or not earlier ones were answered (as Meta sends), at most
 * 256 in flight. Message i's sent leaves in the first third, its delivered and read a third and two
 * thirds later, with WhatsApp times to match. Unacknowledged = the emulator gave up after its retries.
 */
async function sendStorm(
  messageIds: string[],
  wamids: Map<string, string>,
): Promise<{ sent: number; failed: number; late: number; ms: number; begin: number }> {
  const total = messageIds.length * 3;
  const base = Math.floor(Date.now() / 1000);
  const statuses = ['sent', 'delivered', 'read'] as const;
  const outcomesBefore = whatsapp.ledger.mark();
  const begin = Date.now();
  const dueAt = (k: number) => begin + (k * STORM_MS) / total;
  let late = 0;
  const pending = new Set<Promise<void>>();
  for (let k = 0; k < total; ) {
    const now = Date.now();
    if (dueAt(k) > now) {
      await sleep(Math.min(5, dueAt(k) - now));
      continue;
    }
    if (pending.size >= 256) {
      await Promise.race(pending);
      continue;
    }
    if (now - dueAt(k) > 1000) late++;
    const wave = Math.floor(k / messageIds.length);
    const i = k % messageIds.length;
    const body = webhook(numberOf(i), {
      statuses: [
        {
          id: wamids.get(messageIds[i] as string),
          status: statuses[wave],
          timestamp: String(base + Math.floor((dueAt(k) - begin) / 1000)),
          recipient_id: waIdOf(i),
        },
      ],
    });
    const p: Promise<void> = whatsapp
      .sendWebhook(body)
      .then((result) => result.settled)
      .finally(() => pending.delete(p));
    pending.add(p);
    k++;
  }
  await Promise.all(pending);
  const ms = Date.now() - begin;
  const failed = whatsapp.ledger
    .since(outcomesBefore)
    .filter((e) => e.kind === 'webhook.outcome' && e.outcome !== 'acknowledged').length;
  return { sent: total, failed, late, ms, begin };
}

/** The gateway's Prometheus counters, by series. */
async function scrape(): Promise<Map<string, number>> {
  const text = await (
    await fetch(`${gatewayUrl}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } })
  ).text();
  const series = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line.startsWith('wabridge_jobs_')) continue;
    const at = line.lastIndexOf(' ');
    series.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return series;
}

/** Every campaign message as each target ends up showing it. */
async function readBack(
  messageIds: string[],
): Promise<{ problems: string[]; summary: Record<string, number> }> {
  const runtime = await createRuntime({
    env: loadEnv(childEnv),
    registry: defaultRegistry(),
    logger: createLogger('warn'),
    metrics: noopMetrics,
    worker: false,
  });
  const problems: string[] = [];
  const summary = { store: 0, slack: 0, teams: 0, hubspot: 0 };
  try {
    const { store } = runtime;
    for (const id of messageIds) {
      const message = await store.getMessage(WORKSPACE, id);
      if (message?.state === 'read') summary.store++;
      else problems.push(`${id}: store says ${message?.state}`);

      const slackRef = await store.getRef(WORKSPACE, 'slack', 'message', id);
      const match = slackRef ? /^([A-Z0-9]+):(\d+\.\d+)$/.exec(slackRef.externalId) : null;
      const post = match ? slack.message(match[1] as string, match[2] as string) : undefined;
      if (post && JSON.stringify([post.text, post.blocks]).includes(':eyes: Read')) summary.slack++;
      else problems.push(`${id}: Slack shows ${post ? JSON.stringify(post.text) : 'nothing'}`);

      const teamsRef = await store.getRef(WORKSPACE, 'teams', 'message', id);
      const data = (teamsRef?.data ?? {}) as { messageId?: string; channelId?: string };
      const reply = data.messageId ? graph.message(data.messageId, TEAM, data.channelId) : undefined;
      if (reply && JSON.stringify([reply.body, reply.attachments]).includes('Read')) summary.teams++;
      else if (reply) problems.push(`${id}: Teams shows ${JSON.stringify(reply.body.content)}`);
      // Which step is missing: the ref, or the message it names (where, for a look at --keep-data).
      else if (!teamsRef) problems.push(`${id}: Teams shows nothing (no ref)`);
      else
        problems.push(`${id}: Teams shows nothing (ref ${JSON.stringify(teamsRef.data)} not in the channel)`);

      // HubSpot's entry shows no delivery progress (only a failure rewrites it): it is there.
      const entryRef = await store.getRef(WORKSPACE, 'hubspot', 'message', id);
      if (entryRef && hubspot.object('communications', entryRef.externalId)) summary.hubspot++;
      else problems.push(`${id}: no HubSpot entry`);
    }
  } finally {
    await runtime.close();
  }
  return { problems, summary };
}

async function waitFor<T>(
  what: string,
  timeoutMs: number,
  check: () => T | null | Promise<T | null>,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastReport = Date.now();
  for (;;) {
    const result = await check();
    if (result !== null) return result;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    if (gateway === null || gateway.exitCode !== null)
      if (what !== 'the gateway to answer /readyz')
        throw new Error(`the gateway exited while waiting for ${what}`);
    if (Date.now() - lastReport > 15_000) {
      lastReport = Date.now();
      phase(`waiting for ${what}`);
    }
    await sleep(250);
  }
}
