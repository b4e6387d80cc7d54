// npm run bench:e2e — delivery as a user sees it: the real gateway with its worker on (the
// `wabridge serve` path), one unthrottled ledger target over HTTP, signed text webhooks from 2,000
// customers sent at fixed rates. Per rate: p50/p99 webhook -> effect (the target's receive time −
// the send time), the largest backlog, deliveries per second, CPU per delivered job and peak RSS,
// beside the ingest-only CPU per webhook (the same gateway with its worker off) measured in the
// same run, so the ratio means something on a noisy machine.
// Options: --rates 200,500,1000,2000 (msg/s)  --duration 30 (s per rate)  --quick (5 s per rate)
//          --ingest-duration <s> (default the smaller of --duration and 10)
//          --cpu-prof (profile the gateway, every thread, and summarise where its time went)
//          --drain-timeout 600 (s to wait for the backlog to empty after each rate)
//          --concurrency <n> (the gateway's WORKER_CONCURRENCY; default: the gateway's own default)
//          --fsyncs (Linux, needs strace: count the gateway's fsync/fdatasync calls per job, by
//          thread; strace's seccomp filter stops the gateway on those calls only)
//          --split-worker (the worker in a process of its own beside an HTTP-only gateway, as
//          `wabridge serve` with WORKER_ENABLED=false plus a worker process would run; figures
//          are the two processes' sums; not with --fsyncs or --cpu-prof)
//          --store sqlite|postgres|both (default sqlite): the store the gateway runs on. Postgres
//          is the test server (WABRIDGE_TEST_DATABASE_URL, default 127.0.0.1:5432/test), a fresh
//          schema per phase, dropped after; the CPU of the server processes serving the gateway
//          is reported beside the gateway's (see e2e-stores.ts). With both, the stores run one
//          after the other (never at once) and their figures are printed side by side.
//          --count-queries (Postgres): statements the gateway sent per delivered job and per webhook
//          ingest only, by statement, and the time to their answers (each is a round trip)
//          --node-flags '<flags>': Node/V8 flags for the gateway's processes after serve's own
//          (bin/memory.mjs), to try a setting: --node-flags '--single-threaded-gc'
//          --stages: where each job's time went between the send and the effect (the webhook's
//          answer, the wait for a claim, the claim, hydration, the connector's reads, its pending
//          checkpoint, its call to the target), p50/p99 of each, what the slowest 1% waited for,
//          and when in the run they were sent (see traceStages in e2e-servers.ts)
// Through npm, options follow a `--`: npm run bench:e2e -- --quick --fsyncs
import { type ChildProcess, spawn } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { constants } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { freePort, type LedgerEffect, seededRandom } from '@wabridge/core/testing';
import { customerMessage } from '@wabridge/whatsapp/testing';
import { openStorePhase, type ServerUsage, type StoreName, type StorePhase } from './e2e-stores.ts';
import { summariseProfiles } from './profile-summary.ts';
import {
  byThread,
  cpuPerUnit,
  cpuSeconds,
  gatewayEnv,
  machineBusy,
  machineTimes,
  metaWamid,
  processMemory,
  SERVE_NODE_FLAGS,
  THREAD_GROUPS,
  userSystemSeconds,
} from './support.ts';

const { values } = parseArgs({
  options: {
    rates: { type: 'string', default: '200,500,1000,2000' },
    duration: { type: 'string', default: '30' },
    quick: { type: 'boolean', default: false },
    'ingest-duration': { type: 'string' },
    'cpu-prof': { type: 'boolean', default: false },
    'drain-timeout': { type: 'string', default: '600' },
    fsyncs: { type: 'boolean', default: false },
    concurrency: { type: 'string' },
    'split-worker': { type: 'boolean', default: false },
    store: { type: 'string', default: 'sqlite' },
    'count-queries': { type: 'boolean', default: false },
    stages: { type: 'boolean', default: false },
    'node-flags': { type: 'string', default: '' },
  },
});
const stores: StoreName[] = values.store === 'both' ? ['sqlite', 'postgres'] : [values.store as StoreName];
if (!['sqlite', 'postgres', 'both'].includes(values.store))
  throw new Error('--store takes sqlite, postgres or both');
if (values.fsyncs && stores.includes('postgres'))
  throw new Error(
    "--fsyncs counts the gateway's own fsyncs: on Postgres the server makes them (not with --store postgres)",
  );
if (values['count-queries'] && !stores.includes('postgres'))
  throw new Error(
    '--count-queries counts the statements sent to Postgres: use it with --store postgres or both',
  );
const rates = values.rates.split(',').map(Number);
const duration = values.quick ? 5 : Number(values.duration);
const ingestDuration = Number(values['ingest-duration'] ?? Math.min(duration, 10));
const drainTimeoutMs = Number(values['drain-timeout']) * 1000;
if (![duration, ingestDuration, drainTimeoutMs, ...rates].every((n) => Number.isInteger(n) && n > 0))
  throw new Error('--rates, --duration, --ingest-duration and --drain-timeout take positive whole numbers');
if (values.stages && values['count-queries'])
  throw new Error('--stages and --count-queries both read the gateway on SIGUSR2: one at a time');
if (values['split-worker'] && (values.fsyncs || values['cpu-prof']))
  throw new Error('--split-worker does not go with --fsyncs or --cpu-prof (they follow one gateway process)');
if (values.concurrency !== undefined && !/^[1-9]\d*$/.test(values.concurrency))
  throw new Error('--concurrency takes a positive whole number (the gateway allows 1 to 256)');
/** --node-flags: Node/V8 flags the gateway's processes get after serve's own (an experiment's). */
const extraGatewayFlags = values['node-flags'].split(' ').filter(Boolean);
const SECRET = 'bench-app-secret';
const CUSTOMERS = 2_000;
/** Connections the load generator opens at most (a webhook sender's pool, not one per request). */
const MAX_CONNECTIONS = 256;
const SERVERS = new URL('./e2e-servers.ts', import.meta.url).pathname;
const scratch = mkdtempSync(join(tmpdir(), 'wabridge-bench-e2e-'));
const out = (line: string) => process.stdout.write(`${line}\n`);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

// The customers' order comes from a fixed seed, so every run sends the same traffic.
const random = seededRandom(20_261_206);

