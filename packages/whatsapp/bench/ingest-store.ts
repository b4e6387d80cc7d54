// node --disable-warning=ExperimentalWarning packages/whatsapp/bench/ingest-store.ts [--webhooks 40000]
//   [--batch 100] [--rounds 3]
// The store thread's share of `npm run bench`, without HTTP: the same signed-webhook bodies (one
// customer text each, 5,000 customers in random order, Meta-shaped random wamids) handed to the
// store thread's own ingestor, `--batch` at a time so that they share one group commit as
// concurrent webhooks do, in a real SQLite file (WAL, fsync) under a master key, with two
// connectors enabled. Prints this thread's CPU per webhook (process.threadCpuUsage: the SQLite
// checkpointer's thread is not counted) per round and the median; CPU, not wall time, because the
// shared development VMs drift. For an A/B, copy this file into the other tree and run both in turn.
import { randomBytes, randomInt } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { noopMetrics, openSqliteStore, RoutingCache } from '@wabridge/core';
import { WhatsAppIngestor } from '../src/ingest.ts';
import { customerMessage, TEST_PHONE_NUMBER_ID } from '../src/testing/bridge.ts';

const { values } = parseArgs({
  options: {
    webhooks: { type: 'string', default: '40000' },
    batch: { type: 'string', default: '100' },
    rounds: { type: 'string', default: '3' },
  },
});
const total = Number(values.webhooks);
const batch = Number(values.batch);
const rounds = Number(values.rounds);
const silent = { debug() {}, info() {}, warn() {}, error() {}, child: () => silent };
const out = (line: string) => process.stdout.write(`${line}\n`);
const encoder = new TextEncoder();

let sequence = 0;
function body(): Uint8Array {
  const n = ++sequence;
  const waId = `1555${String(randomInt(5000)).padStart(7, '0')}`;
  return encoder.encode(
    JSON.stringify(
      customerMessage(
        // Random like Meta's (the customer's number and a random id, base64).
        `wamid.${Buffer.concat([Buffer.from(waId), randomBytes(18)]).toString('base64')}`,
        { type: 'text', text: { body: `Message number ${n}: does it come in another color?` } },
        { waId, name: 'Bench Customer', timestamp: (1_750_000_000 + n) * 1000 },
      ),
    ),
  );
}

const perRound: number[] = [];
for (let round = 1; round <= rounds; round++) {
  const dir = mkdtempSync(join(tmpdir(), 'wabridge-ingest-bench-'));
  const store = await openSqliteStore({
    path: join(dir, 'bench.db'),
    masterKeys: { current: Buffer.alloc(32, 5) },
    logger: silent,
  });
  try {
    await store.createWorkspace({ id: 'bench', name: 'Bench' });
    await store.addPhoneNumber({
      workspaceId: 'bench',
      phoneNumberId: TEST_PHONE_NUMBER_ID,
      displayPhoneNumber: null,
      wabaId: null,
    });
    for (const connectorId of ['ledger', 'mirror-b']) {
      await store.setConnector({
        workspaceId: 'bench',
        connectorId,
        enabled: true,
        events: ['message.inbound', 'message.outbound', 'message.status', 'consent.changed'],
        config: {},
        encryptedSecrets: null,
      });
    }
    const ingestor = new WhatsAppIngestor({
      store,
      routing: new RoutingCache(store, { checkEveryMs: 0 }),
      logger: silent,
      metrics: noopMetrics,
    });
    const run = async (count: number) => {
      for (let at = 0; at < count; at += batch) {
        const bodies = Array.from({ length: Math.min(batch, count - at) }, body);
        const started = process.threadCpuUsage();
        const outcomes = await Promise.all(bodies.map((b) => ingestor.ingestBody(b)));
        const used = process.threadCpuUsage(started);
        spent += used.user + used.system;
        for (const outcome of outcomes) {
          if (!outcome.ok || outcome.result.messagesStored !== 1)
            throw new Error(`a webhook was not stored: ${JSON.stringify(outcome)}`);
        }
      }
    };
    let spent = 0;
    await run(Math.min(5_000, total)); // warm-up: JIT, the first pages
    spent = 0;
    await run(total);
    perRound.push(spent / total);
    out(
      `round ${round}: ${(spent / total).toFixed(1)} µs of store-thread CPU per webhook (${total} webhooks)`,
    );
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
const sorted = [...perRound].sort((a, b) => a - b);
out(`median: ${(sorted[Math.floor(sorted.length / 2)] as number).toFixed(1)} µs per webhook`);
