import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import {
  CompactRange,
  createSecretBox,
  leafHash,
  MerkleLog,
  openSqliteStore,
  type SqliteStore,
  type Store,
  signArchiveCheckpoint,
  toHex,
} from '@wabridge/core';
import { ingestText, seedWorkspace } from '@wabridge/core/testing';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { PgLogNodeStore } from '../archive.ts';
import { openPostgresStore, type PostgresStore } from '../store.ts';
import { freshSchema, testDatabaseUrl } from '../testing/index.ts';
import { migrateSqliteToPostgres, planCopy, SQLITE_ONLY_TABLES, SqliteSource } from './index.ts';

const MASTER = randomBytes(32);
const box = createSecretBox(MASTER);
const T0 = 1_750_000_000_000;
const SLACK_SECRETS = JSON.stringify({ botToken: 'xoxb-migrated', signingSecret: 'sig' });
const CONNECTORS = ['slack', 'hubspot'];

let dir: string;
let sqlitePath: string;
let schema: string;
let dropSchema: () => Promise<void>;
const opened: Array<{ close(): Promise<void> }> = [];

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'wb-migrate-'));
  sqlitePath = join(dir, 'wabridge.db');
  ({ schema, drop: dropSchema } = await freshSchema('wb_migrate'));
});

afterEach(async () => {
  for (const store of opened.splice(0)) await store.close();
  await dropSchema();
  rmSync(dir, { recursive: true, force: true });
});

async function openSqlite(): Promise<SqliteStore> {
  const store = await openSqliteStore({ path: sqlitePath, masterKeys: { current: MASTER } });
  opened.push(store);
  return store;
}

async function close(store: { close(): Promise<void> }): Promise<void> {
  opened.splice(opened.indexOf(store), 1);
  await store.close();
}

async function openPostgres(): Promise<PostgresStore> {
  const store = await openPostgresStore({
    url: testDatabaseUrl,
    schema,
    poolSize: 2,
    masterKeys: { current: MASTER },
  });
  opened.push(store);
  return store;
}

const migrate = (extra: { force?: boolean; key?: Buffer; url?: string } = {}) =>
  migrateSqliteToPostgres({
    sqlitePath,
    url: extra.url ?? testDatabaseUrl,
    schema,
    masterKeys: { current: extra.key ?? MASTER },
    ...(extra.force ? { force: true } : {}),
  });

/**
 * A SQLite store with something in every part that moves: messages and statuses, a Slack
 * connector with sealed secrets, consent, a hold, refs, a job completed, one dead-lettered, jobs
 * claimed but running, jobs still in SQLite's admission stage, and a signed checkpoint.
 */
async function buildSqliteStore(): Promise<void> {
  const store = await openSqlite();
  await seedWorkspace(store, { id: 'acme', connectors: CONNECTORS });
  await store.setConnector({
    workspaceId: 'acme',
    connectorId: 'slack',
    enabled: true,
    events: ['message.inbound', 'message.outbound', 'message.status', 'consent.changed', 'notice'],
    config: { channel: 'C0MIGRATE', layout: { threads: true } },
    encryptedSecrets: box.encrypt(SLACK_SECRETS),
  });
  for (let i = 0; i < 12; i++) {
    await ingestText(store, 'acme', {
      waId: `1555000100${i % 3}`,
      wamid: `wamid.m${i}`,
      text: `hello ${i}`,
      at: T0 + i * 1000,
    });
  }
  const [conversation] = await store.listConversations('acme');
  if (!conversation) throw new Error('no conversation');
  await store.recordConsent({
    commandKey: null,
    workspaceId: 'acme',
    contactId: conversation.contactId,
    category: 'marketing',
    state: 'opted_out',
    source: 'admin',
    actor: 'cli:test',
    evidenceMessageId: null,
    occurredAt: T0 + 50_000,
    details: { note: 'asked by phone' },
  });
  await store.addHold({
    workspaceId: 'acme',
    scope: { kind: 'workspace' },
    reason: 'audit',
    actor: 'cli:test',
  });
  const claimed = await store.claimJobs({ limit: 3, leaseMs: 60_000, workerId: 'w1' });
  const [done, dead] = claimed;
  if (!done || !dead) throw new Error('nothing claimed');
  await store.completeJob(done.lease, [
    {
      connectorId: done.connectorId,
      kind: 'message',
      entityId: done.entityId,
      externalId: '1700.0001',
      data: { ts: '1700.0001' },
    },
  ]);
  await store.deadLetterJob(dead.lease, 'channel_not_found');
  // After the last claim: these wait in SQLite's admission stage (jobs_new).
  for (let i = 12; i < 15; i++) {
    await ingestText(store, 'acme', {
      waId: '15550009999',
      wamid: `wamid.m${i}`,
      text: `late ${i}`,
      at: T0 + i * 1000,
    });
  }
  await signArchiveCheckpoint(store.db, box, 'acme');
  await ingestText(store, 'acme', {
    waId: '15550009999',
    wamid: 'wamid.after',
    text: 'after checkpoint',
    at: T0 + 99_000,
  });
  await close(store);
}

