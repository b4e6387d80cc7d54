import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ExternalRefInput } from '../connector/contract.ts';
import { openSqliteStore, type SqliteStore } from '../store/sqlite/index.ts';
import { seedWorkspace } from '../testing/fixtures.ts';
import { LINK_REF_KIND, linkAccess } from './links.ts';

let dir: string;
let store: SqliteStore;
let ws: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'wabridge-links-'));
  store = await openSqliteStore({ path: join(dir, 'store.db'), now: () => 1_700_000_000_000 });
  ws = await seedWorkspace(store, { connectors: ['crm', 'chat', 'other'] });
});

afterAll(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

const REGISTERED = ['chat', 'crm', 'other'];

/** The links of one connector, its refs written to the store as the worker's checkpoint does. */
function linksOf(connectorId: string, registered = REGISTERED) {
  const refs = { checkpoint: (ref: ExternalRefInput) => store.putRef(ws, { ...ref, connectorId }) };
  return linkAccess(store, refs, ws, connectorId, registered);
}

describe('links between targets', () => {
  it('a published link is listed for the others, not for its publisher', async () => {
    await linksOf('crm').publish({ contactId: 'ct_1', label: 'CRM contact', url: 'https://crm.test/c/1' });
    expect(await linksOf('chat').list('ct_1')).toEqual([
      { label: 'CRM contact', url: 'https://crm.test/c/1' },
    ]);
    expect(await linksOf('crm').list('ct_1')).toEqual([]);
    expect(await linksOf('chat').list('ct_2')).toEqual([]);
    // Stored as the publisher's own ref: no other connector's refs are read to find it.
    expect(await store.getRef(ws, 'crm', LINK_REF_KIND, 'ct_1')).toMatchObject({
      externalId: 'https://crm.test/c/1',
      data: { label: 'CRM contact' },
    });
  });

  it('several publishers are listed in the registry order; unregistered connectors are not asked', async () => {
    await linksOf('other').publish({ contactId: 'ct_3', label: 'Other', url: 'https://other.test/3' });
    await linksOf('crm').publish({ contactId: 'ct_3', label: 'CRM contact', url: 'https://crm.test/c/3' });
    expect((await linksOf('chat').list('ct_3')).map((l) => l.label)).toEqual(['CRM contact', 'Other']);
    expect((await linksOf('chat', ['chat', 'other']).list('ct_3')).map((l) => l.label)).toEqual(['Other']);
  });

  it('publishing again replaces the link; a withdrawn link is no longer listed', async () => {
    const crm = linksOf('crm');
    await crm.publish({ contactId: 'ct_4', label: 'CRM contact', url: 'https://crm.test/c/4' });
    await crm.publish({ contactId: 'ct_4', label: 'CRM contact', url: 'https://crm.test/c/40' });
    expect(await linksOf('chat').list('ct_4')).toEqual([
      { label: 'CRM contact', url: 'https://crm.test/c/40' },
    ]);
    await crm.withdraw('ct_4');
    expect(await linksOf('chat').list('ct_4')).toEqual([]);
  });
});
