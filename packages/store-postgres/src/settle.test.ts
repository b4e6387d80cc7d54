import type { ExternalRef, Job } from '@wabridge/core';
import { ingestText, seedWorkspace } from '@wabridge/core/testing';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { PostgresStore } from './store.ts';
import { openTestStore } from './testing/open.ts';
import { statementsSent } from './testing/statements.ts';

// A delivery's checkpoint and completion, with the refs they store, are one statement each on
// Postgres (queue/settle.ts), where each was a transaction of 4 to 8: the statements on the wire.

let store: PostgresStore;
let ws: string;
const now = Date.now() + 3_600_000;

beforeEach(async () => {
  store = await openTestStore();
  ws = await seedWorkspace(store, { connectors: ['ledger'] });
});
afterEach(async () => {
  await store.close();
});

async function claimed(): Promise<Job> {
  await ingestText(store, ws, { waId: '15550001111', wamid: 'wamid.1', text: 'hello', at: now - 1000 });
  const jobs = await store.claimJobs({ limit: 10, leaseMs: 30_000, workerId: 'w1', now });
  const job = jobs.find((j) => j.eventType === 'message.inbound');
  if (!job) throw new Error('no message job claimed');
  return job;
}

const ref = (kind: string, entityId: string, externalId: string): ExternalRef => ({
  connectorId: 'ledger',
  kind,
  entityId,
  externalId,
  data: { externalId, nested: { quote: "it's" } },
});

describe('settling a delivery on Postgres', () => {
  it('checkpoints a ref in one statement', async () => {
    const job = await claimed();
    const { result, sent } = await statementsSent(() =>
      store.checkpointRef(job.lease, ws, ref('message', job.entityId, 'pending-1')),
    );
    expect(result).toBe(true);
    expect(sent).toHaveLength(1);
    expect(await store.getRef(ws, 'ledger', 'message', job.entityId)).toEqual(
      ref('message', job.entityId, 'pending-1'),
    );
  });

  it('completes a job with its refs in one statement; a ref given twice keeps the last', async () => {
    const job = await claimed();
    const refs = [
      ref('conversation', job.conversationId, 'thread-1'),
      ref('message', job.entityId, 'first'),
      ref('message', job.entityId, 'post-1'),
    ];
    const { result, sent } = await statementsSent(() => store.completeJob(job.lease, refs));
    expect(result).toBe(true);
    expect(sent).toHaveLength(1);
    expect(await store.getRef(ws, 'ledger', 'conversation', job.conversationId)).toEqual(refs[0]);
    expect(await store.getRef(ws, 'ledger', 'message', job.entityId)).toEqual(refs[2]);
    expect(await store.findRefByExternalId(ws, 'ledger', 'message', 'first')).toBeNull();
    expect(await store.db.get('SELECT id FROM jobs WHERE id = $1', [job.id])).toBeNull();
    expect((await store.connectorHealth())[0]?.lastSuccessAt).toEqual(expect.any(Number));
    // Settled: the lease completes nothing a second time, and stores nothing.
    expect(await store.completeJob(job.lease, [ref('message', job.entityId, 'again')])).toBe(false);
    expect((await store.getRef(ws, 'ledger', 'message', job.entityId))?.externalId).toBe('post-1');
  });

  it('retries and extends a lease in one statement each', async () => {
    const job = await claimed();
    const extended = await statementsSent(() => store.extendLease(job.lease, now + 60_000));
    expect([extended.result, extended.sent.length]).toEqual([true, 1]);
    const retried = await statementsSent(() =>
      store.retryJob(job.lease, { runAt: now, error: 'transient: x', countAttempt: true }),
    );
    expect([retried.result, retried.sent.length]).toEqual([true, 1]);
    expect((await store.connectorHealth())[0]).toMatchObject({ lastError: 'transient: x', retrying: 1 });
  });
});
