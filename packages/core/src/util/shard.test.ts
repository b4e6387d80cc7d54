import { describe, expect, it } from 'vitest';
import { shardOf } from './shard.ts';

describe('shardOf', () => {
  // Stored keys are named by shard: a change of the hash would leave every stored shard unread.
  it('gives every key the same shard as before, in every process', () => {
    expect(shardOf('', 64)).toBe(0x811c9dc5 % 64);
    expect([shardOf('conv_1', 64), shardOf('19:abc@thread.tacv2/17', 64), shardOf('a', 1000)]).toEqual([
      59, 6, 220,
    ]);
  });

  it('spreads keys over all the shards', () => {
    const counts = new Array(64).fill(0);
    for (let i = 0; i < 6400; i++) counts[shardOf(`conv_${i}`, 64)] += 1;
    expect(Math.min(...counts)).toBeGreaterThan(50);
    expect(Math.max(...counts)).toBeLessThan(150);
  });
});
