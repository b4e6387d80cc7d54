import { GLOBAL_ARCHIVE_LOG, STATUS_RAW, sealedKeyId } from '@wabridge/core';
import { identity, inboundMessage, messagesUnit, seedWorkspace, status } from '@wabridge/core/testing';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openPostgresStore, type PostgresStore } from './store.ts';
import { freshSchema, testDatabaseUrl } from './testing/index.ts';

// Key rotation on Postgres beyond core's conformance part: a rotation made by another process
// (the CLI) while a gateway keeps writing. The gateway reads the current key once per transaction.

const WS = 'acme';
const ada = identity({ waId: '15550001111', profileName: 'Ada' });
let gateway: PostgresStore;
let cli: PostgresStore;
let drop: () => Promise<void>;

beforeEach(async () => {
  const fresh = await freshSchema('wb_keys_race');
  drop = fresh.drop;
  const open = () => openPostgresStore({ url: testDatabaseUrl, schema: fresh.schema, poolSize: 3 });
  gateway = await open();
  cli = await open();
  await seedWorkspace(gateway, { id: WS, connectors: ['slack'] });
  await gateway.ingest(
    messagesUnit(WS, {
      messages: [inboundMessage({ wamid: 'w.before', contact: ada, text: 'before rotation' })],
      statuses: [status({ wamid: 'w.out', status: 'read', raw: { note: 'raw' } })],
    }),
  );
});
afterEach(async () => {
  await gateway.close();
  await cli.close();
  await drop();
});

const contentOf = async (wamid: string) =>
  (await gateway.db.get<{ content: Buffer }>('SELECT content FROM messages WHERE wamid = $1', [wamid]))
    ?.content;

/** Every sealed value of the workspace, by the key id it names (plain ones left out). */
async function sealedKeyIds(): Promise<string[]> {
  const rows = await gateway.db.all<{ v: Buffer }>(
    `SELECT content AS v FROM messages WHERE workspace_id = $1
     UNION ALL SELECT raw FROM message_statuses WHERE workspace_id = $1
     UNION ALL SELECT sealed FROM archive_content WHERE workspace_id = $1`,
    [WS],
  );
  return rows.map((r) => sealedKeyId(r.v)).filter((id): id is string => id !== null);
}

/** Polls the database until `done` answers true (a condition, not a time). */
async function until(done: () => Promise<boolean>): Promise<void> {
  while (!(await done())) await new Promise((resolve) => setTimeout(resolve, 5));
}

describe('key rotation on Postgres with a running gateway', () => {
  it("another process's rotation is followed from the gateway's next transaction; old content still opens", async () => {
    const old = sealedKeyId((await contentOf('w.before')) as Buffer);
    const rotated = await cli.rotateDataKey(WS);
    expect(rotated).not.toBe(old);
    await gateway.ingest(
      messagesUnit(WS, {
        messages: [inboundMessage({ wamid: 'w.after', contact: ada, text: 'after rotation' })],
      }),
    );
    expect(sealedKeyId((await contentOf('w.after')) as Buffer)).toBe(rotated);
    expect((await gateway.getMessageByWamid(WS, 'w.before'))?.text).toBe('before rotation');
    expect((await cli.getMessageByWamid(WS, 'w.after'))?.text).toBe('after rotation');
  });

  it('a transaction that read the old key before the rotation is waited out: re-sealing after it leaves nothing on the old key', async () => {
    let release = () => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    let read = () => {};
    const hasRead = new Promise<void>((resolve) => {
      read = resolve;
    });
    // A gateway transaction that read the current key, then seals with it after the rotation committed.
    const straggler = gateway.db.transaction(async (tx) => {
      const key = await gateway.keyring.current(tx, WS);
      read();
      await gate;
      const late = gateway.keyring.seal(key, WS, STATUS_RAW, Buffer.from('{"note":"late"}'));
      await tx.run('UPDATE message_statuses SET raw = $2 WHERE workspace_id = $1', [WS, late]);
      return key.id;
    });
    await hasRead;
    let rotationReturned = false;
    const rotation = cli.rotateDataKey(WS).then(async (id) => {
      rotationReturned = true;
      let total = 0;
      for (let batch = await cli.reencryptBatch(WS); batch > 0; batch = await cli.reencryptBatch(WS)) {
        total += batch;
      }
      return { id, total };
    });
    // The new key is committed, and the rotation still waits for the older transaction.
    await until(
      async () =>
        (
          await cli.db.get<{ n: number }>(
            'SELECT count(*)::int AS n FROM data_keys WHERE workspace_id = $1',
            [WS],
          )
        )?.n === 2,
    );
    // Released whatever the verdict: the store closes after the test only once it has ended.
    const returnedEarly = rotationReturned;
    release();
    expect(returnedEarly).toBe(false);
    const oldId = await straggler;
    const { id, total } = await rotation;
    expect(id).not.toBe(oldId);
    expect(total).toBeGreaterThan(0);
    const ids = await sealedKeyIds();
    expect(ids.length).toBeGreaterThan(2);
    expect(ids).toEqual(ids.map(() => id));
    const statusId = (await gateway.db.get<{ id: string }>('SELECT id FROM message_statuses'))?.id ?? '';
    expect((await gateway.getStatus(WS, statusId))?.raw).toEqual({ note: 'late' });
  });

  it("re-seals kept platform events (a workspace's and the global log's) and unrouted events, plain ones from before included", async () => {
    const row = (table: string, id: string) =>
      gateway.db.get<{ payload: Buffer }>(`SELECT payload FROM ${table} WHERE id = $1`, [id]);
    // Rows from before encryption at rest: their payloads plain JSON.
    await gateway.db.run(
      `INSERT INTO platform_events (id, workspace_id, field, payload, parse_issues, received_at)
       VALUES ('pe_ws', $1, 'account_update', $2, '[]', 1), ('pe_global', NULL, 'account_update', $3, '[]', 2)`,
      [WS, Buffer.from('{"secret":"ws"}'), Buffer.from('{"secret":"global"}')],
    );
    await gateway.db.run(
      `INSERT INTO unrouted_events (id, phone_number_id, field, payload, received_at)
       VALUES ('un_1', '42', 'messages', $1, 3)`,
      [Buffer.from('{"secret":"unrouted"}')],
    );
    const reseal = async (log: string) => {
      const id = await cli.rotateDataKey(log);
      while ((await cli.reencryptBatch(log, 1)) > 0) {}
      return id;
    };
    const ws = await reseal(WS);
    const global = await reseal(GLOBAL_ARCHIVE_LOG);
    expect(sealedKeyId((await row('platform_events', 'pe_ws'))?.payload as Buffer)).toBe(ws);
    expect(sealedKeyId((await row('platform_events', 'pe_global'))?.payload as Buffer)).toBe(global);
    expect(sealedKeyId((await row('unrouted_events', 'un_1'))?.payload as Buffer)).toBe(global);
    const events = await gateway.listPlatformEvents({});
    expect(events.map((e) => [e.id, e.payload]).sort()).toEqual([
      ['pe_global', { secret: 'global' }],
      ['pe_ws', { secret: 'ws' }],
    ]);
    expect((await gateway.listUnrouted()).map((e) => e.payload)).toEqual([{ secret: 'unrouted' }]);
  });
});
