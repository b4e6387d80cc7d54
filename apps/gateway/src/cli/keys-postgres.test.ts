import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sealedKeyId } from '@wabridge/core';
import { identity, inboundMessage, messagesUnit, status } from '@wabridge/core/testing';
import { openPostgresStore } from '@wabridge/store-postgres';
import { freshSchema, testDatabaseUrl } from '@wabridge/store-postgres/testing';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../testing/cli.ts';

// `wabridge keys rotate` on Postgres (DATABASE_URL), in its own process as an operator runs it after
// changing the master key: the data keys re-wrapped, the workspace's new data key, its content
// re-sealed, the audit record. What it checks is core's (key rotation conformance part, run on
// both stores); this is the wiring.

const dir = mkdtempSync(join(tmpdir(), 'wabridge-keys-pg-cli-'));
const OLD_MASTER = Buffer.alloc(32, 5);
const NEW_MASTER = Buffer.alloc(32, 6);
let schema = '';
let drop: () => Promise<void> = async () => {};
let base: Record<string, string> = {};

const wabridge = (args: string[], env: Record<string, string>) =>
  runCli(args, { cwd: dir, env: { ...base, ...env } });
const openStore = (current: Buffer) =>
  openPostgresStore({ url: testDatabaseUrl, schema, poolSize: 2, masterKeys: { current } });

async function rows<T>(sql: string, params: unknown[] = []): Promise<T[]> {
  const client = new pg.Client({ connectionString: testDatabaseUrl });
  await client.connect();
  try {
    await client.query(`SET search_path TO "${schema}"`);
    return (await client.query(sql, params)).rows as T[];
  } finally {
    await client.end();
  }
}

beforeAll(async () => {
  const fresh = await freshSchema('wb_keys_cli');
  schema = fresh.schema;
  drop = fresh.drop;
  base = {
    NODE_ENV: 'test',
    WABRIDGE_DATA_DIR: join(dir, 'data'),
    LOG_LEVEL: 'silent',
    DATABASE_URL: testDatabaseUrl,
    DATABASE_SCHEMA: schema,
  };
  const old = { WABRIDGE_MASTER_KEY: OLD_MASTER.toString('base64') };
  expect((await wabridge(['workspace', 'create', 'Acme', '--id', 'acme'], old)).code).toBe(0);
  const store = await openStore(OLD_MASTER);
  try {
    const ada = identity({ waId: '15550001111', profileName: 'Ada' });
    await store.ingest(
      messagesUnit('acme', {
        messages: [
          inboundMessage({ wamid: 'w.1', contact: ada, text: 'first secret' }),
          inboundMessage({ wamid: 'w.2', contact: ada, text: 'second secret' }),
        ],
        statuses: [status({ wamid: 'w.out', status: 'read', raw: { note: 'raw secret' } })],
      }),
    );
  } finally {
    await store.close();
  }
}, 180_000);

afterAll(async () => {
  await drop();
  rmSync(dir, { recursive: true, force: true });
});

describe('wabridge keys rotate on Postgres', () => {
  it('re-wraps the data keys under the new master key, gives the workspace a new data key and re-seals its content', async () => {
    const [{ key_id: before } = { key_id: '' }] = await rows<{ key_id: string }>(
      "SELECT key_id FROM data_keys WHERE workspace_id = 'acme' AND retired_at IS NULL",
    );
    const rotated = await wabridge(['keys', 'rotate', '--workspace', 'acme'], {
      WABRIDGE_MASTER_KEY: NEW_MASTER.toString('base64'),
      WABRIDGE_MASTER_KEY_PREVIOUS: OLD_MASTER.toString('base64'),
    });
    expect(rotated.stderr).not.toMatch(/not built for Postgres/);
    expect(rotated.code).toBe(0);
    expect(rotated.stdout).toMatch(/^re-wrapped [1-9]\d* data key\(s\) with master key [0-9a-f]{8}$/m);
    const keyId = /new data key ([0-9a-f]{8}) for acme/.exec(rotated.stdout)?.[1];
    expect(keyId).toBeDefined();
    expect(keyId).not.toBe(before);
    const resealed = Number(/re-sealed (\d+) value\(s\) of acme/.exec(rotated.stdout)?.[1]);
    // Two messages, a status's raw object, their archive contents.
    expect(resealed).toBeGreaterThanOrEqual(5);

    const sealed = [
      ...(await rows<{ v: Buffer }>("SELECT content AS v FROM messages WHERE workspace_id = 'acme'")),
      ...(await rows<{ v: Buffer }>("SELECT raw AS v FROM message_statuses WHERE workspace_id = 'acme'")),
      ...(await rows<{ v: Buffer }>("SELECT sealed AS v FROM archive_content WHERE workspace_id = 'acme'")),
    ];
    expect(sealed.map((r) => sealedKeyId(r.v))).toEqual(sealed.map(() => keyId));
    const audit = await rows<{ workspace_id: string; details: Record<string, unknown> }>(
      "SELECT workspace_id, details FROM audit_log WHERE action = 'keys.rotate'",
    );
    expect(audit).toEqual([
      { workspace_id: 'acme', details: expect.objectContaining({ dataKeyId: keyId, resealed }) },
    ]);

    // The new master key alone opens it all: the store reads, and verify opens every content.
    const store = await openStore(NEW_MASTER);
    try {
      const texts = await Promise.all(
        ['w.1', 'w.2'].map(async (w) => (await store.getMessageByWamid('acme', w))?.text),
      );
      expect(texts).toEqual(['first secret', 'second secret']);
    } finally {
      await store.close();
    }
    const verify = await wabridge(['archive', 'verify', 'acme', '--json'], {
      WABRIDGE_MASTER_KEY: NEW_MASTER.toString('base64'),
    });
    expect(verify.code).toBe(0);
    expect(JSON.parse(verify.stdout)).toMatchObject({ ok: true, contentChecked: true, failure: null });
  }, 300_000);
});
