import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const BIN = fileURLToPath(new URL('../../bin/wabridge.mjs', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'wabridge-accounts-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const env = {
  NODE_ENV: 'test',
  WABRIDGE_DATA_DIR: join(dir, 'data'),
  WABRIDGE_MASTER_KEY: Buffer.alloc(32, 3).toString('base64'),
  LOG_LEVEL: 'silent',
};

/** The real CLI in its own process, with `stdin` piped in (as `printf … | wabridge …`). */
function wabridge(args: string[], stdin = '', extraEnv: Record<string, string> = {}) {
  return new Promise<{ stdout: string; stderr: string; code: number }>((resolve) => {
    const child = execFile(
      process.execPath,
      [BIN, ...args],
      { cwd: dir, env: { ...process.env, ...env, ...extraEnv }, timeout: 120_000 },
      (error, stdout, stderr) =>
        resolve({ stdout, stderr, code: error ? ((error as { code?: number }).code ?? -1) : 0 }),
    );
    child.stdin?.end(stdin);
  });
}

describe('wabridge admin', () => {
  it('creates the first owner from a piped password (stored as scrypt, never as given), grants roles, lists them', async () => {
    const created = await wabridge(
      ['admin', 'create-owner', 'Ana@Example.com', '--name', 'Ana'],
      'correct horse battery\n',
    );
    expect(created).toMatchObject({ code: 0 });
    expect(created.stdout).toMatch(/^created owner ana@example\.com \(acc_[0-9A-Z]{26}\)\n$/);
    const short = await wabridge(['admin', 'create-account', 'bob@example.com'], 'short\n');
    expect(short.code).toBe(1);
    expect(short.stderr).toContain('at least 12 characters');
    const taken = await wabridge(['admin', 'create-owner', 'ana@example.com'], 'another long password\n');
    expect(taken.code).toBe(1);
    expect(taken.stderr).toContain('already exists');

    expect((await wabridge(['workspace', 'create', 'Acme', '--id', 'acme'])).code).toBe(0);
    const eve = await wabridge(
      ['admin', 'create-account', 'eve@example.com', '--password-env', 'EVE_PW'],
      '',
      {
        EVE_PW: 'eve has a long password',
      },
    );
    expect(eve.code).toBe(0);
    expect((await wabridge(['admin', 'grant', 'eve@example.com', 'acme', 'auditor'])).stdout).toBe(
      'eve@example.com is auditor in acme\n',
    );
    const badRole = await wabridge(['admin', 'grant', 'eve@example.com', 'acme', 'boss']);
    expect(badRole.code).toBe(2);
    expect((await wabridge(['admin', 'grant', 'eve@example.com', 'nope', 'auditor'])).code).toBe(1);
    const list = await wabridge(['admin', 'list']);
    expect(list.stdout).toMatch(/ana@example\.com\s+Ana\s+true/);
    expect(list.stdout).toMatch(/eve@example\.com\s+eve@example\.com\s+false\s+acme:auditor/);

    const db = new DatabaseSync(join(dir, 'data', 'wabridge.db'));
    const rows = db.prepare('SELECT password_hash FROM admin_accounts').all() as { password_hash: string }[];
    const audit = JSON.stringify(db.prepare('SELECT * FROM audit_log').all());
    db.close();
    expect(rows.every((r) => /^scrypt\$32768\$8\$1\$/.test(r.password_hash))).toBe(true);
    expect(JSON.stringify(rows)).not.toContain('correct horse');
    expect(audit).toContain('account.create');
    expect(audit).toContain('access.grant');
    expect(audit).not.toContain('correct horse');
  }, 180_000);
});