// Every webhook is a new message from one of 2,000 customers, in seeded random order, with a
// Meta-shaped wamid. Its text names its sequence number, which comes back in the ledger effect
// and finds the send time. The webhooks are made and signed before each timed run, so the load
// generator spends its CPU sending them (it shares the machine's two cores with the gateway).
let sequence = 0;
interface Webhook {
  seq: number;
  body: string;
  signature: string;
}
function signedWebhooks(count: number, rate: number, everyCustomer = false): Webhook[] {
  const startsAt = Date.now();
  return Array.from({ length: count }, (_, i) => {
    const seq = ++sequence;
    const customer = everyCustomer ? i % CUSTOMERS : Math.floor(random() * CUSTOMERS);
    const waId = `1555${String(customer).padStart(7, '0')}`;
    const body = JSON.stringify(
      customerMessage(
        metaWamid(waId),
        { type: 'text', text: { body: `bench ${seq}: does it come in another color?` } },
        { waId, name: `Bench Customer ${customer}`, timestamp: startsAt + (i * 1000) / rate },
      ),
    );
    return { seq, body, signature: `sha256=${createHmac('sha256', SECRET).update(body).digest('hex')}` };
  });
}

interface Sent {
  /** Send time per sequence number (Date.now(), as the target's receive time). */
  sentAt: Map<number, number>;
  /** How late each send left against its schedule, in ms (the load generator's own lag). */
  lag: number[];
  /** Time to the gateway's 200 per webhook, in ms. */
  ack: number[];
  /** When each acknowledged webhook's 200 arrived, per sequence number (Date.now()). */
  ackedAt: Map<number, number>;
  failed: number;
  /** Why webhooks failed: "HTTP 503", "ECONNRESET"… with counts. */
  failures: Map<string, number>;
  startedAt: number;
  endedAt: number;
}

/**
 * Sends the webhooks open-loop at a fixed rate: each is sent at its scheduled time whether or not
 * earlier ones have been answered, as Meta's delivery would, over at most MAX_CONNECTIONS
 * keep-alive connections. When the gateway answers too slowly for that, a webhook waits in the
 * client's queue for a connection, and the wait counts in its latency (its send time is when it
 * was handed to the client, before any wait): the gateway being slow must not make the load lighter. Without
 * the cap an overloaded gateway is sent thousands of new connections a second (the load
 * generator ran out of file descriptors, EMFILE, and the gateway's accept queue overflowed,
 * ECONNRESET). Resolves once every webhook is answered.
 */
async function sendAtRate(port: number, webhooks: Webhook[], rate: number): Promise<Sent> {
  // A free connection is closed after 4 s idle, before the gateway's keep-alive timeout (Node's
  // default, 5 s) closes it: a request sent on a connection the server is closing fails with
  // ECONNRESET (4 of 15,000 webhooks at 500 msg/s before this).
  const agent = new Agent({ keepAlive: true, maxSockets: MAX_CONNECTIONS, timeout: 4000 });
  const sent: Sent = {
    sentAt: new Map(),
    lag: [],
    ack: [],
    ackedAt: new Map(),
    failed: 0,
    failures: new Map(),
    startedAt: Date.now(),
    endedAt: 0,
  };
  const interval = 1000 / rate;
  const t0 = performance.now();
  let next = 0;
  let answered = 0;
  await new Promise<void>((resolve) => {
    const done = () => {
      answered++;
      if (answered === webhooks.length) resolve();
    };
    const send = (webhook: Webhook) => {
      const at = performance.now();
      let settled = false;
      const settle = (failure: string | null) => {
        if (settled) return;
        settled = true;
        if (failure === null) {
          sent.ack.push(performance.now() - at);
          sent.ackedAt.set(webhook.seq, Date.now());
        } else {
          sent.failed++;
          sent.failures.set(failure, (sent.failures.get(failure) ?? 0) + 1);
        }
        done();
      };
      sent.sentAt.set(webhook.seq, Date.now());
      const req = request(
        {
          agent,
          host: '127.0.0.1',
          port,
          method: 'POST',
          path: '/webhooks/whatsapp',
          headers: {
            'content-type': 'application/json',
            'content-length': Buffer.byteLength(webhook.body),
            'x-hub-signature-256': webhook.signature,
          },
        },
        (res) => {
          res.resume();
          res.once('end', () => settle(res.statusCode === 200 ? null : `HTTP ${res.statusCode}`));
        },
      );
      req.once('error', (error: NodeJS.ErrnoException) => settle(error.code ?? error.message));
      req.end(webhook.body);
    };
    const tick = () => {
      const due = Math.min(webhooks.length, Math.floor((performance.now() - t0) / interval) + 1);
      while (next < due) {
        sent.lag.push(performance.now() - (t0 + next * interval));
        send(webhooks[next] as Webhook);
        next++;
      }
      if (next < webhooks.length) setTimeout(tick, Math.max(0, t0 + next * interval - performance.now()));
    };
    tick();
  });
  sent.endedAt = Date.now();
  agent.destroy();
  return sent;
}

// Children still running when the bench ends (it failed) are stopped by their pids, so a failed
// run leaves no gateway or target behind.
// Under strace the gateway is strace's child: its own pid is kept too, until it is stopped.
const started: ChildProcess[] = [];
const tracedPids = new Set<number>();
process.once('exit', () => {
  for (const pid of tracedPids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  for (const child of started)
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
});

interface Child {
  child: ChildProcess;
  /** The first word after "ready": the target's URL, or the gateway's own pid. */
  ready: string;
  /** Where strace writes the gateway's fsyncs (with --fsyncs), else null. */
  fsyncLog: string | null;
  /** Resolvers waiting for the child's next "queries" line (see countQueries in e2e-servers.ts). */
  queryWaiters: Array<(counts: QueryCounts) => void>;
  /** Resolvers waiting for the child's next "stages" line (see traceStages in e2e-servers.ts). */
  stageWaiters: Array<() => void>;
}

async function startChild(
  mode: 'target' | 'setup' | 'gateway' | 'ingest' | 'worker',
  env: NodeJS.ProcessEnv,
  nodeFlags: string[] = [],
): Promise<Child> {
  // The gateway's processes run with serve's memory settings (the target and setup with Node's).
  const serving = mode === 'gateway' || mode === 'ingest' || mode === 'worker';
  const node = [
    process.execPath,
    '--disable-warning=ExperimentalWarning',
    ...(serving ? [...SERVE_NODE_FLAGS, ...extraGatewayFlags] : []),
    ...nodeFlags,
    SERVERS,
    mode,
  ];
  const fsyncLog =
    values.fsyncs && (mode === 'gateway' || mode === 'ingest') ? join(scratch, `fsyncs-${mode}.log`) : null;
  // -f: every thread; --seccomp-bpf: the gateway stops for the traced calls only; -ttt: when each
  // call started; -T: how long it took.
  const command = fsyncLog
    ? [
        'strace',
        '-f',
        '--seccomp-bpf',
        '-qq',
        '-ttt',
        '-T',
        '-e',
        'trace=fsync,fdatasync',
        '-o',
        fsyncLog,
        ...node,
      ]
    : node;
  const child = spawn(command[0] as string, command.slice(1), { env, stdio: ['ignore', 'pipe', 'inherit'] });
  started.push(child);
  const queryWaiters: Child['queryWaiters'] = [];
  const stageWaiters: Child['stageWaiters'] = [];
  const ready = await new Promise<string>((resolve, reject) => {
    let text = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      text += chunk.toString();
      const lines = text.split('\n');
      text = lines.pop() ?? '';
      for (const line of lines) {
        if (line.startsWith('ready')) resolve(line.slice('ready'.length).trim());
        else if (line === 'stages') stageWaiters.shift()?.();
        else if (line.startsWith('queries '))
          queryWaiters.shift()?.(
            new Map(
              Object.entries(
                JSON.parse(line.slice('queries '.length)) as Record<string, [number, number]>,
              ).map(([sql, [count, ms]]) => [sql, { count, ms }]),
            ),
          );
      }
    });
    child.once('exit', (code) => reject(new Error(`${mode} exited with ${code} before it was ready`)));
    child.once('error', reject);
  });
  if (fsyncLog) tracedPids.add(Number(ready));
  return { child, ready, fsyncLog, queryWaiters, stageWaiters };
}

