import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { createSecretBox } from '../../secrets/index.ts';
import { archiveVerifierKey } from '../../store/sqlite/archive-verify.ts';
import { openSqliteStore, type SqliteStore } from '../../store/sqlite/index.ts';
import { identity, inboundMessage, messagesUnit, seedWorkspace } from '../../testing/fixtures.ts';
import { exportContact } from './contact-export.ts';
import { exportDiscovery } from './ediscovery.ts';
import { verifyDiscoveryExport } from './verify-discovery.ts';
import { verifyContactExport } from './verify-export.ts';
import { readZip, ZipWriter } from './zip.ts';

// Exports under the vault model (issue 18, items 3-7): a record commits to its content, which can
// be purged. A purged record is exported as purged (record and proof, no content) and verifies as
// purged; its content appears nowhere in the export; changing the opened content of a record that
// still has it is caught. A restricted conversation (art. 18) is exported, marked restricted.

const dir = mkdtempSync(join(tmpdir(), 'wabridge-export-purged-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const box = createSecretBox(Buffer.alloc(32, 7));
const WS = 'acme';
const T0 = 1_750_000_000_000;
const DAY = 86_400_000;
const cleo = identity({ waId: '15550003333', profileName: 'Cleo' });
const dan = identity({ waId: '15550004444', profileName: 'Dan' });
const SECRET = 'my account number is 12345678';

const clock = T0 + DAY;
let store: SqliteStore;
let key = '';
let exported = '';
let purgedMessageId = '';
let n = 0;

beforeAll(async () => {
  store = await openSqliteStore({ path: join(dir, 'store.db'), now: () => clock });
  await seedWorkspace(store, { id: WS });
  const gone = inboundMessage({ wamid: 'w.gone', contact: cleo, text: SECRET, timestamp: T0 });
  purgedMessageId = gone.id;
  await store.ingest(
    messagesUnit(WS, {
      messages: [
        gone,
        inboundMessage({ wamid: 'w.kept', contact: cleo, text: 'still here', timestamp: T0 + 1 }),
      ],
    }),
  );
  const purge = await store.purgeArchiveContent({
    workspaceId: WS,
    entityIds: [purgedMessageId],
    by: { actor: 'retention:messages', reason: 'retention rule: test' },
  });
  expect(purge.purged).toHaveLength(1);
  key = await archiveVerifierKey(store.db, box, WS);
  exported = join(dir, 'cleo.zip');
  await exportContact({
    store,
    secrets: box,
    workspaceId: WS,
    contact: cleo.waId ?? '',
    out: exported,
    actor: 'cli:test',
    now: () => clock,
  });
}, 120_000);
afterAll(() => store.close());

async function tamper(change: (files: Map<string, Buffer>) => void): Promise<string> {
  const files = await readZip(exported);
  change(files);
  const path = join(dir, `tampered-${n++}.zip`);
  const zip = new ZipWriter(path, { mtime: new Date(0) });
  for (const [name, bytes] of files) zip.add(name, bytes);
  await zip.finish();
  return path;
}
type Line = { seq: number; record: string; content?: string; salt?: string; purged?: true; proof: string[] };
const lines = (files: Map<string, Buffer>): Line[] =>
  (files.get('records.jsonl')?.toString('utf8') ?? '')
    .trimEnd()
    .split('\n')
    .map((l) => JSON.parse(l) as Line);
const setLines = (files: Map<string, Buffer>, list: Line[]) =>
  files.set('records.jsonl', Buffer.from(`${list.map((l) => JSON.stringify(l)).join('\n')}\n`));
const entityOf = (line: Line) => (JSON.parse(line.record) as { entity_id: string }).entity_id;

describe('an export with purged content', () => {
  it('exports a purged record as purged, with the purge record, and verifies it as purged', async () => {
    const files = await readZip(exported);
    const list = lines(files);
    const gone = list.find((l) => entityOf(l) === purgedMessageId);
    expect(gone).toMatchObject({ purged: true });
    expect(gone?.content).toBeUndefined();
    expect(list.some((l) => (JSON.parse(l.record) as { kind: string }).kind === 'purge')).toBe(true);
    const report = await verifyContactExport(exported, { verifierKey: key });
    // 2 messages + the purge record + the export's own record; one of them purged.
    expect(report).toMatchObject({ ok: true, records: 4, purged: 1, failure: null });
    const data = JSON.parse(files.get('data.json')?.toString('utf8') ?? '') as {
      conversations: Array<{ messages: Array<Record<string, unknown>> }>;
      purges: Array<Record<string, unknown>>;
    };
    const messages = data.conversations.flatMap((c) => c.messages);
    expect(messages.map((m) => [m.wamid, m.archive_purged ?? false, m.text ?? null])).toEqual([
      ['w.gone', true, null],
      ['w.kept', false, 'still here'],
    ]);
    expect(data.purges).toMatchObject([{ reason: 'retention rule: test', count: 1 }]);
    const html = [...files].find(([k]) => k.startsWith('transcripts/'))?.[1].toString('utf8') ?? '';
    expect(html).toContain('(content purged)');
    // The purged text is nowhere in the file.
    for (const [name, bytes] of files) expect(bytes.toString('utf8'), name).not.toContain('12345678');
  });

  it('catches a changed opened content, a changed salt, and a content dropped without a purge', async () => {
    const kept = lines(await readZip(exported)).find((l) => (l.content ?? '').includes('still here'));
    const seq = kept?.seq ?? -1;
    const content = await tamper((files) =>
      setLines(
        files,
        lines(files).map((l) =>
          l.seq === seq ? { ...l, content: l.content?.replace('still', 'never') } : l,
        ),
      ),
    );
    expect((await verifyContactExport(content, { verifierKey: key })).failure).toMatchObject({
      seq,
      reason: 'content-changed',
    });
    const salt = await tamper((files) =>
      setLines(
        files,
        // The salt's first byte changed (a random salt starts with 00 once in 256 exports).
        lines(files).map((l) =>
          l.seq === seq ? { ...l, salt: `${l.salt?.startsWith('00') ? 'ff' : '00'}${l.salt?.slice(2)}` } : l,
        ),
      ),
    );
    expect((await verifyContactExport(salt, { verifierKey: key })).failure).toMatchObject({
      seq,
      reason: 'content-changed',
    });
    const dropped = await tamper((files) =>
      setLines(
        files,
        lines(files).map((l) =>
          l.seq === seq ? { seq: l.seq, record: l.record, purged: true, proof: l.proof } : l,
        ),
      ),
    );
    expect((await verifyContactExport(dropped, { verifierKey: key })).failure).toMatchObject({
      seq,
      reason: 'content-missing',
    });
    // Showing the purged message's text again in data.json is caught too.
    const shown = await tamper((files) => {
      const data = JSON.parse(files.get('data.json')?.toString('utf8') ?? '');
      data.conversations[0].messages[0].text = SECRET;
      files.set('data.json', Buffer.from(JSON.stringify(data)));
    });
    expect((await verifyContactExport(shown, { verifierKey: key })).failure).toMatchObject({
      reason: 'data-mismatch',
    });
  });

  it('an eDiscovery export shows the purged message as purged and verifies it, with purges.jsonl', async () => {
    const folder = join(dir, 'discovery');
    const result = await exportDiscovery({
      store,
      secrets: box,
      workspaceId: WS,
      filter: { contact: cleo.waId ?? '' },
      dir: folder,
      formats: ['jsonl', 'csv', 'html'],
      actor: 'cli:test',
      now: () => clock,
    });
    expect(result).toMatchObject({ complete: true, matched: 2 });
    const report = await verifyDiscoveryExport(folder, { verifierKey: key });
    expect(report).toMatchObject({ ok: true, records: 2, purged: 1 });
    const { readFileSync, writeFileSync } = await import('node:fs');
    for (const file of ['records.jsonl', 'messages.jsonl', 'messages.csv', 'transcript.html']) {
      expect(readFileSync(join(folder, file), 'utf8'), file).not.toContain('12345678');
    }
    // Without the purge record, the purged record's missing content is no longer accounted for.
    writeFileSync(join(folder, 'purges.jsonl'), '');
    expect((await verifyDiscoveryExport(folder, { verifierKey: key })).failure).toMatchObject({
      reason: 'content-missing',
    });
  });
});

describe('an export of a restricted conversation (GDPR art. 18)', () => {
  it('holds the restricted conversation, marked restricted, and verifies', async () => {
    // A store of its own: a workspace whose retention rule turns the erasure into a restriction.
    const store = await openSqliteStore({ path: join(dir, 'kept.db'), now: () => clock });
    onTestFinished(() => store.close());
    await seedWorkspace(store, { id: 'kept' });
    await store.ingest(
      messagesUnit('kept', {
        messages: [inboundMessage({ wamid: 'w.d', contact: dan, text: 'keep me', timestamp: T0 })],
      }),
    );
    await store.setRetention({
      workspaceId: 'kept',
      kind: 'messages',
      keepDays: 2190,
      afterLastMessageDays: null,
      actor: 'cli:lee',
    });
    const { certificate } = await store.erase({
      workspaceId: 'kept',
      subject: { kind: 'contact', identifier: dan.waId ?? '' },
      actor: 'cli:dpo',
      reason: 'r',
    });
    expect(certificate.outcome).toBe('restricted');
    const out = join(dir, 'dan.zip');
    await exportContact({
      store,
      secrets: box,
      workspaceId: 'kept',
      contact: dan.waId ?? '',
      out,
      actor: 'cli:test',
      now: () => clock,
    });
    const files = await readZip(out);
    const manifest = JSON.parse(files.get('manifest.json')?.toString('utf8') ?? '');
    const data = JSON.parse(files.get('data.json')?.toString('utf8') ?? '');
    expect(manifest.restricted_conversations).toEqual([data.conversations[0].id]);
    expect(data.conversations[0]).toMatchObject({ restrictedAt: clock, messages: [{ text: 'keep me' }] });
    const html = [...files].find(([k]) => k.startsWith('transcripts/'))?.[1].toString('utf8') ?? '';
    expect(html).toContain('restricted (GDPR art. 18)');
    expect(html).toContain('keep me');
    const kept = await archiveVerifierKey(store.db, box, 'kept');
    expect(await verifyContactExport(out, { verifierKey: kept })).toMatchObject({ ok: true, purged: 0 });
  });
});
