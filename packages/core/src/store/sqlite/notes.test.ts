import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { exportContact } from '../../archive/export/contact-export.ts';
import { exportDiscovery } from '../../archive/export/ediscovery.ts';
import { verifyContactExport } from '../../archive/export/verify-export.ts';
import { readZip } from '../../archive/export/zip.ts';
import { CommandProcessor } from '../../bridge/commands.ts';
import type { AgentEditCommand, AgentReplyCommand } from '../../domain/commands.ts';
import { silentLogger } from '../../logger/index.ts';
import { noopMetrics } from '../../metrics/index.ts';
import { createSecretBox } from '../../secrets/index.ts';
import { identity, inboundMessage, messagesUnit, seedWorkspace } from '../../testing/fixtures.ts';
import { verifyArchive } from './archive-verify.ts';
import { openSqliteStore, type SqliteStore } from './index.ts';

// Agents' internal notes in the archive (issue 18, item 1): the command path, the store, exports,
// retention and erasure, on a real SQLite file with the store's clock injected.

const dir = mkdtempSync(join(tmpdir(), 'wabridge-notes-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const box = createSecretBox(Buffer.alloc(32, 9));
const DAY = 86_400_000;
const T0 = Date.UTC(2026, 2, 1);
const WS = 'acme';
const ADA = '15550001111';
const THREAD = 'C1:1700000000.000100';

let store: SqliteStore;
let commands: CommandProcessor;
let clock = T0;
let n = 0;
let conversationId = '';

beforeEach(async () => {
  clock = T0;
  store = await openSqliteStore({ path: join(dir, `n${n++}.db`), now: () => clock });
  await seedWorkspace(store, { id: WS, connectors: ['slack'] });
  commands = new CommandProcessor({ store, logger: silentLogger, metrics: noopMetrics, now: () => clock });
  await store.ingest(
    messagesUnit(
      WS,
      {
        messages: [
          inboundMessage({
            wamid: 'w1',
            contact: identity({ waId: ADA, profileName: 'Ada' }),
            timestamp: T0,
            text: 'where is my parcel?',
          }),
        ],
      },
      T0,
    ),
  );
  conversationId = (await store.listConversations(WS))[0]?.id ?? '';
  await store.putRef(WS, {
    connectorId: 'slack',
    kind: 'conversation',
    entityId: conversationId,
    externalId: THREAD,
    data: {},
  });
});
afterEach(() => store.close());

const setPolicy = (on: boolean) => store.updateWorkspace(WS, { policies: { archiveInternalNotes: on } });

const note = (key: string, ts: string, text: string): AgentReplyCommand => ({
  type: 'agent.reply',
  idempotencyKey: key,
  threadId: THREAD,
  messageId: `C1:${ts}`,
  agent: { id: 'U1', name: 'Grace' },
  text,
  attachments: [],
  mode: 'note',
});
const change = (
  type: AgentEditCommand['type'],
  key: string,
  ts: string,
  text?: string,
): AgentEditCommand => ({
  type,
  idempotencyKey: key,
  threadId: THREAD,
  messageId: `C1:${ts}`,
  agent: { id: 'U1', name: 'Grace' },
  ...(text === undefined ? {} : { text }),
});

const noteRecords = () =>
  store.db
    .all<{ seq: number; record: Uint8Array }>(
      "SELECT seq, record FROM archive_records WHERE workspace_id = :ws AND kind = 'note' ORDER BY seq",
      { ws: WS },
    )
    .map((r) => ({
      seq: r.seq,
      ...(JSON.parse(Buffer.from(r.record).toString('utf8')) as { data: Record<string, unknown> }),
    }));

describe('internal notes in the archive', () => {
  it('are kept only while the policy is on, once per key and per platform message, and never queue a job', async () => {
    expect((await store.getWorkspace(WS))?.policies.archiveInternalNotes).toBe(false);
    expect(await commands.accept(WS, 'slack', [note('e1', '1.1', '// off')])).toEqual([
      { status: 'ignored', reason: 'internal note' },
    ]);
    await setPolicy(true);
    const jobsBefore = store.db.get<{ n: number }>('SELECT COUNT(*) AS n FROM jobs_new')?.n;
    const [kept] = await commands.accept(WS, 'slack', [note('e2', '1.2', '// refund approved')]);
    expect(kept).toMatchObject({ status: 'note_archived' });
    // A retry of the event (same key), and the same message under another key: nothing new.
    expect(await commands.accept(WS, 'slack', [note('e2', '1.2', '// refund approved')])).toEqual([
      { status: 'duplicate' },
    ]);
    expect(await commands.accept(WS, 'slack', [note('e2b', '1.2', '// refund approved')])).toEqual([
      { status: 'duplicate' },
    ]);
    // A note in a thread that is no conversation's is not kept.
    expect(
      await commands.accept(WS, 'slack', [{ ...note('e3', '1.3', '// elsewhere'), threadId: 'C9:1.0' }]),
    ).toMatchObject([{ status: 'ignored' }]);
    expect(store.db.get<{ n: number }>('SELECT COUNT(*) AS n FROM jobs_new')?.n).toBe(jobsBefore);
    const records = noteRecords();
    expect(records).toHaveLength(1);
    expect(records[0]?.data).toMatchObject({
      internal: true,
      direction: 'internal',
      type: 'note',
      conversation_id: conversationId,
      sender: { via: 'slack', agentId: 'U1', agentName: 'Grace' },
      platform: { thread_id: THREAD, message_id: 'C1:1.2' },
    });
    // The text is sealed content: not in the record's bytes, opened only through the keyring.
    expect(JSON.stringify(records)).not.toContain('refund approved');
    const [content] = await store.archiveContent(WS, [records[0]?.seq ?? -1]);
    expect(content?.content).toEqual({ text: '// refund approved', attachments: [] });
    // Nor in the database file or its write-ahead log.
    for (const file of [store.db.path, `${store.db.path}-wal`].filter((f) => existsSync(f)))
      expect(readFileSync(file).includes(Buffer.from('refund approved')), file).toBe(false);
  });

  it('an edit is a new version and a deletion a revoke; changes of notes not archived, or without their text, are ignored', async () => {
    await commands.accept(WS, 'slack', [note('e0', '2.0', '// written while off')]);
    await setPolicy(true);
    await commands.accept(WS, 'slack', [note('e1', '2.1', '// first')]);
    clock += 1000;
    expect(
      await commands.accept(WS, 'slack', [change('agent.edit', 'e2', '2.1', '// second')]),
    ).toMatchObject([{ status: 'note_archived' }]);
    expect(await commands.accept(WS, 'slack', [change('agent.edit', 'e3', '2.1')])).toEqual([
      { status: 'ignored', reason: 'edit without its text' },
    ]);
    expect(await commands.accept(WS, 'slack', [change('agent.edit', 'e4', '2.0', '// late')])).toEqual([
      { status: 'ignored', reason: 'not an archived internal note' },
    ]);
    clock += 1000;
    expect(await commands.accept(WS, 'slack', [change('agent.delete', 'e5', '2.1')])).toMatchObject([
      { status: 'note_archived' },
    ]);
    const records = noteRecords();
    const first = records[0]?.data.id;
    expect(records.map((r) => [r.data.type, r.data.relates_to, r.data.ts])).toEqual([
      ['note', null, T0],
      ['edit', first, T0 + 1000],
      ['revoke', first, T0 + 2000],
    ]);
    const contents = await store.archiveContent(
      WS,
      records.map((r) => r.seq),
    );
    expect(contents.map((c) => c.content)).toEqual([
      { text: '// first', attachments: [] },
      { text: '// second', attachments: [] },
      null,
    ]);
    expect((await verifyArchive(store.db, WS, { keyring: store.keyring })).ok).toBe(true);
  });

  it('appear in the contact export and eDiscovery marked internal, with their versions, and the export verifies', async () => {
    await setPolicy(true);
    await commands.accept(WS, 'slack', [note('e1', '3.1', '// check the invoice first')]);
    await commands.accept(WS, 'slack', [change('agent.edit', 'e2', '3.1', '// check the invoice 42 first')]);
    const out = join(dir, `ada-${n}.zip`);
    await exportContact({ store, secrets: box, workspaceId: WS, contact: `+${ADA}`, out, actor: 'cli:test' });
    const files = await readZip(out);
    const data = JSON.parse(files.get('data.json')?.toString('utf8') ?? '{}') as {
      conversations: Array<{ messages: Array<Record<string, unknown>> }>;
    };
    const messages = data.conversations[0]?.messages ?? [];
    expect(messages.map((m) => [m.archive_kind, m.direction, m.text])).toEqual([
      ['message.inbound', 'inbound', 'where is my parcel?'],
      ['note', 'internal', '// check the invoice first'],
    ]);
    expect(messages[1]?.internal).toBe(true);
    expect(
      ((messages[1]?.revisions ?? []) as Array<Record<string, unknown>>).map((r) => [r.type, r.text]),
    ).toEqual([['edit', '// check the invoice 42 first']]);
    const transcript = files.get(`transcripts/${conversationId}.html`)?.toString('utf8') ?? '';
    expect(transcript).toContain(
      '<article class="internal" aria-label="internal note from Grace (via slack)',
    );
    expect(transcript).toContain('Internal note</strong> (not sent to the contact)');
    expect(transcript).toContain('edited at');
    expect((await verifyContactExport(out)).failure).toBeNull();

    const folder = join(dir, `discovery-${n}`);
    await exportDiscovery({
      store,
      secrets: box,
      workspaceId: WS,
      filter: { keyword: 'invoice' },
      dir: folder,
      formats: ['jsonl', 'csv'],
      actor: 'cli:test',
    });
    const found = readFileSync(join(folder, 'messages.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(found.map((m) => [m.archive_kind, m.internal, m.type])).toEqual([
      ['note', true, 'note'],
      ['note', true, 'edit'],
    ]);
    expect(readFileSync(join(folder, 'messages.csv'), 'utf8')).toContain(',note,');
  });

  it('retention purges them by their own rule (held ones stay) and erasure purges them with the contact', async () => {
    await setPolicy(true);
    await commands.accept(WS, 'slack', [note('e1', '4.1', '// old note')]);
    await store.setRetention({
      workspaceId: WS,
      kind: 'notes',
      keepDays: 30,
      afterLastMessageDays: null,
      actor: 'cli:test',
    });
    const hold = await store.addHold({
      workspaceId: WS,
      scope: { kind: 'contact', contactId: `+${ADA}` },
      reason: 'FINRA exam',
      actor: 'cli:test',
    });
    const held = await store.runRetention({
      workspaceId: WS,
      now: T0 + 31 * DAY,
      dryRun: false,
      actor: 'cli:t',
    });
    expect(held.kinds).toEqual([expect.objectContaining({ kind: 'notes', purged: 0, held: 1 })]);
    await store.releaseHold({ workspaceId: WS, holdId: hold.id, actor: 'cli:test', reason: 'closed' });
    const ran = await store.runRetention({
      workspaceId: WS,
      now: T0 + 31 * DAY,
      dryRun: false,
      actor: 'cli:t',
    });
    expect(ran.kinds).toEqual([expect.objectContaining({ kind: 'notes', purged: 1, held: 0 })]);
    const [purged] = noteRecords();
    expect((await store.archiveContent(WS, [purged?.seq ?? -1]))[0]?.content).toBeNull();

    // A newer note, then the contact's erasure (no rule obliges keeping it any more).
    clock = T0 + 40 * DAY;
    await store.setRetention({
      workspaceId: WS,
      kind: 'notes',
      keepDays: null,
      afterLastMessageDays: null,
      actor: 'cli:test',
    });
    await commands.accept(WS, 'slack', [note('e2', '4.2', '// new note')]);
    const erased = await store.erase({
      workspaceId: WS,
      subject: { kind: 'contact', identifier: ADA },
      actor: 'cli:test',
      reason: 'GDPR art. 17 request',
    });
    expect(erased.certificate.outcome).toBe('erased');
    expect(erased.certificate.wabridge.internalNotes).toBe(2);
    const records = noteRecords();
    const contents = await store.archiveContent(
      WS,
      records.map((r) => r.seq),
    );
    expect(contents.map((c) => c.content)).toEqual([null, null]);
    const report = await verifyArchive(store.db, WS, { keyring: store.keyring });
    expect(report.ok).toBe(true);
    // The erased conversation takes no new note, nor a new version of an old one.
    expect(await commands.accept(WS, 'slack', [change('agent.edit', 'e3', '4.2', '// after')])).toMatchObject(
      [{ status: 'ignored' }],
    );
    expect(noteRecords()).toHaveLength(2);
  });

  it('a rule keeping notes turns an erasure into a restriction while it runs', async () => {
    await setPolicy(true);
    await commands.accept(WS, 'slack', [note('e1', '5.1', '// keep me')]);
    await store.setRetention({
      workspaceId: WS,
      kind: 'notes',
      keepDays: 2190,
      afterLastMessageDays: null,
      actor: 'cli:test',
    });
    const result = await store.erase({
      workspaceId: WS,
      subject: { kind: 'contact', identifier: ADA },
      actor: 'cli:test',
      reason: 'GDPR art. 17 request',
    });
    expect(result.certificate.outcome).toBe('restricted');
    expect(result.certificate.restrictionGround).toContain('keeps notes 2190 days');
    const [kept] = noteRecords();
    expect((await store.archiveContent(WS, [kept?.seq ?? -1]))[0]?.content).toEqual({
      text: '// keep me',
      attachments: [],
    });
  });
});
