import { afterEach, beforeEach, expect, it } from 'vitest';
import { statementsSent } from '../testing/statements.ts';
import { CLAIM_CANDIDATES } from './claims.ts';
import { CLAIM_TRANSACTION } from './pg-queue.ts';
import { openTestQueue } from './testing.ts';

// A claim under backlog reads the oldest ready jobs in index order, and checks them only until it
// has the heads it wants, on a table without statistics (the test server never analyzes it). It
// had read every ready job's row as a bitmap, sorted them, and checked a whole window of 256 to
// 1,024 jobs (two index probes each) to keep a few dozen: ~1,100 buffers a claim in bench:e2e.

let opened: Awaited<ReturnType<typeof openTestQueue>>;
const now = 1_700_000_000_000;

beforeEach(async () => {
  opened = await openTestQueue({ now: () => now });
});
afterEach(async () => {
  await opened.close();
});

it('reads the window only as far as the heads it takes, however long the backlog', async () => {
  // 8,000 jobs over 2,048 conversations, in random order of conversation; never analyzed.
  await opened.pool.query(
    `INSERT INTO jobs (workspace_id, connector_id, conversation_id, event_type, entity_id, sort_ts, run_at, created_at)
     SELECT 'ws', 'slack', 'conv_' || (hashint4(i) & 2047), 'message.inbound', 'm' || i, i, i, i
     FROM generate_series(1, 8000) i`,
  );
  // 128 queues in flight, as with a worker's default concurrency: their followers are blocked.
  const running = await opened.queue.claimJobs({ limit: 128, leaseMs: 30_000, workerId: 'w1', now });
  expect(running).toHaveLength(128);

  const buffers = await opened.queue.transaction(async (tx) => {
    const { rows } = await tx.query<{ 'QUERY PLAN': Array<{ Plan: Record<string, number> }> }>(
      `EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) ${CLAIM_CANDIDATES}`,
      [now, 256, 32, null],
    );
    const plan = rows[0]?.['QUERY PLAN'][0]?.Plan ?? {};
    expect(plan['Actual Rows']).toBe(32);
    return (plan['Shared Hit Blocks'] ?? 0) + (plan['Shared Read Blocks'] ?? 0);
  }, CLAIM_TRANSACTION);
  // About 3 per head taken (a probe of each index) and the few index pages read in order: the
  // whole window, or a bitmap of all 8,000 rows, is well over 1,000.
  expect(buffers).toBeLessThan(400);

  const claimed = await opened.queue.claimJobs({ limit: 32, leaseMs: 30_000, workerId: 'w2', now });
  expect(claimed).toHaveLength(32);
});

it('claims from a short queue in four statements: no count of the window, the locks with the candidates', async () => {
  await opened.pool.query(
    `INSERT INTO jobs (workspace_id, connector_id, conversation_id, event_type, entity_id, sort_ts, run_at, created_at)
     SELECT 'ws', 'slack', 'conv_' || i, 'message.inbound', 'm' || i, i, i, i FROM generate_series(1, 3) i`,
  );
  const { result, sent } = await statementsSent(() =>
    opened.queue.claimJobs({ limit: 32, leaseMs: 30_000, workerId: 'w1', now }),
  );
  expect(result).toHaveLength(3);
  // BEGIN (with its settings), the candidates with their queues locked, the leases, COMMIT.
  expect(sent).toHaveLength(4);
});
