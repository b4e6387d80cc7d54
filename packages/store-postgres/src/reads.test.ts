import { randomBytes } from 'node:crypto';
import {
  ARCHIVE_CONTENT_PURPOSE,
  canonicalJson,
  GLOBAL_ARCHIVE_LOG,
  PLATFORM_PAYLOAD,
  STATUS_RAW,
  UNROUTED_PAYLOAD,
} from '@wabridge/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { PostgresStore } from './store.ts';
import { openTestStore } from './testing/open.ts';

// ReadStore on Postgres. Ingest is not built yet, so the rows are written here as ingest writes
// them (bodies sealed as archive content, raw payloads sealed or plain JSON); the conformance part
// (reads) runs once ingest exists.

let store: PostgresStore;

beforeEach(async () => {
  store = await openTestStore();
});

afterEach(async () => {
  await store.close();
});

/** Sealed with the workspace's current data key, as ingest seals (see the keyring). */
async function seal(ws: string, purpose: string, plain: Buffer): Promise<Buffer> {
  const key = await store.db.transaction((tx) => store.keyring.current(tx, ws));
  return store.keyring.seal(key, ws, purpose, plain);
}

/** A message body as ingest stores it: salt and the canonical JSON of `{ content, text }`, sealed. */
const sealBody = (ws: string, text: string | null, content: unknown) =>
  seal(
    ws,
    ARCHIVE_CONTENT_PURPOSE,
    Buffer.concat([randomBytes(16), Buffer.from(canonicalJson({ content, text }), 'utf8')]),
  );

async function conversation(ws: string, id: string, contact: string) {
  await store.db.run(
    `INSERT INTO contacts (id, workspace_id, wa_id, created_at, updated_at) VALUES ($1, $2, $3, 1, 1)
     ON CONFLICT DO NOTHING`,
    [contact, ws, `wa-${contact}`],
  );
  await store.db.run(
    `INSERT INTO conversations (id, workspace_id, contact_id, phone_number_id, created_at)
     VALUES ($1, $2, $3, 'pn', 1)`,
    [id, ws, contact],
  );
}

async function message(
  ws: string,
  conversationId: string,
  m: { id: string; wamid: string; ts: number; direction?: string; type?: string; relatesTo?: string },
  body: Buffer | null = null,
) {
  await store.db.run(
    `INSERT INTO messages (id, workspace_id, conversation_id, direction, wamid, type, ts, content, sender,
       relates_to, created_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::jsonb, $10, $7)`,
    [
      m.id,
      ws,
      conversationId,
      m.direction ?? 'inbound',
      m.wamid,
      m.type ?? 'text',
      m.ts,
      body ?? (await sealBody(ws, `text of ${m.id}`, { type: m.type ?? 'text', n: m.ts })),
      JSON.stringify(m.direction === 'outbound' ? { kind: 'agent', id: 'u1', name: 'Ann' } : null),
      m.relatesTo ?? null,
    ],
  );
}

