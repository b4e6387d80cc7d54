// The processes `npm run bench:e2e` runs, each on its own so each one's CPU and event loop are its
// own (the load generator, the gateway and the target never share a thread):
//   target   — the ledger platform from @wabridge/core/testing: unthrottled, records when each
//              effect arrived (Date.now(), comparable across processes on one machine);
//   gateway  — the real gateway as `wabridge serve` runs it (startServer: HTTP edge and delivery
//              worker in one process), with only the ledger connector, pointed at the target;
//   ingest   — the same gateway with its worker off: the ingest-only baseline, and the HTTP edge
//              under --split-worker;
//   worker   — the delivery worker alone (`startServer` without HTTP), for --split-worker;
//   setup    — configures a fresh data directory (workspace, number, ledger connector) and exits,
//              so the gateway's own process (and its profile) holds only the serving.
// Configuration comes from the environment (see gatewayEnv in support.ts, plus LEDGER_URL, and
// DATABASE_URL/DATABASE_SCHEMA for the Postgres store). With BENCH_COUNT_QUERIES=1 the gateway
// counts the statements it sends Postgres (see countQueries) and prints the counts on SIGUSR2.
// With BENCH_STAGES=<file> it notes when each job reached each stage of its delivery (see
// traceStages) and writes them to that file on SIGUSR2.
import { writeFileSync } from 'node:fs';
import { monitorEventLoopDelay, PerformanceObserver } from 'node:perf_hooks';
import { Worker as ThreadWorker } from 'node:worker_threads';
import { createRegistry, type Job, type Lease, noopMetrics, type Store } from '@wabridge/core';
// The ledger connector from its own entry, not `@wabridge/core/testing`, whose index loads vitest
// and the conformance suites (3 MB more live heap than this entry, which `wabridge serve` never
// holds); and the Postgres driver only when counting its queries: this process is measured as
// `serve`.
import { ledgerConnector, startLedgerTarget } from '@wabridge/core/testing/ledger';
import { createLogger, createRuntime, loadEnv, startServer } from '../src/index.ts';

const mode = process.argv[2];

if (mode === 'target') {
  const target = await startLedgerTarget({ port: Number(process.env.PORT) });
  process.stdout.write(`ready ${target.url}\n`);
  process.once('SIGTERM', () => void target.close().then(() => process.exit(0)));
} else if (mode === 'setup') {
  const env = loadEnv();
  const setup = await createRuntime({
    env,
    registry: createRegistry([ledgerConnector]),
    logger: createLogger('warn'),
    metrics: noopMetrics,
    worker: false,
  });
  await setup.admin.createWorkspace('bench', { id: 'bench', name: 'Bench' });
  await setup.admin.addPhoneNumber('bench', 'bench', { phoneNumberId: '106540352242922' });
  await setup.admin.setConnector('bench', 'bench', 'ledger', {
    enabled: true,
    config: { url: process.env.LEDGER_URL ?? 'http://127.0.0.1:9', secret: 'bench-ledger-secret' },
  });
  await setup.close();
  process.stdout.write('ready\n');
} else if (mode === 'gateway' || mode === 'ingest' || mode === 'worker') {
  if (process.env.BENCH_COUNT_QUERIES === '1') await countQueries();
  if (process.env.BENCH_STAGES) countStoreBatches();
  const env = loadEnv();
  const registry = createRegistry([ledgerConnector]);
  const server = await startServer(env, {
    worker: mode !== 'ingest',
    http: mode !== 'worker',
    registry,
  });
  if (process.env.BENCH_STAGES) traceStages(server.runtime.store, process.env.BENCH_STAGES);
  // As `wabridge serve` does once serving: its compile cache entries written (support.ts).
  (await import('node:module')).flushCompileCache?.();
  // The pid, for /proc: under --fsyncs this process is strace's child, not the bench's.
  process.stdout.write(`ready ${process.pid}\n`);
  // A graceful stop, so that --cpu-prof writes its profiles (each thread's) on the way out.
  process.once('SIGTERM', () => void server.close().then(() => process.exit(0)));
} else {
  throw new Error(`unknown server ${mode}`);
}

/**
 * Counts every statement the process sends Postgres, by its SQL with the whitespace folded, and
 * the time to each answer (one call is one round trip: node-postgres sends a statement and waits
 * for its answer; a statement queued behind others on its connection waits for them too). Wraps
 * the driver's Client.query, which the pool's query goes through too, in this bench process only.
 * On SIGUSR2 prints "queries <JSON {sql: [count, ms]}>" on stdout, totals so far, for the bench
 * to diff.
 */
async function countQueries(): Promise<void> {
  const { default: pg } = await import('pg');
  const counts = new Map<string, [number, number]>();
  const query = pg.Client.prototype.query as (...args: unknown[]) => unknown;
  pg.Client.prototype.query = function (this: InstanceType<typeof pg.Client>, ...args: unknown[]) {
    const first = args[0] as string | { text?: string } | undefined;
    const text = typeof first === 'string' ? first : (first?.text ?? '?');
    const key = text.replace(/\s+/g, ' ').trim();
    const entry = counts.get(key) ?? [0, 0];
    counts.set(key, entry);
    entry[0]++;
    const startedAt = performance.now();
    const answered = () => {
      entry[1] += performance.now() - startedAt;
    };
    // The pool passes a callback; the store's own connections take the promise.
    const last = args.length - 1;
    const callback = args[last];
    if (typeof callback === 'function')
      args[last] = (...results: unknown[]) => {
        answered();
        return (callback as (...r: unknown[]) => unknown)(...results);
      };
    const result = query.apply(this, args);
    if (typeof callback !== 'function' && result instanceof Promise) result.then(answered, answered);
    return result;
  } as typeof pg.Client.prototype.query;
  process.on('SIGUSR2', () => {
    process.stdout.write(`queries ${JSON.stringify(Object.fromEntries(counts))}\n`);
  });
}

