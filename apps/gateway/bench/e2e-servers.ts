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
import { createRegistry, noopMetrics } from '@wabridge/core';
import { ledgerConnector, startLedgerTarget } from '@wabridge/core/testing';
import pg from 'pg';
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
  if (process.env.BENCH_COUNT_QUERIES === '1') countQueries();
  const env = loadEnv();
  const registry = createRegistry([ledgerConnector]);
  const server = await startServer(env, {
    worker: mode !== 'ingest',
    http: mode !== 'worker',
    registry,
  });
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
function countQueries(): void {
  const counts = new Map<string, [number, number]>();
  const query = pg.Client.prototype.query as (...args: unknown[]) => unknown;
  pg.Client.prototype.query = function (this: pg.Client, ...args: unknown[]) {
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
