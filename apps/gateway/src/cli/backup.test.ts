import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadEnv } from '../env.ts';
import { backupCommand } from './admin.ts';

// Under the usual umask a file made with default modes is world-readable; set it explicitly so
// the claim does not depend on the machine's.
let previousUmask = 0;
beforeAll(() => {
  previousUmask = process.umask(0o022);
});
afterAll(() => {
  process.umask(previousUmask);
});

describe('wabridge backup', () => {
  it('writes a copy that only its owner can read (0600), like the database it copies', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'wabridge-backup-'));
    try {
      const source = new DatabaseSync(join(dir, 'wabridge.db'));
      source.exec("CREATE TABLE t (x TEXT); INSERT INTO t VALUES ('kept')");
      source.close();
      const env = loadEnv({ NODE_ENV: 'test', WABRIDGE_DATA_DIR: dir, LOG_LEVEL: 'silent' });
      const file = join(dir, 'backup.db');
      await backupCommand({ env: () => env, values: {}, positionals: [file], args: [] });
      expect((statSync(file).mode & 0o777).toString(8)).toBe('600');
      const copy = new DatabaseSync(file, { readOnly: true });
      expect(copy.prepare('SELECT x FROM t').all()).toEqual([{ x: 'kept' }]);
      copy.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
