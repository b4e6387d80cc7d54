import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../logger/index.ts';
import { scanPool } from './archive-verify-pool.ts';
import { SqliteDatabase } from './database.ts';

describe('the threads of a large verify', () => {
  it('close their connections and end by themselves when the pool closes, not terminated', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'wabridge-scan-pool-')), 'store.db');
    const db = new SqliteDatabase(path, { logger: silentLogger });
    db.migrate();
    await db.close();
    const pool = scanPool(path, 'ws_empty', null, 2);
    // One page each, so both threads have opened their connection and run a statement.
    const answers = await Promise.all([
      pool.scan({ from: 1, size: 100, purged: [] }),
      pool.scan({ from: 1, size: 100, purged: [] }),
    ]);
    expect(answers.map((a) => [a.count, a.full, a.odd])).toEqual([
      [0, false, null],
      [0, false, null],
    ]);
    // 0: each thread's loop ran empty once its connection was closed; a terminated thread exits with 1.
    expect(await pool.close()).toEqual([0, 0]);
  });
});
