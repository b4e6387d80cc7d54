import { appendFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSecretBox } from '../../secrets/index.ts';
import { archiveVerifierKey } from '../../store/sqlite/archive-verify.ts';
import { openSqliteStore, type SqliteStore } from '../../store/sqlite/index.ts';
import { identity, inboundMessage, messagesUnit, seedWorkspace } from '../../testing/fixtures.ts';
import { exportDiscovery } from './ediscovery.ts';
import { verifyDiscoveryExport } from './verify-discovery.ts';

// eDiscovery exports (issue 18, item 7): filters, pages of bounded size, resume after a stop or a
// crash with the same bytes as one run, the export recorded, and offline verification.

const dir = mkdtempSync(join(tmpdir(), 'wabridge-discovery-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const box = createSecretBox(Buffer.alloc(32, 6));
const WS = 'acme';
const T0 = 1_750_000_000_000;
const contacts = [
  identity({ waId: '15550000001', profileName: 'Ann' }),
  identity({ waId: '15550000002', profileName: 'Ben' }),
  identity({ waId: '15550000003', profileName: 'Cy' }),
];
let store: SqliteStore;
let key = '';

beforeAll(async () => {
  store = await openSqliteStore({ path: join(dir, 'store.db') });
  await seedWorkspace(store, { id: WS });
  for (let i = 0; i < 60; i++) {
    const text = i % 5 === 0 ? `Invoice ${i}, "urgent", <b>` : `message ${i}`;
    await store.ingest(
      messagesUnit(WS, {
        messages: [
          inboundMessage({ wamid: `w.${i}`, contact: contacts[i % 3], text, timestamp: T0 + i * 60_000 }),
        ],
      }),
    );
  }
  key = await archiveVerifierKey(store.db, box, WS);
});
afterAll(() => store.close());

const FILES = ['records.jsonl', 'messages.jsonl', 'messages.csv', 'transcript.html', 'checkpoint.txt'];
const read = (folder: string, file: string) => readFileSync(join(folder, file), 'utf8');
const run = (folder: string, extra: Partial<Parameters<typeof exportDiscovery>[0]> = {}) =>
  exportDiscovery({
    store,
    secrets: box,
    workspaceId: WS,
    filter: { keyword: 'invoice' },
    dir: join(dir, folder),
    formats: ['jsonl', 'csv', 'html'],
    actor: 'cli:test',
    pageSize: 7,
    ...extra,
  });

describe('the eDiscovery export', () => {
  it('a run stopped after some pages, and again after a crash mid-page, ends with the bytes of one run', async () => {
    // Started first, so both exports cover the same log (the first to finish adds its record).
    const first = await run('resumed', { maxPages: 2 });
    expect(first).toMatchObject({ complete: false, scanned: 14 });
    const whole = await run('whole');
    expect(whole).toMatchObject({ complete: true, matched: 12 });
    // A crash after writing part of a page, before its cursor: the junk must go.
    appendFileSync(join(dir, 'resumed', 'messages.jsonl'), '{"half": ');
    appendFileSync(join(dir, 'resumed', 'transcript.html'), '<li>half');
    expect(await run('resumed', { maxPages: 3 })).toMatchObject({ complete: false, scanned: 35 });
    const done = await run('resumed');
    expect(done).toMatchObject({ complete: true, matched: 12, total: whole.total });
    for (const file of FILES) expect(read(join(dir, 'resumed'), file)).toBe(read(join(dir, 'whole'), file));
    // A finished export answers again without writing anything.
    expect(await run('resumed')).toEqual(done);
  });

  it('reads the archive a page at a time (the memory bound) and reports progress per page', async () => {
    const seen: number[] = [];
    await run('paged', { pageSize: 5, onProgress: (p) => seen.push(p.scanned) });
    const steps = seen.map((s, i) => s - (seen[i - 1] ?? 0));
    expect(Math.max(...steps)).toBeLessThanOrEqual(5);
    expect(seen.length).toBeGreaterThanOrEqual(12);
  });

  it('filters by keyword, contact and date range, and writes escaped CSV and HTML', async () => {
    const folder = join(dir, 'whole');
    const rows = read(folder, 'messages.jsonl')
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(rows.map((r) => r.text)).toEqual(
      Array.from({ length: 12 }, (_, k) => `Invoice ${k * 5}, "urgent", <b>`),
    );
    expect(read(folder, 'messages.csv')).toContain('"Invoice 0, ""urgent"", <b>"');
    expect(read(folder, 'transcript.html')).toContain('Invoice 0, &quot;urgent&quot;, &lt;b&gt;');
    expect(read(folder, 'transcript.html').endsWith('</html>\n')).toBe(true);
    const ben = await run('ben', {
      filter: { contact: '15550000002', from: T0 + 10 * 60_000, to: T0 + 20 * 60_000 },
    });
    const benRows = read(join(dir, 'ben'), 'messages.jsonl')
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l));
    // i in [10, 20) with i % 3 === 1: 10, 13, 16, 19.
    expect(ben.matched).toBe(4);
    expect(benRows.map((r) => r.wamid)).toEqual(['w.10', 'w.13', 'w.16', 'w.19']);
    await expect(run('bad', { filter: { from: T0, to: T0 } })).rejects.toThrow(/date range is empty/);
    await expect(run('whole', { filter: { keyword: 'other' } })).rejects.toThrow(
      /another workspace, filter or formats/,
    );
  });

  it('is recorded in the archive and the audit trail with what it held', async () => {
    const audits = store.db.all<{ details: string }>(
      "SELECT details FROM audit_log WHERE action = 'archive.export'",
    );
    expect(audits.map((a) => JSON.parse(a.details))).toContainEqual(
      expect.objectContaining({ scope: 'ediscovery', filter: { keyword: 'invoice' }, matched: 12 }),
    );
  });

  it('verifies offline, and names the record when a message, a record or the list is changed', async () => {
    const folder = join(dir, 'whole');
    expect(await verifyDiscoveryExport(folder, { verifierKey: key })).toMatchObject({
      ok: true,
      records: 12,
    });
    const copy = (name: string) => {
      const target = join(dir, name);
      rmSync(target, { recursive: true, force: true });
      mkdirSync(target, { recursive: true });
      for (const file of [...FILES, 'public-key.txt', 'export-record.json', 'purges.jsonl']) {
        writeFileSync(join(target, file), read(folder, file));
      }
      return target;
    };
    const lines = (target: string, file: string) => read(target, file).trimEnd().split('\n');
    const seqOf = (line: string) => (JSON.parse(line) as { seq: number }).seq;

    const changed = copy('t-message');
    writeFileSync(
      join(changed, 'messages.jsonl'),
      read(changed, 'messages.jsonl').replace('Invoice 25', 'Invoice 26'),
    );
    const third = seqOf(lines(changed, 'records.jsonl')[5] ?? '');
    expect((await verifyDiscoveryExport(changed, { verifierKey: key })).failure).toMatchObject({
      seq: third,
      reason: 'data-mismatch',
    });

    // The text is content: carried opened beside the record, which commits to it by a salted hash.
    const content = copy('t-content');
    writeFileSync(
      join(content, 'records.jsonl'),
      read(content, 'records.jsonl').replace('Invoice 25', 'Invoice 26'),
    );
    expect((await verifyDiscoveryExport(content, { verifierKey: key })).failure).toMatchObject({
      seq: third,
      reason: 'content-changed',
    });
    const record = copy('t-record');
    writeFileSync(join(record, 'records.jsonl'), read(record, 'records.jsonl').replace('w.25', 'w.26'));
    expect((await verifyDiscoveryExport(record, { verifierKey: key })).failure).toMatchObject({
      seq: third,
      reason: 'record-changed',
    });
    // Content dropped and the line marked purged: no purge record says so.
    const unpurged = copy('t-unpurged');
    const list = lines(unpurged, 'records.jsonl');
    const { content: _c, salt: _s, ...bare } = JSON.parse(list[5] ?? '') as Record<string, unknown>;
    list[5] = JSON.stringify({ ...bare, purged: true });
    writeFileSync(join(unpurged, 'records.jsonl'), `${list.join('\n')}\n`);
    expect((await verifyDiscoveryExport(unpurged, { verifierKey: key })).failure).toMatchObject({
      seq: third,
      reason: 'content-missing',
    });

    const dropped = copy('t-drop');
    for (const file of ['records.jsonl', 'messages.jsonl']) {
      writeFileSync(
        join(dropped, file),
        `${lines(dropped, file)
          .filter((_, i) => i !== 5)
          .join('\n')}\n`,
      );
    }
    const ownSeq = (JSON.parse(read(folder, 'export-record.json')) as { seq: number }).seq;
    expect((await verifyDiscoveryExport(dropped, { verifierKey: key })).failure).toMatchObject({
      seq: ownSeq,
      reason: 'record-missing',
    });

    const swapped = copy('t-order');
    for (const file of ['records.jsonl', 'messages.jsonl']) {
      const list = lines(swapped, file);
      [list[4], list[5]] = [list[5] ?? '', list[4] ?? ''];
      writeFileSync(join(swapped, file), `${list.join('\n')}\n`);
    }
    expect((await verifyDiscoveryExport(swapped, { verifierKey: key })).failure).toMatchObject({
      reason: 'record-order',
      seq: seqOf(lines(folder, 'records.jsonl')[4] ?? ''),
    });
  });
});
