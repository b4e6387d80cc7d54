import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { identity, inboundMessage, messagesUnit } from '@wabridge/core/testing';
import { openPostgresStore } from '@wabridge/store-postgres';
import { freshSchema, testDatabaseUrl } from '@wabridge/store-postgres/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../testing/cli.ts';

// The archive's commands on Postgres (DATABASE_URL), each in its own process as an operator runs
// them: verify (with the key to trust, contents opened with the master key), checkpoint, public-key, prove, the contact and
// eDiscovery exports verified offline, the audit trail; and `backup`, which points to pg_dump.
// What they check is core's (archive conformance part, run on both stores); this is the wiring.

const dir = mkdtempSync(join(tmpdir(), 'wabridge-archive-pg-cli-'));
const MASTER_KEY = Buffer.alloc(32, 3);
let env: Record<string, string> = {};
let drop: () => Promise<void> = async () => {};
let key = '';

async function wabridge(args: string[]) {
  return runCli(args, { cwd: dir, env: env });
}

beforeAll(async () => {
  const fresh = await freshSchema('wb_archive_cli');
  drop = fresh.drop;
  env = {
    NODE_ENV: 'test',
    WABRIDGE_DATA_DIR: join(dir, 'data'),
    WABRIDGE_MASTER_KEY: MASTER_KEY.toString('base64'),
    LOG_LEVEL: 'silent',
    DATABASE_URL: testDatabaseUrl,
    DATABASE_SCHEMA: fresh.schema,
  };
  expect((await wabridge(['workspace', 'create', 'Acme', '--id', 'acme'])).code).toBe(0);
  expect((await wabridge(['workspace', 'add-number', 'acme', '106540352242922'])).code).toBe(0);
  // Messages as ingest stores them, sealed under the master key the CLI runs with.
  const store = await openPostgresStore({
    url: testDatabaseUrl,
    schema: fresh.schema,
    masterKeys: { current: MASTER_KEY },
  });
  try {
    const ada = identity({ waId: '15550001111', profileName: 'Ada' });
    await store.ingest(
      messagesUnit('acme', {
        messages: [
          inboundMessage({ wamid: 'w.1', contact: ada, text: 'first' }),
          inboundMessage({
            wamid: 'w.2',
            contact: ada,
            text: 'second invoice',
            timestamp: 1_750_000_000_500,
          }),
        ],
      }),
    );
  } finally {
    await store.close();
  }
  key = (await wabridge(['archive', 'public-key', 'acme'])).stdout.trim();
}, 180_000);

afterAll(async () => {
  await drop();
  rmSync(dir, { recursive: true, force: true });
});

describe('wabridge archive on Postgres', () => {
  it('signs a checkpoint, and verify is sound with the key given, contents opened with the master key', async () => {
    expect(key).toMatch(/^wabridge\/archive\/acme\+[0-9a-f]{8}\+/);
    const checkpoint = await wabridge(['archive', 'checkpoint', 'acme']);
    expect(checkpoint.code).toBe(0);
    expect(checkpoint.stdout).toMatch(/^wabridge\/archive\/acme\n\d+\n/);
    const sound = await wabridge(['archive', 'verify', 'acme', '--json', '--key', key]);
    expect(sound.code).toBe(0);
    const report = JSON.parse(sound.stdout);
    expect(report).toMatchObject({ ok: true, contentChecked: true, failure: null });
    expect(report.records).toBeGreaterThanOrEqual(4);
    const said = await wabridge(['archive', 'verify', 'acme']);
    expect(said.code).toBe(0);
    expect(said.stdout).toMatch(/^archive of acme is sound: .*content checked against its commitments/);
    expect((await wabridge(['archive', 'verify', 'nobody'])).code).toBe(1);
  }, 180_000);

  it('exports a contact and an eDiscovery folder that verify offline, proves a record, and lists the audit trail', async () => {
    const zip = join(dir, 'ada.zip');
    const exported = await wabridge(['export', 'acme', '--contact', '+15550001111', '--out', zip]);
    expect(exported.code).toBe(0);
    expect(exported.stdout).toMatch(/1 conversation\(s\), 2 records, 0 media file\(s\)/);
    const zipVerdict = await wabridge(['archive', 'verify', '--export', zip, '--key', key]);
    expect(zipVerdict.code).toBe(0);
    expect(zipVerdict.stdout).toMatch(/is sound: 3 records proved/);

    const folder = join(dir, 'case');
    const written = await wabridge(['ediscovery', 'acme', '--out', folder, '--keyword', 'INVOICE']);
    expect(written.code).toBe(0);
    expect(written.stdout).toMatch(/^wrote .*case: 1 messages of \d+ records/);
    const folderVerdict = await wabridge(['archive', 'verify', '--export', folder, '--key', key, '--json']);
    expect(JSON.parse(folderVerdict.stdout)).toMatchObject({ ok: true, records: 1 });

    const proof = await wabridge(['archive', 'prove', 'acme', '--seq', '0']);
    expect(proof.code).toBe(0);
    expect(JSON.parse(proof.stdout)).toMatchObject({ log: 'acme', seq: 0 });

    const audit = await wabridge(['audit', 'acme', '--json', '--action', 'archive.*']);
    expect(audit.code).toBe(0);
    const actions = audit.stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line).action);
    expect(actions).toEqual(['archive.export', 'archive.export']);
  }, 180_000);

  it('names the changed record, and backup points to pg_dump', async () => {
    const pg = (await import('pg')).default;
    const client = new pg.Client({ connectionString: testDatabaseUrl });
    await client.connect();
    try {
      await client.query(
        `UPDATE "${env.DATABASE_SCHEMA}".archive_records
         SET record = convert_to(replace(convert_from(record, 'UTF8'), 'Acme', 'Acne'), 'UTF8')
         WHERE workspace_id = 'acme' AND seq = 0`,
      );
    } finally {
      await client.end();
    }
    const tampered = await wabridge(['archive', 'verify', 'acme']);
    expect(tampered.code).toBe(1);
    expect(tampered.stdout).toMatch(/FAILS at record 0 \(admin audit:\d+\): record-changed/);

    const backup = await wabridge(['backup', join(dir, 'copy.db')]);
    expect(backup.code).toBe(1);
    expect(backup.stderr).toMatch(/pg_dump/);
  }, 180_000);
});