describe('messages and conversations', () => {
  it('opens message bodies, sealed or plain, and scopes every read by workspace', async () => {
    await store.createWorkspace({ id: 'one', name: 'One' });
    await conversation('one', 'cv1', 'ct1');
    await message('one', 'cv1', { id: 'm2', wamid: 'w2', ts: 2000 });
    await message('one', 'cv1', { id: 'm1', wamid: 'w1', ts: 1000 });
    // A row copied from a store before encryption at rest: plain JSON content, the text beside it.
    await message('one', 'cv1', { id: 'm0', wamid: 'w0', ts: 500 }, Buffer.from('{"type":"text"}'));
    await store.db.run("UPDATE messages SET text = 'plain' WHERE id = 'm0'");

    expect(await store.getMessageByWamid('one', 'w1')).toMatchObject({
      id: 'm1',
      conversationId: 'cv1',
      direction: 'inbound',
      text: 'text of m1',
      content: { type: 'text', n: 1000 },
      timestamp: 1000,
      sender: null,
      error: null,
    });
    expect(await store.getMessage('one', 'm0')).toMatchObject({ text: 'plain', content: { type: 'text' } });
    expect((await store.listMessages('one', 'cv1')).map((m) => m.id)).toEqual(['m0', 'm1', 'm2']);
    expect((await store.listMessages('one', 'cv1', { limit: 1 })).map((m) => m.id)).toEqual(['m0']);

    expect(await store.getMessage('two', 'm1')).toBeNull();
    expect(await store.getMessageByWamid('two', 'w1')).toBeNull();
    expect(await store.getConversation('two', 'cv1')).toBeNull();
    expect(await store.getContact('two', 'ct1')).toBeNull();
    expect(await store.getContact('one', 'ct1')).toMatchObject({ waId: 'wa-ct1' });
  });

  it('reads the last inbound time from the messages, not counting system notices, edits and deletions', async () => {
    await store.createWorkspace({ id: 'one', name: 'One' });
    await conversation('one', 'cv1', 'ct1');
    await conversation('one', 'cv2', 'ct2');
    await conversation('two', 'cv3', 'ct3');
    await message('one', 'cv1', { id: 'a', wamid: 'a', ts: 1000 });
    await message('one', 'cv1', { id: 'b', wamid: 'b', ts: 3000 });
    await message('one', 'cv1', { id: 'e', wamid: 'e', ts: 4000, type: 'edit', relatesTo: 'b' });
    await message('one', 'cv1', { id: 's', wamid: 's', ts: 5000, type: 'system' });
    await message('one', 'cv2', { id: 'c', wamid: 'c', ts: 2000, direction: 'outbound' });
    await message('two', 'cv3', { id: 'd', wamid: 'd', ts: 9000 });

    expect(await store.getConversation('one', 'cv1')).toMatchObject({
      lastInboundAt: 3000,
      contactId: 'ct1',
    });
    expect((await store.getConversation('one', 'cv2'))?.lastInboundAt).toBeNull();
    expect((await store.listConversations('one')).map((c) => c.id)).toEqual(['cv1', 'cv2']);
    expect((await store.listConversations('one', { contactId: 'ct2' })).map((c) => c.id)).toEqual(['cv2']);
    expect((await store.listRevisions('one', 'b')).map((m) => m.id)).toEqual(['e']);
    expect((await store.getMessage('one', 'c'))?.sender).toEqual({ kind: 'agent', id: 'u1', name: 'Ann' });
    expect(await store.workspaceActivity('one')).toEqual({
      conversations: 2,
      inbound: 4,
      outbound: 1,
      lastInboundAt: 5000,
    });
    expect(await store.workspaceActivity('nowhere')).toEqual({
      conversations: 0,
      inbound: 0,
      outbound: 0,
      lastInboundAt: null,
    });
  });
});

describe('statuses, consent, notices', () => {
  it('opens raw statuses sealed or left plain', async () => {
    await store.createWorkspace({ id: 'one', name: 'One' });
    const raw = { id: 'w1', status: 'read', pricing: { billable: false } };
    await store.db.run(
      `INSERT INTO message_statuses (id, workspace_id, wamid, message_id, status, ts, error, raw) VALUES
       ('st1', 'one', 'w1', 'm1', 'read', 10, NULL, $1), ('st2', 'one', 'w1', 'm1', 'failed', 11, $2::jsonb, $3)`,
      [
        await seal('one', STATUS_RAW, Buffer.from(JSON.stringify(raw))),
        JSON.stringify({ code: 131047, title: 'Re-engagement message' }),
        Buffer.from('{}'),
      ],
    );
    expect(await store.getStatus('one', 'st1')).toEqual({
      id: 'st1',
      workspaceId: 'one',
      wamid: 'w1',
      messageId: 'm1',
      status: 'read',
      timestamp: 10,
      error: null,
      raw,
    });
    expect(await store.getStatus('one', 'st2')).toMatchObject({ raw: {}, error: { code: 131047 } });
    expect(await store.getStatus('two', 'st1')).toBeNull();
  });

  it('answers the consent snapshot, the ledger in order, and notices', async () => {
    const entry = (id: string, category: string, state: string, at: number) => [
      id,
      category,
      state,
      at,
      JSON.stringify({ keyword: 'STOP' }),
    ];
    for (const values of [entry('e2', 'marketing', 'opted_out', 20), entry('e1', 'all', 'opted_out', 10)]) {
      await store.db.run(
        `INSERT INTO consent_ledger (id, workspace_id, contact_id, category, state, source, occurred_at,
           recorded_at, details) VALUES ($1, 'one', 'ct1', $2, $3, 'keyword', $4, $4, $5::jsonb)`,
        values,
      );
    }
    await store.db.run(
      `INSERT INTO consent_state (workspace_id, contact_id, category, state, source, at, entry_id)
       VALUES ('one', 'ct1', 'marketing', 'opted_out', 'keyword', 20, 'e2')`,
    );
    expect(await store.consentSnapshot('one', 'ct1')).toEqual({
      all: { state: 'opted_in', source: null, at: null },
      marketing: { state: 'opted_out', source: 'keyword', at: 20 },
    });
    expect((await store.consentHistory('one', 'ct1')).map((e) => e.id)).toEqual(['e1', 'e2']);
    expect(await store.getConsentEntry('one', 'e1')).toMatchObject({ details: { keyword: 'STOP' } });
    expect(await store.getConsentEntry('two', 'e1')).toBeNull();

    await store.db.run(
      `INSERT INTO notices (id, workspace_id, conversation_id, connector_id, kind, text, templates, created_at)
       VALUES ('n1', 'one', 'cv1', 'slack', 'window_closed', 'Closed', $1::jsonb, 5)`,
      [JSON.stringify([{ name: 'hello', language: 'en' }])],
    );
    expect(await store.getNotice('one', 'n1')).toEqual({
      id: 'n1',
      kind: 'window_closed',
      text: 'Closed',
      inReplyTo: null,
      templates: [{ name: 'hello', language: 'en' }],
      messageId: null,
      createdAt: 5,
    });
  });
});

