import { hydrateEvent, type Job } from '@wabridge/core';
import { identity, inboundMessage, ingestText, messagesUnit, seedWorkspace } from '@wabridge/core/testing';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { PostgresStore } from './store.ts';
import { openTestStore } from './testing/open.ts';
import { statementsSent } from './testing/statements.ts';

// A message job's event is read in one statement on Postgres (hydrate.ts); it must be the event
// core's hydrateEvent builds from the store's own reads, one read at a time.

let store: PostgresStore;
let ws: string;
/** After every webhook's delivery time (messagesUnit's default is the wall clock). */
const now = Date.now() + 3_600_000;

beforeEach(async () => {
  store = await openTestStore();
  ws = await seedWorkspace(store, { connectors: ['ledger'] });
});

afterEach(async () => {
  await store.close();
});

/**
 * Every message job queued so far, in order. A claim takes the head of each conversation's queue,
 * so each is completed to reach the next (hydrating reads the message, not the job).
 */
async function messageJobs(): Promise<Job[]> {
  const jobs: Job[] = [];
  for (;;) {
    const claimed = await store.claimJobs({ limit: 100, leaseMs: 30_000, workerId: 'w1', now });
    if (claimed.length === 0) break;
    for (const job of claimed) {
      jobs.push(job);
      await store.completeJob(job.lease, []);
    }
  }
  return jobs.filter((j) => j.eventType === 'message.inbound');
}

async function ingestConversation(): Promise<void> {
  await ingestText(store, ws, {
    waId: '15550001111',
    profileName: 'Ada',
    wamid: 'wamid.a',
    text: 'one',
    at: 1000,
  });
  // An edit of it, and a second message whose webhook opts the customer out.
  await store.ingest(
    messagesUnit(ws, {
      messages: [
        inboundMessage({
          wamid: 'wamid.e',
          type: 'edit',
          timestamp: 2000,
          text: 'one, edited',
          relatesTo: 'wamid.a',
          content: {
            type: 'edit',
            edit: { original_message_id: 'wamid.a', message: { text: { body: 'one, edited' } } },
          },
        }),
      ],
    }),
  );
  await store.ingest(
    messagesUnit(ws, {
      messages: [
        inboundMessage({
          wamid: 'wamid.b',
          contact: identity({ waId: '15550001111', profileName: 'Ada' }),
          timestamp: 3000,
          text: 'STOP',
          consent: { category: 'all', state: 'opted_out', entryId: 'cns_1' },
        }),
      ],
    }),
  );
}

describe('hydrating a message job in one statement', () => {
  it('builds the event the reads one at a time build: a message, its edit, consent', async () => {
    await ingestConversation();
    const jobs = await messageJobs();
    expect(jobs).toHaveLength(3);
    for (const job of jobs) {
      const event = await store.hydrateEvent(job, now);
      expect(event).not.toBeNull();
      expect(event).toEqual(await hydrateEvent(store, job, now));
    }
    // The edited message shows its revision, and the opt-out is in every later event's consent.
    const [original] = jobs;
    expect(await store.hydrateEvent(original as Job, now)).toMatchObject({
      message: { text: 'one', revision: { text: 'one, edited' } },
      consent: { all: { state: 'opted_out' } },
    });
  });

  it('sends one statement for a message job', async () => {
    await ingestConversation();
    // The original (its revision read with it) and the plain message; the edit also reads the
    // message it edits, from the store.
    const [original, edit, plain] = await messageJobs();
    // The first hydrate opens the workspace's data key (cached after).
    await store.hydrateEvent(edit as Job, now);
    for (const job of [original, plain]) {
      const { result, sent } = await statementsSent(() => store.hydrateEvent(job as Job, now));
      expect(result).toMatchObject({ type: 'message.inbound' });
      expect(sent).toHaveLength(1);
    }
  });

  it('answers null where the reads answer null: a restricted conversation, a message gone', async () => {
    await ingestConversation();
    const [first, second] = await messageJobs();
    await store.db.run('DELETE FROM messages WHERE id = $1', [(second as Job).entityId]);
    expect(await hydrateEvent(store, second as Job, now)).toBeNull();
    expect(await store.hydrateEvent(second as Job, now)).toBeNull();
    await store.db.run('UPDATE conversations SET restricted_at = 1 WHERE id = $1', [
      (first as Job).conversationId,
    ]);
    expect(await hydrateEvent(store, first as Job, now)).toBeNull();
    expect(await store.hydrateEvent(first as Job, now)).toBeNull();
  });

  it('reads the jobs hydrated together in one statement, each its own event', async () => {
    await ingestConversation();
    const jobs = await messageJobs();
    // The first hydrate opens the workspace's data key (cached after).
    await store.hydrateEvent(jobs[1] as Job, now);
    const alone = await Promise.all(jobs.map((job) => hydrateEvent(store, job, now)));
    const [original, , plain] = jobs as [Job, Job, Job];
    const { result, sent } = await statementsSent(() =>
      Promise.all([original, plain, original].map((job) => store.hydrateEvent(job, now))),
    );
    expect(sent).toHaveLength(1);
    expect(result).toEqual([alone[0], alone[2], alone[0]]);
  });
});
