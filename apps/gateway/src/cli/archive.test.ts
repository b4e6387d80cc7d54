import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from '../testing/cli.ts';

const dir = mkdtempSync(join(tmpdir(), 'wabridge-archive-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const env = {
  NODE_ENV: 'test',
  WABRIDGE_DATA_DIR: join(dir, 'data'),
  WABRIDGE_MASTER_KEY: Buffer.alloc(32, 3).toString('base64'),
  LOG_LEVEL: 'silent',
};

/** The real CLI in its own process, as an operator runs it. */
async function wabridge(...args: string[]) {
  return runCli(args, { cwd: dir, env: env });
}

describe('wabridge archive', () => {
  it('signs a checkpoint, prints the verifier key, and verify exits 0 when sound, 1 naming the changed record, 2 on a usage error', async () => {
    expect((await wabridge('workspace', 'create', 'Acme', '--id', 'acme')).code).toBe(0);
    const checkpoint = await wabridge('archive', 'checkpoint', 'acme');
    expect(checkpoint).toMatchObject({ code: 0 });
    expect(checkpoint.stdout).toMatch(
      /^wabridge\/archive\/acme\n1\n[A-Za-z0-9+/]{43}=\n\n— wabridge\/archive\/acme /,
    );
    const key = await wabridge('archive', 'public-key', 'acme');
    expect(key.stdout.trim()).toMatch(/^wabridge\/archive\/acme\+[0-9a-f]{8}\+[A-Za-z0-9+/]+=*$/);

    const sound = await wabridge('archive', 'verify', 'acme', '--json', '--key', key.stdout.trim());
    expect(sound.code).toBe(0);
    expect(JSON.parse(sound.stdout)).toMatchObject({ ok: true, records: 1, verifiedSize: 1, failure: null });

    const db = new DatabaseSync(join(dir, 'data', 'wabridge.db'));
    db.exec(
      "UPDATE archive_records SET record = CAST(replace(CAST(record AS TEXT), 'Acme', 'Acne') AS BLOB) WHERE workspace_id = 'acme'",
    );
    db.close();
    const tampered = await wabridge('archive', 'verify', 'acme');
    expect(tampered.code).toBe(1);
    expect(tampered.stdout).toMatch(/FAILS at record 0 \(admin audit:\d+\): record-changed/);

    expect((await wabridge('archive', 'verify')).code).toBe(2);
    expect((await wabridge('archive', 'verify', 'nobody')).code).toBe(1);
  }, 180_000);
});
