import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync, type SQLInputValue } from 'node:sqlite';
import { describeArchiveConformance } from '../../testing/archive-conformance.ts';
import { openSqliteStore } from './index.ts';

// Core's archive conformance part (verify, tamper evidence, exports over `ArchiveReader`) on a real
// SQLite file, changed through a connection of its own as an attacker with the file would change it.
// The SQLite store's own cases (its verify threads, its migrations) are in archive.test.ts.
describeArchiveConformance('sqlite', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'wabridge-archive-conformance-'));
  const path = join(dir, 'store.db');
  const store = await openSqliteStore({ path });
  const raw = new DatabaseSync(path, { timeout: 10_000 });
  return {
    store,
    sql: async (statement, params = []) =>
      raw.prepare(statement).all(...(params as SQLInputValue[])) as Array<Record<string, unknown>>,
    close: async () => {
      raw.close();
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
});
