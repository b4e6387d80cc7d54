// node packages/store-postgres/bench/queue-claims.ts — what a claim costs on Postgres as the backlog
// grows (the SQLite twin is apps/gateway/bench/claims.ts, whose scenarios these are). After an
// outage there can be hundreds of thousands of queued jobs; a claim must cost about the same then.
// Needs Postgres at WABRIDGE_TEST_DATABASE_URL (default: 127.0.0.1:5432, database test); each size
// gets a schema of its own, dropped after.
// Reports per scenario the wall-clock p50/p99 of a claim as the client sees it, and the CPU time the
// Postgres backend spent per claim (from /proc, so only with a local server): wall time on a shared
// machine is noisy, the backend's CPU time much less so.
// Options: --claims <n> (default 200), --sizes 20000,400000 (jobs queued; two connectors each).
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import type { ClaimOptions, Job } from '@wabridge/core';
import pg from 'pg';
import { PgJobQueue } from '../src/queue/pg-queue.ts';
import { JOBS_SCHEMA } from '../src/schema/jobs.ts';
import { freshSchema, testDatabaseUrl } from '../src/testing/index.ts';

const { values } = parseArgs({
  options: {
    claims: { type: 'string', default: '200' },
    sizes: { type: 'string', default: '20000,400000' },
  },
});
const claims = Number(values.claims);
const sizes = values.sizes.split(',').map(Number);
if (!Number.isInteger(claims) || claims < 1 || sizes.some((size) => !Number.isInteger(size) || size < 2))
  throw new Error('--claims and --sizes take positive whole numbers, e.g. --claims 200 --sizes 20000,400000');
const CUSTOMERS = 10_000;
const out = (line: string) => process.stdout.write(`${line}\n`);
const percentile = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? 0;

/** CPU time (ms) a local backend has used so far: utime + stime from /proc/<pid>/stat. */
function backendCpuMs(pid: number): number | null {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
    // After "pid (comm) ": state is field 0, utime field 11, stime field 12, in clock ticks (100 Hz).
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
  } catch {
    return null;
  }
}

interface Result {
  jobs: number;
  scenario: string;
  p50: number;
  p99: number;
  cpuUs: number | null;
}
const results: Result[] = [];
const fills: { jobs: number; ms: number }[] = [];

for (const jobs of sizes) {
  const { schema, drop } = await freshSchema('wb_bench_queue');
  // One connection, so one backend does all the claims and /proc can tell its CPU time.
  const pool = new pg.Pool({
    connectionString: testDatabaseUrl,
    options: `-c search_path=${schema}`,
    max: 1,
  });
  try {
    await pool.query(JOBS_SCHEMA);
    const started = performance.now();
    // Each message fans out to connectors 'a' and 'b'; conversations in turn, as a burst arrives.
    await pool.query(
      `INSERT INTO jobs (workspace_id, connector_id, conversation_id, event_type, entity_id, sort_ts, run_at, created_at)
       SELECT 'ws', c.connector, 'conv' || lpad((n % $2)::text, 7, '0'), 'message.inbound', 'm' || n,
         1750000000000 + n, 1750000000000, 1750000000000
       FROM generate_series(0, $1 - 1) n CROSS JOIN (VALUES ('a'), ('b')) AS c(connector) ORDER BY n, c.connector`,
      [Math.floor(jobs / 2), CUSTOMERS],
    );
    await pool.query('ANALYZE jobs');
    fills.push({ jobs, ms: performance.now() - started });
    const pid = (await pool.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]?.pid ?? 0;
    const queue = new PgJobQueue({ pool });
    const now = Date.now() + 60_000;
    // Draining: each claim's jobs are completed before the next (a worker catching up). Stalled:
    // claimed jobs stay in flight, so the oldest jobs all wait behind them. Filtered: for connector
    // 'a' only ('b' claimed in batches), draining. Batch: one connector's batch (100), draining.
    for (const scenario of ['draining', 'stalled', 'filtered', 'batch'] as const) {
      const times: number[] = [];
      let cpu = 0;
      for (let i = 0; i < claims; i++) {
        const lease: Omit<ClaimOptions, 'limit'> = { leaseMs: 600_000, workerId: 'bench', now };
        const before = backendCpuMs(pid);
        const t0 = performance.now();
        const claimed: Job[] =
          scenario === 'batch'
            ? await queue.claimBatch({ ...lease, workspaceId: 'ws', connectorId: 'b', limit: 100 })
            : await queue.claimJobs({
                ...lease,
                limit: 16,
                ...(scenario === 'filtered' ? { connectorIds: ['a', 'whatsapp'] } : {}),
              });
        times.push(performance.now() - t0);
        const after = backendCpuMs(pid);
        if (before !== null && after !== null) cpu += after - before;
        if (scenario !== 'stalled') for (const job of claimed) await queue.completeJob(job.lease);
      }
      times.sort((a, b) => a - b);
      results.push({
        jobs,
        scenario,
        p50: percentile(times, 0.5),
        p99: percentile(times, 0.99),
        cpuUs: backendCpuMs(pid) === null ? null : (cpu * 1000) / claims,
      });
    }
  } finally {
    await pool.end();
    await drop();
  }
}

out(
  `\nwabridge Postgres claim benchmark — ${claims} claims per scenario (16 jobs; batch: 100), node ${process.version}`,
);
out('jobs queued  scenario   p50 ms  p99 ms  backend CPU per claim');
for (const r of results) {
  const cpu = r.cpuUs === null ? 'n/a' : `${(r.cpuUs / 1000).toFixed(2)} ms`;
  out(
    `${String(r.jobs).padStart(11)}  ${r.scenario.padEnd(9)}  ${r.p50.toFixed(2).padStart(6)}  ${r.p99.toFixed(2).padStart(6)}  ${cpu}`,
  );
}
for (const f of fills)
  out(`queueing ${f.jobs} jobs (one INSERT ... SELECT, then ANALYZE): ${f.ms.toFixed(0)} ms`);
const smallest = Math.min(...sizes);
const largest = Math.max(...sizes);
for (const scenario of ['draining', 'stalled', 'filtered', 'batch']) {
  const base = results.find((r) => r.jobs === smallest && r.scenario === scenario);
  const big = results.find((r) => r.jobs === largest && r.scenario === scenario);
  if (base && big && base !== big)
    out(
      `${scenario}: p50 with ${largest} queued = ${(big.p50 / base.p50).toFixed(2)}× p50 with ${smallest} queued`,
    );
}
