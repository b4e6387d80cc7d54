import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openCheckpoint } from '../../archive/log/checkpoint.ts';
import { type Hash, nodeHash } from '../../archive/log/hash.ts';
import { MerkleLog } from '../../archive/log/merkle-log.ts';
import { MemoryNodeStore } from '../../archive/log/node-store.ts';
import { noteVerifier } from '../../archive/log/note.ts';
import { verifyConsistency } from '../../archive/log/verify.ts';
import { createSecretBox } from '../../secrets/index.ts';
import { archiveRound } from '../../testing/archive-conformance.ts';
import { identity, inboundMessage, messagesUnit, seedWorkspace } from '../../testing/fixtures.ts';
import {
  ARCHIVE_CONTENT_PURPOSE,
  ARCHIVE_KINDS,
  type ArchiveKind,
  canonicalJson,
  GLOBAL_ARCHIVE_LOG,
  SqliteLogNodeStore,
} from './archive.ts';
import { keyObjects } from './archive-content-check.ts';
import { PurgedRecords, readPurges } from './archive-purges.ts';
import { signArchiveCheckpoint, verifyArchive } from './archive-verify.ts';
import { PageScanner } from './archive-verify-scan.ts';
import { openSqliteStore } from './index.ts';

// The SQLite store's own archive cases (its group commit, verify threads, migrations), on a real
// SQLite file changed with raw SQL as an attacker with write access to the file would change it.
// Tampering with each kind of record, and the exports, are core's archive conformance part, run on
// SQLite by archive-conformance.test.ts.

const dir = mkdtempSync(join(tmpdir(), 'wabridge-archive-'));
let n = 0;
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const box = createSecretBox(Buffer.alloc(32, 7));
const WS = 'acme';
const ROUNDS = 3;

let base = '';
beforeAll(async () => {
  base = join(dir, 'base.db');
  const store = await openSqliteStore({ path: base });
  await seedWorkspace(store, { id: WS, connectors: ['slack'] });
  await archiveRound(store, 0);
  // A checkpoint in the middle of the log and one at its end: each must hold as the log grows.
  await signArchiveCheckpoint(store.db, box, WS, { now: () => 1 });
  for (let r = 1; r < ROUNDS; r++) await archiveRound(store, r);
  await signArchiveCheckpoint(store.db, box, WS, { now: () => 2 });
  await store.close();
}, 180_000);

const SIZE = ROUNDS * ARCHIVE_KINDS.length;
const seqOf = (kind: ArchiveKind, r = 1) => r * ARCHIVE_KINDS.length + ARCHIVE_KINDS.indexOf(kind);

/** A copy of the sound archive, changed with raw SQL, then verified through a fresh store. */
async function tampered(change: (db: DatabaseSync) => void) {
  const path = join(dir, `tampered-${n++}.db`);
  copyFileSync(base, path);
  const raw = new DatabaseSync(path);
  try {
    change(raw);
  } finally {
    raw.close();
  }
  const store = await openSqliteStore({ path });
  try {
    const report = await verifyArchive(store.db, WS, { keyring: store.keyring });
    // The same verdict read in pages of 4 records, contents checked by a pool of 2 threads: a
    // fault at a page's edge or in a page still in flight is named alike (how far the pass read
    // before it stopped depends on the page).
    const paged = await verifyArchive(store.db, WS, {
      keyring: store.keyring,
      pageSize: 4,
      threadFrom: 0,
      threads: 2,
    });
    expect(paged.failure).toEqual(report.failure);
    return report;
  } finally {
    await store.close();
  }
}

/** Changes the last byte of a record's sealed content (its GCM tag's), one bit. */
function flipLastByte(db: DatabaseSync, seq: number): void {
  const row = db
    .prepare('SELECT sealed FROM archive_content WHERE workspace_id = ? AND seq = ?')
    .get(WS, seq);
  const sealed = Buffer.from(row?.sealed as Uint8Array);
  sealed[sealed.byteLength - 1] = (sealed[sealed.byteLength - 1] as number) ^ 1;
  db.prepare('UPDATE archive_content SET sealed = ? WHERE workspace_id = ? AND seq = ?').run(sealed, WS, seq);
}

/** A well-formed record that was never appended. */
function forged(kind: ArchiveKind, seq: number): Buffer {
  return Buffer.from(
    canonicalJson({
      v: 1,
      workspace_id: WS,
      seq,
      kind,
      entity_id: `forged_${kind}`,
      recorded_at: 5000,
      data: { id: `forged_${kind}`, text: 'never happened' },
    }),
  );
}

