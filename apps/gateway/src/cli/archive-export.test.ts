import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openSqliteStore } from '@wabridge/core';
import { identity, inboundMessage, messagesUnit } from '@wabridge/core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../testing/cli.ts';

// `wabridge export`, `archive verify --export`, `archive prove | verify-proof` and `wabridge
// audit`, each in its own process as an operator (or an auditor without the database) runs them.

const dir = mkdtempSync(join(tmpdir(), 'wabridge-export-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const env = {
  NODE_ENV: 'test',
  WABRIDGE_DATA_DIR: join(dir, 'data'),
  WABRIDGE_MASTER_KEY: Buffer.alloc(32, 3).toString('base64'),
  LOG_LEVEL: 'silent',
};

async function wabridge(...args: string[]) {
  return runCli(args, { cwd: dir, env: env });
}

let key = '';

beforeAll(async () => {
  expect((await wabridge('workspace', 'create', 'Acme', '--id', 'acme')).code).toBe(0);
  expect((await wabridge('workspace', 'add-number', 'acme', '106540352242922')).code).toBe(0);
  // Messages as ingest stores them, written into the same database file.
  // Under the master key the CLI runs with: message content is sealed with the workspace's data
  // key, which that key wraps, and the export opens it.
  const store = await openSqliteStore({
    path: join(dir, 'data', 'wabridge.db'),
    masterKeys: { current: Buffer.from(env.WABRIDGE_MASTER_KEY, 'base64'), previous: [] },
  });
  const ada = identity({ waId: '15550001111', profileName: 'Ada' });
  await store.ingest(
    messagesUnit('acme', {
      messages: [
        inboundMessage({ wamid: 'w.1', contact: ada, text: 'first' }),
        inboundMessage({ wamid: 'w.2', contact: ada, text: 'second', timestamp: 1_750_000_000_500 }),
      ],
    }),
  );
  await store.close();
  key = (await wabridge('archive', 'public-key', 'acme')).stdout.trim();
}, 180_000);

describe('wabridge export and proofs', () => {
  it('exports a contact, verifies the ZIP offline, and exits 1 naming the record when it is changed', async () => {
    const zip = join(dir, 'ada.zip');
    const exported = await wabridge('export', 'acme', '--contact', '+15550001111', '--out', zip);
    expect(exported.code).toBe(0);
    expect(exported.stdout).toMatch(
      /1 conversation\(s\), 2 records, 0 media file\(s\); the export is record \d+/,
    );
    const sound = await wabridge('archive', 'verify', '--export', zip, '--key', key);
    expect(sound).toMatchObject({ code: 0 });
    expect(sound.stdout).toMatch(/is sound: 3 records proved/);
    // Without --key it still checks the file against itself, and says what that proves.
    expect((await wabridge('archive', 'verify', '--export', zip)).stderr).toMatch(/key inside the export/);

    expect((await wabridge('export', 'acme', '--contact', '15550001111', '--out', zip)).code).toBe(1);
    expect(
      (await wabridge('export', 'acme', '--contact', '15559999999', '--out', join(dir, 'x.zip'))).stderr,
    ).toMatch(/no contact with the number or BSUID/);
    expect((await wabridge('export', 'acme', '--out', join(dir, 'x.zip'))).code).toBe(2);
    expect((await wabridge('archive', 'verify')).code).toBe(2);
    expect((await wabridge('archive', 'verify', 'acme', '--export', zip)).code).toBe(2);
  }, 180_000);

  it('prints an inclusion proof that verify-proof accepts with the key alone, and rejects once changed', async () => {
    expect((await wabridge('archive', 'checkpoint', 'acme')).code).toBe(0);
    const proof = await wabridge('archive', 'prove', 'acme', '--seq', '3');
    expect(proof.code).toBe(0);
    const file = join(dir, 'proof.json');
    writeFileSync(file, proof.stdout);
    const ok = await wabridge('archive', 'verify-proof', file, '--key', key);
    expect(ok).toMatchObject({ code: 0 });
    expect(ok.stdout).toMatch(/^proof verifies: record 3 \(message.inbound msg_/);
    // With the master key the proof carries the record's opened content, which the record commits to.
    writeFileSync(file, proof.stdout.replace('second', 'secund'));
    const content = await wabridge('archive', 'verify-proof', file, '--key', key);
    expect(content.code).toBe(1);
    expect(content.stdout).toMatch(
      /proof FAILS: record 3: its content is not the content its record commits to/,
    );
    const document = JSON.parse(proof.stdout) as { record: string };
    writeFileSync(file, JSON.stringify({ ...document, record: document.record.replace('"text"', '"TEXT"') }));
    const bad = await wabridge('archive', 'verify-proof', file, '--key', key);
    expect(bad.code).toBe(1);
    expect(bad.stdout).toMatch(/proof FAILS: record 3: its inclusion proof fails/);
    expect((await wabridge('archive', 'verify-proof', file)).code).toBe(2);
    expect((await wabridge('archive', 'prove', 'acme', '--seq', 'x')).code).toBe(2);
  }, 180_000);

  it('lists the audit trail with each entry’s record, as a table, JSON lines and CSV', async () => {
    const json = await wabridge('audit', 'acme', '--json', '--action', 'archive.*');
    expect(json.code).toBe(0);
    const entries = json.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(entries).toMatchObject([{ action: 'archive.export', log: 'acme', seq: expect.any(Number) }]);
    const csv = await wabridge('audit', '--all', '--csv');
    expect(csv.stdout.split('\r\n')[0]).toBe('id,at,actor,action,workspace,log,seq,details');
    expect(csv.stdout).toMatch(/workspace\.create/);
    const listed = await wabridge('audit', 'acme');
    expect(listed.stdout).toMatch(/archive prove <log> --seq <seq>/);
    expect((await wabridge('audit', 'acme', '--since', 'yesterday-ish')).code).toBe(2);
    expect((await wabridge('audit')).code).toBe(2);
  }, 180_000);

  it('writes an eDiscovery folder that verifies offline, and refuses an unknown format', async () => {
    const folder = join(dir, 'case');
    const written = await wabridge(
      'ediscovery',
      'acme',
      '--out',
      folder,
      '--keyword',
      'SECOND',
      '--format',
      'jsonl,csv',
    );
    expect(written.code).toBe(0);
    expect(written.stdout).toMatch(/^wrote .*case: 1 messages of \d+ records/);
    const verified = await wabridge('archive', 'verify', '--export', folder, '--key', key, '--json');
    expect(JSON.parse(verified.stdout)).toMatchObject({ ok: true, records: 1 });
    expect((await wabridge('ediscovery', 'acme', '--out', join(dir, 'x'), '--format', 'pdf')).code).toBe(2);
  }, 180_000);
});
