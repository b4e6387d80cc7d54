// npm run bench:archive -- [--records 10000000] [--db path/to/store.db] [--keep] [--only export,verify]
// The archive at scale (issue 18 acceptance): a real SQLite store of `records` archived inbound
// messages, built directly through the store (no HTTP; see `build`), then:
//   - ingest at that size against an empty store, the same code path in the same run (units
//     interleaved, so the machine's load falls on both alike): acceptance ≥ 0.8×;
//   - one contact's export (`wabridge export`) for a contact of ~100 and one of ~1,000 records:
//     acceptance < 1 s;
//   - one contact's erasure (`wabridge erase --contact`), bounded by the contact's records;
//   - `archive verify` over the whole log, contents opened and checked against their
//     commitments: acceptance ≥ 100,000 records/s.
// `--db` keeps the built store in a file of your choice and reuses it on the next run (building
// 10 million records takes a while); without it, a temporary directory is removed at the end.
// `--only` runs some of the measures (ingest, export, erase, verify; comma-separated) on the store
// as it is: e.g. `--only export` after a change to the export, without the ingest comparison (which
// grows the store) or a whole-log verify (minutes at 10 million). The store is built first if short.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { exportContact } from '../src/archive/export/contact-export.ts';
import { verifyContactExport } from '../src/archive/export/verify-export.ts';
import { createSecretBox } from '../src/secrets/index.ts';
import { archiveLogSize, storedVerifierKey } from '../src/store/sqlite/archive-reads.ts';
import { signArchiveCheckpoint, verifyArchive } from '../src/store/sqlite/archive-verify.ts';
import { openSqliteStore, type SqliteStore } from '../src/store/sqlite/index.ts';
import { identity, inboundMessage, messagesUnit, seedWorkspace } from '../src/testing/fixtures.ts';

const { values } = parseArgs({
  options: {
    records: { type: 'string', default: '10000000' },
    db: { type: 'string' },
    keep: { type: 'boolean', default: false },
    // Only build (or grow) the store given with --db, for a later run to measure.
    'build-only': { type: 'boolean', default: false },
    // Messages ingested into each store for the side-by-side ingest comparison.
    compare: { type: 'string', default: '40000' },
    only: { type: 'string' },
  },
});
const MEASURES = ['ingest', 'export', 'erase', 'verify'] as const;
const only = values.only?.split(',').map((m) => m.trim()) ?? [...MEASURES];
const unknown = only.filter((m) => !(MEASURES as readonly string[]).includes(m));
if (unknown.length > 0) throw new Error(`--only takes ${MEASURES.join(', ')}; not ${unknown.join(', ')}`);
const measuring = (what: (typeof MEASURES)[number]) => only.includes(what);
const total = Number(values.records);
const compare = Number(values.compare);
const UNIT = 1000;
const WS = 'bench';
const dir = values.db ? dirname(values.db) : mkdtempSync(join(tmpdir(), 'wabridge-archive-scale-'));
const path = values.db ?? join(dir, 'archive.db');
const box = createSecretBox(Buffer.alloc(32, 1));
const out = (line: string) => process.stdout.write(`${line}\n`);
const text = 'The quick brown fox jumps over the lazy dog; order 4711 ships on Tuesday. '.repeat(2);

// Who writes message `i`: the heavy contact one message in `total / 1000` (~1,000 records), the
// average and the erased contact one in `total / 100` each (~100), everyone else round-robin over
// `total / 100` contacts (~100 records each). Every contact's records are spread over the whole
// log, the worst case for finding them.
const HEAVY = '15550000001';
const AVERAGE = '15550000002';
const ERASED = '15550000003';
const others = Math.max(1, Math.floor(total / 100));
function contactOf(i: number): string {
  if (i % Math.max(1, Math.floor(total / 1000)) === 7) return HEAVY;
  if (i % Math.max(1, Math.floor(total / 100)) === 3) return AVERAGE;
  if (i % Math.max(1, Math.floor(total / 100)) === 5) return ERASED;
  return String(15560000000 + (i % others));
}

