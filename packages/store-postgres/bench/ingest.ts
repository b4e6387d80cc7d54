// Ingest on Postgres: webhooks of one new message (a known customer, two connectors: a message,
// its archive record and two jobs per webhook) from one pool, one webhook at a time; from three
// pools at once (three gateways: they take turns on the workspace's archive head); webhooks of 20
// messages; and what a gateway under load does: many webhooks in flight at once on one store
// (`concurrency` callers, each sending its next webhook when the last was answered), which group
// commit turns into shared transactions. Prints messages/s (wall), this process's CPU per message
// (the database's CPU is not counted) and, for the concurrent runs, webhooks per commit. The
// machine is shared: run it more than once.
//   node packages/store-postgres/bench/ingest.ts [messages per pool, default 300] [concurrency, default 50]
import { inboundMessage, messagesUnit, seedWorkspace } from '@wabridge/core/testing';
import { freshSchema, openPostgresStore, type PostgresStore, testDatabaseUrl } from '../src/index.ts';
import { asConformanceStore } from '../src/testing/open.ts';

const N = Number(process.argv[2] ?? 300);
const CONCURRENCY = Number(process.argv[3] ?? 50);

async function ingest(
  store: PostgresStore,
  ws: string,
  tag: string,
  n: number,
  perWebhook: number,
  callers = 1,
): Promise<void> {
  if (callers > 1) {
    const share = Math.ceil(n / callers);
    await Promise.all(
      Array.from({ length: callers }, (_, c) =>
        ingest(store, ws, `${tag}.c${c}`, Math.min(share, n - c * share), perWebhook),
      ),
    );
    return;
  }
  for (let i = 0; i < n; i += perWebhook) {
    const messages = [];
    for (let j = i; j < Math.min(n, i + perWebhook); j++) {
      messages.push(inboundMessage({ wamid: `wamid.${tag}.${j}`, timestamp: 1_750_000_000_000 + j }));
    }
    await store.ingest(messagesUnit(ws, { messages }));
  }
}

async function scenario(name: string, pools: number, perWebhook: number, callers = 1): Promise<void> {
  const { schema, drop } = await freshSchema('wb_bench');
  const stores: PostgresStore[] = [];
  for (let p = 0; p < pools; p++) {
    // A pool of one where one webhook is in flight; the gateway's default where many are.
    stores.push(await openPostgresStore({ url: testDatabaseUrl, schema, poolSize: callers > 1 ? 10 : 1 }));
  }
  try {
    const first = stores[0] as PostgresStore;
    const ws = await seedWorkspace(asConformanceStore(first), { connectors: ['slack', 'hubspot'] });
    // The customer known and the data key made: what every later webhook finds.
    await ingest(first, ws, 'warm', 1, 1);
    const batchesBefore = stores.reduce((n, s) => n + s.ingestBatches, 0);
    const cpu = process.cpuUsage();
    const start = performance.now();
    await Promise.all(stores.map((s, p) => ingest(s, ws, `p${p}`, N, perWebhook, callers)));
    const seconds = (performance.now() - start) / 1000;
    const used = process.cpuUsage(cpu);
    const total = N * pools;
    const batches = stores.reduce((n, s) => n + s.ingestBatches, 0) - batchesBefore;
    const perCommit =
      callers > 1 && batches > 0 ? `, ${(total / perWebhook / batches).toFixed(1)} webhooks/commit` : '';
    process.stdout.write(
      `${name}: ${total} messages, ${(total / seconds).toFixed(0)}/s, client CPU ${((used.user + used.system) / total).toFixed(0)} µs/message${perCommit}\n`,
    );
  } finally {
    for (const s of stores) await s.close();
    await drop();
  }
}

await scenario('1 pool, 1 message per webhook', 1, 1);
await scenario('3 pools, 1 message per webhook', 3, 1);
await scenario('1 pool, 20 messages per webhook', 1, 20);
await scenario(`1 pool, 1 message per webhook, ${CONCURRENCY} at once`, 1, 1, CONCURRENCY);
await scenario(`2 pools, 1 message per webhook, ${CONCURRENCY} at once each`, 2, 1, CONCURRENCY);
