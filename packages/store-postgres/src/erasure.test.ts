import { CommandProcessor, hydrateEvent, isWabridgeError, noopMetrics, silentLogger } from '@wabridge/core';
import { identity, inboundMessage, messagesUnit, seedWorkspace } from '@wabridge/core/testing';
import pg from 'pg';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { PostgresStore } from './store.ts';
import { testDatabaseUrl } from './testing/index.ts';
import { openTestStore } from './testing/open.ts';

// Erasure on Postgres (of GovernanceStore), ported from the SQLite store's erasure tests
// (core: store/sqlite/governance/governance.test.ts), each on a schema of its own and an injected
// clock: nothing here depends on when it runs.

const DAY = 86_400_000;
const T0 = Date.UTC(2026, 0, 1);
const ADA = '15550001111';
const BO = '15550002222';

let store: PostgresStore;
let clock = T0;

beforeEach(async () => {
  clock = T0;
  store = await openTestStore({ now: () => clock });
  await seedWorkspace(store, { id: 'acme', connectors: ['slack', 'hubspot'] });
});
afterEach(() => store.close());

async function say(waId: string, wamid: string, text: string, at: number): Promise<void> {
  await store.ingest(
    messagesUnit(
      'acme',
      {
        messages: [
          inboundMessage({
            wamid,
            contact: identity({ waId, profileName: waId === ADA ? 'Ada' : 'Bo' }),
            timestamp: at,
            text,
            content: { type: 'text', text: { body: text } },
          }),
        ],
      },
      at,
    ),
  );
}

const conversationOf = async (waId: string) => {
  const contact = await store.db.get<{ id: string }>('SELECT id FROM contacts WHERE wa_id = $1', [waId]);
  return (await store.listConversations('acme', { contactId: contact?.id ?? '' }))[0];
};
/** Every message's text, opened (the column is sealed at rest), oldest first. */
const texts = async () => {
  const ids = await store.db.all<{ id: string }>('SELECT id FROM messages ORDER BY ts, id');
  return Promise.all(ids.map(async ({ id }) => (await store.getMessage('acme', id))?.text ?? null));
};
/** The archive seqs of these entities' records. */
const seqsOf = async (entityIds: readonly string[]) =>
  (
    await store.db.all<{ seq: number }>(
      "SELECT seq FROM archive_records WHERE workspace_id = 'acme' AND entity_id = ANY($1::text[]) ORDER BY seq",
      [entityIds],
    )
  ).map((r) => r.seq);

/** Every row of every table of the store's schema: what "nothing changed" compares. */
async function snapshot(): Promise<string> {
  const tables = await store.db.all<{ name: string }>(
    `SELECT table_name AS name FROM information_schema.tables
     WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' ORDER BY table_name`,
  );
  const all: unknown[] = [];
  for (const { name } of tables) all.push([name, await store.db.all(`SELECT * FROM "${name}" ORDER BY 1`)]);
  return JSON.stringify(all);
}

async function refusal(run: () => Promise<unknown>) {
  try {
    await run();
  } catch (error) {
    if (isWabridgeError(error)) return error;
    throw error;
  }
  throw new Error('expected a refusal');
}

