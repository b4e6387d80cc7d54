import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { identity, inboundMessage, messagesUnit, seedWorkspace } from '../../testing/fixtures.ts';
import { describeStoreConformance } from '../../testing/store-conformance.ts';
import { openSqliteStore } from './index.ts';
import { openThreadedSqliteStore } from './threaded.ts';

const dir = mkdtempSync(join(tmpdir(), 'wabridge-sqlite-'));
let n = 0;
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// A real file (WAL, fsync) rather than :memory:, so the suite exercises what production runs.
describeStoreConformance('sqlite', () => openSqliteStore({ path: join(dir, `store-${n++}.db`) }));

// The same suite through the store thread, which is what the gateway runs.
describeStoreConformance('sqlite (threaded)', () =>
  openThreadedSqliteStore({ path: join(dir, `threaded-${n++}.db`) }),
);

describe('sqlite store internals', () => {
  it('a batch rolled back after a new customer was seen leaves no message pointing at rolled-back rows', async () => {
    const store = await openSqliteStore({ path: join(dir, `rollback-${n++}.db`) });
    try {
      const ws = await seedWorkspace(store, { connectors: ['slack'] });
      const good = messagesUnit(ws, {
        messages: [inboundMessage({ wamid: 'w.good', contact: identity({ waId: '15550009999' }) })],
      });
      // No identifier at all: this write throws, so the optimistic batch rolls back and each write
      // is retried alone.
      const bad = messagesUnit(ws, { messages: [inboundMessage({ wamid: 'w.bad', contact: identity({}) })] });
      const [first, second] = await Promise.allSettled([store.ingest(good), store.ingest(bad)]);
      expect(first.status).toBe('fulfilled');
      expect(second).toMatchObject({ status: 'rejected', reason: { code: 'bad_request' } });
      const message = await store.getMessageByWamid(ws, 'w.good');
      expect(await store.getConversation(ws, message?.conversationId ?? '')).not.toBeNull();
      const again = await store.ingest(
        messagesUnit(ws, {
          messages: [inboundMessage({ wamid: 'w.next', contact: identity({ waId: '15550009999' }) })],
        }),
      );
      expect(again.messagesStored).toBe(1);
      const next = await store.getMessageByWamid(ws, 'w.next');
      expect(next?.conversationId).toBe(message?.conversationId);
    } finally {
      await store.close();
    }
  });

  // The conversation of a customer seen before is answered from memory; the memory must not
  // outlive a change of workspaces, whichever connection made it and whenever it committed.
  it.each([
    'another connection (the CLI in another process)',
    'this store, in earlier transactions',
    'this store, in the same group commit',
  ])('a workspace deleted and made again by %s gets new rows for a known customer', async (by) => {
    const path = join(dir, `identities-${n++}.db`);
    const store = await openSqliteStore({ path });
    const admin = by.startsWith('another') ? await openSqliteStore({ path }) : store;
    try {
      const customer = identity({ waId: '15550004444' });
      await seedWorkspace(store, { id: 'acme', connectors: ['slack'] });
      const first = messagesUnit('acme', { messages: [inboundMessage({ wamid: 'w.1', contact: customer })] });
      const again = messagesUnit('acme', { messages: [inboundMessage({ wamid: 'w.2', contact: customer })] });
      if (by.endsWith('same group commit')) {
        // Called in one turn of the loop: all five writes share one transaction.
        await Promise.all([
          store.ingest(first),
          store.deleteWorkspace('acme'),
          store.createWorkspace({ id: 'acme', name: 'Again' }),
          store.addPhoneNumber({
            workspaceId: 'acme',
            phoneNumberId: '106540352242922',
            displayPhoneNumber: null,
            wabaId: null,
          }),
          store.ingest(again),
        ]);
      } else {
        await store.ingest(first);
        await admin.deleteWorkspace('acme');
        await seedWorkspace(admin, { id: 'acme', connectors: ['slack'] });
        await store.ingest(again);
      }
      const message = await store.getMessageByWamid('acme', 'w.2');
      const conversation = await store.getConversation('acme', message?.conversationId ?? '');
      expect(conversation).not.toBeNull();
      expect(await store.getContact('acme', conversation?.contactId ?? '')).not.toBeNull();
    } finally {
      if (admin !== store) await admin.close();
      await store.close();
    }
  });
});