/** Statements sent to Postgres by SQL: how many, and the ms to their answers (summed). */
type QueryCounts = Map<string, { count: number; ms: number }>;

/** The statements a gateway child has sent Postgres so far (with --count-queries). */
function queryCounts({ child, queryWaiters }: Child): Promise<QueryCounts> {
  return new Promise((resolve) => {
    queryWaiters.push(resolve);
    child.kill('SIGUSR2');
  });
}

/** The statements of each SQL sent between two readings, per unit of work (webhook or job). */
function queriesPerUnit(before: QueryCounts, after: QueryCounts, units: number): QueryCounts {
  const per: QueryCounts = new Map();
  for (const [sql, { count, ms }] of after) {
    const was = before.get(sql) ?? { count: 0, ms: 0 };
    if (count > was.count && units > 0)
      per.set(sql, { count: (count - was.count) / units, ms: (ms - was.ms) / units });
  }
  return per;
}

/** Stops a child by its pid (the gateway's own when strace runs it) and waits for it to exit. */
async function stop({ child, ready, fsyncLog }: Child): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  if (fsyncLog) process.kill(Number(ready), 'SIGTERM');
  else child.kill('SIGTERM');
  await exited;
  tracedPids.delete(Number(ready));
}

/**
 * Each job's stages delivered since the last reading, from the process running the worker (see
 * traceStages in e2e-servers.ts): [seq, created, claimAsked, claimed, hydrated, checkpointAsked,
 * checkpointed, completeAsked, completed], in ms since the epoch.
 */
function jobStages(child: Child, file: string): Promise<JobStages> {
  return new Promise((resolve) => {
    child.stageWaiters.push(() =>
      resolve({
        records: JSON.parse(readFileSync(file, 'utf8')) as number[][],
        pauses: JSON.parse(readFileSync(`${file}.pauses`, 'utf8')) as MainThreadPauses,
      }),
    );
    // The process itself (under --fsyncs the child is strace).
    process.kill(Number(child.ready), 'SIGUSR2');
  });
}

/** The main thread's pauses between two readings (see traceStages in e2e-servers.ts). */
interface MainThreadPauses {
  /** Event loop delay p50, p99 and max, ms. */
  loop: [number, number, number];
  /** Each garbage collection: [start in ms since the epoch, ms, V8's kind]. */
  gc: number[][];
}

interface JobStages {
  records: number[][];
  pauses: MainThreadPauses;
}

/** Garbage collection kinds as Node's gc performance entries give them (perf_hooks.constants). */
const GC_KINDS: Record<number, string> = {
  [constants.NODE_PERFORMANCE_GC_MINOR]: 'scavenge',
  [constants.NODE_PERFORMANCE_GC_MINOR_MARK_SWEEP]: 'minor mark-sweep',
  [constants.NODE_PERFORMANCE_GC_MAJOR]: 'mark-compact',
  [constants.NODE_PERFORMANCE_GC_INCREMENTAL]: 'incremental marking',
  [constants.NODE_PERFORMANCE_GC_WEAKCB]: 'weak callbacks',
};

/** A main-thread garbage collection this long or longer counts as a stall in the report. */
const LONG_GC_MS = 10;

/** The gaps a job's time from send to effect is made of, in order (they sum to its latency). */
const STAGE_NAMES = [
  'to the ingest transaction',
  'its commit and the 200',
  'wait for a claim',
  'claim',
  'hydrate',
  "connector's reads",
  'pending checkpoint',
  'call to the target',
] as const;

interface StageReport {
  jobs: number;
  /** Per stage (STAGE_NAMES order): sorted gaps in ms. */
  gaps: number[][];
  /** Per stage: the mean gap of the slowest 1% of jobs (by send → effect), ms. */
  slowMean: number[];
  /** The slowest 1%: when each was sent, in s since the first send. */
  slowSentAt: number[];
  /** Their latency threshold (p99 of send → effect), ms. */
  threshold: number;
  /**
   * Per step from the claim on (BATCH_STEPS order): sorted counts of the batches of calls sent to
   * the SQLite store thread while the step ran (none on Postgres).
   */
  batches: number[][];
  /** The main thread's event loop delay p50, p99 and max (ms) over the rate and its drain. */
  loopDelay: [number, number, number];
  /** Its garbage collections' pauses, ms, sorted. */
  gcMs: number[];
  /** Their count, summed and longest pause by V8's kind (scavenge, mark-compact, …). */
  gcByKind: Map<string, { count: number; ms: number; max: number }>;
  /** How many of them took LONG_GC_MS or more. */
  longGcs: number;
  /** How many of the slowest 1% were in flight when one of those began. */
  slowDuringLongGc: number;
}

/** The steps whose store-thread batches --stages counts (see traceStages in e2e-servers.ts). */
const BATCH_STEPS = ['claim', 'hydrate', "connector's reads", 'pending checkpoint'] as const;

/**
 * Splits each job's send → effect into STAGE_NAMES: sent → created (the store's clock in the
 * ingest transaction: HTTP, signature, the queue to the store thread) → the bench saw the 200 →
 * the claim that took it was asked (0 when it was asked earlier) → answered → event hydrated →
 * pending checkpoint asked (the connector's ref reads) → answered → the target recorded the effect.
 */