function unit(from: number, count: number, tag: string) {
  const messages = [];
  for (let i = from; i < from + count; i++) {
    const who = contactOf(i);
    messages.push(
      inboundMessage({
        id: `msg_${tag}${i}`,
        wamid: `wamid.${tag}${i}`,
        contact: identity({ waId: who, profileName: `C${who}` }),
        text: `${i} ${text}`,
        content: { type: 'text', text: { body: `${i} ${text}` } },
        timestamp: 1_750_000_000_000 + i,
      }),
    );
  }
  return messagesUnit(WS, { messages }, 1_750_000_000_000 + from);
}

/**
 * Grows the store's log to `total` records. The measured contacts' messages go through the
 * store's ingest (the real path: message rows, conversations, contacts, archive records) as they
 * come up; every other message is archived through the store's archive appender (the one ingest
 * uses: the same record, sealed content, leaf and nodes), 20,000 to a transaction, without its
 * message row. At 10 million that is ~15 times faster to build than ingesting every message, and
 * the archive's tables (what this benchmark is about) are as large as if every message had been
 * ingested; the messages table holds the measured contacts' messages only.
 */
async function build(store: SqliteStore): Promise<number> {
  let size = archiveLogSize(store.db, WS);
  if (size === 0) await seedWorkspace(store, { id: WS });
  const started = performance.now();
  const from = size;
  let lastReport = started;
  let i = size;
  while (size < total) {
    const real: number[] = [];
    await store.db.write(() => {
      for (let n = 0; n < 20_000 && size + n < total; n++, i++) {
        const who = contactOf(i);
        if (who === HEAVY || who === AVERAGE || who === ERASED) {
          real.push(i);
          continue;
        }
        const at = 1_750_000_000_000 + i;
        const id = `msg_f${i}`;
        store.archive.append(
          WS,
          'message.inbound',
          id,
          {
            id,
            conversation_id: `conv_f${i % others}`,
            direction: 'inbound',
            wamid: `wamid.f${i}`,
            type: 'text',
            ts: at,
            relates_to: null,
            sender: null,
            created_at: at,
          },
          at,
          { text: `${i} ${text}`, content: { type: 'text', text: { body: `${i} ${text}` } } },
        );
      }
    });
    for (const r of real) await store.ingest(unit(r, 1, ''));
    size = archiveLogSize(store.db, WS);
    if (performance.now() - lastReport > 30_000) {
      lastReport = performance.now();
      const rate = ((size - from) / (lastReport - started)) * 1000;
      out(`  built ${size.toLocaleString('en')} (${Math.round(rate).toLocaleString('en')}/s)`);
    }
  }
  return performance.now() - started;
}

/** CPU and wall time of one async run. */
async function measure<T>(run: () => Promise<T>): Promise<{ value: T; wallMs: number; cpuMs: number }> {
  const cpu = process.cpuUsage();
  const start = performance.now();
  const value = await run();
  const used = process.cpuUsage(cpu);
  return { value, wallMs: performance.now() - start, cpuMs: (used.user + used.system) / 1000 };
}

const rows: string[][] = [];
const row = (...cells: string[]) => rows.push(cells);
const n = (x: number) => Math.round(x).toLocaleString('en');