describe('archive records', () => {
  it('every kind is recorded in the transaction of its change, one leaf per record, and the untouched archive verifies', async () => {
    const path = join(dir, `sound-${n++}.db`);
    copyFileSync(base, path);
    const store = await openSqliteStore({ path });
    try {
      const kinds = store.db.all<{ kind: string }>(
        'SELECT kind FROM archive_records WHERE workspace_id = :ws ORDER BY seq',
        { ws: WS },
      );
      expect(kinds.map((k) => k.kind)).toEqual(Array.from({ length: ROUNDS }, () => ARCHIVE_KINDS).flat());
      const report = await verifyArchive(store.db, WS, { keyring: store.keyring });
      expect(report).toMatchObject({
        ok: true,
        records: SIZE,
        storedSize: SIZE,
        checkpoints: 2,
        verifiedSize: SIZE,
        purged: ROUNDS,
        contentChecked: true,
      });
      expect(report.purges.map((p) => [p.seq, p.actor, p.reason, p.records])).toEqual(
        Array.from({ length: ROUNDS }, (_, r) => [
          seqOf('purge', r),
          'retention:test',
          `round ${r} is past its retention`,
          [[seqOf('message.inbound', r), seqOf('message.inbound', r)]],
        ]),
      );
      // A rolled back write leaves no record: a bad ingest beside a good one in one group commit.
      const [good, bad] = await Promise.allSettled([
        store.appendAudit({ actor: 't', action: 'ok', workspaceId: WS, details: {} }),
        store.ingest(
          messagesUnit(WS, { messages: [inboundMessage({ wamid: 'w.bad', contact: identity({}) })] }),
        ),
      ]);
      expect(good.status).toBe('fulfilled');
      expect(bad.status).toBe('rejected');
      expect(await verifyArchive(store.db, WS, { keyring: store.keyring })).toMatchObject({
        ok: true,
        records: SIZE + 1,
        verifiedSize: SIZE,
      });
    } finally {
      await store.close();
    }
  });

  it("a group commit writes its log's head once, before COMMIT, and the log stays sound", async () => {
    const path = join(dir, `heads-${n++}.db`);
    copyFileSync(base, path);
    const store = await openSqliteStore({ path });
    try {
      // Counted by the database itself: every insert or update of a head row.
      store.db.run('CREATE TEMP TABLE head_writes (log_id TEXT)');
      for (const event of ['INSERT', 'UPDATE']) {
        store.db.run(`CREATE TEMP TRIGGER head_${event} AFTER ${event} ON main.archive_log_heads
          BEGIN INSERT INTO head_writes VALUES (new.log_id); END`);
      }
      const began = store.db.transactions;
      // Queued in one turn: one transaction of twenty appends to one log.
      await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          store.appendAudit({ actor: 't', action: 'batch', workspaceId: WS, details: { i } }),
        ),
      );
      expect(store.db.transactions - began).toBe(1);
      expect(store.db.all('SELECT log_id FROM head_writes')).toEqual([{ log_id: WS }]);
      expect(await verifyArchive(store.db, WS, { keyring: store.keyring })).toMatchObject({
        ok: true,
        records: SIZE + 20,
        storedSize: SIZE + 20,
      });
    } finally {
      await store.close();
    }
  });

  it('two connections appending to one log in turn (the CLI beside the gateway) keep one sound log', async () => {
    const path = join(dir, `two-${n++}.db`);
    const gateway = await openSqliteStore({ path });
    const cli = await openSqliteStore({ path });
    try {
      for (let i = 0; i < 5; i++) {
        await gateway.appendAudit({ actor: 'gateway', action: 'a', workspaceId: WS, details: { i } });
        await cli.appendAudit({ actor: 'cli', action: 'b', workspaceId: WS, details: { i } });
      }
      expect(await verifyArchive(gateway.db, WS, { keyring: gateway.keyring })).toMatchObject({
        ok: true,
        records: 10,
        storedSize: 10,
      });
    } finally {
      await cli.close();
      await gateway.close();
    }
  });

  it('deleting a workspace removes its archive, and a workspace made again with its id starts a fresh sound log', async () => {
    const path = join(dir, `deleted-${n++}.db`);
    copyFileSync(base, path);
    const store = await openSqliteStore({ path });
    try {
      await store.deleteWorkspace(WS);
      for (const [table, column] of [
        ['archive_records', 'workspace_id'],
        ['archive_log_nodes', 'log_id'],
        ['archive_log_heads', 'log_id'],
        ['archive_keys', 'log_id'],
        ['archive_checkpoints', 'log_id'],
        ['archive_content', 'workspace_id'],
        ['data_keys', 'workspace_id'],
      ] as const) {
        const left = store.db.get<{ n: number }>(`SELECT count(*) AS n FROM ${table} WHERE ${column} = :ws`, {
          ws: WS,
        });
        expect(left?.n, table).toBe(0);
      }
      const texts = store.db.all<{ record: Uint8Array }>('SELECT record FROM archive_records');
      expect(texts.map((r) => Buffer.from(r.record).toString()).join('\n')).not.toContain('hello 1');
      await seedWorkspace(store, { id: WS, connectors: ['slack'] });
      await store.appendAudit({ actor: 't', action: 'again', workspaceId: WS, details: {} });
      expect(await verifyArchive(store.db, WS, { keyring: store.keyring })).toMatchObject({
        ok: true,
        records: 1,
        storedSize: 1,
      });
    } finally {
      await store.close();
    }
  });

  it('an admin act on no workspace goes to the global log', async () => {
    const store = await openSqliteStore({ path: join(dir, `global-${n++}.db`) });
    try {
      await store.appendAudit({ actor: 't', action: 'secrets.rotate', workspaceId: null, details: {} });
      expect(await verifyArchive(store.db, GLOBAL_ARCHIVE_LOG, { keyring: store.keyring })).toMatchObject({
        ok: true,
        records: 1,
      });
    } finally {
      await store.close();
    }
  });
});