function stageReport(
  { records, pauses }: JobStages,
  sent: Sent,
  effectAt: Map<number, number>,
  startedAt: number,
): StageReport | null {
  const rows: { total: number; sentAt: number; gaps: number[]; batches: number[] }[] = [];
  for (const record of records) {
    const [seq, created, claimAsked, claimed, hydrated, checkpointAsked, checkpointed] = record;
    const [bAsked, bClaimed, bHydrated, bCheckpointAsked, bCheckpointed] = record.slice(9) as number[];
    const sentAt = sent.sentAt.get(seq as number);
    const acked = sent.ackedAt.get(seq as number);
    const effect = effectAt.get(seq as number);
    if (sentAt === undefined || acked === undefined || effect === undefined || (checkpointed as number) < 0)
      continue;
    const claimFrom = Math.max(acked, claimAsked as number);
    rows.push({
      total: effect - sentAt,
      sentAt,
      gaps: [
        (created as number) - sentAt,
        acked - (created as number),
        claimFrom - acked,
        (claimed as number) - claimFrom,
        (hydrated as number) - (claimed as number),
        (checkpointAsked as number) - (hydrated as number),
        (checkpointed as number) - (checkpointAsked as number),
        effect - (checkpointed as number),
      ],
      batches: [
        (bClaimed as number) - (bAsked as number),
        (bHydrated as number) - (bClaimed as number),
        (bCheckpointAsked as number) - (bHydrated as number),
        (bCheckpointed as number) - (bCheckpointAsked as number),
      ],
    });
  }
  if (rows.length === 0) return null;
  const threshold = percentile(sorted(rows.map((r) => r.total)), 0.99);
  const slow = rows.filter((r) => r.total >= threshold);
  const gcMs = sorted(pauses.gc.map(([, ms]) => ms as number));
  const gcByKind = new Map<string, { count: number; ms: number; max: number }>();
  for (const [, ms, kind] of pauses.gc) {
    const name = GC_KINDS[kind as number] ?? `kind ${kind}`;
    const entry = gcByKind.get(name) ?? { count: 0, ms: 0, max: 0 };
    gcByKind.set(name, {
      count: entry.count + 1,
      ms: entry.ms + (ms as number),
      max: Math.max(entry.max, ms as number),
    });
  }
  const longGcs = pauses.gc.filter(([, ms]) => (ms as number) >= LONG_GC_MS);
  return {
    loopDelay: pauses.loop,
    gcMs,
    gcByKind,
    longGcs: longGcs.length,
    // A slow job was in flight during a long collection: it began between its send and its effect.
    slowDuringLongGc: slow.filter((r) =>
      longGcs.some(([at]) => (at as number) >= r.sentAt && (at as number) <= r.sentAt + r.total),
    ).length,
    jobs: rows.length,
    gaps: STAGE_NAMES.map((_, i) => sorted(rows.map((r) => r.gaps[i] as number))),
    slowMean: STAGE_NAMES.map((_, i) => slow.reduce((a, r) => a + (r.gaps[i] as number), 0) / slow.length),
    slowSentAt: slow.map((r) => (r.sentAt - startedAt) / 1000).sort((a, b) => a - b),
    threshold,
    batches: BATCH_STEPS.map((_, i) => sorted(rows.map((r) => r.batches[i] as number))),
  };
}

/** The gateway's threads by id, named as in THREAD_GROUPS (read once it is ready). */
function threadNames(pid: number): Map<number, string> {
  const names = new Map<number, string>();
  try {
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      const name = readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim();
      names.set(Number(tid), THREAD_GROUPS[name] ?? 'other');
    }
  } catch {
    // no /proc: fsyncs are then counted as "other"
  }
  return names;
}

interface Fsyncs {
  /** Calls per unit of work (webhook or job), by thread group. */
  perUnit: Map<string, number>;
  /** How long the store thread's calls took (strace -T), ms, sorted. */
  storeMs: number[];
}

/** fsync/fdatasync calls made between two times (ms since the epoch), per unit of work. */
function fsyncsBetween(
  log: string,
  threads: Map<number, string>,
  from: number,
  to: number,
  units: number,
): Fsyncs {
  const counts = new Map<string, number>();
  const storeMs: number[] = [];
  // strace -ttt -T lines: "<tid> <seconds.micros> fdatasync(5) = 0 <0.004120>". When another
  // thread's call interleaves, a call is split in "fdatasync(5 <unfinished ...>" and a later
  // "<tid> <time> <... fdatasync resumed>) = 0 <0.004120>": one call, its duration on the second.
  const started = new Map<number, number>();
  for (const line of readFileSync(log, 'utf8').split('\n')) {
    const match = /^(\d+)\s+(\d+\.\d+)\s+(<\.\.\. )?f(?:data)?sync[( ]/.exec(line);
    if (!match) continue;
    const tid = Number(match[1]);
    const resumed = match[3] !== undefined;
    const at = resumed ? (started.get(tid) ?? 0) : Number(match[2]) * 1000;
    if (!resumed) started.set(tid, at);
    if (at < from || at > to) continue;
    const group = threads.get(tid) ?? 'other';
    if (!resumed) counts.set(group, (counts.get(group) ?? 0) + 1);
    const took = /<(\d+\.\d+)>$/.exec(line);
    if (took && group === 'store') storeMs.push(Number(took[1]) * 1000);
  }
  return { perUnit: perUnit(counts, units), storeMs: sorted(storeMs) };
}

const percentile = (sorted: number[], p: number) =>
  sorted.length === 0
    ? Number.NaN
    : (sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] as number);
const sorted = (list: number[]) => [...list].sort((a, b) => a - b);
const sum = (map: Map<string, number>) => [...map.values()].reduce((a, b) => a + b, 0);
const systemShare = (
  before: ReturnType<typeof userSystemSeconds>,
  after: ReturnType<typeof userSystemSeconds>,
) => {
  if (!before || !after) return null;
  const system = after.system - before.system;
  const total = system + after.user - before.user;
  return total > 0 ? (100 * system) / total : null;
};
const perUnit = (counts: Map<string, number>, units: number) =>
  new Map([...counts].map(([group, n]) => [group, units > 0 ? n / units : Number.NaN]));

// --- Ingest only: the same gateway with its worker off, at each rate, from an empty database ----
interface IngestRun {
  rate: number;
  webhooks: number;
  failed: number;
  ackP50: number;
  ackP99: number;
  cpu: Map<string, number>;
  /** CPU µs per webhook of the database server's processes serving the gateway (Postgres), else null. */
  serverCpu: number | null;
  /** The kernel's share of that CPU, in %. */
  system: number | null;
  /** fsync/fdatasync calls per webhook, by thread group, and their durations (with --fsyncs). */
  fsyncs: Fsyncs | null;
  /** Statements sent to Postgres per webhook (with --count-queries), else null. */
  queries: QueryCounts | null;
}
const target = await startChild('target', { ...process.env, PORT: String(await freePort()) });
const targetUrl = target.ready;