describe('erasure on Postgres', () => {
  it('deletes the content, clears the identifiers, drops queued jobs and queues conversation.erased per connector', async () => {
    await say(ADA, 'w1', 'my card is 4111', T0);
    await say(BO, 'w2', 'other customer', T0);
    const ada = await conversationOf(ADA);
    await store.putRef('acme', {
      connectorId: 'slack',
      kind: 'thread',
      entityId: ada?.id ?? '',
      externalId: 'C1/1700000000.000100',
      data: {},
    });
    clock = T0 + DAY;
    const { certificate, messageIds } = await store.erase({
      workspaceId: 'acme',
      subject: { kind: 'contact', identifier: ADA },
      actor: 'cli:dpo',
      reason: 'art. 17 request #12',
    });
    expect(certificate).toMatchObject({
      outcome: 'erased',
      subject: { kind: 'contact', contactId: ada?.contactId },
      requestedBy: 'cli:dpo',
      requestedAt: T0 + DAY,
      wabridge: { conversations: [ada?.id], messages: 1, contactIdentifiersCleared: true },
    });
    expect(messageIds).toHaveLength(1);
    // The inbound message had queued a job for each of two connectors; Ada's are gone.
    expect(certificate.wabridge.jobsRemoved).toBe(2);
    expect(certificate.connectors.map((p) => [p.connectorId, p.state])).toEqual([
      ['hubspot', 'queued'],
      ['slack', 'queued'],
    ]);
    expect(certificate.connectors[1]?.platformIds).toEqual([
      { kind: 'thread', entityId: ada?.id, externalId: 'C1/1700000000.000100' },
    ]);
    expect((await texts()).sort()).toEqual([null, 'other customer'].sort());
    expect(
      await store.db.get('SELECT wa_id, profile_name FROM contacts WHERE id = $1', [ada?.contactId ?? '']),
    ).toEqual({ wa_id: null, profile_name: null });
    const jobs = await store.claimJobs({ limit: 10, leaseMs: 60_000, workerId: 't', now: T0 + DAY });
    const erasureJobs = jobs.filter((j) => j.eventType === 'conversation.erased');
    expect(erasureJobs.map((j) => [j.connectorId, j.conversationId, j.entityId])).toEqual([
      ['hubspot', ada?.id, certificate.id],
      ['slack', ada?.id, certificate.id],
    ]);
    expect(jobs.filter((j) => j.conversationId === ada?.id && j.eventType !== 'conversation.erased')).toEqual(
      [],
    );
    // Slack confirms; HubSpot gives up for good.
    const slack = erasureJobs.find((j) => j.connectorId === 'slack');
    const hubspot = erasureJobs.find((j) => j.connectorId === 'hubspot');
    clock = T0 + DAY + 5000;
    expect(await store.completeJob(slack?.lease ?? { jobId: 0, token: '' }, [])).toBe(true);
    await store.deadLetterJob(hubspot?.lease ?? { jobId: 0, token: '' }, 'auth_failed: token revoked');
    const status = await store.getErasure('acme', certificate.id);
    expect(status?.connectors.map((p) => [p.connectorId, p.state, p.confirmedAt, p.error])).toEqual([
      ['hubspot', 'dead', null, 'auth_failed: token revoked'],
      ['slack', 'confirmed', T0 + DAY + 5000, null],
    ]);
    expect(await store.getErasure('other', certificate.id)).toBeNull();
    const [act] = await store.listAudit({ workspaceId: 'acme', action: 'erasure' });
    expect((act?.details.certificate as { id: string } | undefined)?.id).toBe(certificate.id);
    // Ada's message has no content left in the archive, and a purge record says who and why;
    // Bo's keeps its own.
    const purges = await store.db.all<{ record: Buffer }>(
      "SELECT record FROM archive_records WHERE workspace_id = 'acme' AND kind = 'purge'",
    );
    expect(purges.map((p) => JSON.parse(p.record.toString('utf8')).data)).toMatchObject([
      { actor: `erasure:${certificate.id}`, reason: 'erasure requested by cli:dpo', count: 1 },
    ]);
    const adaSeqs = await seqsOf(messageIds);
    expect(adaSeqs).toHaveLength(1);
    expect(await store.archiveContent('acme', adaSeqs)).toEqual([{ seq: adaSeqs[0], content: null }]);
    const boIds = (
      await store.db.all<{ id: string }>('SELECT id FROM messages WHERE NOT (id = ANY($1::text[]))', [
        messageIds,
      ])
    ).map((r) => r.id);
    expect(
      (await store.archiveContent('acme', await seqsOf(boIds))).map(
        (c) => (c.content as { text: string }).text,
      ),
    ).toEqual(['other customer']);

    // The media files deleted afterwards join the certificate, an admin act too.
    await store.recordErasureFiles({
      workspaceId: 'acme',
      erasureId: certificate.id,
      files: ['media/acme/m1.jpg'],
      actor: 'cli:dpo',
    });
    expect((await store.getErasure('acme', certificate.id))?.wabridge.mediaFiles).toEqual([
      'media/acme/m1.jpg',
    ]);
    expect((await store.listAudit({ workspaceId: 'acme', action: 'erasure.media' }))[0]?.details).toEqual({
      erasure: certificate.id,
      files: ['media/acme/m1.jpg'],
    });
    await expect(
      store.recordErasureFiles({ workspaceId: 'acme', erasureId: 'er_nope', files: [], actor: 'a' }),
    ).rejects.toMatchObject({ code: 'not_found' });

    // Ada writes again: a fresh contact and conversation, nothing of the old record.
    await say(ADA, 'w3', 'hi again', T0 + 2 * DAY);
    const fresh = await conversationOf(ADA);
    expect(fresh?.contactId).not.toBe(ada?.contactId);
    expect(fresh?.id).not.toBe(ada?.id);
    expect((await store.listMessages('acme', fresh?.id ?? '')).map((m) => m.text)).toEqual(['hi again']);
  });

  it('lets a delivery in flight finish first: the erasure runs after it and removes what it posted', async () => {
    await say(ADA, 'w1', 'in flight', T0);
    const inFlight = await store.claimJobs({ limit: 10, leaseMs: 60_000, workerId: 't', now: T0 });
    expect(inFlight.map((j) => j.connectorId).sort()).toEqual(['hubspot', 'slack']);
    clock = T0 + 1000;
    const { certificate } = await store.erase({
      workspaceId: 'acme',
      subject: { kind: 'contact', identifier: ADA },
      actor: 'a',
      reason: 'r',
    });
    expect(certificate.wabridge.jobsRemoved).toBe(0);
    // Behind the deliveries in flight, the erasures wait.
    expect(await store.claimJobs({ limit: 10, leaseMs: 60_000, workerId: 't', now: T0 + 2000 })).toEqual([]);
    for (const job of inFlight) expect(await store.completeJob(job.lease, [])).toBe(true);
    const next = await store.claimJobs({ limit: 10, leaseMs: 60_000, workerId: 't', now: T0 + 3000 });
    expect(next.map((j) => [j.connectorId, j.eventType]).sort()).toEqual([
      ['hubspot', 'conversation.erased'],
      ['slack', 'conversation.erased'],
    ]);
  });

  it('refuses under a legal hold, naming it, and changes nothing', async () => {
    await say(ADA, 'w1', 'keep me', T0);
    const hold = await store.addHold({
      workspaceId: 'acme',
      scope: { kind: 'range', from: T0 - DAY, to: T0 + DAY },
      reason: 'FINRA exam',
      actor: 'cli:lee',
    });
    const before = await snapshot();
    const error = await refusal(() =>
      store.erase({
        workspaceId: 'acme',
        subject: { kind: 'contact', identifier: ADA },
        actor: 'cli:dpo',
        reason: 'r',
      }),
    );
    expect(error.code).toBe('conflict');
    expect(error.message).toContain(hold.id);
    expect(error.message).toContain('"FINRA exam", set by cli:lee');
    expect(error.message).toContain('Nothing was changed');
    expect(await snapshot()).toBe(before);
    // Released, the same erasure goes through.
    await store.releaseHold({ workspaceId: 'acme', holdId: hold.id, actor: 'cli:lee', reason: 'closed' });
    const { certificate } = await store.erase({
      workspaceId: 'acme',
      subject: { kind: 'contact', identifier: ADA },
      actor: 'cli:dpo',
      reason: 'r',
    });
    expect(certificate.outcome).toBe('erased');
  });

  it('waits for a hold being set at the same moment, then sees it and refuses', async () => {
    await say(ADA, 'w1', 'keep me', T0);
    const schema = (await store.db.get<{ s: string }>('SELECT current_schema() AS s'))?.s;
    // Another process sets a hold as addHold does: the workspace's row FOR SHARE, then the hold.
    const side = new pg.Client({ connectionString: testDatabaseUrl });
    await side.connect();
    try {
      await side.query(`SET search_path TO "${schema}"`);
      await side.query('BEGIN');
      const pid = (await side.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]?.pid;
      await side.query("SELECT 1 FROM workspaces WHERE id = 'acme' FOR SHARE");
      await side.query(
        `INSERT INTO legal_holds (id, workspace_id, scope, reason, created_by, created_at)
         VALUES ('hold_side', 'acme', 'workspace', 'audit', 'cli:lee', $1)`,
        [T0],
      );
      let settled = false;
      const erasing = store
        .erase({
          workspaceId: 'acme',
          subject: { kind: 'contact', identifier: ADA },
          actor: 'a',
          reason: 'r',
        })
        .finally(() => {
          settled = true;
        });
      erasing.catch(() => {});
      // Until the erasure waits on the hold's transaction (or, did it not lock, has finished).
      const blocked = async () =>
        (await side.query('SELECT 1 FROM pg_stat_activity WHERE $1 = ANY(pg_blocking_pids(pid))', [pid])).rows
          .length > 0;
      while (!settled && !(await blocked())) await new Promise((resolve) => setTimeout(resolve, 5));
      await side.query('COMMIT');
      const error = await refusal(() => erasing);
      expect(error.code).toBe('conflict');
      expect(error.message).toContain('hold_side');
      expect(await texts()).toEqual(['keep me']);
    } finally {
      await side.end();
    }
  });

  it('an ingest that meets an erasure mid-way waits for it, then starts a fresh record', async () => {
    await say(ADA, 'w1', 'before', T0);
    const before = await conversationOf(ADA);
    const schema = (await store.db.get<{ s: string }>('SELECT current_schema() AS s'))?.s;
    // Another process erases Ada as erase does: her contact FOR UPDATE, then her record cleared.
    const side = new pg.Client({ connectionString: testDatabaseUrl });
    await side.connect();
    try {
      await side.query(`SET search_path TO "${schema}"`);
      await side.query('BEGIN');
      const pid = (await side.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]?.pid;
      await side.query('SELECT 1 FROM contacts WHERE wa_id = $1 FOR UPDATE', [ADA]);
      await side.query('UPDATE conversations SET erased_at = $1 WHERE id = $2', [T0, before?.id]);
      await side.query('UPDATE contacts SET wa_id = NULL, profile_name = NULL WHERE wa_id = $1', [ADA]);
      let settled = false;
      const ingesting = say(ADA, 'w2', 'after', T0 + DAY).finally(() => {
        settled = true;
      });
      ingesting.catch(() => {});
      // Until the ingest waits on the erasure's transaction (or, did it not lock, has finished).
      const blocked = async () =>
        (await side.query('SELECT 1 FROM pg_stat_activity WHERE $1 = ANY(pg_blocking_pids(pid))', [pid])).rows
          .length > 0;
      while (!settled && !(await blocked())) await new Promise((resolve) => setTimeout(resolve, 5));
      await side.query('COMMIT');
      await ingesting;
      // The message is not filed in the erased conversation: a fresh contact and conversation.
      const message = await store.db.get<{ conversation_id: string }>(
        "SELECT conversation_id FROM messages WHERE wamid = 'w2'",
      );
      expect(message?.conversation_id).toBeDefined();
      expect(message?.conversation_id).not.toBe(before?.id);
      const after = await conversationOf(ADA);
      expect(after?.id).toBe(message?.conversation_id);
      expect(after?.contactId).not.toBe(before?.contactId);
    } finally {
      await side.end();
    }
  });

  it('an erasure that meets an ingest mid-way waits for it, then erases its message too', async () => {
    await say(ADA, 'w1', 'before', T0);
    const schema = (await store.db.get<{ s: string }>('SELECT current_schema() AS s'))?.s;
    // Another process ingests as ingest does: Ada's contact FOR KEY SHARE, then a message of hers.
    const side = new pg.Client({ connectionString: testDatabaseUrl });
    await side.connect();
    try {
      await side.query(`SET search_path TO "${schema}"`);
      await side.query('BEGIN');
      const pid = (await side.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]?.pid;
      await side.query('SELECT 1 FROM contacts WHERE wa_id = $1 FOR KEY SHARE', [ADA]);
      await side.query(
        `INSERT INTO messages (id, workspace_id, conversation_id, direction, wamid, type, ts, text, content, state,
           sender, relates_to, created_at)
         SELECT 'msg_side', workspace_id, conversation_id, direction, 'w_side', type, ts + 1, text, content, state,
           sender, relates_to, created_at
         FROM messages WHERE wamid = 'w1'`,
      );
      let settled = false;
      const erasing = store
        .erase({
          workspaceId: 'acme',
          subject: { kind: 'contact', identifier: ADA },
          actor: 'a',
          reason: 'r',
        })
        .finally(() => {
          settled = true;
        });
      erasing.catch(() => {});
      const blocked = async () =>
        (await side.query('SELECT 1 FROM pg_stat_activity WHERE $1 = ANY(pg_blocking_pids(pid))', [pid])).rows
          .length > 0;
      while (!settled && !(await blocked())) await new Promise((resolve) => setTimeout(resolve, 5));
      await side.query('COMMIT');
      const { certificate } = await erasing;
      expect(certificate.outcome).toBe('erased');
      expect(await texts()).toEqual([null, null]);
    } finally {
      await side.end();
    }
  });

  it('refuses an unknown contact, conversation or workspace, and an empty reason', async () => {
    const erase = (subject: Parameters<PostgresStore['erase']>[0]['subject'], reason = 'r', ws = 'acme') =>
      store.erase({ workspaceId: ws, subject, actor: 'a', reason });
    await say(ADA, 'w1', 'hello', T0);
    await expect(erase({ kind: 'contact', identifier: BO })).rejects.toMatchObject({ code: 'not_found' });
    await expect(erase({ kind: 'conversation', conversationId: 'cv_nope' })).rejects.toMatchObject({
      code: 'not_found',
    });
    await expect(erase({ kind: 'contact', identifier: ADA }, 'r', 'nope')).rejects.toMatchObject({
      code: 'not_found',
    });
    await expect(erase({ kind: 'contact', identifier: `+${ADA}` }, '  ')).rejects.toMatchObject({
      code: 'bad_request',
    });
    expect(await texts()).toEqual(['hello']);
  });

  it('restricts instead of deleting while a retention rule still requires keeping the content (art. 18)', async () => {
    await say(ADA, 'w1', 'keep six years', T0);
    await store.setRetention({
      workspaceId: 'acme',
      kind: 'messages',
      keepDays: 2190,
      afterLastMessageDays: null,
      actor: 'cli:lee',
    });
    clock = T0 + DAY;
    const { certificate, messageIds } = await store.erase({
      workspaceId: 'acme',
      subject: { kind: 'contact', identifier: ADA },
      actor: 'cli:dpo',
      reason: 'r',
    });
    expect(certificate.outcome).toBe('restricted');
    expect(certificate.restrictionGround).toMatch(
      /keeps messages 2190 days \(set by cli:lee\).*kept until 2031/,
    );
    expect(certificate.wabridge.contactIdentifiersCleared).toBe(false);
    expect(messageIds).toEqual([]);
    expect(await texts()).toEqual(['keep six years']);
    const conversation = await conversationOf(ADA);
    expect(conversation?.restrictedAt).toBe(T0 + DAY);
    expect(conversation?.erasedAt).toBeNull();
  });

  it('a restricted conversation is mirrored no more: only its erasure event hydrates', async () => {
    await say(ADA, 'w1', 'before', T0);
    await store.setRetention({
      workspaceId: 'acme',
      kind: 'messages',
      keepDays: 2190,
      afterLastMessageDays: null,
      actor: 'a',
    });
    await store.erase({
      workspaceId: 'acme',
      subject: { kind: 'contact', identifier: ADA },
      actor: 'a',
      reason: 'r',
    });
    // The customer writes again: stored (the obligation still runs) but not mirrored.
    await say(ADA, 'w2', 'after', T0 + 1000);
    const hydrated: [string, string | null][] = [];
    for (let round = 0; round < 5; round++) {
      const jobs = await store.claimJobs({ limit: 20, leaseMs: 60_000, workerId: 't', now: T0 + DAY });
      for (const job of jobs) {
        hydrated.push([job.eventType, (await hydrateEvent(store, job, T0 + DAY))?.type ?? null]);
        await store.completeJob(job.lease, []);
      }
    }
    expect(hydrated.sort()).toEqual([
      ['conversation.erased', 'conversation.erased'],
      ['conversation.erased', 'conversation.erased'],
      ['message.inbound', null],
      ['message.inbound', null],
    ]);
  });

  it("a restricted conversation takes no agent reply from its mirror's thread", async () => {
    await say(ADA, 'w1', 'hello', T0);
    const ada = await conversationOf(ADA);
    await store.putRef('acme', {
      connectorId: 'slack',
      kind: 'conversation',
      entityId: ada?.id ?? '',
      externalId: 'C1:1.0',
      data: {},
    });
    await store.setRetention({
      workspaceId: 'acme',
      kind: 'messages',
      keepDays: 2190,
      afterLastMessageDays: null,
      actor: 'a',
    });
    await store.erase({
      workspaceId: 'acme',
      subject: { kind: 'contact', identifier: ADA },
      actor: 'a',
      reason: 'r',
    });
    const commands = new CommandProcessor({
      store,
      logger: silentLogger,
      metrics: noopMetrics,
      now: () => clock,
    });
    const [outcome] = await commands.accept('acme', 'slack', [
      {
        type: 'agent.reply',
        idempotencyKey: 'k1',
        threadId: 'C1:1.0',
        messageId: 'C1:2.0',
        agent: { id: 'U1', name: 'Bo' },
        text: 'are you there?',
        attachments: [],
        mode: 'send',
      },
    ]);
    expect(outcome).toEqual({ status: 'ignored', reason: 'not a mirrored conversation thread' });
    expect(await store.db.all("SELECT id FROM messages WHERE direction = 'outbound'")).toEqual([]);
  });

  it('erasing one conversation of a contact with others moves it to an anonymous contact', async () => {
    await say(ADA, 'w1', 'on number one', T0);
    await store.addPhoneNumber({
      workspaceId: 'acme',
      phoneNumberId: '2',
      displayPhoneNumber: null,
      wabaId: null,
    });
    await store.ingest(
      messagesUnit('acme', {
        phoneNumberId: '2',
        messages: [
          inboundMessage({ wamid: 'w2', contact: identity({ waId: ADA }), timestamp: T0, text: 'on two' }),
        ],
      }),
    );
    const first = await conversationOf(ADA);
    await store.erase({
      workspaceId: 'acme',
      subject: { kind: 'conversation', conversationId: first?.id ?? '' },
      actor: 'a',
      reason: 'r',
    });
    const moved = await store.getConversation('acme', first?.id ?? '');
    expect(moved?.contactId).not.toBe(first?.contactId);
    expect(moved?.erasedAt).toBe(T0);
    expect((await store.getContact('acme', first?.contactId ?? ''))?.waId).toBe(ADA);
  });
});
