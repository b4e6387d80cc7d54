import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync, type SQLInputValue } from 'node:sqlite';
import { describeKeyRotationConformance } from '../../testing/key-rotation-conformance.ts';
import { openSqliteStore } from './index.ts';

// Core's key rotation part (`wabridge keys rotate`: re-wrap, rotate, re-seal) on a real SQLite file,
// opened again with each set of master keys; its rows read through a connection of their own.
describeKeyRotationConformance('sqlite', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'wabridge-key-rotation-'));
  const path = join(dir, 'store.db');
  return {
    open: (masterKeys) => openSqliteStore({ path, masterKeys }),
    sql: async (statement, params = []) => {
      const raw = new DatabaseSync(path, { timeout: 10_000, readOnly: true });
      try {
        return raw.prepare(statement).all(...(params as SQLInputValue[])) as Array<Record<string, unknown>>;
      } finally {
        raw.close();
      }
    },
    close: async () => rmSync(dir, { recursive: true, force: true }),
  };
});