/** What a gateway reads, the same from both stores. */
async function reads(store: Store) {
  const conversations = await store.listConversations('acme');
  const messages = [];
  for (const c of conversations) messages.push(...(await store.listMessages('acme', c.id)));
  const contact = conversations[0]?.contactId ?? '';
  const slack = await store.getConnector('acme', 'slack');
  return {
    workspace: await store.getWorkspace('acme'),
    conversations,
    messages,
    consent: await store.consentHistory('acme', contact),
    holds: await store.listHolds('acme'),
    dead: await store.listDeadJobs(),
    slack,
    slackSecrets: slack?.encryptedSecrets ? box.decrypt(slack.encryptedSecrets) : null,
    configVersion: await store.configVersion(),
  };
}

/** The root of a Postgres log from its records (the leaves), and from its stored nodes. */
async function pgRoots(store: PostgresStore, log: string) {
  const range = CompactRange.empty();
  const rows = await store.db.all<{ record: Buffer }>(
    'SELECT record FROM archive_records WHERE workspace_id = $1 ORDER BY seq',
    [log],
  );
  for (const row of rows) range.append(leafHash(row.record));
  const merkle = await MerkleLog.open(new PgLogNodeStore(store.db, log));
  return { records: rows.length, fromRecords: toHex(range.root()), fromNodes: toHex(merkle.head().root) };
}

