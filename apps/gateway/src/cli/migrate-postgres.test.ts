import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CompactRange, leafHash, MerkleLog, toHex } from '@wabridge/core';
import { freePort } from '@wabridge/core/testing';
import { type SlackEmulator, startSlackEmulator } from '@wabridge/sandbox/slack';
import { startWhatsAppEmulator, type WhatsAppEmulator } from '@wabridge/sandbox/whatsapp';
import { freshSchema, PgLogNodeStore, type PostgresStore, testDatabaseUrl } from '@wabridge/store-postgres';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { defaultRegistry } from '../connectors.ts';
import { loadEnv } from '../env.ts';
import { TEST_ACCESS_TOKEN, TEST_APP_SECRET, TEST_VERIFY_TOKEN } from '../testing/harness.ts';
import { archiveCheckpoint } from './admin.ts';
import { migrateToPostgres } from './migrate-postgres.ts';
import { startServer } from './serve.ts';

/**
 * Moving a gateway from SQLite to Postgres, end to end: a gateway on SQLite mirrors a customer
 * into the Slack emulator (a thread, a dead letter, a job still queued), is stopped, and
 * `wabridge migrate --to postgres` copies its store; a gateway started on the copy delivers the
 * queued job and the replayed dead letter into the same Slack thread, and keeps ingesting.
 */
const WORKSPACE = 'acme';
const CHANNEL = 'C0MIGRATE01';

let wa: WhatsAppEmulator;
let slack: SlackEmulator;
let dir: string;
let schema: string;
let dropSchema: () => Promise<void>;
type Server = Awaited<ReturnType<typeof startServer>>;
const running: Server[] = [];

async function environment(extra: Record<string, string> = {}) {
  const port = await freePort();
  return loadEnv({
    NODE_ENV: 'test',
    PORT: String(port),
    PUBLIC_URL: `http://127.0.0.1:${port}`,
    HOST: '127.0.0.1',
    LOG_LEVEL: process.env.WABRIDGE_TEST_LOG ?? 'silent',
    WABRIDGE_DATA_DIR: dir,
    WABRIDGE_MASTER_KEY: Buffer.alloc(32, 7).toString('base64'),
    WHATSAPP_APP_SECRET: TEST_APP_SECRET,
    WHATSAPP_VERIFY_TOKEN: TEST_VERIFY_TOKEN,
    WHATSAPP_ACCESS_TOKEN: TEST_ACCESS_TOKEN,
    WHATSAPP_API_BASE_URL: wa.url,
    ...extra,
  });
}

const onPostgres = () => ({ DATABASE_URL: testDatabaseUrl, DATABASE_SCHEMA: schema });

async function start(extra: Record<string, string> = {}, worker = true): Promise<Server> {
  const server = await startServer(await environment(extra), {
    worker,
    http: true,
    registry: defaultRegistry(),
  });
  running.push(server);
  wa.setWebhookUrl(`${server.url}/webhooks/whatsapp`);
  slack.setCallbackUrls(`${server.url}/hooks/slack/${WORKSPACE}`);
  return server;
}

async function stop(server: Server): Promise<void> {
  running.splice(running.indexOf(server), 1);
  await server.close();
}

async function until<T>(what: string, probe: () => Promise<T | undefined | null | false>): Promise<T> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** The conversation's Slack thread, as the emulator shows it (root first). */
async function thread(server: Server) {
  const store = server.runtime.store;
  const [conversation] = await store.listConversations(WORKSPACE);
  const ref = await store.getRef(WORKSPACE, 'slack', 'conversation', conversation?.id ?? '');
  // `<channel>:<ts>` once posted (a pending marker before).
  const posted = /^(C[A-Z0-9]+):(\d+\.\d+)$/.exec(ref?.externalId ?? '');
  return {
    conversation,
    texts: posted ? slack.thread(posted[1] ?? '', posted[2] ?? '').map((m) => m.text) : [],
  };
}

const migrate = (
  values: Record<string, string | boolean>,
  env: () => ReturnType<typeof loadEnv>,
  progress: { isTTY?: boolean; write(text: string): unknown } = { write: () => true },
) => migrateToPostgres({ env, values: { to: 'postgres', ...values }, positionals: [], args: [] }, progress);

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'wabridge-migrate-'));
  ({ schema, drop: dropSchema } = await freshSchema('wb_migrate_cli'));
  wa = await startWhatsAppEmulator({
    appSecret: TEST_APP_SECRET,
    accessToken: TEST_ACCESS_TOKEN,
    rules: { pairRate: { enabled: false } },
  });
  slack = await startSlackEmulator({
    signingSecret: 'migrate-signing-secret',
    botToken: 'xoxb-migrate-bot',
    channels: [{ id: CHANNEL, name: 'whatsapp-support' }],
  });
});

afterAll(async () => {
  for (const server of running.splice(0)) await server.close();
  await slack?.close();
  await wa?.close();
  await dropSchema?.();
  rmSync(dir, { recursive: true, force: true });
});

