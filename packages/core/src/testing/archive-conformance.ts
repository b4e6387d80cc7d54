import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exportContact } from '../archive/export/contact-export.ts';
import { exportDiscovery } from '../archive/export/ediscovery.ts';
import { verifyDiscoveryExport } from '../archive/export/verify-discovery.ts';
import { verifyContactExport } from '../archive/export/verify-export.ts';
import type { ArchiveStore } from '../archive/reader.ts';
import { createSecretBox } from '../secrets/index.ts';
import { ARCHIVE_KINDS, type ArchiveKind, canonicalJson } from '../store/sqlite/archive.ts';
import { signArchiveCheckpoint, verifyArchive } from '../store/sqlite/archive-verify.ts';
import type { Store } from '../store/types.ts';
import { identity, inboundMessage, messagesUnit, seedWorkspace, status } from './fixtures.ts';

/** A store with its archive's reads, and raw SQL on its database as an attacker with write access has it. */
export interface ArchiveHarness {
  readonly store: Store & ArchiveStore;
  /**
   * Runs one statement on the store's tables, outside the store: `?` placeholders, bound in
   * order (each store translates them to its own). Answers the rows it returns.
   */
  sql(statement: string, params?: readonly unknown[]): Promise<Array<Record<string, unknown>>>;
  close(): Promise<void>;
}

/** Opens a fresh, migrated, empty store (each describe block opens one). */
export type OpenArchiveHarness = () => Promise<ArchiveHarness>;

const WS = 'acme';
const ROUNDS = 3;
const box = createSecretBox(Buffer.alloc(32, 7));
const ADA = '15550001111';

/**
 * One round stores at least one record of every kind (ARCHIVE_KINDS), in that order, in workspace
 * `acme` (seeded with a Slack connector): the SQLite store's own archive tests build on it too.
 */
export async function archiveRound(store: Store, r: number): Promise<void> {
  const customer = identity({ waId: ADA, profileName: 'Ada' });
  await store.ingest(
    messagesUnit(WS, {
      messages: [inboundMessage({ wamid: `w.in.${r}`, contact: customer, text: `hello ${r} invoice` })],
    }),
  );
  const conversationId = (await store.listConversations(WS))[0]?.id ?? '';
  await store.recordOutbound({
    commandKey: { source: 'slack', key: `out.${r}` },
    workspaceId: WS,
    conversationId,
    message: {
      id: `msg_out${r}`,
      type: 'text',
      text: `reply ${r}`,
      content: {},
      sender: { via: 'slack', agentId: 'U1', agentName: 'Bo' },
      relatesTo: null,
      timestamp: 3000 + r,
    },
    originRef: null,
  });
  await store.ingest(
    messagesUnit(WS, {
      messages: [
        inboundMessage({
          wamid: `w.edit.${r}`,
          contact: customer,
          type: 'edit',
          text: `hello again ${r}`,
          relatesTo: `w.in.${r}`,
        }),
      ],
    }),
  );
  await store.ingest(messagesUnit(WS, { statuses: [status({ wamid: `w.out.${r}`, status: 'delivered' })] }));
  const contactId = (await store.listConversations(WS))[0]?.contactId ?? '';
  await store.recordConsent({
    commandKey: null,
    workspaceId: WS,
    contactId,
    category: 'marketing',
    state: r % 2 === 0 ? 'opted_out' : 'opted_in',
    source: 'admin',
    actor: 'test',
    evidenceMessageId: null,
    occurredAt: 4000 + r,
    details: {},
  });
  await store.appendAudit({
    actor: 'cli:test',
    action: 'connector.set',
    workspaceId: WS,
    details: { round: r },
  });
  // Retention purges this round's inbound message: its leaf stays, its content goes.
  const inbound = await store.getMessageByWamid(WS, `w.in.${r}`);
  const purge = await store.purgeArchiveContent({
    workspaceId: WS,
    entityIds: [inbound?.id ?? ''],
    by: { actor: 'retention:test', reason: `round ${r} is past its retention` },
  });
  expect(purge.purged).toHaveLength(1);
  const note = await store.recordNote({
    commandKey: { source: 'slack', key: `note.${r}` },
    workspaceId: WS,
    connectorId: 'slack',
    externalId: `C1:17000.${r}`,
    threadId: 'C1:16000.0',
    action: 'note',
    conversationId,
    agent: { id: 'U1', name: 'Bo' },
    text: `// check the invoice ${r}`,
    attachments: [],
    at: 5000 + r,
  });
  expect(note.noteId).not.toBeNull();
}

