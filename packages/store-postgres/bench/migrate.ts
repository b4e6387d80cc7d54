// `wabridge migrate --to postgres` on a store of N messages (default 20,000: 200 conversations,
// two connectors, webhooks of 20 messages, half the jobs admitted). Prints the rows copied, the
// copy's wall time and rows/s, its ratio to a plain read of the same SQLite rows in the same run
// (the baseline: what reading alone costs), and the growth of this process's peak RSS while it
// ran (bounded batches: it should not grow with N). The machine is shared: run it more than once.
//   node packages/store-postgres/bench/migrate.ts [messages, default 20000]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openSqliteStore } from '@wabridge/core';
import { inboundMessage, messagesUnit, seedWorkspace } from '@wabridge/core/testing';
import { freshSchema, migrateSqliteToPostgres, SqliteSource, testDatabaseUrl } from '../src/index.ts';

const N = Number(process.argv[2] ?? 20_000);
const MASTER = Buffer.alloc(32, 9);

const dir = mkdtempSync(join(tmpdir(), 'wb-bench-migrate-'));
const path = join(dir, 'wabridge.db');
const store = await openSqliteStore({ path, masterKeys: { current: MASTER } });
const ws = await seedWorkspace(store, { id: 'acme', connectors: ['slack', 'hubspot'] });
for (let i = 0; i < N; i += 20) {
  const messages = [];
  for (let j = i; j < Math.min(N, i + 20); j++) {
    messages.push(
      inboundMessage({
        wamid: `wamid.${j}`,
        timestamp: 1_750_000_000_000 + j,
        contact: {
          waId: `1555${String(j % 200).padStart(7, '0')}`,
          bsuid: null,
          parentBsuid: null,
          username: null,
          profileName: `C${j % 200}`,
        },
        text: `message ${j} with some text to seal`,
      }),
    );
  }
  await store.ingest(messagesUnit(ws, { messages }));
  if (i === N / 2) await store.claimJobs({ limit: 1, leaseMs: 60_000, workerId: 'bench' });
}
await store.close();

let peak = 0;
const sample = setInterval(() => {
  peak = Math.max(peak, process.memoryUsage().rss);
}, 20);

try {
  for (let round = 0; round < 2; round++) {
    const readStart = performance.now();
    const source = SqliteSource.open(path);
    let read = 0;
    for (const table of source.tables()) for (const _ of source.rows(`SELECT * FROM "${table}"`)) read++;
    source.close();
    const readSeconds = (performance.now() - readStart) / 1000;

    const { schema, drop } = await freshSchema('wb_bench');
    const rssBefore = process.memoryUsage().rss;
    peak = rssBefore;
    const start = performance.now();
    const report = await migrateSqliteToPostgres({
      sqlitePath: path,
      url: testDatabaseUrl,
      schema,
      masterKeys: { current: MASTER },
    });
    const seconds = (performance.now() - start) / 1000;
    await drop();
    const rows = report.tables.reduce((n, t) => n + t.postgres, 0);
    process.stdout.write(
      `${N} messages: ${rows} rows copied and verified in ${seconds.toFixed(1)} s (${(rows / seconds).toFixed(0)} rows/s); ` +
        `reading ${read} SQLite rows alone ${readSeconds.toFixed(2)} s: copy ${(seconds / readSeconds).toFixed(0)}×; ` +
        `peak RSS +${((peak - rssBefore) / 2 ** 20).toFixed(0)} MiB\n`,
    );
  }
} finally {
  clearInterval(sample);
  rmSync(dir, { recursive: true, force: true });
}