/** CPU µs per unit between two `server()` readings, or null (SQLite: no server). */
const serverCpuPerUnit = (before: ServerUsage | null, after: ServerUsage | null, units: number) =>
  before === null || after === null || units === 0
    ? null
    : ((after.cpuSeconds - before.cpuSeconds) * 1e6) / units;

async function ingestOnly(store: StoreName): Promise<IngestRun[]> {
  const runs: IngestRun[] = [];
  const dataDir = join(scratch, `${store}-ingest`);
  const phase = await openStorePhase(store, dataDir, 'ingest');
  try {
    const port = await freePort();
    const env = { ...gatewayEnv(port, dataDir, SECRET), ...phase.env, LEDGER_URL: targetUrl };
    const countingQueries = values['count-queries'] && store === 'postgres';
    await stop(await startChild('setup', env));
    const ingest = await startChild('ingest', {
      ...env,
      ...(countingQueries ? { BENCH_COUNT_QUERIES: '1' } : {}),
    });
    const pid = Number(ingest.ready);
    const threads = threadNames(pid);
    try {
      await sendAtRate(port, signedWebhooks(CUSTOMERS, 400, true), 400); // warm-up: JIT, pools, pages
      for (const rate of rates) {
        const webhooks = signedWebhooks(rate * ingestDuration, rate);
        const before = cpuSeconds(pid);
        const serverBefore = await phase.server();
        const splitBefore = userSystemSeconds(pid);
        const queriesBefore = countingQueries ? await queryCounts(ingest) : null;
        const from = Date.now();
        // The server's processes are sampled during the run too: one that ends takes its share.
        // A failed sample is skipped (the readings before and after the run are what count).
        const sampler = setInterval(() => void phase.server().catch(() => {}), 500);
        const sent = await sendAtRate(port, webhooks, rate).finally(() => clearInterval(sampler));
        const acknowledged = webhooks.length - sent.failed;
        const cpu = cpuPerUnit(before, cpuSeconds(pid), acknowledged);
        const serverCpu = serverCpuPerUnit(serverBefore, await phase.server(), acknowledged);
        const queries = queriesBefore
          ? queriesPerUnit(queriesBefore, await queryCounts(ingest), acknowledged)
          : null;
        const system = systemShare(splitBefore, userSystemSeconds(pid));
        const fsyncs = ingest.fsyncLog
          ? fsyncsBetween(ingest.fsyncLog, threads, from, Date.now(), acknowledged)
          : null;
        const acks = sorted(sent.ack);
        if (sent.failed > 0)
          out(
            `warning: ${sent.failed} webhooks failed (${[...sent.failures].map(([why, n]) => `${why} ×${n}`).join(', ')})`,
          );
        runs.push({
          rate,
          webhooks: webhooks.length,
          failed: sent.failed,
          ackP50: percentile(acks, 0.5),
          ackP99: percentile(acks, 0.99),
          cpu,
          serverCpu,
          system,
          fsyncs,
          queries,
        });
        out(
          `${store.padEnd(8)} ingest only  ${rate} msg/s: ${webhooks.length} webhooks, ${sent.failed} failed, ack p50/p99 ${percentile(acks, 0.5).toFixed(1)}/${percentile(acks, 0.99).toFixed(1)} ms, CPU ${sum(cpu).toFixed(0)} µs/webhook (${byThread(cpu)})${serverCpu === null ? '' : ` + Postgres ${serverCpu.toFixed(0)}`}${fsyncs ? `, fsyncs/webhook ${byThread(fsyncs.perUnit, 3)}` : ''}`,
        );
      }
    } finally {
      await stop(ingest);
    }
  } finally {
    await phase.close();
  }
  return runs;
}

// --- End to end: the gateway with its worker on, delivering to the target ----------------------
interface E2eRun {
  rate: number;
  sent: number;
  failed: number;
  delivered: number;
  p50: number;
  p99: number;
  max: number;
  ackP99: number;
  lagP99: number;
  maxBacklog: number;
  /** Deliveries per second while the webhooks were being sent. */
  deliveryRate: number;
  /** Deliveries per second after the last send, until the backlog was empty (null when it already was). */
  drainRate: number | null;
  drainSeconds: number;
  cpu: Map<string, number>;
  /** CPU µs per delivered job of the database server's processes serving the gateway (Postgres), else null. */
  serverCpu: number | null;
  /** Peak private memory of those processes, MB (Postgres), else null. */
  serverPeakMb: number | null;
  /** The kernel's share of that CPU, in %. */
  system: number | null;
  /** fsync/fdatasync calls per delivered job, by thread group, and their durations (with --fsyncs). */
  fsyncs: Fsyncs | null;
  /** Statements sent to Postgres per delivered job, by SQL (with --count-queries), else null. */
  queries: QueryCounts | null;
  /** Where the jobs' time went (with --stages), else null. */
  stages: StageReport | null;
  peakRss: number;
  busy: number | null;
}

interface EndToEnd {
  runs: E2eRun[];
  /** Effects delivered over the whole phase, warm-up included (for the profile's per-job figures). */
  delivered: number;
}

async function endToEnd(store: StoreName, profileDir: string | null): Promise<EndToEnd> {
  const runs: E2eRun[] = [];
  const dataDir = join(scratch, `${store}-e2e`);
  const phase = await openStorePhase(store, dataDir, 'e2e');
  try {
    return await endToEndOn(store, phase, dataDir, profileDir, runs);
  } finally {
    await phase.close();
  }
}

