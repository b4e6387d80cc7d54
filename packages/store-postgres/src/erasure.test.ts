import { isWabridgeError } from '@wabridge/core';
import { ingestText, seedWorkspace } from '@wabridge/core/testing';
import pg from 'pg';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { PostgresStore } from './store.ts';
import { testDatabaseUrl } from './testing/index.ts';
import { openTestStore } from './testing/open.ts';

// Erasure on Postgres (of GovernanceStore) beyond core's shared erasure conformance part: its rows
// at rest and its lock races, each on a schema of its own and an injected clock.

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

/**
 * Waits until the store's transaction waits on the side connection's locks (or has finished, had
 * it not locked): the race is then set up whatever the machine's speed.
 */
async function untilBlockedOrSettled(side: pg.Client, pid: number | undefined, settled: () => boolean) {
  const blocked = async () =>
    (await side.query('SELECT 1 FROM pg_stat_activity WHERE $1 = ANY(pg_blocking_pids(pid))', [pid])).rows
      .length > 0;
  while (!settled() && !(await blocked())) await new Promise((resolve) => setTimeout(resolve, 5));
}

const say = (waId: string, wamid: string, text: string, at: number) =>
  ingestText(store, 'acme', { waId, profileName: waId === ADA ? 'Ada' : 'Bo', wamid, text, at });

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
  // The cases every store shares are core's erasure conformance part (testing/erasure-conformance.ts),
  // run here in store-conformance.test.ts; here, only what Postgres's rows, archive and locks show.
  it('purges the archive content of the erased messages only, recording who and why, and nulls the row', async () => {
    await say(ADA, 'w1', 'my card is 4111', T0);
    await say(BO, 'w2', 'other customer', T0);
    const ada = await conversationOf(ADA);
    clock = T0 + DAY;
    const { certificate, messageIds } = await store.erase({
      workspaceId: 'acme',
      subject: { kind: 'contact', identifier: ADA },
      actor: 'cli:dpo',
      reason: 'art. 17 request #12',
    });
    expect(
      await store.db.get('SELECT wa_id, profile_name FROM contacts WHERE id = $1', [ada?.contactId ?? '']),
    ).toEqual({ wa_id: null, profile_name: null });
    expect((await texts()).sort()).toEqual([null, 'other customer'].sort());
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
  });

  it('an erasure refused under a legal hold changes no row of any table', async () => {
    await say(ADA, 'w1', 'keep me', T0);
    await store.addHold({
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
    expect(await snapshot()).toBe(before);
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
      await untilBlockedOrSettled(side, pid, () => settled);
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
      await untilBlockedOrSettled(side, pid, () => settled);
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
      await untilBlockedOrSettled(side, pid, () => settled);
      await side.query('COMMIT');
      const { certificate } = await erasing;
      expect(certificate.outcome).toBe('erased');
      expect(await texts()).toEqual([null, null]);
    } finally {
      await side.end();
    }
  });
});
