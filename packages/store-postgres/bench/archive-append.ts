// Archive appends on Postgres: one record per transaction (a webhook's message without group
// commit), to one log from one pool, to one log from three pools (three gateways: they take turns
// on the log's head row), to three logs from three pools, and to one log from three pools with 20
// records per transaction (what group commit would make of a burst). Prints appends/s (wall) and this
// process's CPU per append; the database's CPU is not counted. Run alternately with other
// variants in one sitting: the machine is shared.
//   node packages/store-postgres/bench/archive-append.ts [appends per pool, default 300]
import { freshSchema, openPostgresStore, type PostgresStore, testDatabaseUrl } from '../src/index.ts';

const N = Number(process.argv[2] ?? 300);

async function appendMany(store: PostgresStore, log: string, n: number, perTx: number): Promise<void> {
  for (let i = 0; i < n; i += perTx) {
    await store.db.transaction(async (tx) => {
      const entries = [];
      for (let j = i; j < Math.min(n, i + perTx); j++) {
        const content = await store.archive.sealContent(tx, log, { text: `message ${j}` });
        entries.push({ kind: 'message.inbound' as const, entityId: `m-${j}`, data: { j }, at: j, content });
      }
      await store.archive.appendMany(tx, log, entries);
    });
  }
}

async function scenario(name: string, pools: number, logs: number, perTx = 1): Promise<void> {
  const { schema, drop } = await freshSchema('wb_bench');
  const stores: PostgresStore[] = [];
  for (let p = 0; p < pools; p++) {
    stores.push(await openPostgresStore({ url: testDatabaseUrl, schema, poolSize: 1 }));
  }
  try {
    const cpu = process.cpuUsage();
    const start = performance.now();
    await Promise.all(stores.map((s, p) => appendMany(s, `ws${p % logs}`, N, perTx)));
    const seconds = (performance.now() - start) / 1000;
    const used = process.cpuUsage(cpu);
    const total = N * pools;
    process.stdout.write(
      `${name}: ${total} appends, ${(total / seconds).toFixed(0)}/s, client CPU ${((used.user + used.system) / total).toFixed(0)} µs/append\n`,
    );
  } finally {
    await Promise.all(stores.map((s) => s.close()));
    await drop();
  }
}

for (let round = 0; round < 3; round++) {
  await scenario('one log, one pool   ', 1, 1);
  await scenario('one log, three pools', 3, 1);
  await scenario('three logs, 3 pools ', 3, 3);
  await scenario('one log, 3 pools, 20 per transaction', 3, 1, 20);
}
