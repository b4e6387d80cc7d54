import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isWabridgeError } from '../../../errors/index.ts';
import {
  identity,
  inboundMessage,
  ingestText,
  messagesUnit,
  seedWorkspace,
  status,
} from '../../../testing/fixtures.ts';
import { ArchiveGovernance } from '../../../workspace/governance.ts';
import { archiveSeqsOfEntities } from '../archive-reads.ts';
import { verifyArchive } from '../archive-verify.ts';
import { openSqliteStore, type SqliteStore } from '../index.ts';

// Legal holds, retention and erasure (issue 18, items 4-6) on a real SQLite file, with the
// store's clock injected: nothing here depends on when it runs.

const dir = mkdtempSync(join(tmpdir(), 'wabridge-governance-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const DAY = 86_400_000;
const T0 = Date.UTC(2026, 0, 1);
const ADA = '15550001111';
const BO = '15550002222';

let store: SqliteStore;
let clock = T0;
let n = 0;

beforeEach(async () => {
  clock = T0;
  store = await openSqliteStore({ path: join(dir, `g${n++}.db`), now: () => clock });
  await seedWorkspace(store, { id: 'acme', connectors: ['slack', 'hubspot'] });
});
afterEach(() => store.close());

const say = (waId: string, wamid: string, text: string, at: number) =>
  ingestText(store, 'acme', { waId, profileName: waId === ADA ? 'Ada' : 'Bo', wamid, text, at });

const conversationOf = async (waId: string) => {
  const contact = store.db.get<{ id: string }>('SELECT id FROM contacts WHERE wa_id = :w', { w: waId });
  return (await store.listConversations('acme', { contactId: contact?.id ?? '' }))[0];
};
/** Every message's text, opened (the column is sealed at rest), oldest first. */
const texts = async () => {
  const ids = store.db.all<{ id: string }>('SELECT id FROM messages ORDER BY ts, id');
  return Promise.all(ids.map(async ({ id }) => (await store.getMessage('acme', id))?.text ?? null));
};
const acts = (action: string) =>
  store.db
    .all<{ details: string }>('SELECT details FROM audit_log WHERE action = :action ORDER BY id', { action })
    .map((r) => JSON.parse(r.details) as Record<string, unknown>);

async function refusal(run: () => Promise<unknown>) {
  try {
    await run();
  } catch (error) {
    if (isWabridgeError(error)) return error;
    throw error;
  }
  throw new Error('expected a refusal');
}

/** Every row of every table, to show that a refused command changed nothing. */
function snapshot(): string {
  const tables = store.db
    .all<{ name: string }>("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
    .map((t) => t.name);
  return JSON.stringify(
    tables.map((t) => [t, store.db.all(`SELECT * FROM ${t}`)]),
    (_, v) => (v instanceof Uint8Array ? Buffer.from(v).toString('hex') : v),
  );
}

describe('legal holds', () => {
  it('are set on a contact by number, listed with their history, released with a reason, and logged in the archive', async () => {
    await say(ADA, 'w1', 'hello', T0);
    const hold = await store.addHold({
      workspaceId: 'acme',
      scope: { kind: 'contact', contactId: `+${ADA}` },
      reason: 'SEC inquiry 2026-17',
      actor: 'cli:lee',
    });
    const contact = await conversationOf(ADA);
    expect(hold.scope).toEqual({ kind: 'contact', contactId: contact?.contactId });
    clock = T0 + DAY;
    const released = await store.releaseHold({
      workspaceId: 'acme',
      holdId: hold.id,
      actor: 'cli:lee',
      reason: 'inquiry closed',
    });
    expect(released.released).toEqual({ at: T0 + DAY, by: 'cli:lee', reason: 'inquiry closed' });
    const listed = await store.listHolds('acme');
    expect(listed).toHaveLength(1);
    expect(listed[0]?.released?.reason).toBe('inquiry closed');
    const again = await refusal(() =>
      store.releaseHold({ workspaceId: 'acme', holdId: hold.id, actor: 'x', reason: 'again' }),
    );
    expect(again.code).toBe('conflict');
    expect(acts('hold.add')).toEqual([{ hold: hold.id, scope: hold.scope, reason: 'SEC inquiry 2026-17' }]);
    expect(acts('hold.release')).toEqual([{ hold: hold.id, reason: 'inquiry closed' }]);
    const kinds = store.db
      .all<{ record: Uint8Array }>("SELECT record FROM archive_records WHERE kind = 'admin'")
      .map((r) => (JSON.parse(Buffer.from(r.record).toString()) as { data: { action: string } }).data.action);
    expect(kinds).toEqual(['hold.add', 'hold.release']);
    expect((await verifyArchive(store.db, 'acme')).ok).toBe(true);
  });

  it('name a contact by id, by number however written, or by BSUID', async () => {
    await say(ADA, 'w1', 'hello', T0);
    await store.ingest(
      messagesUnit('acme', {
        messages: [
          inboundMessage({ wamid: 'w2', contact: identity({ waId: null, bsuid: 'US.1349120865530274' }) }),
        ],
      }),
    );
    const ada = (await conversationOf(ADA))?.contactId;
    const bsuidContact = store.db.get<{ id: string }>(
      "SELECT id FROM contacts WHERE bsuid = 'US.1349120865530274'",
    )?.id;
    const scopes = [];
    for (const contactId of [ada ?? '', '+1 555-000-1111', 'US.1349120865530274']) {
      scopes.push(
        (
          await store.addHold({
            workspaceId: 'acme',
            scope: { kind: 'contact', contactId },
            reason: 'r',
            actor: 'a',
          })
        ).scope,
      );
    }
    expect(scopes).toEqual([
      { kind: 'contact', contactId: ada },
      { kind: 'contact', contactId: ada },
      { kind: 'contact', contactId: bsuidContact },
    ]);
  });

  it('refuse bad input whole: no reason, an unknown contact, a range that ends before it starts', async () => {
    const before = snapshot();
    const noReason = await refusal(() =>
      store.addHold({ workspaceId: 'acme', scope: { kind: 'workspace' }, reason: '  ', actor: 'a' }),
    );
    expect(noReason.message).toMatch(/reason for the hold is required/);
    const unknown = await refusal(() =>
      store.addHold({
        workspaceId: 'acme',
        scope: { kind: 'contact', contactId: '999' },
        reason: 'r',
        actor: 'a',
      }),
    );
    expect(unknown.code).toBe('not_found');
    const backwards = await refusal(() =>
      store.addHold({
        workspaceId: 'acme',
        scope: { kind: 'range', from: T0 + DAY, to: T0 },
        reason: 'r',
        actor: 'a',
      }),
    );
    expect(backwards.code).toBe('bad_request');
    expect(snapshot()).toBe(before);
  });
});

describe('retention', () => {
  it('purges content on schedule (90 days after the last message), keeps rows and leaves, and records the run', async () => {
    await say(ADA, 'w1', 'first', T0);
    await say(ADA, 'w2', 'second', T0 + 10 * DAY);
    await store.setRetention({
      workspaceId: 'acme',
      kind: 'messages',
      keepDays: null,
      afterLastMessageDays: 90,
      actor: 'cli:lee',
    });
    const early = await store.runRetention({
      workspaceId: 'acme',
      now: T0 + 99 * DAY,
      dryRun: false,
      actor: 'worker',
    });
    expect(early.kinds).toEqual([
      {
        kind: 'messages',
        rule: "delete messages 90 days after the conversation's last message",
        purged: 0,
        held: 0,
      },
    ]);
    expect(await texts()).toEqual(['first', 'second']);
    const due = await store.runRetention({
      workspaceId: 'acme',
      now: T0 + 101 * DAY,
      dryRun: false,
      actor: 'worker',
    });
    expect(due.purgedMessageIds).toHaveLength(2);
    expect(await texts()).toEqual([null, null]);
    const purged = store.db.all<{ content: string; purged_at: number; purged_by: string }>(
      'SELECT content, purged_at, purged_by FROM messages',
    );
    expect(purged).toEqual([
      { content: '{}', purged_at: T0 + 101 * DAY, purged_by: 'retention:messages' },
      { content: '{}', purged_at: T0 + 101 * DAY, purged_by: 'retention:messages' },
    ]);
    const [run] = acts('retention.purge');
    expect(run).toMatchObject({ at: T0 + 101 * DAY, messages: due.purgedMessageIds });
    // The archive keeps the leaves; the sealed content is gone, and verify shows it as purged.
    expect(
      store.db.all(
        "SELECT c.seq FROM archive_content c JOIN archive_records r USING (workspace_id, seq) WHERE r.kind = 'message.inbound'",
      ),
    ).toEqual([]);
    const report = await verifyArchive(store.db, 'acme');
    expect([report.ok, report.purged]).toEqual([true, 2]);
    expect(report.purges.map((p) => [p.actor, p.reason, p.count])).toEqual([
      [
        'retention:messages',
        "retention rule: delete messages 90 days after the conversation's last message",
        2,
      ],
    ]);
    // Nothing left to purge: a second run records nothing.
    await store.runRetention({ workspaceId: 'acme', now: T0 + 200 * DAY, dryRun: false, actor: 'worker' });
    expect(acts('retention.purge')).toHaveLength(1);
  });

  it('keeps what a legal hold covers, and purges it once the hold is released', async () => {
    await say(ADA, 'w1', 'ada', T0);
    await say(BO, 'w2', 'bo', T0);
    const bo = await conversationOf(BO);
    const hold = await store.addHold({
      workspaceId: 'acme',
      scope: { kind: 'conversation', conversationId: bo?.id ?? '' },
      reason: 'litigation',
      actor: 'cli:lee',
    });
    await store.setRetention({
      workspaceId: 'acme',
      kind: 'messages',
      keepDays: 30,
      afterLastMessageDays: null,
      actor: 'a',
    });
    // A dry run counts everything due, not one run's batch.
    const dry = await store.runRetention({
      workspaceId: 'acme',
      now: T0 + 31 * DAY,
      dryRun: true,
      actor: 'a',
      limit: 0,
    });
    expect(dry.kinds[0]).toMatchObject({ purged: 1, held: 1 });
    expect((await texts()).sort()).toEqual(['ada', 'bo']);
    // Held records do not use up a run's limit.
    const run = await store.runRetention({
      workspaceId: 'acme',
      now: T0 + 31 * DAY,
      dryRun: false,
      actor: 'a',
      limit: 1,
    });
    expect(run.kinds[0]).toMatchObject({ purged: 1, held: 1 });
    expect((await texts()).filter((t) => t !== null)).toEqual(['bo']);
    await store.releaseHold({ workspaceId: 'acme', holdId: hold.id, actor: 'a', reason: 'settled' });
    await store.runRetention({ workspaceId: 'acme', now: T0 + 32 * DAY, dryRun: false, actor: 'a' });
    expect(await texts()).toEqual([null, null]);
  });

  it('keeps content younger than keepDays, and a date range hold covers only its messages', async () => {
    await say(ADA, 'w1', 'old', T0);
    await say(ADA, 'w2', 'held', T0 + 5 * DAY);
    await say(ADA, 'w3', 'young', T0 + 60 * DAY);
    await store.addHold({
      workspaceId: 'acme',
      scope: { kind: 'range', from: T0 + 4 * DAY, to: T0 + 6 * DAY },
      reason: 'audit of that week',
      actor: 'a',
    });
    await store.setRetention({
      workspaceId: 'acme',
      kind: 'messages',
      keepDays: 30,
      afterLastMessageDays: null,
      actor: 'a',
    });
    await store.runRetention({ workspaceId: 'acme', now: T0 + 61 * DAY, dryRun: false, actor: 'a' });
    expect(await texts()).toEqual([null, 'held', 'young']);
  });

  it('purges status payloads by their own rule, and leaves the messages to theirs', async () => {
    await say(ADA, 'w1', 'hello', T0);
    await store.ingest(
      messagesUnit('acme', {
        statuses: [
          status({
            id: 'st_1',
            wamid: 'w1',
            status: 'read',
            timestamp: T0 + 1000,
            raw: { recipient_id: ADA },
          }),
        ],
      }),
    );
    expect((await store.getStatus('acme', 'st_1'))?.raw).toEqual({ recipient_id: ADA });
    await store.setRetention({
      workspaceId: 'acme',
      kind: 'statuses',
      keepDays: 7,
      afterLastMessageDays: null,
      actor: 'a',
    });
    const run = await store.runRetention({
      workspaceId: 'acme',
      now: T0 + 8 * DAY,
      dryRun: false,
      actor: 'a',
    });
    expect(run.kinds).toEqual([{ kind: 'statuses', rule: 'keep statuses 7 days', purged: 1, held: 0 }]);
    expect((await store.getStatus('acme', 'st_1'))?.raw).toEqual({});
    expect(await texts()).toEqual(['hello']);
    expect((await verifyArchive(store.db, 'acme')).purged).toBe(1);
  });

  /** Five messages of ADA and a rule that keeps messages one day: all five due two days later. */
  async function fiveMessagesKeptOneDay() {
    for (let i = 0; i < 5; i++) await say(ADA, `w${i}`, `m${i}`, T0 + i);
    await store.setRetention({
      workspaceId: 'acme',
      kind: 'messages',
      keepDays: 1,
      afterLastMessageDays: null,
      actor: 'a',
    });
  }

  it('runs in short batches, each recorded, until nothing due is left; the media of each batch goes', async () => {
    await fiveMessagesKeptOneDay();
    const deleted: string[] = [];
    const governance = new ArchiveGovernance({
      store,
      media: {
        async deleteMessages(_, ids) {
          deleted.push(...ids);
          return ids.map((id) => `acme/${id}.bin.sealed`);
        },
      },
    });
    const run = await governance.runRetention({
      workspaceId: 'acme',
      now: T0 + 2 * DAY,
      dryRun: false,
      actor: 'a',
      batch: 2,
    });
    expect(run.kinds).toEqual([{ kind: 'messages', rule: 'keep messages 1 day', purged: 5, held: 0 }]);
    expect(await texts()).toEqual([null, null, null, null, null]);
    expect(acts('retention.purge').map((a) => (a.messages as string[]).length)).toEqual([2, 2, 1]);
    expect(deleted.sort()).toEqual(run.purgedMessageIds.sort());
    expect(run.mediaFiles).toHaveLength(5);
  });

  it('stops between batches once its lock is lost; the next run takes the rest', async () => {
    await fiveMessagesKeptOneDay();
    const lost = new AbortController();
    const governance = new ArchiveGovernance({
      store,
      media: {
        async deleteMessages(_, ids) {
          // The lock goes while the first batch's media are deleted.
          lost.abort(new Error('lock lost'));
          return ids.map((id) => `acme/${id}.bin.sealed`);
        },
      },
    });
    const run = { workspaceId: 'acme', now: T0 + 2 * DAY, dryRun: false, actor: 'a', batch: 2 } as const;
    const first = await governance.runRetention({ ...run, signal: lost.signal });
    expect(first.kinds[0]?.purged).toBe(2);
    expect(await texts()).toEqual([null, null, 'm2', 'm3', 'm4']);
    const rest = await governance.runRetention(run);
    expect(rest.kinds[0]?.purged).toBe(3);
    expect(await texts()).toEqual([null, null, null, null, null]);
  });

  it('refuses an unknown record kind or a negative period, changing nothing', async () => {
    const before = snapshot();
    const kind = await refusal(() =>
      store.setRetention({
        workspaceId: 'acme',
        kind: 'emails',
        keepDays: 1,
        afterLastMessageDays: null,
        actor: 'a',
      }),
    );
    expect(kind.message).toMatch(/no record kind emails/);
    const negative = await refusal(() =>
      store.setRetention({
        workspaceId: 'acme',
        kind: 'messages',
        keepDays: -1,
        afterLastMessageDays: null,
        actor: 'a',
      }),
    );
    expect(negative.code).toBe('bad_request');
    expect(snapshot()).toBe(before);
  });
});

describe('erasure', () => {
  // The cases every store shares are core's erasure conformance part (testing/erasure-conformance.ts),
  // run on this store in sqlite-store.test.ts; here, only what SQLite's rows and archive chain show.
  it('purges the archive content of the erased messages only, the chain still verifying, and nulls the row', async () => {
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
      store.db.get('SELECT wa_id, profile_name FROM contacts WHERE id = :id', { id: ada?.contactId ?? '' }),
    ).toEqual({ wa_id: null, profile_name: null });
    expect((await texts()).sort()).toEqual([null, 'other customer'].sort());
    const [act] = acts('erasure');
    expect((act?.certificate as { id: string } | undefined)?.id).toBe(certificate.id);
    const report = await verifyArchive(store.db, 'acme');
    expect([report.ok, report.purged]).toEqual([true, 1]);
    expect(report.purges.map((p) => p.actor)).toEqual([`erasure:${certificate.id}`]);
    // Ada's message has no content left in the archive; Bo's keeps its own.
    const bo = archiveSeqsOfEntities(
      store.db,
      'acme',
      store.db
        .all<{ id: string }>('SELECT id FROM messages WHERE id NOT IN (SELECT value FROM json_each(:ids))', {
          ids: JSON.stringify(messageIds),
        })
        .map((r) => r.id),
    );
    expect(await store.archiveContent('acme', archiveSeqsOfEntities(store.db, 'acme', messageIds))).toEqual([
      { seq: 0, content: null },
    ]);
    expect((await store.archiveContent('acme', bo)).map((c) => (c.content as { text: string }).text)).toEqual(
      ['other customer'],
    );
  });

  it('an erasure refused under a legal hold changes no row of any table', async () => {
    await say(ADA, 'w1', 'keep me', T0);
    await store.addHold({
      workspaceId: 'acme',
      scope: { kind: 'range', from: T0 - DAY, to: T0 + DAY },
      reason: 'FINRA exam',
      actor: 'cli:lee',
    });
    const before = snapshot();
    const error = await refusal(() =>
      store.erase({
        workspaceId: 'acme',
        subject: { kind: 'contact', identifier: ADA },
        actor: 'cli:dpo',
        reason: 'r',
      }),
    );
    expect(error.code).toBe('conflict');
    expect(snapshot()).toBe(before);
  });

  it('a workspace under a legal hold cannot be deleted', async () => {
    await say(ADA, 'w1', 'keep', T0);
    const hold = await store.addHold({
      workspaceId: 'acme',
      scope: { kind: 'workspace' },
      reason: 'SEC 17a-4',
      actor: 'a',
    });
    const before = snapshot();
    const error = await refusal(() => store.deleteWorkspace('acme'));
    expect(error.message).toContain(
      `deleting the workspace refused: legal hold ${hold.id} on the whole workspace`,
    );
    expect(snapshot()).toBe(before);
    await store.releaseHold({ workspaceId: 'acme', holdId: hold.id, actor: 'a', reason: 'done' });
    await store.deleteWorkspace('acme');
    expect(store.db.all('SELECT * FROM legal_holds')).toEqual([]);
  });
});
