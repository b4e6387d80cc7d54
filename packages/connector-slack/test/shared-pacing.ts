import {
  ConnectorHost,
  createRegistry,
  createSecretBox,
  type Logger,
  memoryMetrics,
  RoutingCache,
  silentLogger,
  Worker,
  WorkspaceAdmin,
} from '@wabridge/core';
import { ingestText } from '@wabridge/core/testing';
import type { SlackEmulator } from '@wabridge/sandbox/slack';
import { openPostgresStore, type PostgresStore } from '@wabridge/store-postgres';
import { freshSchema, testDatabaseUrl } from '@wabridge/store-postgres/testing';
import { parseRef } from '../src/api/refs.ts';
import { slackConnector } from '../src/index.ts';
import { SUPPORT, startSlack } from './kit.ts';

const WORKSPACE = 'ws-pacing';

/** What draining the backlog with several workers gave: the emulator's counts and the posts' times. */
export interface DrainReport {
  /** Web API calls the emulator answered, and how many of them were 429. */
  calls: number;
  limited: number;
  /** When each bot post reached the channel (emulator clock, ms), in order. */
  postedAt: number[];
  /** Per conversation: the texts in the Slack thread after its card, and the texts sent. */
  threads: { shown: string[]; sent: string[] }[];
  deadJobs: number;
}

/**
 * A backlog of `conversations × perConversation` WhatsApp messages for ONE Slack channel, drained
 * by `workers` workers on one Postgres database, each with its own pool, connector host and Slack
 * connector instance (as separate processes have), into the Slack emulator enforcing `rate` posts
 * per second in the channel. `shared`: the workers pace through the store's shared ledger, as the
 * gateway wires them; false: each paces alone (the behaviour before the ledger).
 */
export async function drainWithWorkers(options: {
  rate: number;
  burst: number;
  workers: number;
  conversations: number;
  perConversation: number;
  shared: boolean;
  /** Told the number of posts so far, as they come (a bench's progress line). */
  progress?: (posted: number, of: number) => void;
  logger?: Logger;
}): Promise<DrainReport> {
  const logger = options.logger ?? silentLogger;
  const { rate, workers: count, conversations, perConversation } = options;
  const { slack, config } = await startSlack(
    {
      rateLimits: {
        postsPerChannel: { perSecond: rate, burst: options.burst },
        tiers: { tier2: 1200, tier3: 3000, tier4: 6000 },
      },
    },
    { postsPerSecondPerChannel: rate, tier3PerMinute: 3000, tier4PerMinute: 6000 },
  );
  const { schema, drop } = await freshSchema();
  const stores: PostgresStore[] = [];
  const workers: Worker[] = [];
  try {
    for (let i = 0; i < count; i++)
      stores.push(await openPostgresStore({ url: testDatabaseUrl, schema, poolSize: 4 }));
    const [first] = stores as [PostgresStore];
    const registry = createRegistry([slackConnector]);
    const secrets = createSecretBox(Buffer.alloc(32, 3));
    const admin = new WorkspaceAdmin({ store: first, registry, secrets });
    await admin.createWorkspace('test', { id: WORKSPACE, name: 'Pacing' });
    await admin.addPhoneNumber('test', WORKSPACE, {
      phoneNumberId: '106540352242922',
      displayPhoneNumber: '15550783881',
    });
    await admin.setConnector('test', WORKSPACE, 'slack', {
      enabled: true,
      config: config as Record<string, unknown>,
    });
    const sent: { waId: string; texts: string[] }[] = [];
    const t0 = Date.now() - 3_600_000;
    for (let c = 0; c < conversations; c++) {
      const waId = `4477009007${String(c).padStart(2, '0')}`;
      const texts = Array.from({ length: perConversation }, (_, i) => `c${c} #${i}`);
      sent.push({ waId, texts });
      for (const [i, text] of texts.entries())
        await ingestText(first, WORKSPACE, {
          waId,
          wamid: `wamid.pace.${c}.${i}`,
          text,
          at: t0 + i * 1000 + c,
        });
    }
    for (const store of stores) {
      const host = new ConnectorHost({
        store,
        registry,
        routing: new RoutingCache(store, { checkEveryMs: 0 }),
        secrets,
        logger,
        metrics: memoryMetrics(),
        // Text only: no message of this backlog has media.
        media: () => ({
          fetch: () => Promise.reject(new Error('no media in this backlog')),
          url: (id) => `http://gateway.test/media/${id}`,
        }),
        publicUrl: 'http://gateway.test',
        pacing: options.shared ? store.paceLedger : undefined,
      });
      workers.push(
        new Worker({
          store,
          host,
          logger,
          metrics: memoryMetrics(),
          concurrency: 8,
          pollIntervalMs: 20,
          backoff: { baseMs: 10, factor: 2, capMs: 200, maxAttempts: 5 },
        }),
      );
    }
    const posts = conversations * (perConversation + 1); // each thread starts with its card
    for (const worker of workers) worker.start();
    await slack.ledger.waitUntil(
      (ledger) => {
        const posted = ledger.count('message.posted', (e) => e.bot && e.channel === SUPPORT);
        options.progress?.(posted, posts);
        return posted >= posts;
      },
      (posts / rate) * 10_000 + 60_000,
    );
    for (const worker of workers) await worker.stop(2000);
    const threads = [];
    for (const { waId, texts } of sent)
      threads.push({ shown: await threadTexts(first, slack, waId), sent: texts });
    return {
      calls: slack.ledger.count('api.call'),
      limited: slack.ledger.count('api.rate_limited'),
      postedAt: slack.ledger.filter('message.posted', (e) => e.bot && e.channel === SUPPORT).map((e) => e.at),
      threads,
      deadJobs: (await first.listDeadJobs()).length,
    };
  } finally {
    for (const worker of workers) await worker.stop(500);
    for (const store of stores) await store.close();
    await drop();
    await slack.close();
  }
}

/** The texts of a customer's Slack thread after its card. */
async function threadTexts(store: PostgresStore, slack: SlackEmulator, waId: string): Promise<string[]> {
  for (const conversation of await store.listConversations(WORKSPACE)) {
    if ((await store.getContact(WORKSPACE, conversation.contactId))?.waId !== waId) continue;
    const ref = await store.getRef(WORKSPACE, 'slack', 'conversation', conversation.id);
    const root = parseRef(ref?.externalId);
    return root
      ? slack
          .thread(root.channel, root.ts)
          .slice(1)
          .map((m) => m.text ?? '')
      : [];
  }
  return [];
}

/** Sustained posts per second between the first and the last post. */
export function sustainedRate(postedAt: readonly number[]): number {
  const first = postedAt[0] ?? 0;
  const last = postedAt[postedAt.length - 1] ?? 0;
  return last > first ? (postedAt.length - 1) / ((last - first) / 1000) : 0;
}
