// Ingest on Postgres: webhooks of one new message (a known customer, two connectors: a message,
// its archive record and two jobs per transaction) from one pool, from three pools at once (three
// gateways: they take turns on the workspace's archive head), and webhooks of 20 messages (what
// group commit would make of a burst). Prints messages/s (wall) and this process's CPU per
// message; the database's CPU is not counted. The machine is shared: run it more than once.
//   node packages/store-postgres/bench/ingest.ts [messages per pool, default 300]
import { inboundMessage, messagesUnit, seedWorkspace } from '@wabridge/core/testing';
import { freshSchema, openPostgresStore, type PostgresStore, testDatabaseUrl } from '../src/index.ts';
import { asConformanceStore } from '../src/testing/open.ts';

const N = Number(process.argv[2] ?? 300);

async function ingest(store: PostgresStore, ws: string, tag: string, n: number, perWebhook: number) {
  for (let i = 0; i < n; i += perWebhook) {
    const messages = [];
    for (let j = i; j < Math.min(n, i + perWebhook); j++) {
      messages.push(inboundMessage({ wamid: `wamid.${tag}.${j}`, timestamp: 1_750_000_000_000 + j }));
    }
    await store.ingest(messagesUnit(ws, { messages }));
  }
}

async function scenario(name: string, pools: number, perWebhook: number): Promise<void> {
  const { schema, drop } = await freshSchema('wb_bench');
  const stores: PostgresStore[] = [];
  for (let p = 0; p < pools; p++) {
    stores.push(await openPostgresStore({ url: testDatabaseUrl, schema, poolSize: 1 }));
  }
  try {
    const first = stores[0] as PostgresStore;
    const ws = await seedWorkspace(asConformanceStore(first), { connectors: ['slack', 'hubspot'] });
    // The customer known and the data key made: what every later webhook finds.
    await ingest(first, ws, 'warm', 1, 1);
    const cpu = process.cpuUsage();
    const start = performance.now();
    await Promise.all(stores.map((s, p) => ingest(s, ws, `p${p}`, N, perWebhook)));
    const seconds = (performance.now() - start) / 1000;
    const used = process.cpuUsage(cpu);
    const total = N * pools;
    process.stdout.write(
      `${name}: ${total} messages, ${(total / seconds).toFixed(0)}/s, client CPU ${((used.user + used.system) / total).toFixed(0)} µs/message\n`,
    );
  } finally {
    for (const s of stores) await s.close();
    await drop();
  }
}

await scenario('1 pool, 1 message per webhook', 1, 1);
await scenario('3 pools, 1 message per webhook', 3, 1);
await scenario('1 pool, 20 messages per webhook', 1, 20);
