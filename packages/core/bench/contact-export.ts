// node --disable-warning=ExperimentalWarning packages/core/bench/contact-export.ts [--messages 100000] [--contacts 1000]
// One contact's export (`wabridge export`) from a real SQLite store of many archived messages,
// built through the store's ingest (no HTTP): messages spread over `contacts` contacts, plus one
// contact with ten times the average. Also times the same store ingested without the
// archive-by-entity index (migration 14), side by side, to show what the index costs ingest.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { exportContact } from '../src/archive/export/contact-export.ts';
import { createSecretBox } from '../src/secrets/index.ts';
import { openSqliteStore, type SqliteStore } from '../src/store/sqlite/index.ts';
import { identity, inboundMessage, messagesUnit, seedWorkspace } from '../src/testing/fixtures.ts';

const { values } = parseArgs({
  options: { messages: { type: 'string', default: '100000' }, contacts: { type: 'string', default: '1000' } },
});
const total = Number(values.messages);
const contacts = Number(values.contacts);
const dir = mkdtempSync(join(tmpdir(), 'wabridge-export-bench-'));
const box = createSecretBox(Buffer.alloc(32, 1));
const out = (line: string) => process.stdout.write(`${line}\n`);
const text = 'x'.repeat(200);

/**
 * Builds two stores side by side, one unit of 500 messages to each in turn (so load on the shared
 * machine falls on both alike): one as migrated, one without the archive-by-entity index.
 */
async function build(): Promise<{
  indexed: SqliteStore;
  plain: SqliteStore;
  indexedMs: number;
  plainMs: number;
}> {
  const indexed = await openSqliteStore({ path: join(dir, 'indexed.db') });
  const plain = await openSqliteStore({ path: join(dir, 'plain.db') });
  plain.db.run('DROP INDEX archive_records_entity');
  await seedWorkspace(indexed, { id: 'bench' });
  await seedWorkspace(plain, { id: 'bench' });
  const heavy = Math.round((total / contacts) * 10);
  let indexedMs = 0;
  let plainMs = 0;
  for (let at = 0; at < total; at += 500) {
    const messages = [];
    for (let i = at; i < Math.min(total, at + 500); i++) {
      // Every other message of the first 2 × `heavy` goes to contact 0, the rest round-robin.
      const who = i % 2 === 0 && i / 2 < heavy ? 0 : 1 + (i % (contacts - 1));
      messages.push(
        inboundMessage({
          wamid: `w.${i}`,
          contact: identity({ waId: String(15550000000 + who), profileName: `C${who}` }),
          text: `${i} ${text}`,
          timestamp: 1_750_000_000_000 + i,
        }),
      );
    }
    const order = (at / 500) % 2 === 0 ? [indexed, plain] : [plain, indexed];
    for (const store of order) {
      const started = performance.now();
      await store.ingest(messagesUnit('bench', { messages }));
      const ms = performance.now() - started;
      if (store === indexed) indexedMs += ms;
      else plainMs += ms;
    }
  }
  return { indexed, plain, indexedMs, plainMs };
}

async function timeExport(store: SqliteStore, contact: string, file: string) {
  const cpu = process.cpuUsage();
  const start = performance.now();
  const result = await exportContact({
    store,
    secrets: box,
    workspaceId: 'bench',
    contact,
    out: join(dir, file),
    actor: 'bench',
  });
  const used = process.cpuUsage(cpu);
  return { result, wallMs: performance.now() - start, cpuMs: (used.user + used.system) / 1000 };
}

try {
  const built = await build();
  const indexed = { store: built.indexed };
  const rate = (ms: number) => Math.round((total / ms) * 1000).toLocaleString('en');
  out(
    `${total.toLocaleString('en')} messages over ${contacts} contacts, real SQLite files (WAL), ingest in units of 500`,
  );
  out(
    `ingest without the entity index: ${rate(built.plainMs)} messages/s; with it: ${rate(built.indexedMs)} messages/s (side by side)`,
  );
  await built.plain.close();
  for (const [label, contact] of [
    ['average contact', String(15550000000 + 7)],
    ['heavy contact (10x)', '15550000000'],
  ] as const) {
    const runs = [];
    for (let r = 0; r < 3; r++)
      runs.push(await timeExport(indexed.store, contact, `${label.replace(/\W/g, '')}-${r}.zip`));
    const best = runs.reduce((a, b) => (a.wallMs < b.wallMs ? a : b));
    out(
      `${label}: ${best.result.records} records, export ${best.wallMs.toFixed(0)} ms wall (best of 3; ${runs.map((r) => r.wallMs.toFixed(0)).join(', ')}), ${best.cpuMs.toFixed(0)} ms CPU`,
    );
  }
  await indexed.store.close();
} finally {
  rmSync(dir, { recursive: true, force: true });
}