async function endToEndOn(
  store: StoreName,
  phase: StorePhase,
  dataDir: string,
  profileDir: string | null,
  runs: E2eRun[],
): Promise<EndToEnd> {
  const port = await freePort();
  const countingQueries = values['count-queries'] && store === 'postgres';
  const gatewayEnvironment = {
    ...gatewayEnv(port, dataDir, SECRET),
    ...phase.env,
    LEDGER_URL: targetUrl,
    ...(values.concurrency ? { WORKER_CONCURRENCY: values.concurrency } : {}),
  };
  const servingEnvironment = {
    ...gatewayEnvironment,
    ...(countingQueries ? { BENCH_COUNT_QUERIES: '1' } : {}),
  };
  // The process running the worker notes each job's stages (--stages).
  const stagesFile = values.stages ? join(scratch, `stages-${store}.json`) : null;
  const tracing = stagesFile ? { BENCH_STAGES: stagesFile } : {};
  await stop(await startChild('setup', gatewayEnvironment));
  const split = values['split-worker'];
  const gateway = await startChild(
    split ? 'ingest' : 'gateway',
    { ...servingEnvironment, ...(split ? {} : tracing) },
    profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [],
  );
  const gatewayPid = Number(gateway.ready);
  const gatewayThreads = threadNames(gatewayPid);
  const workerProcess = split ? await startChild('worker', { ...servingEnvironment, ...tracing }) : null;
  const stagesOf = stagesFile
    ? () => jobStages(workerProcess ?? gateway, stagesFile)
    : () => Promise.resolve<JobStages>({ records: [], pauses: { loop: [0, 0, 0], gc: [] } });
  const counted = [gateway, ...(workerProcess ? [workerProcess] : [])];
  const queriesOfAll = async () => {
    const total: QueryCounts = new Map();
    for (const child of counted)
      for (const [sql, { count, ms }] of await queryCounts(child)) {
        const sum = total.get(sql) ?? { count: 0, ms: 0 };
        total.set(sql, { count: sum.count + count, ms: sum.ms + ms });
      }
    return total;
  };
  // The processes whose CPU and memory count: the gateway, and the worker's under --split-worker.
  const measured = [gatewayPid, ...(workerProcess ? [Number(workerProcess.ready)] : [])];
  const cpuOfAll = () => {
    const total = new Map<string, number>();
    for (const pid of measured)
      for (const [group, seconds] of cpuSeconds(pid) ?? [])
        total.set(group, (total.get(group) ?? 0) + seconds);
    return total;
  };
  const userSystemOfAll = () => {
    const all = measured.map(userSystemSeconds);
    return all.every((x) => x !== null)
      ? { user: all.reduce((a, x) => a + x.user, 0), system: all.reduce((a, x) => a + x.system, 0) }
      : null;
  };
  let seenEffects = 0;
  /** The effects the target recorded since the last call (it keeps them all, in arrival order). */
  async function newEffects(): Promise<LedgerEffect[]> {
    const all = (await (await fetch(`${targetUrl}/effects`)).json()) as LedgerEffect[];
    const fresh = all.slice(seenEffects);
    seenEffects = all.length;
    return fresh;
  }
  /** Polls the backlog every 200 ms until it is empty; returns when it was first seen empty. */
  async function drained(onSample: (depth: number) => void): Promise<number> {
    const deadline = Date.now() + drainTimeoutMs;
    for (;;) {
      const depth = await phase.backlog();
      onSample(depth);
      if (depth === 0) return Date.now();
      // Reported, not thrown: the figures so far are the finding (the rest count as undelivered,
      // and a next rate starts with this backlog).
      if (Date.now() > deadline) {
        out(`warning: the backlog did not drain within ${drainTimeoutMs / 1000} s (${depth} jobs left)`);
        return Date.now();
      }
      await sleep(200);
    }
  }
  let totalDelivered = 0;
  try {
    // Warm-up: every customer writes once, so each rate's conversations already exist (as they
    // would in a running deployment) and JIT, pools and pages are warm.
    await sendAtRate(port, signedWebhooks(CUSTOMERS, 400, true), 400);
    await drained(() => {});
    totalDelivered += (await newEffects()).length;
    await stagesOf(); // the warm-up's
    for (const rate of rates) {
      const webhooks = signedWebhooks(rate * duration, rate);
      let maxBacklog = 0;
      let peakRss = 0;
      let serverPeakMb: number | null = null;
      // Every 500 ms, the queue depth, the gateway's resident memory and the server's CPU (its
      // processes are read while they live). A slow read skips a tick instead of piling up.
      let sampling = false;
      const sample = async () => {
        if (sampling) return;
        sampling = true;
        try {
          maxBacklog = Math.max(maxBacklog, await phase.backlog());
          const server = await phase.server();
          if (server) serverPeakMb = Math.max(serverPeakMb ?? 0, server.privateMb);
          peakRss = Math.max(
            peakRss,
            measured.reduce((total, pid) => total + (processMemory(pid)?.rss ?? 0), 0),
          );
        } finally {
          sampling = false;
        }
      };
      const sampler = setInterval(() => void sample().catch(() => {}), 500);
      const cpuBefore = cpuOfAll();
      const serverBefore = await phase.server();
      const queriesBefore = countingQueries ? await queriesOfAll() : null;
      const splitBefore = userSystemOfAll();
      const machineBefore = machineTimes();
      const from = Date.now();
      const sent = await sendAtRate(port, webhooks, rate);
      const drainedAt = await drained((depth) => {
        maxBacklog = Math.max(maxBacklog, depth);
      });
      clearInterval(sampler);
      while (sampling) await sleep(10);
      await sample();
      const cpuAfter = cpuOfAll();
      const serverAfter = await phase.server();
      const queriesAfter = countingQueries ? await queriesOfAll() : null;
      const splitAfter = userSystemOfAll();
      const machineAfter = machineTimes();
      const effects = (await newEffects()).filter((e) => e.eventType === 'message.inbound');
      const latencies: number[] = [];
      const effectAt = new Map<number, number>();
      for (const effect of effects) {
        const seq = Number(/^bench (\d+):/.exec(effect.text ?? '')?.[1]);
        const at = sent.sentAt.get(seq);
        if (at !== undefined) latencies.push(effect.at - at);
        effectAt.set(seq, effect.at);
      }
      const stages = stagesFile ? stageReport(await stagesOf(), sent, effectAt, sent.startedAt) : null;
      totalDelivered += effects.length;
      const ordered = sorted(latencies);
      const sendSeconds = (sent.endedAt - sent.startedAt) / 1000;
      const duringSend = effects.filter((e) => e.at <= sent.endedAt).length;
      const drainSeconds = Math.max(0, (drainedAt - sent.endedAt) / 1000);
      const queries =
        queriesBefore && queriesAfter ? queriesPerUnit(queriesBefore, queriesAfter, effects.length) : null;
      const run: E2eRun = {
        rate,
        sent: webhooks.length,
        failed: sent.failed,
        delivered: latencies.length,
        p50: percentile(ordered, 0.5),
        p99: percentile(ordered, 0.99),
        max: ordered.at(-1) ?? Number.NaN,
        ackP99: percentile(sorted(sent.ack), 0.99),
        lagP99: percentile(sorted(sent.lag), 0.99),
        maxBacklog,
        deliveryRate: duringSend / sendSeconds,
        drainRate: drainSeconds >= 1 ? (effects.length - duringSend) / drainSeconds : null,
        drainSeconds,
        cpu: cpuPerUnit(cpuBefore, cpuAfter, effects.length),
        serverCpu: serverCpuPerUnit(serverBefore, serverAfter, effects.length),
        serverPeakMb,
        system: systemShare(splitBefore, splitAfter),
        fsyncs: gateway.fsyncLog
          ? fsyncsBetween(gateway.fsyncLog, gatewayThreads, from, drainedAt, effects.length)
          : null,
        queries,
        stages,
        peakRss,
        busy: machineBusy(machineBefore, machineAfter),
      };
      runs.push(run);
      out(
        `${store.padEnd(8)} end to end   ${rate} msg/s: ${run.delivered}/${run.sent} delivered, p50/p99 ${run.p50}/${run.p99} ms, backlog ≤ ${maxBacklog}, drained in ${drainSeconds.toFixed(1)} s, CPU ${sum(run.cpu).toFixed(0)} µs/job (${byThread(run.cpu)})${run.serverCpu === null ? '' : ` + Postgres ${run.serverCpu.toFixed(0)}`}${run.fsyncs ? `, fsyncs/job ${byThread(run.fsyncs.perUnit, 3)}` : ''}`,
      );
      if (sent.failed > 0)
        out(
          `warning: ${sent.failed} webhooks failed (${[...sent.failures].map(([why, n]) => `${why} ×${n}`).join(', ')})`,
        );
      // A webhook whose answer was lost (a reset connection) may have been stored all the same.
      if (latencies.length < webhooks.length - sent.failed)
        out(
          `warning: ${webhooks.length - sent.failed - latencies.length} acknowledged webhooks were not delivered`,
        );
    }
  } finally {
    if (workerProcess) await stop(workerProcess);
    await stop(gateway);
  }
  return { runs, delivered: totalDelivered };
}