describe('wabridge migrate --to postgres', () => {
  it('moves a running deployment: thread, queued job, dead letter and archive carry on from Postgres', async () => {
    const sqlite = await start();
    const { admin } = sqlite.runtime;
    await admin.createWorkspace('test', { id: WORKSPACE, name: 'Acme' });
    await admin.addPhoneNumber('test', WORKSPACE, {
      phoneNumberId: '106540352242922',
      displayPhoneNumber: '15550783881',
    });
    await admin.setConnector('test', WORKSPACE, 'slack', {
      enabled: true,
      config: {
        botToken: slack.botToken,
        signingSecret: slack.signingSecret,
        teamId: slack.teamId,
        appId: slack.appId,
        defaultChannel: CHANNEL,
        slackApiUrl: slack.apiUrl,
      },
    });
    sqlite.runtime.routing.invalidate();
    const ada = wa.customer({ waId: '15550001234', name: 'Ada' });
    const base = Date.now() - 60_000;
    await ada.sendText('one', { timestamp: base });
    await until('the first message in Slack', async () => (await thread(sqlite)).texts.includes('one'));
    await sqlite.runtime.store.addHold({
      workspaceId: WORKSPACE,
      scope: { kind: 'workspace' },
      reason: 'audit',
      actor: 'cli:test',
    });
    // Nothing else in flight, so the planned failure meets the next message's delivery.
    await until('the queue idle', async () => {
      const slackJobs = (await sqlite.runtime.store.jobStats()).byConnector.slack;
      return (slackJobs?.ready ?? 0) + (slackJobs?.running ?? 0) === 0;
    });
    await slack.idle();
    slack.failNext({ kind: 'error', error: 'invalid_blocks' });
    await ada.sendText('two', { timestamp: base + 1000 });
    const [dead] = await until('a dead letter', async () => {
      const jobs = await sqlite.runtime.store.listDeadJobs();
      return jobs.length > 0 && jobs;
    });

    // While the gateway runs, the copy refuses and says why.
    const sqliteEnv = await environment();
    await expect(migrate({ 'database-url': testDatabaseUrl, schema }, () => sqliteEnv)).rejects.toMatchObject(
      {
        code: 'conflict',
        message: expect.stringMatching(/in use by another process/),
      },
    );
    await stop(sqlite);

    // A gateway without a worker stores one more message; its job waits in the SQLite queue.
    const httpOnly = await start({}, false);
    await ada.sendText('three', { timestamp: base + 2000 });
    await until('the third message stored', async () => {
      const { conversation } = await thread(httpOnly);
      return (await httpOnly.runtime.store.listMessages(WORKSPACE, conversation?.id ?? '')).length === 3;
    });
    await stop(httpOnly);
    const print = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
    try {
      await archiveCheckpoint({ env: () => sqliteEnv, values: {}, positionals: [WORKSPACE], args: [] });
    } finally {
      print.mockRestore();
    }

    const drawn: string[] = [];
    const terminal = { isTTY: true, write: (text: string) => drawn.push(text) };
    const printed: string[] = [];
    const capture = vi.spyOn(process.stdout, 'write').mockImplementation((text) => {
      printed.push(String(text));
      return true;
    });
    let report: Awaited<ReturnType<typeof migrateToPostgres>>;
    try {
      report = await migrate({ 'database-url': testDatabaseUrl, schema }, () => sqliteEnv, terminal);
    } finally {
      capture.mockRestore();
    }
    // On a terminal, progress per table.
    const messagesCopied = report.tables.find((t) => t.table === 'messages')?.postgres;
    expect(drawn.join('')).toContain(`copying messages: ${messagesCopied} / ${messagesCopied} rows`);
    const output = printed.join('');
    expect(output).toContain(`DATABASE_SCHEMA=${schema}`);
    expect(output).toContain('WABRIDGE_MASTER_KEY (and WABRIDGE_MASTER_KEY_PREVIOUS) unchanged');
    expect(output).toContain('media stays a cache');
    expect(report.logs.find((l) => l.log === WORKSPACE)?.checkpoints).toBe(1);
    expect(report.admittedJobs).toBe(1);

    // On Postgres: the same conversation, its hold, its thread; the queued job and the replayed
    // dead letter are delivered into that thread.
    const pg = await start(onPostgres());
    expect(pg.runtime.store.kind).toBe('postgres');
    const { conversation } = await thread(pg);
    const messages = await pg.runtime.store.listMessages(WORKSPACE, conversation?.id ?? '');
    expect(messages.map((m) => m.text)).toEqual(['one', 'two', 'three']);
    expect(await pg.runtime.store.listHolds(WORKSPACE)).toHaveLength(1);
    await until('the queued job delivered', async () => (await thread(pg)).texts.includes('three'));
    expect(await pg.runtime.store.replayDeadJobs([dead?.id ?? 0])).toBe(1);
    await until('the dead letter delivered', async () => (await thread(pg)).texts.includes('two'));

    // Ingest continues on the copied archive log.
    await ada.sendText('four', { timestamp: base + 3000 });
    await until('the new message delivered', async () => (await thread(pg)).texts.includes('four'));
    const texts = (await thread(pg)).texts;
    expect(texts.filter((t) => ['one', 'two', 'three', 'four'].includes(t ?? '')).sort()).toEqual([
      'four',
      'one',
      'three',
      'two',
    ]);
    const store = pg.runtime.store as unknown as PostgresStore;
    const records = await store.db.all<{ record: Buffer }>(
      'SELECT record FROM archive_records WHERE workspace_id = $1 ORDER BY seq',
      [WORKSPACE],
    );
    const range = CompactRange.empty();
    for (const row of records) range.append(leafHash(row.record));
    const merkle = await MerkleLog.open(new PgLogNodeStore(store.db, WORKSPACE));
    expect(records.length).toBeGreaterThan(report.logs.find((l) => l.log === WORKSPACE)?.size ?? 0);
    expect(toHex(merkle.head().root)).toBe(toHex(range.root()));
  }, 120_000);

  it('says where the Postgres is missing, and refuses options without --to', async () => {
    const env = await environment();
    await expect(migrate({}, () => env)).rejects.toMatchObject({
      code: 'config_invalid',
      message: expect.stringMatching(/--database-url postgres:\/\/… or set DATABASE_URL/),
    });
    await expect(migrate({ 'database-url': 'mysql://x' }, () => env)).rejects.toThrow(
      /not a postgres:\/\/ URL/,
    );
  });
});
