import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { PostgresStore } from './store.ts';
import { openTestStore } from './testing/open.ts';

// Legal holds on Postgres (of GovernanceStore), on an injected clock.

let now = 1_750_000_000_000;
let store: PostgresStore;

beforeEach(async () => {
  now = 1_750_000_000_000;
  store = await openTestStore({ now: () => now });
  await store.createWorkspace({ id: 'acme', name: 'Acme' });
  await store.db.run(
    `INSERT INTO contacts (id, workspace_id, wa_id, created_at, updated_at) VALUES ('ct1', 'acme', '15550001111', 1, 1);
     INSERT INTO conversations (id, workspace_id, contact_id, phone_number_id, created_at)
       VALUES ('cv1', 'acme', 'ct1', 'pn', 1)`,
  );
});

afterEach(async () => {
  await store.close();
});

const actor = { actor: ' ann ', ip: '10.0.0.1' };

describe('legal holds', () => {
  it('sets holds on what exists, finding a contact by its number, and lists them oldest first', async () => {
    const byNumber = await store.addHold({
      workspaceId: 'acme',
      scope: { kind: 'contact', contactId: '+1 555-000-1111' },
      reason: ' litigation ',
      actor,
    });
    expect(byNumber).toMatchObject({
      scope: { kind: 'contact', contactId: 'ct1' },
      reason: 'litigation',
      createdBy: 'ann',
      createdAt: now,
      released: null,
    });
    now += 1;
    await store.addHold({
      workspaceId: 'acme',
      scope: { kind: 'conversation', conversationId: 'cv1' },
      reason: 'r',
      actor: 'bob',
    });
    now += 1;
    await store.addHold({
      workspaceId: 'acme',
      scope: { kind: 'range', from: 1, to: 2 },
      reason: 'r',
      actor: 'bob',
    });
    expect((await store.listHolds('acme')).map((h) => h.scope.kind)).toEqual([
      'contact',
      'conversation',
      'range',
    ]);
    // Each is an admin act, with where it came from.
    expect((await store.listAudit({ workspaceId: 'acme', order: 'oldest' }))[0]).toMatchObject({
      actor: 'ann',
      action: 'hold.add',
      details: { hold: byNumber.id, reason: 'litigation', from: { ip: '10.0.0.1' } },
    });

    const bad = (scope: Parameters<PostgresStore['addHold']>[0]['scope'], reason = 'r') =>
      store.addHold({ workspaceId: 'acme', scope, reason, actor: 'bob' });
    await expect(bad({ kind: 'contact', contactId: 'nobody' })).rejects.toMatchObject({ code: 'not_found' });
    await expect(bad({ kind: 'conversation', conversationId: 'cv9' })).rejects.toMatchObject({
      code: 'not_found',
    });
    await expect(bad({ kind: 'range', from: 5, to: 1 })).rejects.toMatchObject({ code: 'bad_request' });
    await expect(bad({ kind: 'workspace' }, '  ')).rejects.toMatchObject({ code: 'bad_request' });
    await expect(
      store.addHold({ workspaceId: 'nope', scope: { kind: 'workspace' }, reason: 'r', actor: 'bob' }),
    ).rejects.toMatchObject({ code: 'not_found' });
    expect(await store.listHolds('acme')).toHaveLength(3);
  });

  it('releases a hold once, keeping it in the history, and lets the workspace go only then', async () => {
    const hold = await store.addHold({
      workspaceId: 'acme',
      scope: { kind: 'workspace' },
      reason: 'r',
      actor,
    });
    await expect(store.deleteWorkspace('acme')).rejects.toMatchObject({
      code: 'conflict',
      details: { holds: [hold.id] },
      message: expect.stringContaining(`legal hold ${hold.id} on the whole workspace`),
    });
    now += 5;
    const releases = await Promise.allSettled([
      store.releaseHold({ workspaceId: 'acme', holdId: hold.id, actor: 'bob', reason: 'settled' }),
      store.releaseHold({ workspaceId: 'acme', holdId: hold.id, actor: 'bob', reason: 'settled' }),
    ]);
    expect(releases.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    expect(releases.find((r) => r.status === 'rejected')).toMatchObject({ reason: { code: 'conflict' } });
    expect(await store.listHolds('acme')).toEqual([
      { ...hold, released: { at: now, by: 'bob', reason: 'settled' } },
    ]);
    await expect(
      store.releaseHold({ workspaceId: 'acme', holdId: 'hold_nope', actor: 'bob', reason: 'x' }),
    ).rejects.toMatchObject({ code: 'not_found' });
    await store.deleteWorkspace('acme');
    expect(await store.getWorkspace('acme')).toBeNull();
  });

  it('never lets a hold and the deletion of its workspace both succeed when they race', async () => {
    for (let round = 0; round < 4; round++) {
      if (round > 0) await store.createWorkspace({ id: 'acme', name: 'Acme' });
      const [held, deleted] = await Promise.allSettled([
        store.addHold({ workspaceId: 'acme', scope: { kind: 'workspace' }, reason: 'r', actor: 'bob' }),
        store.deleteWorkspace('acme'),
      ]);
      expect([held.status, deleted.status].filter((s) => s === 'fulfilled')).toHaveLength(1);
      if (held.status === 'fulfilled') {
        const hold = held.value;
        await store.releaseHold({ workspaceId: 'acme', holdId: hold.id, actor: 'bob', reason: 'done' });
        await store.deleteWorkspace('acme');
      }
      expect(await store.db.all("SELECT id FROM legal_holds WHERE workspace_id = 'acme'")).toEqual([]);
    }
  });
});
