// npm run bench:claims — what a claim costs the store as the delivery backlog grows. After an
// outage there can be hundreds of thousands of queued jobs, and every claim is a write that
// group-commits with ingest, so a claim must cost the same with a backlog of 200k as of 1k.
// The baseline is the same store with a small backlog, measured in the same run.
// Options: --claims <n> (default 200), --sizes 10000,200000
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { openSqliteStore, type Store } from '@wabridge/core';
import { identity, inboundMessage, messagesUnit, seedWorkspace } from '@wabridge/core/testing';

const { values } = parseArgs({
  options: {
    claims: { type: 'string', default: '200' },
    sizes: { type: 'string', default: '10000,200000' },
  },
});
const claims = Number(values.claims);
const sizes = values.sizes.split(',').map(Number);
if (!Number.isInteger(claims) || claims < 1 || sizes.some((size) => !Number.isInteger(size) || size < 1))
  throw new Error('--claims and --sizes take positive whole numbers, e.g. --claims 200 --sizes 10000,200000');
const CUSTOMERS = 10_000;
const out = (line: string) => process.stdout.write(`${line}\n`);

async function fill(store: Store, ws: string, messages: number): Promise<void> {
  for (let done = 0; done < messages; ) {
    const batch = Math.min(500, messages - done);
    await store.ingest(
      messagesUnit(ws, {
        messages: Array.from({ length: batch }, (_, i) => {
          const n = done + i;
          return inboundMessage({
            wamid: `wamid.claims.${n}`,
            timestamp: 1_750_000_000_000 + n,
            contact: identity({ waId: `1555${String(n % CUSTOMERS).padStart(7, '0')}` }),
          });
        }),
      }),
    );
    done += batch;
  }
}

const percentile = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? 0;

interface Result {
  size: number;
  scenario: string;
  p50: number;
  p99: number;
}
const results: Result[] = [];
const admissions: { size: number; ms: number; transactions: number }[] = [];
for (const size of sizes) {
  const dir = mkdtempSync(join(tmpdir(), 'wabridge-claims-'));
  const store = await openSqliteStore({ path: join(dir, 'db') });
  try {
    const ws = await seedWorkspace(store, { connectors: ['a', 'b'] });
    await fill(store, ws, size);
    const now = Date.now() + 60_000;
    // Ingest leaves its jobs in jobs_new; the first claim admits them into their queues, a
    // thousand per transaction. Timed apart: it is the queue-index work ingest no longer does.
    const admitting = performance.now();
    const transactions = store.db.transactions;
    const [first] = await store.claimJobs({ leaseMs: 600_000, workerId: 'bench', now, limit: 1 });
    admissions.push({
      size,
      ms: performance.now() - admitting,
      transactions: store.db.transactions - transactions,
    });
    if (first) await store.completeJob(first.lease, []);
    // Draining: each claim's jobs are completed before the next claim (a worker catching up).
    // Stalled: claimed jobs stay in flight, so the oldest queued jobs all wait behind them (a target
    // that accepts nothing, while the worker keeps looking for conversations it can serve).
    // Filtered: as the worker claims, for its one-at-a-time connectors only ('b' is claimed in
    // batches), draining. Batch: one connector's batch claim (HubSpot-style, 100 jobs), draining.
    // Idle: for a connector with nothing queued while the others' backlog is all there is (Slack
    // and Teams done, HubSpot's thousands left at a campaign's end): a claim that finds nothing.
    for (const scenario of ['draining', 'stalled', 'filtered', 'batch', 'idle'] as const) {
      const times: number[] = [];
      for (let i = 0; i < claims; i++) {
        const started = performance.now();
        const lease = { leaseMs: 600_000, workerId: 'bench', now };
        const jobs =
          scenario === 'batch'
            ? await store.claimBatch({ ...lease, workspaceId: ws, connectorId: 'b', limit: 100 })
            : await store.claimJobs({
                ...lease,
                limit: 16,
                ...(scenario === 'filtered' ? { connectorIds: ['a', 'whatsapp'] } : {}),
                ...(scenario === 'idle' ? { connectorIds: ['whatsapp'] } : {}),
              });
        times.push(performance.now() - started);
        if (scenario !== 'stalled') for (const job of jobs) await store.completeJob(job.lease, []);
      }
      times.sort((a, b) => a - b);
      results.push({ size, scenario, p50: percentile(times, 0.5), p99: percentile(times, 0.99) });
    }
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

out(
  `\nwabridge claim benchmark — ${claims} claims per scenario (16 jobs; batch: 100), node ${process.version}`,
);
out('messages queued  jobs queued  scenario   p50 ms  p99 ms');
for (const r of results) {
  out(
    `${String(r.size).padStart(15)}  ${String(r.size * 2).padStart(11)}  ${r.scenario.padEnd(9)}  ${r.p50.toFixed(2).padStart(6)}  ${r.p99.toFixed(2).padStart(6)}`,
  );
}
for (const a of admissions)
  out(
    `admitting ${a.size * 2} new jobs into their queues: ${a.ms.toFixed(0)} ms in ${a.transactions} transactions (${((a.ms * 1000) / (a.size * 2)).toFixed(1)} µs per job)`,
  );
const smallest = Math.min(...sizes);
const largest = Math.max(...sizes);
for (const scenario of ['draining', 'stalled', 'filtered', 'batch', 'idle']) {
  const base = results.find((r) => r.size === smallest && r.scenario === scenario);
  const big = results.find((r) => r.size === largest && r.scenario === scenario);
  if (base && big && base !== big)
    out(
      `${scenario}: p50 with ${largest} queued = ${(big.p50 / base.p50).toFixed(2)}× p50 with ${smallest} queued`,
    );
}
