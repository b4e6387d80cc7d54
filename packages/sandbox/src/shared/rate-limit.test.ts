import { describe, expect, it } from 'vitest';
import { createClock } from './clock.ts';
import { retryAfterSeconds, SlidingWindowLimiter, TokenBucketLimiter } from './rate-limit.ts';

describe('SlidingWindowLimiter', () => {
  it('allows exactly `limit` events per window and says when the next one fits', () => {
    const clock = createClock(() => 0);
    const limiter = new SlidingWindowLimiter({ limit: 3, windowMs: 1000, now: clock.now });
    expect([1, 2, 3].map(() => limiter.take('k').allowed)).toEqual([true, true, true]);
    clock.advance(400);
    const denied = limiter.take('k');
    expect(denied).toMatchObject({ allowed: false, remaining: 0, retryAfterMs: 600 });
    clock.advance(600);
    expect(limiter.take('k').allowed).toBe(true);
  });

  it('keeps keys independent and does not consume quota on a denial', () => {
    const clock = createClock(() => 0);
    const limiter = new SlidingWindowLimiter({ limit: 1, windowMs: 1000, now: clock.now });
    expect(limiter.take('a').allowed).toBe(true);
    expect(limiter.take('a').allowed).toBe(false);
    expect(limiter.take('b').allowed).toBe(true);
    clock.advance(1000);
    expect(limiter.take('a').allowed).toBe(true);
  });

  it('peek answers like take without consuming', () => {
    const limiter = new SlidingWindowLimiter({ limit: 1, windowMs: 1000, now: () => 0 });
    expect(limiter.peek('a').allowed).toBe(true);
    expect(limiter.peek('a').allowed).toBe(true);
    expect(limiter.take('a').allowed).toBe(true);
    expect(limiter.peek('a').allowed).toBe(false);
  });

  it('rejects nonsensical configuration', () => {
    expect(() => new SlidingWindowLimiter({ limit: 0, windowMs: 1000 })).toThrow(RangeError);
  });
});

describe('TokenBucketLimiter', () => {
  it('allows a full burst, then one event per refill interval', () => {
    const clock = createClock(() => 0);
    const limiter = new TokenBucketLimiter({ capacity: 3, refillEveryMs: 6000, now: clock.now });
    expect([1, 2, 3].map(() => limiter.take('pair').allowed)).toEqual([true, true, true]);
    const denied = limiter.take('pair');
    expect(denied).toMatchObject({ allowed: false, retryAfterMs: 6000 });
    clock.advance(5999);
    expect(limiter.take('pair').allowed).toBe(false);
    clock.advance(1);
    expect(limiter.take('pair').allowed).toBe(true);
    expect(limiter.take('pair').allowed).toBe(false);
  });

  it('never refills beyond capacity', () => {
    const clock = createClock(() => 0);
    const limiter = new TokenBucketLimiter({ capacity: 2, refillEveryMs: 10, now: clock.now });
    limiter.take('k');
    clock.advance(10_000);
    expect(limiter.take('k').remaining).toBe(1);
    expect(limiter.take('k').remaining).toBe(0);
    expect(limiter.take('k').allowed).toBe(false);
  });

  it('reset forgets a key', () => {
    const limiter = new TokenBucketLimiter({ capacity: 1, refillEveryMs: 1000, now: () => 0 });
    limiter.take('k');
    expect(limiter.take('k').allowed).toBe(false);
    limiter.reset('k');
    expect(limiter.take('k').allowed).toBe(true);
  });
});

describe('retryAfterSeconds', () => {
  it('rounds up to whole seconds and is at least 1', () => {
    expect([1, 999, 1000, 1001, 6000].map(retryAfterSeconds)).toEqual([1, 1, 1, 2, 6]);
  });
});
