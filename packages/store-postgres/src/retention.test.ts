import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { PostgresStore } from './store.ts';
import { openTestStore } from './testing/open.ts';

// Retention on Postgres (of GovernanceStore). Ingest is not built yet, so messages, statuses and
// their archive records are written here as ingest writes them. The clock is injected.

const DAY = 86_400_000;
const NOW = 1_760_000_000_000;
let store: PostgresStore;

beforeEach(async () => {
  store = await openTestStore({ now: () => NOW });
  await store.createWorkspace({ id: 'acme', name: 'Acme' });
  for (const [cv, ct] of [
    ['cv1', 'ct1'],
    ['cv2', 'ct2'],
  ]) {
    await store.db.run(
      `INSERT INTO contacts (id, workspace_id, wa_id, created_at, updated_at) VALUES ($1, 'acme', $1, 1, 1)`,
      [ct],
    );
    await store.db.run(
      `INSERT INTO conversations (id, workspace_id, contact_id, phone_number_id, created_at)
       VALUES ($1, 'acme', $2, 'pn', 1)`,
      [cv, ct],
    );
  }
});

afterEach(async () => {
  await store.close();
});

/** A message with its body sealed and its archive record, in one transaction, as ingest stores it. */
function message(id: string, conversationId: string, ts: number): Promise<void> {
  return store.db.transaction(async (tx) => {
    const body = await store.archive.sealContent(tx, 'acme', {
      content: { type: 'text' },
      text: `text ${id}`,
    });
    await tx.run(
      `INSERT INTO messages (id, workspace_id, conversation_id, direction, wamid, type, ts, content, created_at)
       VALUES ($1, 'acme', $2, 'inbound', $1, 'text', $3, $4, $3)`,
      [id, conversationId, ts, body.sealed],
    );
    await store.archive.append(tx, 'acme', 'message.inbound', id, { id }, ts, body);
  });
}

async function status(id: string, messageId: string, ts: number): Promise<void> {
  await store.db.run(
    `INSERT INTO message_statuses (id, workspace_id, wamid, message_id, status, ts, raw)
     VALUES ($1, 'acme', $2, $2, 'read', $3, $4)`,
    [id, messageId, ts, Buffer.from('{"recipient_id":"15550001111"}')],
  );
}

describe('retention rules', () => {
  it('sets, replaces and removes a rule per kind, each an admin act, and refuses what is not one', async () => {
    expect(
      await store.setRetention({
        workspaceId: 'acme',
        kind: 'messages',
        keepDays: 30,
        afterLastMessageDays: null,
        actor: 'ann',
      }),
    ).toEqual({
      kind: 'messages',
      keepDays: 30,
      afterLastMessageDays: null,
      updatedBy: 'ann',
      updatedAt: NOW,
    });
    await store.setRetention({
      workspaceId: 'acme',
      kind: 'messages',
      keepDays: 60,
      afterLastMessageDays: 7,
      actor: 'bob',
    });
    await store.setRetention({
      workspaceId: 'acme',
      kind: 'statuses',
      keepDays: 1,
      afterLastMessageDays: null,
      actor: 'bob',
    });
    expect(
      (await store.listRetention('acme')).map((r) => [r.kind, r.keepDays, r.afterLastMessageDays]),
    ).toEqual([
      ['messages', 60, 7],
      ['statuses', 1, null],
    ]);
    expect(
      await store.setRetention({
        workspaceId: 'acme',
        kind: 'statuses',
        keepDays: null,
        afterLastMessageDays: null,
        actor: 'bob',
      }),
    ).toBeNull();
    expect(await store.listRetention('acme')).toHaveLength(1);
    expect((await store.listAudit({ workspaceId: 'acme', order: 'oldest' })).map((e) => e.action)).toEqual([
      'retention.set',
      'retention.set',
      'retention.set',
      'retention.remove',
    ]);
    const set = (kind: string, keepDays: number | null) =>
      store.setRetention({ workspaceId: 'acme', kind, keepDays, afterLastMessageDays: null, actor: 'bob' });
    await expect(set('contacts', 1)).rejects.toMatchObject({ code: 'bad_request' });
    await expect(set('messages', 1.5)).rejects.toMatchObject({ code: 'bad_request' });
    await expect(set('messages', -1)).rejects.toMatchObject({ code: 'bad_request' });
    await expect(
      store.setRetention({
        workspaceId: 'nope',
        kind: 'messages',
        keepDays: 1,
        afterLastMessageDays: null,
        actor: 'b',
      }),
    ).rejects.toMatchObject({ code: 'not_found' });
  });
});