/**
 * When each delivered job reached each stage, in ms since the epoch (Date.now(), comparable with
 * the bench's send times and the target's effect times): its creation (the store's clock in the
 * ingest transaction), the claim that took it (asked, answered), its event hydrated, the
 * connector's pending checkpoint (asked, answered) and its completion (asked, answered). Wraps the
 * runtime store's methods the worker calls, in this bench process only; the worker looks them up
 * on each call, so wrapping after it started works. The event's text names the bench's sequence
 * number. Beside each time from the claim on, the number of batches of calls sent to the SQLite
 * store thread so far (see countStoreBatches): how many batches a step spanned. On SIGUSR2 the
 * jobs completed since the last time are written to `file` as JSON ([seq, created, claimAsked,
 * claimed, hydrated, checkpointAsked, checkpointed, completeAsked, completed, then the batch
 * counts at claimAsked, claimed, hydrated, checkpointAsked, checkpointed] per job; -1 for a stage
 * a job skipped) and "stages" is printed on stdout. Beside it, `<file>.pauses` gets the main
 * thread's pauses over the same time: its event loop's delay (p50/p99/max, ms, sampled every 10
 * ms) and each of its garbage collections ([start in ms since the epoch, ms, V8's kind]), so a
 * stall that hit every job in flight can be told apart from a slow store-thread batch.
 */
function traceStages(store: Store, file: string): void {
  const open = new Map<number, number[]>();
  let done: number[][] = [];
  const loopDelay = monitorEventLoopDelay({ resolution: 10 });
  loopDelay.enable();
  let collections: number[][] = [];
  new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      // Node's gc entries carry their kind (perf_hooks.constants.NODE_PERFORMANCE_GC_*).
      const kind = (entry as PerformanceEntry & { detail?: { kind?: number } }).detail?.kind ?? -1;
      collections.push([performance.timeOrigin + entry.startTime, entry.duration, kind]);
    }
  }).observe({ entryTypes: ['gc'] });
  const claimJobs = store.claimJobs.bind(store);
  store.claimJobs = async (options) => {
    const asked = Date.now();
    const askedBatch = storeBatches;
    const jobs = await claimJobs(options);
    const at = Date.now();
    for (const job of jobs)
      open.set(job.id, [
        -1,
        job.createdAt,
        asked,
        at,
        -1,
        -1,
        -1,
        -1,
        -1,
        askedBatch,
        storeBatches,
        -1,
        -1,
        -1,
      ]);
    return jobs;
  };
  const hydrateEvent = store.hydrateEvent?.bind(store);
  if (!hydrateEvent) throw new Error('BENCH_STAGES needs a store that hydrates events (SQLite, Postgres)');
  store.hydrateEvent = async (job: Job, now: number) => {
    const event = await hydrateEvent(job, now);
    const stages = open.get(job.id);
    if (stages) {
      stages[4] = Date.now();
      stages[11] = storeBatches;
      const text = event && 'message' in event ? event.message.text : null;
      stages[0] = Number(/^bench (\d+):/.exec(text ?? '')?.[1] ?? -1);
    }
    return event;
  };
  const timed =
    <A extends unknown[], R>(run: (...args: A) => Promise<R>, lease: (...args: A) => Lease, at: number) =>
    async (...args: A): Promise<R> => {
      const stages = open.get(lease(...args).jobId);
      if (stages) {
        stages[at] = Date.now();
        if (at === 5) stages[12] = storeBatches;
      }
      const result = await run(...args);
      if (stages) {
        stages[at + 1] = Date.now();
        if (at === 5) stages[13] = storeBatches;
      }
      return result;
    };
  store.checkpointRef = timed(store.checkpointRef.bind(store), (lease) => lease, 5);
  const completeJob = timed(store.completeJob.bind(store), (lease) => lease, 7);
  store.completeJob = async (lease, refs) => {
    const held = await completeJob(lease, refs);
    const stages = open.get(lease.jobId);
    open.delete(lease.jobId);
    if (stages && stages[0] !== -1) done.push(stages);
    return held;
  };
  process.on('SIGUSR2', () => {
    writeFileSync(file, JSON.stringify(done));
    done = [];
    const ms = (ns: number) => ns / 1e6;
    writeFileSync(
      `${file}.pauses`,
      JSON.stringify({
        loop: [ms(loopDelay.percentile(50)), ms(loopDelay.percentile(99)), ms(loopDelay.max)],
        gc: collections,
      }),
    );
    loopDelay.reset();
    collections = [];
    process.stdout.write('stages\n');
  });
}

/** Batches of calls sent to the SQLite store thread so far (see countStoreBatches). */
let storeBatches = 0;

/**
 * Counts the batches of calls the main thread sends the store thread (threaded.ts posts one
 * message of `calls` per batch), by wrapping worker_threads' postMessage in this bench process.
 */
function countStoreBatches(): void {
  const post = ThreadWorker.prototype.postMessage;
  ThreadWorker.prototype.postMessage = function (this: ThreadWorker, value: unknown, transfer?: never) {
    if (typeof value === 'object' && value !== null && 'calls' in value) storeBatches++;
    return post.call(this, value, transfer);
  };
}
