import type { ConsentSnapshot, ExternalRef, LinkAccess, RefAccess } from '@wabridge/core';
import { describe, expect, it } from 'vitest';
import type { HubSpotApi } from '../api/client.ts';
import type { HubSpotConfig } from '../config.ts';
import { ContactResolver } from './resolve.ts';

const silent = { debug() {}, info() {}, warn() {}, error() {}, child: () => silent } as never;

/**
 * Resolves only once `size` callers are waiting on it: a caller that awaits each contact's store
 * read before asking for the next one never gets past the first.
 */
function barrier(size: number) {
  let waiting = 0;
  let open: () => void = () => {};
  const opened = new Promise<void>((resolve) => {
    open = resolve;
  });
  return async () => {
    if (++waiting >= size) open();
    await opened;
  };
}

describe('ContactResolver', () => {
  it("reads every contact's mapping at once, not one store round trip after another", async () => {
    const contacts = ['c1', 'c2', 'c3'];
    const arrive = barrier(contacts.length);
    const requests = contacts.map((id, i) => {
      const refs: RefAccess = {
        async get(kind, entityId) {
          await arrive();
          return { kind, entityId, externalId: `90${i}`, data: {} } as unknown as ExternalRef;
        },
        async checkpoint() {},
      };
      return {
        contact: { id, workspaceId: 'w', waId: `1555000000${i}` } as never,
        consent: {} as ConsentSnapshot,
        refs,
        links: {} as LinkAccess,
      };
    });
    // No portal id: nothing to publish, and a known mapping needs no HubSpot call at all.
    const resolver = new ContactResolver(
      {} as HubSpotApi,
      { deletedContacts: 'skip' } as HubSpotConfig,
      silent,
      Date.now,
    );
    const resolved = await resolver.resolve(requests);
    expect([...resolved]).toEqual([
      ['c1', { kind: 'linked', hubspotId: '900' }],
      ['c2', { kind: 'linked', hubspotId: '901' }],
      ['c3', { kind: 'linked', hubspotId: '902' }],
    ]);
  });
});
