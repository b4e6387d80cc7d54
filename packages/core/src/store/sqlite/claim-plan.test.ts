import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../logger/index.ts';
import { SqliteDatabase } from './database.ts';
import { readyWindowSql } from './jobs.ts';

// A claim for some connectors must not read the other connectors' ready jobs: with a deep backlog
// of one connector (a campaign's HubSpot jobs), a claim for the others read its rows one by one
// and then walked its queues, ~50 ms of the store thread per claim (docs/performance.md).
describe('claim window query plan', () => {
  it("reads each wanted connector's ready jobs by index, merged in order without sorting", async () => {
    const db = new SqliteDatabase(':memory:', { logger: silentLogger });
    db.migrate();
    const plan = db
      .all<{ detail: string }>(`EXPLAIN QUERY PLAN ${readyWindowSql(['slack', 'teams', 'whatsapp'])}`, {
        c0: 'slack',
        c1: 'teams',
        c2: 'whatsapp',
        now: 0,
        window: 64,
      })
      .map((step) => step.detail);
    expect(
      plan.filter((d) => d.includes('USING INDEX jobs_ready_connector (connector_id=? AND run_at<?)')),
    ).toHaveLength(3);
    expect(plan.some((d) => d.includes('TEMP B-TREE'))).toBe(false);
    expect(plan.some((d) => /SCAN jobs\b/.test(d))).toBe(false);
    await db.close();
  });
});