const store = await openSqliteStore({ path });
let empty: SqliteStore | null = null;
try {
  const had = archiveLogSize(store.db, WS);
  const buildMs = await build(store);
  const size = archiveLogSize(store.db, WS);
  out(
    `store of ${n(size)} archive records (${had > 0 ? `${n(had)} reused, ` : ''}built in ${(buildMs / 1000).toFixed(0)} s)`,
  );

  if (values['build-only']) {
    await store.close();
    process.exit(0);
  }

  // Ingest at size vs empty, unit by unit in turn (order alternating), same messages shape.
  if (measuring('ingest')) {
    const emptyPath = join(dir, `empty-${process.pid}.db`);
    empty = await openSqliteStore({ path: emptyPath });
    await seedWorkspace(empty, { id: WS });
    let fullMs = 0;
    let emptyMs = 0;
    for (let at = 0; at < compare; at += UNIT) {
      const pair = [
        [store, `x${size}_`],
        [empty, 'e'],
      ] as const;
      for (const [target, tag] of (at / UNIT) % 2 === 0 ? pair : [...pair].reverse()) {
        const started = performance.now();
        await target.ingest(unit(at, UNIT, tag));
        const ms = performance.now() - started;
        if (target === store) fullMs += ms;
        else emptyMs += ms;
      }
    }
    const fullRate = (compare / fullMs) * 1000;
    const emptyRate = (compare / emptyMs) * 1000;
    row('ingest, empty store', `${n(emptyRate)} msg/s`, '', '');
    row(
      `ingest, store of ${n(size)}`,
      `${n(fullRate)} msg/s`,
      `${(fullRate / emptyRate).toFixed(2)}×`,
      '≥ 0.8×',
    );
    await empty.close();
    empty = null;
    rmSync(emptyPath, { force: true });
    rmSync(`${emptyPath}-wal`, { force: true });
    rmSync(`${emptyPath}-shm`, { force: true });
  }

  if (measuring('export')) {
    for (const [label, contact] of [
      ['export, contact of ~100 records', AVERAGE],
      ['export, contact of ~1,000 records', HEAVY],
    ] as const) {
      const runs = [];
      for (let r = 0; r < 3; r++) {
        const file = join(dir, `export-${process.pid}-${r}.zip`);
        runs.push(
          await measure(() =>
            exportContact({ store, secrets: box, workspaceId: WS, contact, out: file, actor: 'bench' }),
          ),
        );
        // The last one is checked offline as `archive verify --export` would, against the log's key:
        // a faster export that no longer verifies is no result.
        if (r === 2) {
          const report = await verifyContactExport(file, {
            verifierKey: storedVerifierKey(store.db, WS) ?? '',
          });
          if (!report.ok)
            throw new Error(`the export of ${contact} failed to verify: ${JSON.stringify(report)}`);
        }
        rmSync(file, { force: true });
      }
      const best = runs.reduce((a, b) => (a.wallMs < b.wallMs ? a : b));
      row(
        `${label} (${n(best.value.records)})`,
        `${best.wallMs.toFixed(0)} ms (runs ${runs.map((r) => r.wallMs.toFixed(0)).join(', ')})`,
        `${(best.wallMs / 1000).toFixed(2)}× budget`,
        '< 1 s',
      );
    }
  }

  if (measuring('erase')) {
    const erasure = await measure(() =>
      store.erase({
        workspaceId: WS,
        subject: { kind: 'contact', identifier: ERASED },
        actor: 'cli:bench',
        reason: 'bench: erasure at scale',
      }),
    );
    if (erasure.value.messageIds.length === 0) {
      row('erasure, contact of ~100 records', 'already erased by an earlier run', '', '');
    } else {
      row(
        `erasure, contact of ~100 records (${n(erasure.value.messageIds.length)} messages, ${erasure.value.certificate.outcome})`,
        `${erasure.wallMs.toFixed(0)} ms`,
        '',
        'bounded by the contact',
      );
    }
  }

  if (measuring('verify')) {
    await signArchiveCheckpoint(store.db, box, WS);
    // This thread's share apart: the tree's pass runs here, the records' checks in a pool of threads.
    const mainCpu = process.threadCpuUsage();
    const verify = await measure(() => verifyArchive(store.db, WS, { keyring: store.keyring }));
    const mainUsed = process.threadCpuUsage(mainCpu);
    if (!verify.value.ok)
      throw new Error(`the untouched archive failed: ${JSON.stringify(verify.value.failure)}`);
    const records = verify.value.records;
    row(
      `archive verify, contents opened (${n(records)} records)`,
      `${n((records / verify.wallMs) * 1000)} records/s (${(verify.wallMs / 1000).toFixed(1)} s)`,
      `${(((records / verify.wallMs) * 1000) / 100_000).toFixed(2)}× target; ${n((records / verify.cpuMs) * 1000)}/CPU-s (${((verify.cpuMs * 1000) / records).toFixed(1)} µs a record, ${((mainUsed.user + mainUsed.system) / records).toFixed(1)} in the main thread)`,
      '≥ 100,000/s',
    );
  }

  const widths = [0, 1, 2, 3].map((c) => Math.max(...rows.map((r) => (r[c] ?? '').length), 8));
  out('');
  out(['measure', 'result', 'ratio', 'acceptance'].map((h, c) => h.padEnd(widths[c] as number)).join(' | '));
  for (const r of rows) out(r.map((cell, c) => cell.padEnd(widths[c] as number)).join(' | '));
} finally {
  await empty?.close();
  await store.close();
  if (!values.db && !values.keep) rmSync(dir, { recursive: true, force: true });
  else if (!existsSync(path)) out(`(no store kept at ${path})`);
}
