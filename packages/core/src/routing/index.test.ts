import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
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

  it('checks the version half-way to due without making the read wait for it', async () => {
    // The version check is held until released: a read that waited for it would never answer.
    let checks = 0;
    let release = () => {};
    const held: Store = Object.create(store);
    held.configVersion = async () => {
      checks++;
      if (checks > 1) await new Promise<void>((resolve) => (release = resolve));
      return store.configVersion();
    };
    vi.useFakeTimers({ toFake: ['Date'] });
    try {
      vi.setSystemTime(1_000_000);
      const cache = new RoutingCache(held, { checkEveryMs: 1000 });
      expect((await cache.workspace('acme'))?.id).toBe('acme');
      vi.setSystemTime(1_000_400);
      expect((await cache.workspace('acme'))?.id).toBe('acme');
      expect(checks).toBe(1);
      vi.setSystemTime(1_000_600);
      expect((await cache.workspace('acme'))?.id).toBe('acme');
      expect(checks).toBe(2);
      // Due (the copy would be older than checkEveryMs): the read waits for the check in flight.
      vi.setSystemTime(1_001_000);
      let answered = false;
      const due = cache.workspace('acme').then((w) => {
        answered = true;
        return w;
      });
      await new Promise((resolve) => setImmediate(resolve));
      expect(answered).toBe(false);
      release();
      expect((await due)?.id).toBe('acme');
    } finally {
      vi.useRealTimers();
    }
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
