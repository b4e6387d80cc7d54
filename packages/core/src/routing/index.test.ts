import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openThreadedSqliteStore } from '../store/sqlite/threaded.ts';
import type { Store } from '../store/types.ts';
import { RoutingCache } from './index.ts';

describe('routing cache', () => {
  let dir: string;
  let store: Store;
  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'wabridge-routing-'));
    // The threaded store answers asynchronously, as in production: the first load takes a while.
    store = await openThreadedSqliteStore({ path: join(dir, 'db') });
    await store.createWorkspace({ id: 'acme', name: 'Acme' });
    await store.addPhoneNumber({
      workspaceId: 'acme',
      phoneNumberId: '111',
      displayPhoneNumber: null,
      wabaId: null,
    });
  });
  afterEach(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('routes every request that arrives while the first load is still running', async () => {
    // The version is read at once, the lists slowly: requests land in between.
    const slow: Store = Object.create(store);
    slow.listWorkspaces = async () => {
      await new Promise((resolve) => setTimeout(resolve, 100));
      return store.listWorkspaces();
    };
    const cache = new RoutingCache(slow, { checkEveryMs: 60_000 });
    const first = cache.route('111');
    await new Promise((resolve) => setTimeout(resolve, 30));
    const during = await Promise.all(Array.from({ length: 20 }, () => cache.route('111')));
    expect([await first, ...during].every((r) => r?.workspace.id === 'acme')).toBe(true);
  });

  it('finds a number another process assigned a moment ago, without waiting for the refresh period', async () => {
    const cache = new RoutingCache(store, { checkEveryMs: 60_000 });
    expect(await cache.route('222')).toBeNull();
    await store.addPhoneNumber({
      workspaceId: 'acme',
      phoneNumberId: '222',
      displayPhoneNumber: null,
      wabaId: null,
    });
    expect((await cache.route('222'))?.workspace.id).toBe('acme');
  });
});
