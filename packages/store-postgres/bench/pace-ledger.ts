// node packages/store-postgres/bench/pace-ledger.ts — what a paced call costs with the shared pace
// ledger (one reservation: `SELECT … FROM pace_reserve(…)`), against a bare `SELECT 1` round trip on
// the same pool in the same run (the floor of any shared ledger) and the in-process ledger.
// Sequential calls show the latency a delivery adds; 16 concurrent callers on two pools on ONE lane
// show the row lock's queue (the worst case: every worker pacing the same channel).
// Needs Postgres at WABRIDGE_TEST_DATABASE_URL (default 127.0.0.1:5432, database test).
// Options: --calls <n> (default 2000).
import { parseArgs } from 'node:util';
import { MemoryPaceLedger, type PaceRule } from '@wabridge/core';
import { openPostgresStore } from '../src/store.ts';
import { freshSchema, testDatabaseUrl } from '../src/testing/index.ts';

const { values } = parseArgs({ options: { calls: { type: 'string', default: '2000' } } });
const calls = Number(values.calls);
const out = (line: string) => process.stdout.write(`${line}\n`);
// Always granted (a huge rate, maxWait beyond any wait): every call is a full reservation.
const rule: PaceRule = { intervalMs: 0.001, burst: 1, windowMs: null };
const window: PaceRule = { intervalMs: 0.001, burst: 4, windowMs: 0.004 };

async function timed(label: string, n: number, concurrency: number, op: (i: number) => Promise<unknown>) {
  const latencies: number[] = [];
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < n) {
        const i = next++;
        const t = performance.now();
        await op(i);
        latencies.push(performance.now() - t);
      }
    }),
  );
  const wall = performance.now() - started;
  latencies.sort((a, b) => a - b);
  const p = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? 0;
  out(
    `${label.padEnd(52)} ${((wall * 1000) / n).toFixed(0).padStart(6)} µs/call wall   p50 ${(p(0.5) * 1000).toFixed(0).padStart(6)} µs   p99 ${(p(0.99) * 1000).toFixed(0).padStart(6)} µs`,
  );
  return (wall * 1000) / n;
}

const { schema, drop } = await freshSchema('wb_bench');
const a = await openPostgresStore({ url: testDatabaseUrl, schema, poolSize: 8 });
const b = await openPostgresStore({ url: testDatabaseUrl, schema, poolSize: 8 });
try {
  out(
    `${calls} calls each; ${new Date().toISOString()}; load average ${(await import('node:os'))
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`,
  );
  const memory = new MemoryPaceLedger();
  await timed('in-process ledger, sequential', calls, 1, (i) => memory.reserve(`lane${i % 50}`, rule, 1e9));
  // Warm the pools and the function's plan.
  await timed('(warm-up)', 200, 4, (i) => a.paceLedger.reserve(`lane${i % 50}`, rule, 1e9));
  const floor = await timed('SELECT 1, sequential (the round trip)', calls, 1, () =>
    a.db.get('SELECT 1 AS x'),
  );
  const one = await timed('pace_reserve, sequential, 50 lanes', calls, 1, (i) =>
    a.paceLedger.reserve(`lane${i % 50}`, rule, 1e9),
  );
  await timed('pace_reserve (window shape), sequential', calls, 1, (i) =>
    a.paceLedger.reserve(`win${i % 50}`, window, 1e9),
  );
  await timed('claimSend (spacing of sends), sequential', calls, 1, (i) =>
    a.paceLedger.claimSend(`lane${i % 50}`, 0.001),
  );
  await timed('SELECT 1, 16 concurrent on 2 pools', calls, 16, (i) =>
    (i % 2 ? a : b).db.get('SELECT 1 AS x'),
  );
  await timed('pace_reserve, 16 concurrent on 2 pools, ONE lane', calls, 16, (i) =>
    (i % 2 ? a : b).paceLedger.reserve('hot', rule, 1e9),
  );
  out(`one reservation = ${(one / floor).toFixed(2)} × a bare round trip (sequential)`);
} finally {
  await b.close();
  await a.close();
  await drop();
}
