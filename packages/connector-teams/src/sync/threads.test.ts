import { memoryConnectorState as memoryState } from '@wabridge/core/testing';
import { describe, expect, it } from 'vitest';
import { ThreadIndex } from './threads.ts';

const NOW = Date.parse('2026-12-06T12:00:00Z');
const thread = (i: number) => ({
  teamId: 'team-1',
  channelId: `19:channel${i % 50}@thread.tacv2`,
  rootId: `17${i}`,
});
const settled = () => new Promise((resolve) => setImmediate(resolve));

describe('ThreadIndex', () => {
  it('splits a day over shards, so no key holds every thread of the day, and finds them all', async () => {
    const memory = memoryState();
    const index = new ThreadIndex(memory.state, () => NOW);
    await Promise.all(Array.from({ length: 2000 }, (_, i) => index.touch(thread(i), `conv_${i}`)));
    const sizes = [...memory.values.values()].map((bucket) => Object.keys(bucket as object).length);
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(2000);
    expect(sizes.length).toBeGreaterThan(32);
    expect(Math.max(...sizes)).toBeLessThan(100);
    const active = await index.active(24);
    expect(active).toHaveLength(2000);
    expect(active.find((t) => t.rootId === '177')).toMatchObject({ conversationId: 'conv_7' });
  });

  it('lets threads in different shards be recorded at the same time', async () => {
    const memory = memoryState();
    const index = new ThreadIndex(memory.state, () => NOW);
    const release = memory.hold();
    const touches = Array.from({ length: 8 }, (_, i) => index.touch(thread(i), `conv_${i}`));
    await settled();
    // With one key a day, the first write would hold the other seven behind it.
    expect(memory.waiting()).toBeGreaterThan(1);
    release();
    await Promise.all(touches);
    expect(await index.active(24)).toHaveLength(8);
  });

  it('still finds the threads of a day indexed before the shards', async () => {
    const memory = memoryState();
    memory.values.set('threads:2026-12-06', {
      '19:old@thread.tacv2/1': {
        teamId: 'team-1',
        channelId: '19:old@thread.tacv2',
        rootId: '1',
        conversationId: 'conv_old',
      },
    });
    const index = new ThreadIndex(memory.state, () => NOW);
    await index.touch(thread(1), 'conv_1');
    expect((await index.active(24)).map((t) => t.conversationId).sort()).toEqual(['conv_1', 'conv_old']);
  });

  it('keeps in memory only the threads recorded today', async () => {
    const memory = memoryState();
    let now = NOW;
    const index = new ThreadIndex(memory.state, () => now);
    await Promise.all(Array.from({ length: 300 }, (_, i) => index.touch(thread(i), `conv_${i}`)));
    expect(index.remembered).toBe(300);
    // The next day: yesterday's markers can never match again, and go.
    now += 24 * 60 * 60 * 1000;
    await Promise.all(Array.from({ length: 5 }, (_, i) => index.touch(thread(i), `conv_${i}`)));
    expect(index.remembered).toBe(5);
    // Both days' threads are still found: only the memory of them went.
    expect(await index.active(48)).toHaveLength(300);
  });
});
