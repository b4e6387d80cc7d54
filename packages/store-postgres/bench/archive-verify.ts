// `archive verify` on Postgres against the same on SQLite, in one run: the same number of records
// (~300 bytes, content sealed apart) appended through each store's own appender in transactions of
// 500, a checkpoint, then core's `verifyArchive` with the data keys (content opened and checked),
// once through PgArchiveReader and once through the SQLite file's reader (whose threads read the
// file themselves). Prints records/s (wall) and this process's CPU per record; the database
// server's CPU is not counted. The machine is shared: run it alone, and read the ratio.
//   node --disable-warning=ExperimentalWarning packages/store-postgres/bench/archive-verify.ts [records, default 100000]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createSecretBox, openSqliteStore, signArchiveCheckpoint, verifyArchive } from '@wabridge/core';
import { freshSchema, openPostgresStore, testDatabaseUrl } from '../src/index.ts';

const total = Number(process.argv[2] ?? 100_000);
const box = createSecretBox(Buffer.alloc(32, 1));
const text = 'x'.repeat(200);
const out = (line: string) => process.stdout.write(`${line}\n`);

async function measure<T>(run: () => Promise<T>): Promise<{ value: T; wallMs: number; cpuMs: number }> {
  const cpu = process.cpuUsage();
  const start = performance.now();
  const value = await run();
  const used = process.cpuUsage(cpu);
  return { value, wallMs: performance.now() - start, cpuMs: (used.user + used.system) / 1000 };
}

const rate = (ms: number) => (total / ms) * 1000;
const show = (n: number) => Math.round(n).toLocaleString('en');

async function postgres(): Promise<{ wallMs: number; cpuMs: number }> {
  const { schema, drop } = await freshSchema('wb_bench_verify');
  const store = await openPostgresStore({ url: testDatabaseUrl, schema, poolSize: 4 });
  try {
    for (let at = 0; at < total; at += 500) {
      await store.db.transaction(async (tx) => {
        const entries = [];
        for (let i = at; i < Math.min(total, at + 500); i++) {
          const content = await store.archive.sealContent(tx, 'bench', { text });
          entries.push({
            kind: 'message.inbound' as const,
            entityId: `msg_${i}`,
            data: { id: `msg_${i}`, ts: i },
            at: 1_750_000_000_000 + i,
            content,
          });
        }
        await store.archive.appendMany(tx, 'bench', entries);
      });
    }
    await signArchiveCheckpoint(store.archiveReader, box, 'bench');
    const reader = store.archiveReader;
    const keys = await reader.dataKeys('bench');
    const verify = await measure(() => verifyArchive(reader, 'bench', { keyring: keys }));
    if (!verify.value.ok)
      throw new Error(`Postgres: the untouched archive failed: ${JSON.stringify(verify.value.failure)}`);
    return verify;
  } finally {
    await store.close();
    await drop();
  }
}

async function sqlite(): Promise<{ wallMs: number; cpuMs: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'wabridge-verify-bench-'));
  const store = await openSqliteStore({ path: join(dir, 'bench.db') });
  try {
    for (let at = 0; at < total; at += 500) {
      await store.db.write(() => {
        for (let i = at; i < Math.min(total, at + 500); i++) {
          store.archive.append(
            'bench',
            'message.inbound',
            `msg_${i}`,
            { id: `msg_${i}`, ts: i },
            1_750_000_000_000 + i,
            {
              text,
            },
          );
        }
      });
    }
    await signArchiveCheckpoint(store.archiveReader, box, 'bench');
    const reader = store.archiveReader;
    const keys = await reader.dataKeys('bench');
    const verify = await measure(() => verifyArchive(reader, 'bench', { keyring: keys }));
    if (!verify.value.ok)
      throw new Error(`SQLite: the untouched archive failed: ${JSON.stringify(verify.value.failure)}`);
    return verify;
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

const base = await sqlite();
const pg = await postgres();
out(`${show(total)} records of ~300 bytes, contents opened and checked`);
out(`SQLite file: ${show(rate(base.wallMs))}/s wall, ${show(rate(base.cpuMs))}/CPU-s (this process)`);
out(`Postgres:    ${show(rate(pg.wallMs))}/s wall, ${show(rate(pg.cpuMs))}/CPU-s (this process)`);
out(`Postgres / SQLite (wall): ${(base.wallMs / pg.wallMs).toFixed(2)}×`);