/** A workspace with ROUNDS rounds, a checkpoint after the first and one at the end. */
async function buildLog(store: Store & ArchiveStore): Promise<void> {
  await seedWorkspace(store, { id: WS, connectors: ['slack'] });
  await archiveRound(store, 0);
  await signArchiveCheckpoint(store.archiveReader, box, WS, { now: () => 1 });
  for (let r = 1; r < ROUNDS; r++) await archiveRound(store, r);
  await signArchiveCheckpoint(store.archiveReader, box, WS, { now: () => 2 });
}

/** `archive verify` with the data keys, whole pages and in pages of 4 with contents in threads: one verdict. */
async function verified(store: ArchiveStore) {
  const reader = store.archiveReader;
  const keys = await reader.dataKeys(WS);
  const report = await verifyArchive(reader, WS, { keyring: keys });
  const paged = await verifyArchive(reader, WS, { keyring: keys, pageSize: 4, threadFrom: 0, threads: 2 });
  expect(paged.failure).toEqual(report.failure);
  // Without the keys the verdict is the same for every fault but a content's (checked for presence).
  return report;
}

interface Row {
  seq: number;
  kind: string;
  entity_id: string;
  record: Uint8Array;
  recorded_at: number;
}

/**
 * `archive verify` and the exports over a store's `ArchiveReader`: a sound log verifies, and a
 * record changed, relabelled, deleted, moved or slipped in, of every kind, is detected and named,
 * as is content changed or deleted without a purge; a purged or erased record verifies as purged,
 * and an export verifies offline. Each fault is undone after its verdict, and the log verifies
 * again, so one log serves every case. What only one store can show (its threads, its migrations)
 * stays in that store's own tests.
 */