describe('kept events', () => {
  it('pages through unrouted changes oldest first and platform events newest first', async () => {
    await store.createWorkspace({ id: 'one', name: 'One' });
    for (const [id, at] of [
      ['u2', 20],
      ['u1', 10],
      ['u3', 20],
    ] as const) {
      await store.db.run(
        `INSERT INTO unrouted_events (id, phone_number_id, field, payload, received_at)
         VALUES ($1, 'pn', 'messages', $2, $3)`,
        [id, await seal(GLOBAL_ARCHIVE_LOG, UNROUTED_PAYLOAD, Buffer.from(JSON.stringify({ id }))), at],
      );
    }
    await store.db.run("UPDATE unrouted_events SET routed_at = 30, routed_to = 'one' WHERE id = 'u3'");
    const first = await store.listUnrouted({ limit: 1 });
    expect(first).toEqual([
      { id: 'u1', phoneNumberId: 'pn', field: 'messages', payload: { id: 'u1' }, receivedAt: 10 },
    ]);
    expect((await store.listUnrouted({ after: first[0] })).map((u) => u.id)).toEqual(['u2']);
    expect(await store.countUnrouted()).toBe(2);

    for (const [id, ws, at] of [
      ['p1', 'one', 1],
      ['p2', null, 2],
      ['p3', 'one', 3],
    ] as const) {
      await store.db.run(
        `INSERT INTO platform_events (id, workspace_id, field, payload, parse_issues, received_at, waba_id, entry_time)
         VALUES ($1, $2, 'account_update', $3, $4::jsonb, $5, 'waba', 7)`,
        [
          id,
          ws,
          await seal(ws ?? GLOBAL_ARCHIVE_LOG, PLATFORM_PAYLOAD, Buffer.from(JSON.stringify({ id }))),
          JSON.stringify(['unknown field x']),
          at,
        ],
      );
    }
    const newest = await store.listPlatformEvents({ limit: 2 });
    expect(newest.map((e) => e.id)).toEqual(['p3', 'p2']);
    expect(newest[0]).toEqual({
      id: 'p3',
      workspaceId: 'one',
      field: 'account_update',
      payload: { id: 'p3' },
      parseIssues: ['unknown field x'],
      wabaId: 'waba',
      entryTime: 7,
      receivedAt: 3,
    });
    expect((await store.listPlatformEvents({ before: newest[1] })).map((e) => e.id)).toEqual(['p1']);
    expect((await store.listPlatformEvents({ workspaceId: null })).map((e) => e.id)).toEqual(['p2']);
    expect((await store.listPlatformEvents({ workspaceId: 'one', field: 'x' })).map((e) => e.id)).toEqual([]);
  });
});
