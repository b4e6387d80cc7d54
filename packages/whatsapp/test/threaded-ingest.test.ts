import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import {
  memoryLogger,
  memoryMetrics,
  openThreadedSqliteStore,
  type ThreadedSqliteStore,
} from '@wabridge/core';
import { identity, inboundMessage, messagesUnit, seedWorkspace } from '@wabridge/core/testing';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { WHATSAPP_INGEST_TRANSLATOR } from '../src/ingest.ts';
import { customerMessage, TEST_PHONE_NUMBER_ID } from '../src/testing/bridge.ts';

const dir = mkdtempSync(join(tmpdir(), 'wabridge-threaded-'));
let n = 0;
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const body = (value: unknown) => new TextEncoder().encode(JSON.stringify(value));
const text = (wamid: string, waId = '15550001111') =>
  body(customerMessage(wamid, { type: 'text', text: { body: 'Is it in stock?' } }, { waId }));

describe('the store thread ingests verified webhook bodies', () => {
  let store: ThreadedSqliteStore;
  let logger: ReturnType<typeof memoryLogger>;
  let metrics: ReturnType<typeof memoryMetrics>;
  let ws: string;
  beforeEach(async () => {
    logger = memoryLogger();
    metrics = memoryMetrics();
    store = await openThreadedSqliteStore({
      path: join(dir, `ingest-${n++}.db`),
      logger,
      metrics,
      ingestTranslator: WHATSAPP_INGEST_TRANSLATOR,
    });
    ws = await seedWorkspace(store, { phoneNumberId: TEST_PHONE_NUMBER_ID, connectors: ['slack', 'teams'] });
  });
  afterEach(() => store.close());

  it('parses, routes and stores a body in one transaction, and its counters reach this thread', async () => {
    const outcome = await store.ingestBody(text('wamid.one'));
    expect(outcome).toMatchObject({ ok: true, result: { messagesStored: 1, jobsQueued: 2 } });
    expect(await store.getMessageByWamid(ws, 'wamid.one')).toMatchObject({ text: 'Is it in stock?' });
    expect(metrics.counters.get('messages_ingested_total')).toBe(1);
    expect(metrics.counters.get('jobs_queued_total')).toBe(2);

    // A repeat changes nothing.
    expect(await store.ingestBody(text('wamid.one'))).toMatchObject({
      ok: true,
      result: { messagesStored: 0, messagesDuplicate: 1, jobsQueued: 0 },
    });
  });

  it("records an agent's internal note through the thread, once, and answers who it was", async () => {
    await store.ingestBody(text('wamid.note'));
    const conversationId = (await store.listConversations(ws))[0]?.id ?? null;
    const input = {
      commandKey: { source: 'slack', key: 'Ev1' },
      workspaceId: ws,
      connectorId: 'slack',
      externalId: 'C1:2.0',
      threadId: 'C1:1.0',
      action: 'note' as const,
      conversationId,
      agent: { id: 'U1', name: 'Grace' },
      text: '// internal',
      attachments: [],
      at: 1_750_000_000_000,
    };
    const first = await store.recordNote(input);
    expect(first).toMatchObject({ duplicate: false, noteId: expect.stringMatching(/^nte_/) });
    expect(await store.recordNote(input)).toEqual({ duplicate: true, noteId: first.noteId });
    const raw = new DatabaseSync(join(dir, `ingest-${n - 1}.db`));
    try {
      expect(raw.prepare("SELECT COUNT(*) AS n FROM archive_records WHERE kind = 'note'").get()).toEqual({
        n: 1,
      });
    } finally {
      raw.close();
    }
  });

  it('refuses bytes that are not UTF-8 JSON and stores nothing', async () => {
    expect(await store.ingestBody(new TextEncoder().encode('{"object":'))).toEqual({
      ok: false,
      reason: 'invalid_json',
    });
    expect(await store.ingestBody(new Uint8Array([0x7b, 0xff, 0x7d]))).toEqual({
      ok: false,
      reason: 'invalid_json',
    });
    expect((await store.jobStats()).ready).toBe(0);
  });

  it('keeps a number nobody owns as unrouted, says so in this thread’s log, and routes it once claimed', async () => {
    const stranger = (wamid: string) =>
      body(customerMessage(wamid, { type: 'text', text: { body: 'hello?' } }));
    const elsewhere = (wamid: string) =>
      new TextEncoder().encode(
        new TextDecoder().decode(stranger(wamid)).replace(TEST_PHONE_NUMBER_ID, '999000111'),
      );
    const outcome = await store.ingestBody(elsewhere('wamid.lost'));
    expect(outcome).toMatchObject({ ok: true, result: { unrouted: 1, messagesStored: 0 } });
    expect(metrics.counters.get('webhooks_unrouted_total')).toBe(1);
    expect(logger.records).toContainEqual(
      expect.objectContaining({
        level: 'warn',
        msg: 'webhook for a phone number no workspace owns',
        fields: expect.objectContaining({ component: 'ingest', phoneNumberId: '999000111' }),
      }),
    );
    expect(JSON.stringify(logger.records)).not.toContain('hello?');

    // Claimed through this same store: the very next webhook routes, without waiting for a cache.
    await store.addPhoneNumber({
      workspaceId: ws,
      phoneNumberId: '999000111',
      displayPhoneNumber: null,
      wabaId: null,
    });
    expect(await store.ingestBody(elsewhere('wamid.found'))).toMatchObject({
      ok: true,
      result: { messagesStored: 1 },
    });
  });

  it('answers every one of many concurrent calls, reads and ingests mixed, with nothing lost', async () => {
    const calls = Array.from({ length: 600 }, (_, i) =>
      i % 3 === 0
        ? store.jobStats()
        : store.ingestBody(text(`wamid.many.${i}`, `1555${String(i % 40).padStart(7, '0')}`)),
    );
    const outcomes = await Promise.all(calls);
    const stored = outcomes.filter((o) => 'ok' in o && o.ok && o.result.messagesStored === 1);
    expect(stored).toHaveLength(400);
    expect((await store.jobStats()).ready).toBe(800);
    expect(metrics.counters.get('messages_ingested_total')).toBe(400);
  });
});

