// Ingest on Postgres as a gateway under load sees it, without HTTP: `callers` webhooks of one new
// inbound message in flight at once on one store (each caller sends its next when the last was
// answered), from random customers of 5,000 with Meta-like random wamids, two connectors, so most
// webhooks make a contact and a conversation, as `npm run bench -- --store postgres` does. Prints,
// per run: messages/s (wall), this process's CPU per message, the CPU of the Postgres processes
// serving the store per message (the server runs on this machine: /proc), webhooks per commit and
// statements per commit. The machine is shared: alternate runs of the code being compared.
//   node packages/store-postgres/bench/ingest-load.ts [messages, default 4000] [callers, default 25] [runs, default 1]
//     [spread ms, default 0] [stores, default 1]
// With stores > 1, that many stores (pools) on one schema share the callers and the messages, as
// that many gateways on one database do: their batches take turns on the workspace's archive head.
import { randomBytes, randomInt } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { identity, inboundMessage, messagesUnit, seedWorkspace } from '@wabridge/core/testing';
import pg from 'pg';
import { freshSchema, openPostgresStore, type PostgresStore, testDatabaseUrl } from '../src/index.ts';
import { asConformanceStore } from '../src/testing/open.ts';

const N = Number(process.argv[2] ?? 4000);
const CALLERS = Number(process.argv[3] ?? 25);
const RUNS = Number(process.argv[4] ?? 1);
/**
 * Each caller's pause before its next webhook, at most, in ms (random): an HTTP server's requests
 * arrive spread out, one by one as their bodies are read, not all in the same tick.
 */
const SPREAD_MS = Number(process.argv[5] ?? 0);
const STORES = Number(process.argv[6] ?? 1);
const latencies: number[] = [];

/** CPU seconds (user + system) of a process so far, or null (Linux /proc). */
function cpuSeconds(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return null;
  }
}

let statements = 0;
/**
 * How long each plain batch held its workspace's archive head, as the client sees it: from
 * `ingest_plain`'s answer (the statement takes the head at its end) to COMMIT's (which lets it go).
 */
const headHeld: number[] = [];
const plainAnswered = new WeakMap<object, number>();
const proto = pg.Client.prototype as unknown as { query: (...args: unknown[]) => unknown };
const query = proto.query;
proto.query = function (this: object, ...args: unknown[]) {
  statements++;
  const sql = args[0];
  const text = typeof sql === 'string' ? sql : (sql as { text?: string }).text;
  const answer = query.apply(this, args);
  if (answer instanceof Promise) {
    if (text?.includes('FROM ingest_plain('))
      void answer.then(() => plainAnswered.set(this, performance.now())).catch(() => {});
    else if (text === 'COMMIT')
      void answer
        .then(() => {
          const from = plainAnswered.get(this);
          if (from !== undefined) headHeld.push(performance.now() - from);
          plainAnswered.delete(this);
        })
        .catch(() => {});
  }
  return answer;
};

const webhook = (ws: string) => {
  const waId = `1555${String(randomInt(5000)).padStart(7, '0')}`;
  return messagesUnit(ws, {
    messages: [
      inboundMessage({
        wamid: `wamid.${randomBytes(24).toString('base64')}`,
        contact: identity({ waId, profileName: 'Bench Customer' }),
        timestamp: Date.now(),
        text: 'Message: does it come in another color?',
        content: { type: 'text', text: { body: 'Message: does it come in another color?' } },
      }),
    ],
  });
};

async function drive(stores: readonly PostgresStore[], ws: string, n: number): Promise<void> {
  let left = n;
  await Promise.all(
    Array.from({ length: CALLERS }, async (_, caller) => {
      const store = stores[caller % stores.length] as PostgresStore;
      while (left-- > 0) {
        if (SPREAD_MS > 0) await new Promise((resolve) => setTimeout(resolve, Math.random() * SPREAD_MS));
        const start = performance.now();
        await store.ingest(webhook(ws));
        latencies.push(performance.now() - start);
      }
    }),
  );
}

async function run(): Promise<void> {
  const { schema, drop } = await freshSchema('wb_bench');
  const applicationName = `wabridge-bench-${schema}`;
  const url = new URL(testDatabaseUrl);
  url.searchParams.set('application_name', applicationName);
  const stores: PostgresStore[] = [];
  for (let i = 0; i < STORES; i++) stores.push(await openPostgresStore({ url: url.toString(), schema }));
  const store = stores[0] as PostgresStore;
  const ingestBatches = () => stores.reduce((n, s) => n + s.ingestBatches, 0);
  const probe = new pg.Client({ connectionString: testDatabaseUrl });
  await probe.connect();
  const seen = new Map<number, number>();
  const serverCpu = async () => {
    const { rows } = await probe.query<{ pid: number }>(
      'SELECT pid FROM pg_stat_activity WHERE application_name = $1',
      [applicationName],
    );
    for (const { pid } of rows) {
      const used = cpuSeconds(pid);
      if (used !== null) seen.set(pid, Math.max(seen.get(pid) ?? 0, used));
    }
    return [...seen.values()].reduce((a, b) => a + b, 0);
  };
  try {
    const ws = await seedWorkspace(asConformanceStore(store), { connectors: ['slack', 'hubspot'] });
    await drive(stores, ws, Math.min(1000, N)); // warm-up: JIT, the pool's connections, the data key
    latencies.length = 0;
    headHeld.length = 0;
    const batchesBefore = ingestBatches();
    const statementsBefore = statements;
    const serverBefore = await serverCpu();
    const cpu = process.cpuUsage();
    const start = performance.now();
    await drive(stores, ws, N);
    const seconds = (performance.now() - start) / 1000;
    const used = process.cpuUsage(cpu);
    const server = (await serverCpu()) - serverBefore;
    const batches = ingestBatches() - batchesBefore;
    const sent = statements - statementsBefore;
    latencies.sort((a, b) => a - b);
    const p = (q: number) =>
      latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))]?.toFixed(0);
    headHeld.sort((a, b) => a - b);
    const held = (q: number) =>
      headHeld[Math.min(headHeld.length - 1, Math.floor(q * headHeld.length))]?.toFixed(1);
    process.stdout.write(
      `${N} messages, ${CALLERS} callers${STORES > 1 ? ` over ${STORES} stores` : ''}: ${(N / seconds).toFixed(0)}/s, client CPU ${((used.user + used.system) / N).toFixed(0)} µs/message, server CPU ${((server * 1e6) / N).toFixed(0)} µs/message, ${(N / batches).toFixed(1)} webhooks/commit, ${(sent / batches).toFixed(1)} statements/commit, p50 ${p(0.5)} ms, p99 ${p(0.99)} ms, archive head held p50 ${held(0.5)} / p99 ${held(0.99)} ms, load ${loadavg()[0]?.toFixed(1)}\n`,
    );
  } finally {
    await probe.end();
    for (const s of stores) await s.close();
    await drop();
  }
}

for (let r = 0; r < RUNS; r++) await run();