describe('archive content, apart from the records', () => {
  const CONTENT_KINDS = ['message.outbound', 'message.revision', 'status'] as const;

  it('a record holds no message text, only a salted commitment; the content opens through the store, and a purged one is gone', async () => {
    const path = join(dir, `content-${n++}.db`);
    copyFileSync(base, path);
    const store = await openSqliteStore({ path });
    try {
      const records = store.db.all<{ seq: number; record: Uint8Array }>(
        'SELECT seq, record FROM archive_records WHERE workspace_id = :ws',
        { ws: WS },
      );
      const all = records.map((r) => Buffer.from(r.record).toString('utf8')).join('\n');
      for (const text of ['hello 1', 'reply 1', 'hello again 1']) expect(all).not.toContain(text);
      const sealed = store.db.all<{ sealed: Uint8Array }>('SELECT sealed FROM archive_content');
      expect(Buffer.concat(sealed.map((r) => r.sealed)).toString('latin1')).not.toContain('reply 1');
      const out = seqOf('message.outbound');
      const asked = [out, seqOf('message.revision'), seqOf('message.inbound')];
      const answered = await store.archiveContent(WS, asked);
      expect(answered.map((c) => c.seq)).toEqual(asked);
      const opened = new Map(answered.map((c) => [c.seq, c.content]));
      expect(opened.get(out)).toMatchObject({ text: 'reply 1' });
      expect(opened.get(seqOf('message.revision'))).toMatchObject({ text: 'hello again 1' });
      expect(opened.get(seqOf('message.inbound'))).toBeNull();
      // The same text twice commits to two different hashes (the salt).
      const hashOf = (seq: number) =>
        JSON.parse(Buffer.from(records.find((r) => r.seq === seq)?.record ?? []).toString()).content_hash;
      expect(hashOf(seqOf('message.outbound', 1))).toMatch(/^[0-9a-f]{64}$/);
      expect(hashOf(seqOf('message.outbound', 1))).not.toBe(hashOf(seqOf('message.outbound', 2)));
    } finally {
      await store.close();
    }
  });

  it('a purge of nothing purgeable records nothing, and a purge needs an actor and a reason', async () => {
    const path = join(dir, `purge-none-${n++}.db`);
    copyFileSync(base, path);
    const store = await openSqliteStore({ path });
    try {
      const by = { actor: 'cli:test', reason: 'test' };
      // An admin act has no content; the inbound message was purged already.
      const none = await store.purgeArchiveContent({
        workspaceId: WS,
        seqs: [seqOf('admin'), seqOf('message.inbound')],
        by,
      });
      expect(none).toEqual({ purgeSeq: null, purged: [] });
      await expect(
        store.purgeArchiveContent({
          workspaceId: WS,
          seqs: [seqOf('message.outbound')],
          by: { actor: '', reason: 'x' },
        }),
      ).rejects.toMatchObject({ code: 'bad_request' });
      await expect(store.purgeArchiveContent({ workspaceId: 'nope', seqs: [1], by })).rejects.toMatchObject({
        code: 'not_found',
      });
      const some = await store.purgeArchiveContent({
        workspaceId: WS,
        seqs: [seqOf('message.outbound', 0), seqOf('message.outbound', 1), seqOf('message.revision', 1)],
        by,
      });
      expect(some).toEqual({
        purgeSeq: SIZE,
        purged: [seqOf('message.outbound', 0), seqOf('message.outbound', 1), seqOf('message.revision', 1)],
      });
      expect(await verifyArchive(store.db, WS, { keyring: store.keyring })).toMatchObject({
        ok: true,
        records: SIZE + 1,
        purged: ROUNDS + 3,
      });
    } finally {
      await store.close();
    }
  });

  it.each(CONTENT_KINDS)(
    'changed content of a %s record is named, and deleted content no purge accounts for',
    async (kind) => {
      const seq = seqOf(kind);
      const other = seqOf(kind === 'message.outbound' ? 'message.revision' : 'message.outbound');
      expect(other).not.toBe(seq);
      // Another record's sealed content moved onto this one: it opens (same workspace and key), and
      // its salted hash is not the one this record commits to.
      const moved = await tampered((db) => {
        db.prepare(
          'UPDATE archive_content SET sealed = (SELECT sealed FROM archive_content WHERE workspace_id = ? AND seq = ?) WHERE workspace_id = ? AND seq = ?',
        ).run(WS, other, WS, seq);
      });
      expect(moved.failure).toMatchObject({ reason: 'content-changed', seq, kind });
      const flipped = await tampered((db) => {
        db.prepare(
          'UPDATE archive_content SET sealed = CAST(? AS BLOB) || substr(sealed, 2) WHERE workspace_id = ? AND seq = ?',
        ).run(Buffer.from([2]), WS, seq);
      });
      expect(flipped.failure).toMatchObject({ reason: 'content-changed', seq, kind });
      const byteChanged = await tampered((db) => {
        db.prepare(
          'UPDATE archive_content SET sealed = substr(sealed, 1, 20) || CAST(? AS BLOB) || substr(sealed, 22) WHERE workspace_id = ? AND seq = ?',
        ).run(Buffer.from('Z'), WS, seq);
      });
      expect(byteChanged.failure).toMatchObject({ reason: 'content-changed', seq, kind });
      // The tag's last byte alone: the content still decrypts to what its record commits to, but
      // it no longer opens (threads open a page's contents together: vault/batch-open.ts).
      const tagChanged = await tampered((db) => flipLastByte(db, seq));
      expect(tagChanged.failure).toMatchObject({ reason: 'content-changed', seq, kind });
      const deleted = await tampered((db) => {
        db.prepare('DELETE FROM archive_content WHERE workspace_id = ? AND seq = ?').run(WS, seq);
      });
      expect(deleted.failure).toMatchObject({ reason: 'content-missing', seq, kind });
    },
  );

  it.each([
    ['one thread, one page', { threadFrom: 0 }],
    // Pages of 5 records over a pool of 2 threads: faults in pages still in flight, and the first wins.
    ['a pool of threads, many pages', { threadFrom: 0, threads: 2, pageSize: 5 }],
  ])('in threads (%s), a changed content is named, and the earlier of two faults wins', async (_, config) => {
    const verify = async (change: (db: DatabaseSync) => void) => {
      const path = join(dir, `thread-${n++}.db`);
      copyFileSync(base, path);
      const raw = new DatabaseSync(path);
      change(raw);
      raw.close();
      const store = await openSqliteStore({ path });
      try {
        return await verifyArchive(store.db, WS, { keyring: store.keyring, ...config });
      } finally {
        await store.close();
      }
    };
    const swapContent = (db: DatabaseSync, seq: number) =>
      db
        .prepare(
          'UPDATE archive_content SET sealed = (SELECT sealed FROM archive_content WHERE workspace_id = ? AND seq = ?) WHERE workspace_id = ? AND seq = ?',
        )
        .run(WS, seqOf('message.revision', 2), WS, seq);
    const changeRecord = (db: DatabaseSync, seq: number) =>
      db
        .prepare(
          `UPDATE archive_records SET record = CAST(replace(CAST(record AS TEXT), '"ts":', '"ts":1') AS BLOB)
           WHERE workspace_id = ? AND seq = ?`,
        )
        .run(WS, seq);
    expect(await verify(() => {})).toMatchObject({ ok: true, contentChecked: true, purged: ROUNDS });
    const content = seqOf('message.outbound', 1);
    expect((await verify((db) => swapContent(db, content))).failure).toMatchObject({
      reason: 'content-changed',
      seq: content,
      kind: 'message.outbound',
    });
    // A content fault before a changed record is named first, and a changed record before a content fault.
    const later = seqOf('message.outbound', 2);
    expect(
      (
        await verify((db) => {
          swapContent(db, content);
          changeRecord(db, later);
        })
      ).failure,
    ).toMatchObject({ reason: 'content-changed', seq: content });
    const earlier = seqOf('message.outbound', 0);
    expect(
      (
        await verify((db) => {
          swapContent(db, content);
          changeRecord(db, earlier);
        })
      ).failure,
    ).toMatchObject({ reason: 'record-changed', seq: earlier });
  });

  it('a verify thread vouches for sound records with their leaves, and stops at the first it cannot', async () => {
    const path = join(dir, `scan-${n++}.db`);
    copyFileSync(base, path);
    const store = await openSqliteStore({ path });
    const scan = (from: number, size: number) => {
      const scanner = new PageScanner(path, WS, keyObjects(store.keyring.exportAll(WS)));
      try {
        const purged = new PurgedRecords(readPurges(store.db, WS)).within(from, from + size - 1);
        return scanner.scan({ id: 0, from, size, purged });
      } finally {
        scanner.close();
      }
    };
    try {
      const all = scan(0, SIZE + 10);
      expect(all).toMatchObject({ count: SIZE, odd: null, full: false });
      // Each leaf as the stored tree has it, and the purged records' contents reported absent.
      const stored = store.db
        .allArrays('SELECT hash FROM archive_log_nodes WHERE log_id = :log AND level = 0 ORDER BY idx', {
          log: WS,
        })
        .map((row) => Buffer.from(row[0] as Uint8Array).toString('hex'));
      const leaves = Array.from({ length: all.count }, (_, i) =>
        Buffer.from(all.leaves.subarray(i * 32, (i + 1) * 32)).toString('hex'),
      );
      expect(leaves).toEqual(stored);
      expect(all.absent).toHaveLength(ROUNDS);
      expect(scan(5, 4)).toMatchObject({ from: 5, count: 4, odd: null, full: true });

      const seq = seqOf('message.outbound', 1);
      const raw = new DatabaseSync(path);
      raw
        .prepare(
          'UPDATE archive_content SET sealed = (SELECT sealed FROM archive_content WHERE workspace_id = ? AND seq = ?) WHERE workspace_id = ? AND seq = ?',
        )
        .run(WS, seqOf('message.revision', 2), WS, seq);
      raw.close();
      expect(scan(0, SIZE)).toMatchObject({ count: seq, odd: seq });
      // A tag changed, and nothing else: the page's contents opened together fail, and opened one
      // by one they stop the page at that record.
      const tag = seqOf('message.revision', 0);
      const raw2 = new DatabaseSync(path);
      flipLastByte(raw2, tag);
      raw2.close();
      expect(tag).toBeLessThan(seq);
      expect(scan(0, SIZE)).toMatchObject({ count: tag, odd: tag });
    } finally {
      await store.close();
    }
  });

  it('content put back for a purged record, or added to a record without content, is named', async () => {
    const purgedSeq = seqOf('message.inbound');
    const putBack = await tampered((db) => {
      db.prepare(
        'INSERT INTO archive_content (workspace_id, seq, sealed) SELECT workspace_id, ?, sealed FROM archive_content WHERE workspace_id = ? AND seq = ?',
      ).run(purgedSeq, WS, seqOf('message.outbound'));
    });
    expect(putBack.failure).toMatchObject({
      reason: 'content-changed',
      seq: purgedSeq,
      kind: 'message.inbound',
    });
    const added = await tampered((db) => {
      db.prepare(
        'INSERT INTO archive_content (workspace_id, seq, sealed) SELECT workspace_id, ?, sealed FROM archive_content WHERE workspace_id = ? AND seq = ?',
      ).run(seqOf('consent'), WS, seqOf('message.outbound'));
    });
    expect(added.failure).toMatchObject({
      reason: 'content-changed',
      seq: seqOf('consent'),
      kind: 'consent',
    });
  });

  it('without the data keys, content is checked for presence only (and says so)', async () => {
    const path = join(dir, `nokeys-${n++}.db`);
    copyFileSync(base, path);
    const raw = new DatabaseSync(path);
    raw
      .prepare('DELETE FROM archive_content WHERE workspace_id = ? AND seq = ?')
      .run(WS, seqOf('message.revision'));
    raw.close();
    const store = await openSqliteStore({ path });
    try {
      const expected = {
        ok: false,
        contentChecked: false,
        failure: { reason: 'content-missing', seq: seqOf('message.revision') },
      };
      expect(await verifyArchive(store.db, WS)).toMatchObject(expected);
      // Alike when the records are read and checked by a pool of threads, in pages of 4.
      expect(await verifyArchive(store.db, WS, { threadFrom: 0, threads: 2, pageSize: 4 })).toMatchObject(
        expected,
      );
    } finally {
      await store.close();
    }
  });

  it('sealed content is bound to its workspace: moved to another, it does not open', async () => {
    const store = await openSqliteStore({ path: join(dir, `bound-${n++}.db`) });
    try {
      const sealed = await store.db.write(() =>
        store.keyring.sealText('one', ARCHIVE_CONTENT_PURPOSE, 'secret'),
      );
      expect(store.keyring.openText('one', ARCHIVE_CONTENT_PURPOSE, sealed)).toBe('secret');
      await store.db.write(() => store.keyring.currentKeyId('two'));
      expect(() => store.keyring.openText('two', ARCHIVE_CONTENT_PURPOSE, sealed)).toThrow(/no data key/);
      expect(() => store.keyring.openText('one', 'messages.text', sealed)).toThrow(/failed authentication/);
    } finally {
      await store.close();
    }
  });
});