describe('wabridge migrate --to postgres (the copy)', () => {
  it('copies a SQLite store whose reads, queue and archive continue on Postgres', async () => {
    await buildSqliteStore();
    const before = await reads(await openSqlite());
    const sqliteJobs = await (opened[0] as SqliteStore).jobStats();
    await close(opened[0] as SqliteStore);

    const report = await migrate();
    expect(report.replaced).toEqual([]);
    // The four messages after the last claim: three late ones and one after the checkpoint.
    expect(report.admittedJobs).toBe(4 * CONNECTORS.length);
    for (const t of report.tables) {
      const expected =
        t.table === 'jobs'
          ? t.sqlite + report.admittedJobs
          : t.table === 'archive_log_nodes'
            ? t.postgres
            : t.sqlite;
      expect({ table: t.table, postgres: t.postgres }).toEqual({ table: t.table, postgres: expected });
    }
    const [acme] = report.logs.filter((l) => l.log === 'acme');
    expect(acme?.checkpoints).toBe(1);

    const pg = await openPostgres();
    expect(await reads(pg)).toEqual(before);
    expect((await reads(pg)).slackSecrets).toBe(SLACK_SECRETS);
    const message = before.messages[0];
    if (!message) throw new Error('no message');
    expect(await pg.getRef('acme', 'slack', 'message', 'nothing')).toBeNull();
    // Every job SQLite had queued (admitted or not) is claimable and deliverable on Postgres.
    expect((await pg.jobStats()).byConnector).toEqual(sqliteJobs.byConnector);
    // The job the stopped worker was running comes back once its lease expired: claims run later.
    const later = Date.now() + 3_600_000;
    const waiting = sqliteJobs.ready + sqliteJobs.running;
    let delivered = 0;
    for (let round = 0; round < 20 && delivered < waiting; round++) {
      const jobs = await pg.claimJobs({ limit: 50, leaseMs: 60_000, workerId: 'pg', now: later });
      for (const job of jobs) {
        expect(await pg.completeJob(job.lease, [])).toBe(true);
        delivered++;
      }
      if (jobs.length === 0) break;
    }
    expect(delivered).toBe(waiting);
    // The dead letter replays and delivers.
    expect(await pg.replayDeadJobs('all')).toBe(1);
    const [replayed] = await pg.claimJobs({ limit: 5, leaseMs: 60_000, workerId: 'pg', now: later });
    expect(replayed?.entityId).toBe(before.dead[0]?.entityId);
    expect(await pg.completeJob(replayed?.lease ?? { jobId: 0, token: '' }, [])).toBe(true);

    // Ingest continues: a new webhook appends to the copied log, which still verifies.
    const size = acme?.size ?? 0;
    await ingestText(pg, 'acme', {
      waId: '15550001000',
      wamid: 'wamid.pg',
      text: 'on postgres',
      at: T0 + 200_000,
    });
    const roots = await pgRoots(pg, 'acme');
    expect(roots.records).toBeGreaterThan(size);
    expect(roots.fromNodes).toBe(roots.fromRecords);
    expect((await pg.getMessageByWamid('acme', 'wamid.pg'))?.text).toBe('on postgres');
  });

  it('copies every SQLite table or says what becomes of it, from both catalogs', async () => {
    await close(await openSqlite());
    const pg = await openPostgres();
    const source = SqliteSource.open(sqlitePath);
    try {
      const plan = await planCopy(source, pg.db);
      const copied = plan.tables.map((t) => t.table);
      for (const table of source.tables()) {
        expect(copied.includes(table) || table in SQLITE_ONLY_TABLES, `SQLite table ${table}`).toBe(true);
      }
      // Postgres-only tables (none today) are left empty and listed.
      expect(plan.postgresOnly.every((t) => !copied.includes(t))).toBe(true);
    } finally {
      source.close();
    }
    // A table SQLite gains without a Postgres counterpart stops the plan, by name.
    const raw = new DatabaseSync(sqlitePath);
    raw.exec('CREATE TABLE sms_messages (id TEXT PRIMARY KEY, body TEXT)');
    raw.close();
    const again = SqliteSource.open(sqlitePath);
    try {
      await expect(planCopy(again, pg.db)).rejects.toThrow(/SQLite table sms_messages has no Postgres table/);
    } finally {
      again.close();
    }
  });

  it('refuses while a process has the SQLite store open, and says how to stop it', async () => {
    await openSqlite();
    await expect(migrate()).rejects.toMatchObject({
      code: 'conflict',
      message: expect.stringMatching(/in use by another process.*stop/),
    });
  });

  it("refuses a schema that holds a store unless forced, and replaces it when forced, never another application's tables", async () => {
    await buildSqliteStore();
    const pg = await openPostgres();
    await pg.db.run('CREATE TABLE other_app (x INTEGER); INSERT INTO other_app VALUES (1)');
    await migrate();
    await expect(migrate()).rejects.toMatchObject({
      code: 'conflict',
      message: expect.stringMatching(/already holds a store \(.*messages: 16.*\).*--force/),
    });
    const forced = await migrate({ force: true });
    expect(forced.replaced.find((t) => t.table === 'messages')?.postgres).toBe(16);
    expect(forced.tables.find((t) => t.table === 'messages')?.postgres).toBe(16);
    expect(await pg.db.all('SELECT x FROM other_app')).toEqual([{ x: 1 }]);
  });

  it('refuses a master key that does not open the store, and an unreachable server', async () => {
    await buildSqliteStore();
    await expect(migrate({ key: randomBytes(32) })).rejects.toMatchObject({
      code: 'config_invalid',
      message: expect.stringMatching(/master key does not open/),
    });
    await expect(migrate({ url: 'postgres://postgres@127.0.0.1:1/test' })).rejects.toMatchObject({
      code: 'unavailable',
      message: expect.stringMatching(/cannot reach Postgres at 127\.0\.0\.1:1\/test/),
    });
  });

  it('refuses an archive whose signed checkpoint its records no longer match, committing nothing', async () => {
    await buildSqliteStore();
    const raw = new DatabaseSync(sqlitePath);
    raw
      .prepare('UPDATE archive_records SET record = ? WHERE workspace_id = ? AND seq = 0')
      .run(Buffer.from('{}'), 'acme');
    raw.close();
    await expect(migrate()).rejects.toMatchObject({
      code: 'internal',
      message: expect.stringMatching(/archive log acme differs.*nothing was committed/),
    });
    const pg = await openPostgres();
    expect(await pg.listWorkspaces()).toEqual([]);
  });
});
