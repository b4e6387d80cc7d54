import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSecretBox } from '../../secrets/index.ts';
import { archiveVerifierKey } from '../../store/sqlite/archive-verify.ts';
import { openSqliteStore, type SqliteStore } from '../../store/sqlite/index.ts';
import { identity, inboundMessage, messagesUnit, seedWorkspace, status } from '../../testing/fixtures.ts';
import { exportContact } from './contact-export.ts';
import { verifyContactExport } from './verify-export.ts';
import { readZip, ZipWriter } from './zip.ts';

// The per-contact export (issue 18, item 7) on a real SQLite file, verified offline from the ZIP
// alone, then tampered with as someone holding the file could: every change is named.

const dir = mkdtempSync(join(tmpdir(), 'wabridge-export-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const box = createSecretBox(Buffer.alloc(32, 5));
const WS = 'acme';
const ada = identity({ waId: '15550001111', profileName: 'Ada <script>alert(1)</script>' });
const bob = identity({ waId: '15550002222', profileName: 'Bob' });
const IMAGE = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 1, 2, 3, 4]);

let store: SqliteStore;
let exported = '';
let key = '';
let n = 0;

beforeAll(async () => {
  store = await openSqliteStore({ path: join(dir, 'store.db') });
  await seedWorkspace(store, { id: WS });
  await store.ingest(
    messagesUnit(WS, {
      messages: [
        inboundMessage({ wamid: 'w.1', contact: ada, text: 'hello <b>there</b> & "you"' }),
        inboundMessage({ wamid: 'w.bob', contact: bob, text: 'Bob is not Ada' }),
        inboundMessage({
          wamid: 'w.img',
          contact: ada,
          type: 'image',
          text: 'a caption',
          content: { type: 'image', image: { id: 'media-1', mime_type: 'image/png', caption: 'a caption' } },
          timestamp: 1_750_000_001_000,
        }),
        inboundMessage({
          wamid: 'w.echo',
          contact: ada,
          direction: 'outbound',
          sender: { via: 'business_app', agentId: null, agentName: 'Front desk' },
          text: 'we answer',
          timestamp: 1_750_000_002_000,
        }),
      ],
    }),
  );
  await store.ingest(
    messagesUnit(WS, {
      messages: [
        inboundMessage({
          wamid: 'w.edit',
          contact: ada,
          type: 'edit',
          text: 'hello again',
          relatesTo: 'w.1',
          timestamp: 1_750_000_003_000,
        }),
      ],
      statuses: [status({ wamid: 'w.echo', status: 'read', recipient: ada })],
    }),
  );
  const contactId = (await store.listConversations(WS))[0]?.contactId ?? '';
  await store.recordConsent({
    commandKey: null,
    workspaceId: WS,
    contactId,
    category: 'marketing',
    state: 'opted_out',
    source: 'admin',
    actor: 'test',
    evidenceMessageId: null,
    occurredAt: 1_750_000_004_000,
    details: {},
  });
  // An agent's internal note in Ada's thread and its edit, kept by the workspace's policy.
  const adaConversation = (await store.listConversations(WS, { contactId }))[0]?.id ?? null;
  for (const [action, text, key] of [
    ['note', '// Ada is a VIP', 'n1'],
    ['edit', '// Ada is a VIP <b>since 2019</b>', 'n2'],
  ] as const) {
    await store.recordNote({
      commandKey: { source: 'slack', key },
      workspaceId: WS,
      connectorId: 'slack',
      externalId: 'C1:17.1',
      threadId: 'C1:16.1',
      action,
      conversationId: adaConversation,
      agent: { id: 'U1', name: 'Grace' },
      text,
      attachments: [],
      at: 1_750_000_005_000,
    });
  }
  key = await archiveVerifierKey(store.db, box, WS);
  exported = join(dir, 'ada.zip');
  await exportContact({
    store,
    secrets: box,
    workspaceId: WS,
    contact: '+1 555 000 1111',
    out: exported,
    actor: 'cli:test',
    media: async () => ({ bytes: IMAGE, mimeType: 'image/png', filename: 'photo.png' }),
    now: () => Date.UTC(2026, 0, 2),
  });
}, 120_000);

