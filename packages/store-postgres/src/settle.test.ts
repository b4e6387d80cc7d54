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

describe('settling several deliveries together on Postgres', () => {
  /** Message jobs of three conversations, claimed (each heads its queue). */
  async function claimedThree(): Promise<Job[]> {
    for (const [i, waId] of ['15550002221', '15550002222', '15550002223'].entries()) {
      await ingestText(store, ws, { waId, wamid: `wamid.t${i}`, text: 'hello', at: now - 1000 });
    }
    const jobs = await store.claimJobs({ limit: 10, leaseMs: 30_000, workerId: 'w1', now });
    const messages = jobs.filter((j) => j.eventType === 'message.inbound');
    expect(messages).toHaveLength(3);
    return messages;
  }

  /** Takes a job's lease over, as another worker does once it expired. */
  async function takeOver(job: Job): Promise<void> {
    await store.db.run("UPDATE jobs SET lease_token = 'someone-else' WHERE id = $1", [job.id]);
  }

  it('completes them in one statement, each only on its own lease, its refs with it', async () => {
    const [a, b, c] = (await claimedThree()) as [Job, Job, Job];
    await takeOver(b);
    const { result, sent } = await statementsSent(() =>
      Promise.all(
        [a, b, c].map((job) =>
          store.completeJob(job.lease, [ref('message', job.entityId, `post-${job.id}`)]),
        ),
      ),
    );
    expect(sent).toHaveLength(1);
    expect(result).toEqual([true, false, true]);
    expect(await store.getRef(ws, 'ledger', 'message', a.entityId)).toMatchObject({
      externalId: `post-${a.id}`,
    });
    expect(await store.getRef(ws, 'ledger', 'message', b.entityId)).toBeNull();
    expect(await store.getRef(ws, 'ledger', 'message', c.entityId)).toMatchObject({
      externalId: `post-${c.id}`,
    });
    const left = await store.db.all<{ id: number }>('SELECT id FROM jobs WHERE id = ANY($1::bigint[])', [
      [a.id, b.id, c.id],
    ]);
    expect(left.map((r) => r.id)).toEqual([b.id]);
    // One health row for the connector, however many of its jobs completed together.
    expect((await store.connectorHealth()).filter((h) => h.connectorId === 'ledger')).toHaveLength(1);
  });

  it('checkpoints them in one statement, each ref only while its own lease holds', async () => {
    const [a, b, c] = (await claimedThree()) as [Job, Job, Job];
    await takeOver(c);
    const { result, sent } = await statementsSent(() =>
      Promise.all(
        [a, b, c].map((job) => store.checkpointRef(job.lease, ws, ref('event', job.entityId, 'pending:1'))),
      ),
    );
    expect(sent).toHaveLength(1);
    expect(result).toEqual([true, true, false]);
    expect(await store.getRef(ws, 'ledger', 'event', a.entityId)).toMatchObject({ externalId: 'pending:1' });
    expect(await store.getRef(ws, 'ledger', 'event', b.entityId)).toMatchObject({ externalId: 'pending:1' });
    expect(await store.getRef(ws, 'ledger', 'event', c.entityId)).toBeNull();
  });

  it('settles them one at a time when the statement for all fails: two writing the same ref', async () => {
    const [a, b] = (await claimedThree()) as [Job, Job, Job];
    const shared = ref('conversation', 'shared-thread', 'thread-x');
    const { result, sent } = await statementsSent(() =>
      Promise.all([a, b].map((job) => store.completeJob(job.lease, [shared]))),
    );
    // The batch's statement, refused, then each alone.
    expect(sent).toHaveLength(3);
    expect(result).toEqual([true, true]);
    expect(await store.getRef(ws, 'ledger', 'conversation', 'shared-thread')).toMatchObject({
      externalId: 'thread-x',
    });
  });
});