describe('claims through the store thread', () => {
  it('webhooks are not held back while a claim admits a backlog', async () => {
    const store = await openThreadedSqliteStore({
      path: join(dir, `admit-${n++}.db`),
      ingestTranslator: WHATSAPP_INGEST_TRANSLATOR,
    });
    try {
      const ws = await seedWorkspace(store, { phoneNumberId: TEST_PHONE_NUMBER_ID, connectors: ['slack'] });
      // 3,000 new jobs: three admission transactions before the claim can run.
      await store.ingest(
        messagesUnit(ws, {
          messages: Array.from({ length: 3000 }, (_, i) =>
            inboundMessage({
              wamid: `w.${i}`,
              contact: identity({ waId: `1555${String(i % 50).padStart(7, '0')}` }),
            }),
          ),
        }),
      );
      const settled: string[] = [];
      const claiming = store
        .claimJobs({ limit: 100, leaseMs: 30_000, workerId: 'w1', now: Date.now() })
        .then((jobs) => settled.push(`claim ${jobs.length}`));
      // Made once the claim's first step has left for the thread.
      await new Promise((resolve) => setImmediate(resolve));
      // From a customer of the backlog: its job queues behind theirs, so the claim returns 50 heads
      // whether or not it is due by the claim's \`now\`.
      const webhook = store
        .ingestBody(text('wamid.during', '15550000007'))
        .then(() => settled.push('webhook'));
      await Promise.all([claiming, webhook]);
      expect(settled).toEqual(['webhook', 'claim 50']);
    } finally {
      await store.close();
    }
  });
});