describe('checkpoints and the stored tree', () => {
  it('a checkpoint signed earlier stays consistent with the grown log, and its signature verifies with the exported key', async () => {
    const path = join(dir, `grown-${n++}.db`);
    copyFileSync(base, path);
    const store = await openSqliteStore({ path });
    try {
      const [early, late] = store.db.all<{ note: string }>(
        'SELECT note FROM archive_checkpoints WHERE log_id = :ws ORDER BY size',
        { ws: WS },
      );
      const vkey = store.db.get<{ verifier_key: string }>(
        'SELECT verifier_key FROM archive_keys WHERE log_id = :ws',
        {
          ws: WS,
        },
      )?.verifier_key;
      const verifier = noteVerifier(vkey ?? '');
      const older = openCheckpoint(early?.note ?? '', {
        verifiers: [verifier],
        origin: `wabridge/archive/${WS}`,
      });
      const newer = openCheckpoint(late?.note ?? '', {
        verifiers: [verifier],
        origin: `wabridge/archive/${WS}`,
      });
      if (!older.ok || !newer.ok) throw new Error('the stored checkpoints do not verify');
      expect([older.checkpoint.size, newer.checkpoint.size]).toEqual([ARCHIVE_KINDS.length, SIZE]);
      await archiveRound(store, ROUNDS);
      const { checkpoint: grown } = await signArchiveCheckpoint(store.db, box, WS);
      const log = await MerkleLog.open(new SqliteLogNodeStore(store.db, WS));
      for (const old of [older.checkpoint, newer.checkpoint]) {
        const proof = await log.consistencyProof(old.size, grown.size);
        expect(verifyConsistency(old.size, grown.size, old.root, grown.root, proof)).toMatchObject({
          ok: true,
        });
      }
      expect(await verifyArchive(store.db, WS, { keyring: store.keyring })).toMatchObject({
        ok: true,
        checkpoints: 3,
        verifiedSize: grown.size,
      });
      // The private key is stored encrypted, never as the signer key itself.
      const stored = store.db.get<{ signer_key: string }>(
        'SELECT signer_key FROM archive_keys WHERE log_id = :ws',
        {
          ws: WS,
        },
      );
      expect(stored?.signer_key.startsWith('PRIVATE+KEY')).toBe(false);
    } finally {
      await store.close();
    }
  });

  it('a changed leaf or interior node of the stored tree is detected', async () => {
    const leaf = await tampered((db) => {
      db.prepare(
        'UPDATE archive_log_nodes SET hash = zeroblob(32) WHERE log_id = ? AND level = 0 AND idx = 5',
      ).run(WS);
    });
    expect(leaf.failure).toMatchObject({ reason: 'record-changed', seq: 5 });
    // Levels 1 to 3 are not stored (computed from the leaves); level 4 is the lowest stored.
    const interior = await tampered((db) => {
      db.prepare(
        'UPDATE archive_log_nodes SET hash = zeroblob(32) WHERE log_id = ? AND level = 4 AND idx = 0',
      ).run(WS);
    });
    expect(interior.failure).toMatchObject({ reason: 'node-mismatch', seq: 0 });
    const added = await tampered((db) => {
      db.prepare(
        'INSERT INTO archive_log_nodes (log_id, level, idx, hash) VALUES (?, 2, 1, zeroblob(32))',
      ).run(WS);
    });
    expect(added.failure).toMatchObject({ reason: 'node-mismatch' });
  });

  it('a record rewritten together with the stored tree is caught by the signed checkpoints', async () => {
    // The attacker rewrites a record after the first checkpoint and rebuilds every node from it:
    // only the signatures remain. (Within the first checkpoint, when its size is a power of two,
    // the consistency proof needs no node below it; the record pass then names the record.)
    const target = ARCHIVE_KINDS.length + 2;
    const path = join(dir, `rebuilt-${n++}.db`);
    copyFileSync(base, path);
    const raw = new DatabaseSync(path);
    raw
      .prepare('UPDATE archive_records SET record = ? WHERE workspace_id = ? AND seq = ?')
      .run(forged('status', target), WS, target);
    raw.prepare('DELETE FROM archive_log_nodes WHERE log_id = ?').run(WS);
    raw.prepare('UPDATE archive_log_heads SET size = 0 WHERE log_id = ?').run(WS);
    const records = raw
      .prepare('SELECT record FROM archive_records WHERE workspace_id = ? ORDER BY seq')
      .all(WS) as Array<{ record: Uint8Array }>;
    raw.close();
    const store = await openSqliteStore({ path });
    try {
      const log = await MerkleLog.open(new SqliteLogNodeStore(store.db, WS));
      await log.appendRecords(records.map((r) => new Uint8Array(r.record)));
      const report = await verifyArchive(store.db, WS, { keyring: store.keyring });
      expect(report.ok).toBe(false);
      expect(report.failure).toMatchObject({ reason: 'checkpoint-mismatch' });
    } finally {
      await store.close();
    }
  });

  it('the newest records cut off together with their nodes and the head are caught by the last checkpoint', async () => {
    const keep = SIZE - 3;
    const report = await tampered((db) => {
      db.prepare('DELETE FROM archive_records WHERE workspace_id = ? AND seq >= ?').run(WS, keep);
      // Every node that covers a deleted leaf goes too: what is left is a sound tree of `keep` leaves.
      for (let level = 0; 2 ** level <= SIZE; level++) {
        db.prepare('DELETE FROM archive_log_nodes WHERE log_id = ? AND level = ? AND (idx + 1) * ? > ?').run(
          WS,
          level,
          2 ** level,
          keep,
        );
      }
      db.prepare('UPDATE archive_log_heads SET size = ? WHERE log_id = ?').run(keep, WS);
    });
    expect(report.ok).toBe(false);
    expect(report.records).toBe(keep);
    expect(report.failure).toMatchObject({ reason: 'checkpoint-mismatch', seq: keep });
  });

  it('the stored tree answers a batch of nodes in the asked order, repeats too, and nothing for a node it lacks', async () => {
    const store = await openSqliteStore({ path: join(dir, `nodes-${n++}.db`) });
    try {
      const nodes = new SqliteLogNodeStore(store.db, 'nodes');
      const log = await MerkleLog.open(nodes);
      await log.appendRecords(Array.from({ length: 37 }, (_, i) => new TextEncoder().encode(`r${i}`)));
      const ids = [
        { level: 2, index: 3 },
        { level: 0, index: 36 },
        { level: 0, index: 5 },
        { level: 2, index: 3 },
        { level: 5, index: 0 },
        { level: 0, index: 37 },
        { level: 6, index: 0 },
      ];
      const batch = await nodes.readNodes(ids);
      const single = await Promise.all(ids.map(async (id) => (await nodes.readNodes([id]))[0]));
      expect(batch.map((h) => h && Buffer.from(h).toString('hex'))).toEqual(
        single.map((h) => h && Buffer.from(h).toString('hex')),
      );
      expect(batch.map((h) => h?.byteLength)).toEqual([32, 32, 32, 32, 32, undefined, undefined]);
      expect(batch[0]).toEqual(batch[3]);
      expect(batch[0]).not.toEqual(batch[4]);
      // Every complete node, stored or computed from its leaves (levels 1 to 3), is the node a
      // store that keeps all of them holds; and only the stored levels are rows.
      const memory = new MemoryNodeStore();
      await (await MerkleLog.open(memory)).appendRecords(
        Array.from({ length: 37 }, (_, i) => new TextEncoder().encode(`r${i}`)),
      );
      const all = Array.from({ length: 6 }, (_, level) =>
        Array.from({ length: Math.floor(37 / 2 ** level) }, (_, index) => ({ level, index })),
      ).flat();
      const hex = (hashes: Array<Uint8Array | undefined>) =>
        hashes.map((h) => h && Buffer.from(h).toString('hex'));
      expect(hex(await nodes.readNodes(all))).toEqual(hex(await memory.readNodes(all)));
      expect(
        store.db.all(
          "SELECT level, count(*) AS n FROM archive_log_nodes WHERE log_id = 'nodes' GROUP BY level",
        ),
      ).toEqual([
        { level: 0, n: 37 },
        { level: 4, n: 2 },
        { level: 5, n: 1 },
      ]);
    } finally {
      await store.close();
    }
  });

  it('a store written with levels 1 to 3 of the tree migrates (23): they go, and every record still verifies', async () => {
    const path = join(dir, `migrated-${n++}.db`);
    copyFileSync(base, path);
    // The tree as stores before migration 23 kept it: every level, folded from the stored leaves.
    const raw = new DatabaseSync(path);
    let level: Hash[] = (
      raw
        .prepare('SELECT hash FROM archive_log_nodes WHERE log_id = ? AND level = 0 ORDER BY idx')
        .all(WS) as Array<{ hash: Uint8Array }>
    ).map((r) => new Uint8Array(r.hash));
    for (let l = 1; l <= 3; l++) {
      level = Array.from({ length: Math.floor(level.length / 2) }, (_, i) =>
        nodeHash(level[2 * i] as Hash, level[2 * i + 1] as Hash),
      );
      for (const [i, hash] of level.entries()) {
        raw
          .prepare('INSERT INTO archive_log_nodes (log_id, level, idx, hash) VALUES (?, ?, ?, ?)')
          .run(WS, l, i, hash);
      }
    }
    raw.prepare('DELETE FROM schema_migrations WHERE version = 23').run();
    raw.close();
    const store = await openSqliteStore({ path });
    try {
      expect(store.db.get('SELECT count(*) AS n FROM archive_log_nodes WHERE level BETWEEN 1 AND 3')).toEqual(
        {
          n: 0,
        },
      );
      await store.appendAudit({ actor: 't', action: 'after', workspaceId: WS, details: {} });
      expect(await verifyArchive(store.db, WS, { keyring: store.keyring })).toMatchObject({
        ok: true,
        records: SIZE + 1,
        verifiedSize: SIZE,
      });
    } finally {
      await store.close();
    }
  });

  it('a forged checkpoint (not signed by the log key) is detected', async () => {
    const report = await tampered((db) => {
      db.prepare('UPDATE archive_checkpoints SET note = replace(note, ?, ?) WHERE log_id = ?').run(
        `\n${ARCHIVE_KINDS.length}\n`,
        `\n${ARCHIVE_KINDS.length + 1}\n`,
        WS,
      );
    });
    expect(report.failure).toMatchObject({ reason: 'checkpoint-invalid' });
  });
});