describe('retention runs', () => {
  it('purges what expired and no hold covers, keeping rows and leaves, and says so once', async () => {
    await message('old1', 'cv1', NOW - 40 * DAY);
    await message('new1', 'cv1', NOW - DAY);
    await message('old2', 'cv2', NOW - 40 * DAY);
    await status('st-old', 'old1', NOW - 40 * DAY);
    await status('st-new', 'new1', NOW - DAY);
    await store.addHold({
      workspaceId: 'acme',
      scope: { kind: 'conversation', conversationId: 'cv2' },
      reason: 'r',
      actor: 'ann',
    });
    await store.setRetention({
      workspaceId: 'acme',
      kind: 'messages',
      keepDays: 30,
      afterLastMessageDays: null,
      actor: 'ann',
    });
    await store.setRetention({
      workspaceId: 'acme',
      kind: 'statuses',
      keepDays: 30,
      afterLastMessageDays: null,
      actor: 'ann',
    });

    const dry = await store.runRetention({ workspaceId: 'acme', now: NOW, dryRun: true, actor: 'cli:ann' });
    expect(dry.kinds).toEqual([
      { kind: 'messages', rule: 'keep messages 30 days', purged: 1, held: 1 },
      { kind: 'statuses', rule: 'keep statuses 30 days', purged: 1, held: 0 },
    ]);
    expect((await store.getMessage('acme', 'old1'))?.text).toBe('text old1');

    const run = await store.runRetention({ workspaceId: 'acme', now: NOW, dryRun: false, actor: 'cli:ann' });
    expect(run.purgedMessageIds).toEqual(['old1']);
    expect(await store.getMessage('acme', 'old1')).toMatchObject({ text: null, content: {} });
    expect((await store.getMessage('acme', 'old2'))?.text).toBe('text old2');
    expect((await store.getMessage('acme', 'new1'))?.text).toBe('text new1');
    expect((await store.getStatus('acme', 'st-old'))?.raw).toEqual({});
    expect((await store.getStatus('acme', 'st-new'))?.raw).toEqual({ recipient_id: '15550001111' });
    // The archive record of old1 keeps its leaf and loses its content; a purge record says why.
    const seq = await store.db.get<{ seq: number }>(
      "SELECT seq FROM archive_records WHERE workspace_id = 'acme' AND entity_id = 'old1'",
    );
    expect(await store.archiveContent('acme', [seq?.seq ?? -1])).toEqual([{ seq: seq?.seq, content: null }]);
    const purge = await store.db.get<{ record: Buffer }>(
      "SELECT record FROM archive_records WHERE workspace_id = 'acme' AND kind = 'purge'",
    );
    expect(JSON.parse(purge?.record.toString('utf8') ?? '{}')).toMatchObject({
      data: { actor: 'retention:messages', reason: 'retention rule: keep messages 30 days', count: 1 },
    });
    expect((await store.listAudit({ workspaceId: 'acme', action: 'retention.purge' }))[0]).toMatchObject({
      actor: 'cli:ann',
      details: { messages: ['old1'], statuses: ['st-old'] },
    });

    // Nothing left: nothing purged, nothing recorded.
    const again = await store.runRetention({
      workspaceId: 'acme',
      now: NOW,
      dryRun: false,
      actor: 'cli:ann',
    });
    expect(again.kinds.map((k) => k.purged)).toEqual([0, 0]);
    expect(await store.listAudit({ workspaceId: 'acme', action: 'retention.purge' })).toHaveLength(1);
  });

  it("purges a conversation's content some days after its last message, at most `limit` a run", async () => {
    await message('a', 'cv1', NOW - 20 * DAY);
    await message('b', 'cv1', NOW - 11 * DAY);
    await message('c', 'cv2', NOW - 20 * DAY);
    await message('d', 'cv2', NOW - 5 * DAY);
    await store.setRetention({
      workspaceId: 'acme',
      kind: 'messages',
      keepDays: null,
      afterLastMessageDays: 10,
      actor: 'ann',
    });
    const first = await store.runRetention({
      workspaceId: 'acme',
      now: NOW,
      dryRun: false,
      actor: 'cli:ann',
      limit: 1,
    });
    const second = await store.runRetention({
      workspaceId: 'acme',
      now: NOW,
      dryRun: false,
      actor: 'cli:ann',
    });
    expect([...first.purgedMessageIds, ...second.purgedMessageIds].sort()).toEqual(['a', 'b']);
    expect(first.purgedMessageIds).toHaveLength(1);
    expect((await store.getMessage('acme', 'c'))?.text).toBe('text c');
  });
});