describe('a busy store thread (another connection holds the write lock)', () => {
  const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
  const codeOf = (promise: Promise<unknown>) =>
    promise.then(
      () => 'ok',
      (error: { code?: string }) => error.code ?? 'uncoded',
    );

  async function open(ingestLimits: Parameters<typeof openThreadedSqliteStore>[0]['ingestLimits']) {
    const path = join(dir, `busy-${n++}.db`);
    const store = await openThreadedSqliteStore({
      path,
      ingestLimits,
      busyTimeoutMs: 500,
      ingestTranslator: WHATSAPP_INGEST_TRANSLATOR,
    });
    const ws = await seedWorkspace(store, { phoneNumberId: TEST_PHONE_NUMBER_ID, connectors: ['slack'] });
    const lock = new DatabaseSync(path, { timeout: 0 });
    return { store, ws, lock };
  }

  it('fails a write with the retryable code `unavailable` (never an uncoded error) when the lock outlasts the busy timeout', async () => {
    const { store, lock } = await open({ deadlineMs: 30_000 });
    try {
      lock.exec('BEGIN IMMEDIATE');
      const failed = await store.ingestBody(text('wamid.busy')).catch((error: unknown) => error);
      expect(failed).toMatchObject({ code: 'unavailable', retryable: true, retryAfterMs: 5000 });
      expect(
        await codeOf(store.appendAudit({ actor: 't', action: 'a', workspaceId: null, details: {} })),
      ).toBe('unavailable');
      lock.exec('COMMIT');
      expect(await store.ingestBody(text('wamid.busy'))).toMatchObject({
        ok: true,
        result: { messagesStored: 1 },
      });
    } finally {
      lock.close();
      await store.close();
    }
  });

  it('refuses bodies past the count and byte caps at once, answers the rest at the deadline, reports the stall, and stores each retried body once', async () => {
    const size = text('wamid.cap.0').byteLength;
    const { store, ws, lock } = await open({ maxPending: 3, maxPendingBytes: size * 10, deadlineMs: 200 });
    try {
      lock.exec('BEGIN IMMEDIATE');
      const waiting = [0, 1, 2].map((i) => codeOf(store.ingestBody(text(`wamid.cap.${i}`))));
      // The fourth finds three waiting: refused without waiting for anything.
      const refused = await store.ingestBody(text('wamid.cap.3')).catch((error: Error) => error.message);
      expect(refused).toMatch(/3 webhooks wait for it/);
      expect(store.pendingIngests()).toEqual({ count: 3, bytes: 3 * size });
      // All three are answered `unavailable` (the deadline or the lock, whichever comes first).
      expect(await Promise.all(waiting)).toEqual(['unavailable', 'unavailable', 'unavailable']);
      const deadline = Date.now() + 10_000;
      while (store.stalledForMs() < 100 && Date.now() < deadline) await sleep(20);
      expect(store.stalledForMs()).toBeGreaterThanOrEqual(100);
      lock.exec('COMMIT');
      // Meta's retries: each body until it is acknowledged.
      for (let i = 0; i < 4; i++) {
        for (;;) {
          const outcome = await store.ingestBody(text(`wamid.cap.${i}`)).catch(() => null);
          if (outcome?.ok) break;
          await sleep(50);
        }
      }
      expect(store.pendingIngests()).toEqual({ count: 0, bytes: 0 });
      expect(store.stalledForMs()).toBe(0);
      for (let i = 0; i < 4; i++) expect(await store.getMessageByWamid(ws, `wamid.cap.${i}`)).toBeTruthy();
      // One job per message: a body that committed after its 503 was not queued twice by its retry.
      expect((await store.jobStats()).ready).toBe(4);

      const big = new Uint8Array(size * 10 + 1);
      expect(await store.ingestBody(big).catch((error: Error) => error.message)).toMatch(/bytes of webhooks/);
    } finally {
      lock.close();
      await store.close();
    }
  });
});

describe('a store thread opened without an ingest translator', () => {
  it('refuses webhook bodies with a coded error and still answers store calls', async () => {
    const store = await openThreadedSqliteStore({ path: join(dir, `plain-${n++}.db`) });
    try {
      await expect(store.ingestBody(text('wamid.nowhere'))).rejects.toMatchObject({
        code: 'internal',
        message: 'the store thread was opened without an ingest translator',
      });
      expect(await store.listWorkspaces()).toEqual([]);
    } finally {
      await store.close();
    }
  });
});