export function describeArchiveConformance(name: string, open: OpenArchiveHarness): void {
  describe(`store conformance (archive verify): ${name}`, () => {
    let h: ArchiveHarness;
    /** The records of the log as built, by seq. */
    let rows: Row[] = [];
    beforeAll(async () => {
      h = await open();
      await buildLog(h.store);
      rows = (await h.store.archiveReader.recordPage(WS, 0, 10_000)).map(
        ([seq, kind, entity_id, record, recorded_at]) => ({ seq, kind, entity_id, record, recorded_at }),
      );
    }, 120_000);
    afterAll(() => h?.close());

    const run = (statement: string, params: readonly unknown[] = []) => h.sql(statement, params);
    /** A record of `kind` in the middle of the log (of the second round). */
    const middleOf = (kind: ArchiveKind): Row => {
      const all = rows.filter((r) => r.kind === kind);
      return (all[Math.floor(all.length / 2)] ?? all[0]) as Row;
    };
    const putBack = (row: Row) =>
      run(
        'INSERT INTO archive_records (workspace_id, seq, kind, entity_id, record, recorded_at) VALUES (?, ?, ?, ?, ?, ?)',
        [WS, row.seq, row.kind, row.entity_id, Buffer.from(row.record), row.recorded_at],
      );
    // Renumbers records [from, …) by `by` (±1), in two steps: the primary key forbids two rows
    // at one place, which a one-statement shift would make on the way.
    const shift = async (from: number, by: 1 | -1) => {
      await run('UPDATE archive_records SET seq = -seq - 10 WHERE workspace_id = ? AND seq >= ?', [WS, from]);
      await run('UPDATE archive_records SET seq = -seq - 10 + ? WHERE workspace_id = ? AND seq < 0', [
        by,
        WS,
      ]);
    };
    /** Asserts the fault's verdict, undoes it, and asserts the log is sound again. */
    async function detected(fault: () => Promise<void>, undo: () => Promise<void>, expected: object) {
      await fault();
      try {
        const report = await verified(h.store);
        expect(report.ok).toBe(false);
        expect(report.failure).toMatchObject(expected);
      } finally {
        await undo();
      }
      // Sound again (one pass is enough: the next case checks both ways).
      const reader = h.store.archiveReader;
      expect((await verifyArchive(reader, WS, { keyring: await reader.dataKeys(WS) })).failure).toBeNull();
    }

    it('the sound log verifies, with its contents checked, and its purged records shown as purged', async () => {
      const report = await verified(h.store);
      expect(report).toMatchObject({
        ok: true,
        failure: null,
        records: rows.length,
        storedSize: rows.length,
        checkpoints: 2,
        verifiedSize: rows.length,
        purged: ROUNDS,
        contentChecked: true,
      });
      expect(report.purges.map((p) => p.actor)).toEqual(Array(ROUNDS).fill('retention:test'));
      for (const kind of ARCHIVE_KINDS) expect(rows.some((r) => r.kind === kind)).toBe(true);
      // Without the keys: the same verdict, contents checked for presence only.
      const bare = await verifyArchive(h.store.archiveReader, WS);
      expect(bare).toMatchObject({ ok: true, contentChecked: false, purged: ROUNDS });
    });

    describe.each(ARCHIVE_KINDS)('a %s record', (kind) => {
      it('changed is named', async () => {
        const row = middleOf(kind);
        const changed = Buffer.from(
          Buffer.from(row.record)
            .toString('utf8')
            .replace(/"recorded_at":(\d+)/, '"recorded_at":1$1'),
        );
        await detected(
          () =>
            run('UPDATE archive_records SET record = ? WHERE workspace_id = ? AND seq = ?', [
              changed,
              WS,
              row.seq,
            ]).then(() => {}),
          () =>
            run('UPDATE archive_records SET record = ? WHERE workspace_id = ? AND seq = ?', [
              Buffer.from(row.record),
              WS,
              row.seq,
            ]).then(() => {}),
          { reason: 'record-changed', seq: row.seq, kind, entityId: row.entity_id },
        );
      });

      it('relabelled (its kind column) is named', async () => {
        const row = middleOf(kind);
        const other = kind === 'admin' ? 'status' : 'admin';
        await detected(
          () =>
            run('UPDATE archive_records SET kind = ? WHERE workspace_id = ? AND seq = ?', [
              other,
              WS,
              row.seq,
            ]).then(() => {}),
          () =>
            run('UPDATE archive_records SET kind = ? WHERE workspace_id = ? AND seq = ?', [
              kind,
              WS,
              row.seq,
            ]).then(() => {}),
          { reason: 'record-malformed', seq: row.seq, kind },
        );
      });

      it('deleted is named', async () => {
        const row = middleOf(kind);
        await detected(
          () =>
            run('DELETE FROM archive_records WHERE workspace_id = ? AND seq = ?', [WS, row.seq]).then(
              () => {},
            ),
          () => putBack(row).then(() => {}),
          { reason: 'record-missing', seq: row.seq },
        );
      });

      it('deleted with the later ones renumbered to close the gap is named', async () => {
        const row = middleOf(kind);
        await detected(
          async () => {
            await run('DELETE FROM archive_records WHERE workspace_id = ? AND seq = ?', [WS, row.seq]);
            await shift(row.seq + 1, -1);
          },
          async () => {
            await shift(row.seq, 1);
            await putBack(row);
          },
          { reason: 'record-changed', seq: row.seq },
        );
      });

      it('swapped with its neighbour (reordered) is named', async () => {
        const row = middleOf(kind);
        const swap = async () => {
          await run('UPDATE archive_records SET seq = -1 WHERE workspace_id = ? AND seq = ?', [WS, row.seq]);
          await run('UPDATE archive_records SET seq = ? WHERE workspace_id = ? AND seq = ?', [
            row.seq,
            WS,
            row.seq + 1,
          ]);
          await run('UPDATE archive_records SET seq = ? WHERE workspace_id = ? AND seq = -1', [
            row.seq + 1,
            WS,
          ]);
        };
        await detected(swap, swap, { reason: 'record-changed', seq: row.seq });
      });

      it.each(['first', 'middle', 'last'] as const)('inserted %s is named', async (where) => {
        const at = where === 'first' ? 0 : where === 'last' ? rows.length : middleOf(kind).seq;
        const forged = Buffer.from(
          canonicalJson({
            v: 2,
            workspace_id: WS,
            seq: at,
            kind,
            entity_id: `forged_${kind}`,
            recorded_at: 5000,
            data: { id: `forged_${kind}`, text: 'never happened' },
          }),
        );
        await detected(
          async () => {
            await shift(at, 1);
            await run(
              'INSERT INTO archive_records (workspace_id, seq, kind, entity_id, record, recorded_at) VALUES (?, ?, ?, ?, ?, 5000)',
              [WS, at, kind, `forged_${kind}`, forged],
            );
          },
          async () => {
            await run('DELETE FROM archive_records WHERE workspace_id = ? AND seq = ?', [WS, at]);
            await shift(at + 1, -1);
          },
          {
            reason: where === 'last' ? 'record-added' : 'record-changed',
            seq: at,
            kind,
            entityId: `forged_${kind}`,
          },
        );
      });
    });

    it('the newest records deleted (the tail) are named', async () => {
      const last = rows[rows.length - 1] as Row;
      const tail = rows.slice(-3);
      await detected(
        () =>
          run('DELETE FROM archive_records WHERE workspace_id = ? AND seq >= ?', [WS, tail[0]?.seq]).then(
            () => {},
          ),
        async () => {
          for (const row of tail) await putBack(row);
        },
        { reason: 'record-missing', seq: tail[0]?.seq },
      );
      expect(last.seq).toBe(rows.length - 1);
    });

    it("a record's content swapped for another's, or deleted with no purge, is named", async () => {
      const contents = await h.sql(
        'SELECT seq, sealed FROM archive_content WHERE workspace_id = ? ORDER BY seq',
        [WS],
      );
      const [a, b] = contents as Array<{ seq: number; sealed: Uint8Array }>;
      if (!a || !b) throw new Error('the log has fewer than two contents');
      const a_ = Buffer.from(a.sealed);
      const b_ = Buffer.from(b.sealed);
      const kindOf = rows.find((r) => r.seq === b.seq)?.kind;
      await detected(
        () =>
          run('UPDATE archive_content SET sealed = ? WHERE workspace_id = ? AND seq = ?', [
            a_,
            WS,
            b.seq,
          ]).then(() => {}),
        () =>
          run('UPDATE archive_content SET sealed = ? WHERE workspace_id = ? AND seq = ?', [
            b_,
            WS,
            b.seq,
          ]).then(() => {}),
        { reason: 'content-changed', seq: b.seq, kind: kindOf },
      );
      await detected(
        () =>
          run('DELETE FROM archive_content WHERE workspace_id = ? AND seq = ?', [WS, a.seq]).then(() => {}),
        () =>
          run('INSERT INTO archive_content (workspace_id, seq, sealed) VALUES (?, ?, ?)', [
            WS,
            a.seq,
            a_,
          ]).then(() => {}),
        { reason: 'content-missing', seq: a.seq },
      );
    });
  });

  describe(`store conformance (archive exports): ${name}`, () => {
    let h: ArchiveHarness;
    const dir = mkdtempSync(join(tmpdir(), 'wabridge-archive-conformance-'));
    beforeAll(async () => {
      h = await open();
      await buildLog(h.store);
    }, 120_000);
    afterAll(async () => {
      await h?.close();
      rmSync(dir, { recursive: true, force: true });
    });

    it("a contact's export verifies offline; the contact's erasure then verifies as purged", async () => {
      const { store } = h;
      const first = await exportContact({
        store,
        secrets: box,
        workspaceId: WS,
        contact: `+${ADA}`,
        out: join(dir, 'before.zip'),
        actor: 'cli:test',
      });
      const key = (await store.archiveReader.logKey(WS))?.verifierKey ?? '';
      const before = await verifyContactExport(first.path, { verifierKey: key });
      expect(before).toMatchObject({ ok: true, keySource: 'given', purged: ROUNDS, failure: null });
      expect(before.records).toBeGreaterThan(ROUNDS * 5);

      const { certificate } = await store.erase({
        workspaceId: WS,
        subject: { kind: 'contact', identifier: ADA },
        actor: 'cli:dpo',
        reason: 'art. 17 request',
      });
      expect(certificate.outcome).toBe('erased');
      const report = await verified(store);
      expect(report.ok).toBe(true);
      expect(report.purged).toBeGreaterThan(ROUNDS);
      expect(report.purges.map((p) => p.actor)).toContain(`erasure:${certificate.id}`);
    });

    it('an eDiscovery export after the erasure verifies offline, the erased records as purged', async () => {
      const out = join(dir, 'discovery');
      const result = await exportDiscovery({
        store: h.store,
        secrets: box,
        workspaceId: WS,
        filter: {},
        dir: out,
        formats: ['jsonl', 'csv', 'html'],
        actor: 'cli:test',
        pageSize: 5,
      });
      expect(result.complete).toBe(true);
      const key = (await h.store.archiveReader.logKey(WS))?.verifierKey ?? '';
      const report = await verifyDiscoveryExport(out, { verifierKey: key });
      expect(report).toMatchObject({ ok: true, failure: null });
      expect(report.purged).toBeGreaterThan(ROUNDS);
    });
  });
}