interface StoreResult {
  store: StoreName;
  ingest: IngestRun[];
  e2e: EndToEnd;
  profileDir: string | null;
}
const results: StoreResult[] = [];
try {
  // One store after the other: two gateways at once would share the two cores.
  for (const store of stores) {
    const profileDir = values['cpu-prof']
      ? mkdtempSync(join(tmpdir(), `wabridge-bench-e2e-prof-${store}-`))
      : null;
    const ingest = await ingestOnly(store);
    results.push({ store, ingest, e2e: await endToEnd(store, profileDir), profileDir });
  }
} finally {
  await stop(target);
  rmSync(scratch, { recursive: true, force: true });
}

// --- Report ----------------------------------------------------------------------------------------
const fixed = (n: number | null, digits = 0) => (n === null || Number.isNaN(n) ? '-' : n.toFixed(digits));
const split = values['split-worker'];
out(
  `\nwabridge end-to-end benchmark — ${duration} s per rate (ingest only: ${ingestDuration} s), ${CUSTOMERS} customers, store ${stores.join(' then ')}, worker concurrency ${values.concurrency ?? 'default'}${split ? ' in a process of its own (figures: both processes)' : ''}${extraGatewayFlags.length > 0 ? `, gateway flags ${extraGatewayFlags.join(' ')}` : ''}, node ${process.version}, ${cpus().length} cores, load average ${loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')}, ${new Date().toISOString()}`,
);
for (const { store, ingest: ingestRuns, e2e, profileDir } of results) {
  const e2eRuns = e2e.runs;
  // On Postgres the server's processes work for the gateway: their CPU is a column of its own
  // (µs per job, and per webhook ingest only), and the ratio compares the sums.
  const withServer = store === 'postgres';
  out(`\n[${store}]`);
  out(
    `rate/s  delivered  failed  p50 ms  p99 ms  max ms  backlog max  deliv/s (send)  deliv/s (drain)  drain s  CPU µs/job${withServer ? '  Postgres µs/job' : ''}  ingest-only µs/webhook${withServer ? ' (+Postgres)' : ''}  ratio  sys % (e2e/ingest)  peak RSS MB${withServer ? '  Postgres MB' : ''}  busy %  ack p99 ms  send lag p99 ms`,
  );
  for (const r of e2eRuns) {
    const ingest = ingestRuns.find((i) => i.rate === r.rate);
    const ingestCpu = ingest ? sum(ingest.cpu) + (ingest.serverCpu ?? 0) : null;
    const e2eCpu = sum(r.cpu) + (r.serverCpu ?? 0);
    out(
      [
        String(r.rate).padStart(6),
        String(r.delivered).padStart(9),
        String(r.failed).padStart(6),
        fixed(r.p50).padStart(6),
        fixed(r.p99).padStart(6),
        fixed(r.max).padStart(6),
        String(r.maxBacklog).padStart(11),
        fixed(r.deliveryRate).padStart(14),
        fixed(r.drainRate).padStart(15),
        fixed(r.drainSeconds, 1).padStart(7),
        fixed(sum(r.cpu)).padStart(10),
        ...(withServer ? [fixed(r.serverCpu).padStart(15)] : []),
        (ingest
          ? `${fixed(sum(ingest.cpu))}${withServer ? ` (+${fixed(ingest.serverCpu)})` : ''}`
          : '-'
        ).padStart(withServer ? 34 : 22),
        (ingestCpu ? `${(e2eCpu / ingestCpu).toFixed(1)}×` : '-').padStart(5),
        `${fixed(r.system)}/${fixed(ingest?.system ?? null)}`.padStart(18),
        fixed(r.peakRss).padStart(11),
        ...(withServer ? [fixed(r.serverPeakMb).padStart(11)] : []),
        fixed(r.busy).padStart(6),
        fixed(r.ackP99, 1).padStart(10),
        fixed(r.lagP99, 1).padStart(15),
      ].join('  '),
    );
  }
  out('\nCPU per delivered job by thread (µs), end to end | ingest only:');
  for (const r of e2eRuns) {
    const ingest = ingestRuns.find((i) => i.rate === r.rate);
    const server = (cpu: number | null) => (cpu === null ? '' : `, Postgres ${cpu.toFixed(1)}`);
    out(
      `  ${String(r.rate).padStart(5)}/s: ${byThread(r.cpu)}${server(r.serverCpu)} | ${ingest ? `${byThread(ingest.cpu)}${server(ingest.serverCpu)}` : '-'}`,
    );
  }
  if (e2eRuns.some((r) => r.fsyncs)) {
    // The store thread runs one transaction at a time: while it waits in fsync, every store call of
    // the worker and the HTTP edge waits too.
    const describe = (f: Fsyncs | null | undefined, units: number) =>
      f
        ? `${sum(f.perUnit).toFixed(2)} (${byThread(f.perUnit, 3)}), store fsync p50/p99 ${percentile(f.storeMs, 0.5).toFixed(1)}/${percentile(f.storeMs, 0.99).toFixed(1)} ms, store thread in fsync ${((f.storeMs.reduce((a, b) => a + b, 0) * 1000) / Math.max(1, units)).toFixed(0)} µs/unit`
        : '-';
    out('\nfsync/fdatasync calls per delivered job, end to end | per webhook, ingest only:');
    for (const r of e2eRuns) {
      const ingest = ingestRuns.find((i) => i.rate === r.rate);
      out(`  ${String(r.rate).padStart(5)}/s: ${describe(r.fsyncs, r.delivered)}`);
      out(`          | ${describe(ingest?.fsyncs, ingest ? ingest.webhooks - ingest.failed : 0)}`);
    }
  }
  for (const r of e2eRuns) {
    const st = r.stages;
    if (!st) continue;
    out(
      `\nwhere the time went at ${r.rate}/s (${st.jobs} jobs; ms; the stages add up to send → effect; slowest 1%: ≥ ${fixed(st.threshold)} ms):`,
    );
    out(
      `  ${'stage'.padEnd(26)}  ${'p50'.padStart(6)}  ${'p99'.padStart(6)}  ${'max'.padStart(6)}  slowest 1% mean`,
    );
    STAGE_NAMES.forEach((name, i) => {
      const gaps = st.gaps[i] as number[];
      out(
        `  ${name.padEnd(26)}  ${fixed(percentile(gaps, 0.5), 1).padStart(6)}  ${fixed(percentile(gaps, 0.99), 1).padStart(6)}  ${fixed(gaps.at(-1) ?? Number.NaN, 1).padStart(6)}  ${fixed(st.slowMean[i] as number, 1).padStart(15)}`,
      );
    });
    const mean = (list: number[]) => list.reduce((a, b) => a + b, 0) / Math.max(1, list.length);
    out(
      `  store-thread batches sent during each step (mean, p50/p99): ${BATCH_STEPS.map((name, i) => `${name} ${mean(st.batches[i] as number[]).toFixed(2)} (${percentile(st.batches[i] as number[], 0.5)}/${percentile(st.batches[i] as number[], 0.99)})`).join(', ')}`,
    );
    // Clustered send times mean a stall hit everything in flight; spread ones, a per-job cost.
    const bins = new Map<string, number>();
    for (const t of st.slowSentAt) {
      const bin = (Math.floor(t * 10) / 10).toFixed(1);
      bins.set(bin, (bins.get(bin) ?? 0) + 1);
    }
    out(
      `  slowest 1% sent at (s into the run ×jobs, 100 ms bins): ${[...bins].map(([t, n]) => (n > 1 ? `${t}×${n}` : t)).join(' ')}`,
    );
    const [loopP50, loopP99, loopMax] = st.loopDelay;
    const gcTotal = st.gcMs.reduce((a, b) => a + b, 0);
    out(
      `  main thread (the rate and its drain): event loop delay p50/p99/max ${fixed(loopP50, 1)}/${fixed(loopP99, 1)}/${fixed(loopMax, 1)} ms; ${st.gcMs.length} GCs, ${fixed(gcTotal)} ms in all, p99/max ${fixed(percentile(st.gcMs, 0.99), 1)}/${fixed(st.gcMs.at(-1) ?? 0, 1)} ms, ${st.longGcs} of ≥ ${LONG_GC_MS} ms; slowest 1% in flight at one of those: ${st.slowDuringLongGc} of ${st.slowSentAt.length}`,
    );
    out(
      `  main thread's GCs by kind (count, ms in all, longest ms): ${[...st.gcByKind].map(([kind, g]) => `${kind} ${g.count}, ${fixed(g.ms)}, ${fixed(g.max, 1)}`).join('; ')}`,
    );
  }
  for (const r of e2eRuns) {
    if (!r.queries) continue;
    // The end-to-end gateway stores the webhooks it delivers: its statements are ingest's and the
    // delivery's. Ingest's, per webhook, come from the ingest-only run at the same rate, so the
    // difference is what delivering a job costs.
    const ingest = ingestRuns.find((i) => i.rate === r.rate)?.queries ?? new Map();
    const total = (q: QueryCounts) => [...q.values()].reduce((a, b) => a + b.count, 0);
    out(
      `\nstatements sent to Postgres at ${r.rate}/s: ${total(r.queries).toFixed(2)} per delivered job end to end, ${total(ingest).toFixed(2)} per webhook ingest only`,
    );
    out('  e2e/job  ingest/webhook  delivery/job  ms to answer/job (e2e)  statement');
    const rows = [...new Set([...r.queries.keys(), ...ingest.keys()])].map((sql) => {
      const e2eCount = r.queries?.get(sql) ?? { count: 0, ms: 0 };
      const ingestCount = ingest.get(sql)?.count ?? 0;
      return { sql, e2e: e2eCount, ingest: ingestCount, delivery: e2eCount.count - ingestCount };
    });
    for (const row of rows.sort((a, b) => b.delivery - a.delivery || b.e2e.count - a.e2e.count))
      out(
        `  ${row.e2e.count.toFixed(3).padStart(7)}  ${row.ingest.toFixed(3).padStart(14)}  ${row.delivery.toFixed(3).padStart(12)}  ${row.e2e.ms.toFixed(2).padStart(22)}  ${row.sql.length > 150 ? `${row.sql.slice(0, 147)}...` : row.sql}`,
      );
  }
  if (profileDir) {
    out('');
    out(
      summariseProfiles(
        readdirSync(profileDir).map((name) => join(profileDir, name)),
        e2e.delivered,
      ),
    );
    out(`(profiles kept in ${profileDir}; open them in Chrome DevTools or speedscope)`);
  }
}
if (results.length > 1) {
  // Issue 21's question: webhook -> effect on each store, from the same run on the same machine.
  out('\nwebhook → effect side by side (CPU µs/job: the gateway, + the Postgres server processes):');
  const cells = (r: E2eRun | undefined) =>
    r
      ? `${fixed(r.p50).padStart(6)} ${fixed(r.p99).padStart(6)} ${String(r.maxBacklog).padStart(7)} ${fixed(r.deliveryRate).padStart(7)} ${`${fixed(sum(r.cpu))}${r.serverCpu === null ? '' : ` + ${fixed(r.serverCpu)}`}`.padStart(11)} ${fixed(r.peakRss).padStart(6)}`
      : '-';
  const head = ' p50 ms p99 ms backlog deliv/s  CPU µs/job RSS MB';
  out(`rate/s | ${results.map((r) => `${r.store.padEnd(head.length)}`).join(' | ')}`);
  out(`       | ${results.map(() => head).join(' | ')}`);
  for (const rate of rates)
    out(
      `${String(rate).padStart(6)} | ${results.map((r) => cells(r.e2e.runs.find((x) => x.rate === rate))).join(' | ')}`,
    );
}
