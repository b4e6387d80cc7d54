// node --disable-warning=ExperimentalWarning packages/core/bench/archive-verify.ts [--records 100000]
// The archive in a real SQLite file: appending records through the store's appender (in write
// transactions of 500), each with its content sealed apart, then `verifyArchive` over all of them
// (content opened and checked against its commitment) with a checkpoint at the end.
// Prints wall-clock rates and the process's CPU per record.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createSecretBox } from '../src/secrets/index.ts';
import { signArchiveCheckpoint, verifyArchive } from '../src/store/sqlite/archive-verify.ts';
import { openSqliteStore } from '../src/store/sqlite/index.ts';

const { values } = parseArgs({ options: { records: { type: 'string', default: '100000' } } });
const total = Number(values.records);
const dir = mkdtempSync(join(tmpdir(), 'wabridge-archive-bench-'));
const store = await openSqliteStore({ path: join(dir, 'bench.db') });
const appender = store.archive;
const box = createSecretBox(Buffer.alloc(32, 1));
const out = (line: string) => process.stdout.write(`${line}\n`);

function measure<T>(run: () => Promise<T>): Promise<{ value: T; wallMs: number; cpuMs: number }> {
  const cpu = process.cpuUsage();
  const start = performance.now();
  return run().then((value) => {
    const used = process.cpuUsage(cpu);
    return { value, wallMs: performance.now() - start, cpuMs: (used.user + used.system) / 1000 };
  });
}

try {
  const text = 'x'.repeat(200);
  const append = await measure(async () => {
    for (let at = 0; at < total; at += 500) {
      await store.db.write(() => {
        for (let i = at; i < Math.min(total, at + 500); i++) {
          appender.append(
            'bench',
            'message.inbound',
            `msg_${i}`,
            { id: `msg_${i}`, ts: i },
            1_750_000_000_000 + i,
            { text },
          );
        }
      });
    }
  });
  await signArchiveCheckpoint(store.db, box, 'bench');
  const verify = await measure(() => verifyArchive(store.db, 'bench', { keyring: store.keyring }));
  if (!verify.value.ok)
    throw new Error(`the untouched archive failed: ${JSON.stringify(verify.value.failure)}`);
  const rate = (ms: number) => Math.round((total / ms) * 1000).toLocaleString('en');
  out(`${total.toLocaleString('en')} records of ~300 bytes, real SQLite file (WAL)`);
  out(`append: ${rate(append.wallMs)}/s wall, ${rate(append.cpuMs)}/CPU-s`);
  out(`verify: ${rate(verify.wallMs)}/s wall, ${rate(verify.cpuMs)}/CPU-s`);
} finally {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
}
