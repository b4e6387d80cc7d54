import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../logger/index.ts';
import { SqliteDatabase } from './database.ts';
import { COALESCE_STATUSES_SQL } from './jobs.ts';

// The cost of coalescing a status storm must follow the statuses being admitted, not the backlog:
// the plan reads the batch's messages, their statuses and those statuses' jobs by index. Without a
// fixed join order SQLite read every ready job through `jobs_ready` (seconds per admission with a
// campaign's 120,000 ready jobs; docs/performance.md, 2026-12-07).
describe('status coalescing query plan', () => {
  it('goes from the admitted statuses to their jobs by index, never through every ready job', async () => {
    const db = new SqliteDatabase(':memory:', { logger: silentLogger });
    db.migrate();
    const plan = db
      .all<{ detail: string }>(`EXPLAIN QUERY PLAN ${COALESCE_STATUSES_SQL}`, { last: 1 })
      .map((step) => step.detail);
    expect(plan.some((d) => d.includes('jobs_ready'))).toBe(false);
    expect(plan.some((d) => /SCAN j\b/.test(d))).toBe(false);
    expect(plan).toContain('SEARCH s USING INDEX message_statuses_message (message_id=?)');
    expect(plan).toContain('SEARCH j USING INDEX jobs_status (entity_id=?)');
    await db.close();
  });
});