afterAll(() => store.close());

/** A copy of the export with some of its files changed. */
async function tamper(change: (files: Map<string, Buffer>) => void): Promise<string> {
  const files = await readZip(exported);
  change(files);
  const path = join(dir, `tampered-${n++}.zip`);
  const zip = new ZipWriter(path, { mtime: new Date(0) });
  for (const [name, bytes] of files) zip.add(name, bytes);
  await zip.finish();
  return path;
}

const lines = (files: Map<string, Buffer>) =>
  (files.get('records.jsonl')?.toString('utf8') ?? '').trimEnd().split('\n');
const setLines = (files: Map<string, Buffer>, list: string[]) =>
  files.set('records.jsonl', Buffer.from(`${list.join('\n')}\n`));
const seqOfLine = (line: string) => (JSON.parse(line) as { seq: number }).seq;
/** The records.jsonl line of the record whose bytes or carried content contain `text`. */
const lineWith = (files: Map<string, Buffer>, text: string) => {
  const index = lines(files).findIndex((l) => {
    const line = JSON.parse(l) as { record: string; content?: string };
    return line.record.includes(text) || (line.content ?? '').includes(text);
  });
  if (index < 0) throw new Error(`no record holds ${text}`);
  return index;
};

describe('the contact export', () => {
  it('holds only the contact: their messages with revisions and statuses, consent, media, transcripts', async () => {
    const files = await readZip(exported);
    const data = JSON.parse(files.get('data.json')?.toString('utf8') ?? '') as {
      contact: { waId: string };
      conversations: Array<{ messages: Array<Record<string, unknown>> }>;
      consent: unknown[];
    };
    expect(data.contact.waId).toBe('15550001111');
    const messages = data.conversations.flatMap((c) => c.messages);
    expect(messages.map((m) => m.wamid ?? m.archive_kind)).toEqual(['w.1', 'w.img', 'w.echo', 'note']);
    // The agent's internal note: marked internal, with its edit as a revision.
    expect(messages[3]).toMatchObject({ internal: true, direction: 'internal', text: '// Ada is a VIP' });
    expect(messages[3]?.revisions).toMatchObject([
      { type: 'edit', text: '// Ada is a VIP <b>since 2019</b>' },
    ]);
    expect(messages[0]?.revisions).toMatchObject([{ wamid: 'w.edit', text: 'hello again' }]);
    expect(messages[2]?.statuses).toMatchObject([{ status: 'read' }]);
    expect(messages[2]?.sender).toEqual({ via: 'business_app', agentId: null, agentName: 'Front desk' });
    expect(data.consent).toMatchObject([{ state: 'opted_out', category: 'marketing' }]);
    expect(JSON.stringify(data)).not.toContain('Bob is not Ada');
    const media = [...files.keys()].filter((k) => k.startsWith('media/'));
    expect(media).toHaveLength(1);
    expect(new Uint8Array(files.get(media[0] ?? '') ?? [])).toEqual(IMAGE);
    const html = [...files].find(([k]) => k.startsWith('transcripts/'))?.[1].toString('utf8') ?? '';
    expect(html).toContain('<html lang="en">');
    expect(html).toContain('hello &lt;b&gt;there&lt;/b&gt; &amp; &quot;you&quot;');
    expect(html).toContain('Ada &lt;script&gt;alert(1)&lt;/script&gt;');
    expect(html).not.toContain('<script>');
    expect(html).toContain(`<img src="../${media[0]}" alt="photo.png">`);
    expect(html).toContain('Front desk (via business_app)');
    expect(html).toContain('<strong class="internal-label">Internal note</strong> (not sent to the contact)');
    expect(html).toContain('// Ada is a VIP &lt;b&gt;since 2019&lt;/b&gt;');
  });

  it('an untouched export verifies offline under the key, and the export is itself a record', async () => {
    const report = await verifyContactExport(exported, { verifierKey: key });
    expect(report).toMatchObject({ ok: true, workspace: WS, keySource: 'given', failure: null });
    // 3 messages + 1 revision + 1 status + 1 consent change + a note and its edit + the export's own record.
    expect(report.records).toBe(9);
    const manifest = JSON.parse((await readZip(exported)).get('manifest.json')?.toString('utf8') ?? '');
    const audit = store.db.get<{ action: string; details: string }>(
      "SELECT action, details FROM audit_log WHERE action = 'archive.export'",
    );
    expect(JSON.parse(audit?.details ?? '{}')).toMatchObject({
      scope: 'contact',
      records: 8,
      media_files: 1,
    });
    expect(manifest.export_seq).toBeGreaterThan(Math.max(...manifest.record_seqs));
  });

  it('names the record when a message is changed in its content or in its record', async () => {
    let seq = -1;
    // The text is content, carried opened beside the record that commits to it.
    const content = await tamper((files) => {
      const list = lines(files);
      const i = lineWith(files, 'we answer');
      seq = seqOfLine(list[i] ?? '');
      list[i] = (list[i] ?? '').replace('we answer', 'we refuse');
      setLines(files, list);
    });
    const report = await verifyContactExport(content, { verifierKey: key });
    expect(report.ok).toBe(false);
    expect(report.failure).toMatchObject({ seq, reason: 'content-changed', kind: 'message.outbound' });
    const record = await tamper((files) => {
      const list = lines(files);
      const i = lineWith(files, 'we answer');
      list[i] = (list[i] ?? '').replace('w.echo', 'w.other');
      setLines(files, list);
    });
    expect((await verifyContactExport(record, { verifierKey: key })).failure).toMatchObject({
      seq,
      reason: 'record-changed',
      kind: 'message.outbound',
    });
  });

  it('names the record when a message is changed in data.json only', async () => {
    const path = await tamper((files) => {
      const text = files.get('data.json')?.toString('utf8') ?? '';
      files.set('data.json', Buffer.from(text.replace('"a caption"', '"another caption"')));
    });
    const report = await verifyContactExport(path, { verifierKey: key });
    const seq = seqOfLine(lines(await readZip(exported))[lineWith(await readZip(exported), 'media-1')] ?? '');
    expect(report.failure).toMatchObject({ seq, reason: 'data-mismatch' });
  });

  it('names a dropped record, whether its data is dropped with it or not', async () => {
    const original = await readZip(exported);
    const i = lineWith(original, 'opted_out');
    const seq = seqOfLine(lines(original)[i] ?? '');
    const onlyRecord = await tamper((files) =>
      setLines(
        files,
        lines(files).filter((_, j) => j !== i),
      ),
    );
    expect((await verifyContactExport(onlyRecord, { verifierKey: key })).failure).toMatchObject({
      seq,
      reason: 'record-missing',
    });
    const both = await tamper((files) => {
      setLines(
        files,
        lines(files).filter((_, j) => j !== i),
      );
      const data = JSON.parse(files.get('data.json')?.toString('utf8') ?? '');
      data.consent = [];
      files.set('data.json', Buffer.from(JSON.stringify(data)));
    });
    expect((await verifyContactExport(both, { verifierKey: key })).failure).toMatchObject({
      seq,
      reason: 'record-missing',
    });
    // Dropping it from the manifest's list too breaks the list the export record committed to.
    const all = await tamper((files) => {
      setLines(
        files,
        lines(files).filter((_, j) => j !== i),
      );
      const data = JSON.parse(files.get('data.json')?.toString('utf8') ?? '');
      data.consent = [];
      files.set('data.json', Buffer.from(JSON.stringify(data)));
      const manifest = JSON.parse(files.get('manifest.json')?.toString('utf8') ?? '');
      manifest.record_seqs = manifest.record_seqs.filter((s: number) => s !== seq);
      files.set('manifest.json', Buffer.from(JSON.stringify(manifest)));
    });
    const report = await verifyContactExport(all, { verifierKey: key });
    const manifest = JSON.parse(original.get('manifest.json')?.toString('utf8') ?? '');
    expect(report.failure).toMatchObject({ seq: manifest.export_seq, reason: 'record-missing' });
    expect(report.failure?.message).toMatch(/not the one export record \d+ committed to/);
  });

  it('every record, of every kind: changed, dropped or inserted again is detected and named', async () => {
    const original = lines(await readZip(exported));
    const kinds = new Set<string>();
    for (const [i, line] of original.entries()) {
      const seq = seqOfLine(line);
      kinds.add((JSON.parse((JSON.parse(line) as { record: string }).record) as { kind: string }).kind);
      const changed = await tamper((files) => {
        const list = lines(files);
        const parsed = JSON.parse(list[i] ?? '') as { record: string };
        // One character of the record, inside its data, changed.
        parsed.record = parsed.record.replace('"data":{"', '"data":{"_');
        list[i] = JSON.stringify({ ...JSON.parse(list[i] ?? ''), record: parsed.record });
        setLines(files, list);
      });
      expect((await verifyContactExport(changed, { verifierKey: key })).failure).toMatchObject({
        seq,
        reason: 'record-changed',
      });
      const dropped = await tamper((files) =>
        setLines(
          files,
          lines(files).filter((_, j) => j !== i),
        ),
      );
      expect((await verifyContactExport(dropped, { verifierKey: key })).failure).toMatchObject({
        seq,
        reason: 'record-missing',
      });
      const inserted = await tamper((files) => {
        const list = lines(files);
        list.splice(i + 1, 0, list[i] ?? '');
        setLines(files, list);
      });
      expect((await verifyContactExport(inserted, { verifierKey: key })).failure).toMatchObject({
        seq,
        reason: 'record-order',
      });
    }
    expect([...kinds].sort()).toEqual([
      'admin',
      'consent',
      'message.inbound',
      'message.outbound',
      'message.revision',
      'note',
      'status',
    ]);
  });

  it('names the first record out of place when records are reordered', async () => {
    const path = await tamper((files) => {
      const list = lines(files);
      [list[1], list[2]] = [list[2] ?? '', list[1] ?? ''];
      setLines(files, list);
    });
    const original = lines(await readZip(exported));
    const report = await verifyContactExport(path, { verifierKey: key });
    expect(report.failure).toMatchObject({ seq: seqOfLine(original[1] ?? ''), reason: 'record-order' });
  });

  it('refuses a changed media file, another key, and a file that is not an export', async () => {
    const media = await tamper((files) => {
      const name = [...files.keys()].find((k) => k.startsWith('media/')) ?? '';
      files.set(name, Buffer.from('not the photo'));
    });
    expect((await verifyContactExport(media, { verifierKey: key })).failure).toMatchObject({
      reason: 'media-mismatch',
    });
    const other = await archiveVerifierKey(store.db, box, 'other');
    expect((await verifyContactExport(exported, { verifierKey: other })).failure).toMatchObject({
      reason: 'checkpoint-invalid',
      seq: null,
    });
    const notZip = join(dir, 'not.zip');
    await import('node:fs/promises').then((fs) => fs.writeFile(notZip, 'hello'));
    expect((await verifyContactExport(notZip)).failure).toMatchObject({ reason: 'export-malformed' });
  });

  it('refuses an unknown contact with a clear error and writes nothing', async () => {
    const out = join(dir, 'nobody.zip');
    await expect(
      exportContact({ store, secrets: box, workspaceId: WS, contact: '15559999999', out, actor: 'cli:test' }),
    ).rejects.toThrow(/no contact with the number or BSUID "15559999999"/);
    await expect(import('node:fs/promises').then((fs) => fs.stat(out))).rejects.toThrow();
  });
});
