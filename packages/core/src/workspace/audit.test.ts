import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyProofDocument } from '../archive/proof-document.ts';
import { createSecretBox } from '../secrets/index.ts';
import { proveArchiveRecord } from '../store/sqlite/archive-proofs.ts';
import { archiveVerifierKey, signArchiveCheckpoint } from '../store/sqlite/archive-verify.ts';
import { openSqliteStore, type SqliteStore } from '../store/sqlite/index.ts';
import { csvLine } from '../util/csv.ts';
import { listAudit } from './audit.ts';

// The audit trail (issue 18, item 8): filtered, paged, and each entry provable as a log record.

const dir = mkdtempSync(join(tmpdir(), 'wabridge-audit-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const box = createSecretBox(Buffer.alloc(32, 4));
let store: SqliteStore;
let clock = 1_000;

beforeAll(async () => {
  store = await openSqliteStore({ path: join(dir, 'store.db'), now: () => clock });
  await store.createWorkspace({ id: 'acme', name: 'Acme' });
  await store.createWorkspace({ id: 'beta', name: 'Beta' });
  const acts: Array<[string, string, string | null]> = [
    ['cli:ann', 'connector.enable', 'acme'],
    ['cli:bob', 'connector.disable', 'acme'],
    ['cli:ann', 'archive.export', 'acme'],
    ['cli:ann', 'connector.enable', 'beta'],
    ['cli:bob', 'secrets.rotate', null],
  ];
  for (const [actor, action, workspaceId] of acts) {
    clock += 1_000;
    await store.appendAudit({ actor, action, workspaceId, details: { n: clock } });
  }
});
afterAll(() => store.close());

describe('listAudit', () => {
  it('lists a workspace’s acts with their records, filtered by time, actor and action', async () => {
    const all = await listAudit(store, { scope: { workspaceId: 'acme' } });
    expect(all.entries.map((e) => e.action)).toEqual([
      'connector.enable',
      'connector.disable',
      'archive.export',
    ]);
    expect(all.entries.every((e) => e.log === 'acme' && e.seq !== null)).toBe(true);
    expect(all.next).toBeNull();
    expect(
      (await listAudit(store, { scope: { workspaceId: 'acme' }, actor: 'cli:bob' })).entries,
    ).toHaveLength(1);
    expect(
      (await listAudit(store, { scope: { workspaceId: 'acme' }, since: 3_000 })).entries.map((e) => e.at),
    ).toEqual([3_000, 4_000]);
    expect((await listAudit(store, { scope: { all: true }, action: 'connector.*' })).entries).toHaveLength(3);
    expect((await listAudit(store, { scope: { workspaceId: '_global' } })).entries).toMatchObject([
      { action: 'secrets.rotate', log: '_global', workspaceId: null },
    ]);
  });

  it('pages with a cursor, and refuses an unknown workspace and a bad limit', async () => {
    const first = await listAudit(store, { scope: { all: true }, limit: 2 });
    const second = await listAudit(store, { scope: { all: true }, limit: 2, after: first.next ?? 0 });
    const third = await listAudit(store, { scope: { all: true }, limit: 2, after: second.next ?? 0 });
    expect([...first.entries, ...second.entries, ...third.entries].map((e) => e.id)).toEqual(
      (await listAudit(store, { scope: { all: true } })).entries.map((e) => e.id),
    );
    expect(third.next).toBeNull();
    await expect(listAudit(store, { scope: { workspaceId: 'nobody' } })).rejects.toThrow(
      /workspace nobody does not exist/,
    );
    await expect(listAudit(store, { scope: { all: true }, limit: 0 })).rejects.toThrow(
      /limit must be 1 to 5000/,
    );
  });

  it('each entry is a record of the verifiable log: its seq proves it', async () => {
    await signArchiveCheckpoint(store.db, box, 'acme');
    const key = await archiveVerifierKey(store.db, box, 'acme');
    for (const entry of (await listAudit(store, { scope: { workspaceId: 'acme' } })).entries) {
      const proof = await proveArchiveRecord(store.db, 'acme', entry.seq ?? -1);
      expect(verifyProofDocument(proof, key)).toMatchObject({ ok: true });
      expect(JSON.parse(proof.record)).toMatchObject({
        entity_id: `audit:${entry.id}`,
        data: { action: entry.action },
      });
    }
  });

  it('CSV fields are quoted when needed and formulas are defused', () => {
    expect(csvLine(['a', 'b,c', 'say "hi"', null, 3])).toBe('a,"b,c","say ""hi""",,3\r\n');
    expect(csvLine(['=HYPERLINK("x")', '-1'])).toBe(`"'=HYPERLINK(""x"")","'-1"\r\n`);
  });
});
