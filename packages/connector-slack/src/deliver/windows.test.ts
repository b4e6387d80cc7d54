import { silentLogger } from '@wabridge/core';
import { memoryConnectorState as memoryState } from '@wabridge/core/testing';
import { describe, expect, it } from 'vitest';
import type { SlackApi } from '../api/client.ts';
import { type ClosingCard, KNOWN_CONVERSATIONS, WindowWatch, windowShard } from './windows.ts';

/** Records the Slack calls instead of making them (closeDue only updates cards). */
function recordingApi() {
  const calls: { method: string; args: Record<string, unknown> }[] = [];
  const api = {
    async call(method: string, args: Record<string, unknown>) {
      calls.push({ method, args });
      return { ok: true };
    },
  } as unknown as SlackApi;
  return { api, calls };
}

const card = (ts: string, closesAt: number): ClosingCard => ({
  channel: 'C0SUPPORT1',
  ts,
  closesAt,
  text: 'Closed — only approved templates can be sent',
  blocks: [],
});

const DAY = 24 * 60 * 60 * 1000;
const settled = () => new Promise((resolve) => setImmediate(resolve));

describe('WindowWatch', () => {
  it('keeps the closing times in shards, so no index is every conversation’s', async () => {
    const memory = memoryState();
    const watch = new WindowWatch(memory.state, recordingApi().api, silentLogger);
    await Promise.all(
      Array.from({ length: 2000 }, (_, i) => watch.track(`conv_${i}`, card(`17000000${i}.000100`, DAY))),
    );
    const indexes = [...memory.values].filter(([key]) => key.startsWith('windows'));
    const sizes = indexes.map(([, index]) => Object.keys(index as object).length);
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(2000);
    expect(indexes.length).toBeGreaterThan(32);
    expect(Math.max(...sizes)).toBeLessThan(100);
  });

  it('does not make a conversation wait for another shard’s write', async () => {
    const memory = memoryState();
    const watch = new WindowWatch(memory.state, recordingApi().api, silentLogger);
    const a = 'conv_a';
    const b = Array.from({ length: 100 }, (_, i) => `conv_b${i}`).find(
      (id) => windowShard(id) !== windowShard(a),
    );
    const open = memory.hold();
    const tracks = [watch.track(a, card('1.000100', DAY)), watch.track(b as string, card('2.000100', DAY))];
    await settled();
    // Both cards' writes are under way at once; with one lock for all, the second would wait.
    expect(memory.waiting()).toBe(2);
    open();
    await Promise.all(tracks);
  });

  it('closes the cards that are due, from the shards and from an index kept before them', async () => {
    const memory = memoryState();
    const { api, calls } = recordingApi();
    const watch = new WindowWatch(memory.state, api, silentLogger);
    // Left by an earlier version: one index for every conversation.
    memory.values.set('windows', { conv_old: DAY, conv_moved: DAY });
    memory.values.set('window:conv_old', card('1.000100', DAY));
    memory.values.set('window:conv_moved', card('2.000100', DAY));
    // conv_moved wrote again since: its card and closing time are now in its shard, a day later.
    await watch.track('conv_moved', { ...card('2.000100', 2 * DAY), text: 'Closed (later)' });
    await watch.track('conv_new', card('3.000100', DAY));

    expect(await watch.closeDue(DAY + 60_000)).toBe(2);
    expect(calls.map((c) => c.args.ts).sort()).toEqual(['1.000100', '3.000100']);
    expect(memory.values.get('windows')).toEqual({});
    expect(memory.values.get('window:conv_moved')).toMatchObject({ closesAt: 2 * DAY });

    expect(await watch.closeDue(2 * DAY + 60_000)).toBe(1);
    expect(calls.at(-1)?.args).toMatchObject({ ts: '2.000100', text: 'Closed (later)' });
    expect([...memory.values.keys()].filter((key) => key.startsWith('window:'))).toEqual([]);
  });

  it('remembers a bounded number of conversations: one tracked long ago writes its card again', async () => {
    const { watch, cardWrites } = watchCountingCards();
    const first = card('1.000100', DAY);
    await watch.track('conv_first', first);
    await watch.track('conv_recent', card('2.000100', DAY));
    // The same card again: remembered, so nothing is written.
    await watch.track('conv_first', first);
    expect(cardWrites).toEqual(['window:conv_first', 'window:conv_recent']);

    // As many other conversations as the bound: conv_first, tracked before all of them, is forgotten.
    for (let i = 0; i < KNOWN_CONVERSATIONS; i++) await watch.track(`conv_${i}`, card(`3${i}.000100`, DAY));
    cardWrites.length = 0;
    await watch.track('conv_first', first);
    expect(cardWrites).toEqual(['window:conv_first']);
  });

  it('keeps a conversation tracked again among the remembered ones', async () => {
    const { watch, cardWrites } = watchCountingCards();
    const busy = card('1.000100', DAY);
    await watch.track('conv_busy', busy);
    for (let i = 0; i < KNOWN_CONVERSATIONS; i++) {
      await watch.track(`conv_${i}`, card(`3${i}.000100`, DAY));
      // A conversation with messages all along stays remembered: its repeats write nothing.
      if (i % 1000 === 0) await watch.track('conv_busy', busy);
    }
    expect(cardWrites.filter((key) => key === 'window:conv_busy')).toHaveLength(1);
  });
});

/** A watch on an in-memory state that lists the conversations whose card it wrote. */
function watchCountingCards() {
  const memory = memoryState();
  const cardWrites: string[] = [];
  const state = {
    ...memory.state,
    set: (key: string, value: unknown) => {
      if (key.startsWith('window:')) cardWrites.push(key);
      return memory.state.set(key, value);
    },
  };
  return { watch: new WindowWatch(state, recordingApi().api, silentLogger), cardWrites };
}