describe('canonicalJson', () => {
  // The form it had before it was made faster (arrays of members joined): the bytes of every
  // record ever written depend on it, so the two must agree on everything.
  function reference(value: unknown): string {
    if (value === null || typeof value === 'boolean' || typeof value === 'string')
      return JSON.stringify(value);
    if (typeof value === 'number') {
      if (!Number.isFinite(value)) throw new Error('non-finite');
      return JSON.stringify(value);
    }
    if (Array.isArray(value))
      return `[${value.map((v) => (v === undefined ? 'null' : reference(v))).join(',')}]`;
    if (typeof value === 'object') {
      const members: string[] = [];
      for (const key of Object.keys(value).sort()) {
        const member = (value as Record<string, unknown>)[key];
        if (member !== undefined) members.push(`${JSON.stringify(key)}:${reference(member)}`);
      }
      return `{${members.join(',')}}`;
    }
    throw new Error(`a ${typeof value}`);
  }

  it('writes what the reference form writes: keys in any order, nesting, escapes, undefined members', () => {
    const values: unknown[] = [
      null,
      true,
      false,
      0,
      -0,
      1e21,
      -1.5e-7,
      '',
      'plain',
      'quote " backslash \\ newline \n tab \t nul \u0000 lone \ud800 pair 😀 é',
      [],
      {},
      [1, undefined, 'x', null, [2, [3]], { b: 1, a: 2 }],
      { b: 1, a: { d: [{ z: 1, y: undefined, x: 'é' }], c: null }, '': 0, B: 2, é: 3, 10: 'ten', 9: 'nine' },
      { only: undefined, kept: 'yes' },
      { 'a"b': 1, 'a\\b': 2, 'a\nb': 3 },
      { z: 1, a: 1, m: { z: 1, a: 1 } },
    ];
    for (const value of values) expect(canonicalJson(value)).toBe(reference(value));
  });

  it('writes the reference form for values already in key order, which JSON.stringify writes', () => {
    // The fast form (JSON.stringify of a value whose keys are in order everywhere) must not take
    // what only looks ordered: integer-like keys (listed first, numerically), boxed primitives,
    // class instances and anything with a toJSON of its own, whose JSON.stringify form can differ
    // from the reference's.
    const date = new Date(0);
    const withToJson = { a: 1, toJSON: () => 'other' };
    const arrayWithToJson = Object.assign([1, 2], { toJSON: () => 'other' });
    class Point {
      x = 1;
      y = 2;
    }
    const values: unknown[] = [
      { a: 1, b: { c: [1, 'two', null, true, { d: -0 }] }, e: undefined },
      { 1: 'one', 2: 'two', a: 'a' },
      { 9: 'nine', 10: 'ten' },
      { a: { 9: 'nine', 10: 'ten' } },
      [undefined, { a: undefined }],
      { a: date },
      { when: [date] },
      { a: new Point() },
      { a: Buffer.from('ab') },
      { a: new Uint8Array([1, 2, 3]) },
      // Boxed primitives: JSON.stringify unwraps them, the reference writes their index keys.
      { a: new String('ab'), b: [new Number(1), new Boolean(false)] },
      Object.assign(Object.create(null) as object, { a: 1, b: 2 }),
      { a: 'é', b: '😀', c: 'lone \ud800' },
      arrayWithToJson,
      { list: arrayWithToJson },
      // Out of key order, as Meta's message objects are: sorted in a copy.
      { from: '1555', id: 'wamid.x', timestamp: '1', text: { body: 'hi' }, type: 'text' },
      { content: { z: [{ b: 1, a: 2 }], a: { d: 1, c: 2 } }, text: null },
      { b: 1, '1a': 2, a: [{ y: 1, x: 2 }] },
      JSON.parse('{"b":1,"__proto__":{"x":1},"a":2}'),
      JSON.parse('{"__proto__":{"y":1,"x":2},"a":2}'),
      JSON.parse('{"a":{"y":1,"x":2},"__proto__":1}'),
    ];
    for (const value of values) expect(canonicalJson(value)).toBe(reference(value));
    expect(() => canonicalJson(withToJson)).toThrow(/no canonical JSON form/);
    expect(() => canonicalJson({ a: () => 1 })).toThrow(/no canonical JSON form/);
    expect(() => canonicalJson([() => 1])).toThrow(/no canonical JSON form/);
  });

  it('writes the reference form for random values, ordered and not', () => {
    // A fixed-seed generator: the same values on every run.
    let state = 0x2545f491;
    const next = (n: number) => {
      state ^= state << 13;
      state ^= state >>> 17;
      state ^= state << 5;
      return (state >>> 0) % n;
    };
    const keys = ['a', 'b', 'B', 'é', '10', '9', '1a', '', 'content', 'text', 'timestamp', 'z', '__proto__'];
    const leaf = () =>
      [null, true, false, 0, -1.25, 1e21, 'x', 'quote "', 'é😀', undefined][next(10)] as unknown;
    const make = (depth: number): unknown => {
      const pick = next(depth > 3 ? 1 : 4);
      if (pick === 0) return leaf();
      if (pick === 1) return Array.from({ length: next(4) }, () => make(depth + 1));
      const chosen = [...new Set(Array.from({ length: next(5) }, () => keys[next(keys.length)] as string))];
      // Half of the objects with their keys sorted, as the store builds its records.
      if (next(2) === 0) chosen.sort();
      // Object.fromEntries makes __proto__ an own key, as JSON.parse does.
      return Object.fromEntries(chosen.map((key) => [key, make(depth + 1)]));
    };
    for (let i = 0; i < 2000; i++) {
      const value = make(0);
      if (value === undefined) continue;
      expect(canonicalJson(value)).toBe(reference(value));
    }
  });

  it('refuses what JSON cannot say', () => {
    for (const value of [
      Number.NaN,
      Number.POSITIVE_INFINITY,
      { a: [Number.NEGATIVE_INFINITY] },
      undefined,
      1n,
      { a: 1n },
      { a: Symbol('s') },
    ])
      expect(() => canonicalJson(value)).toThrow(/no canonical JSON form/);
  });
});
