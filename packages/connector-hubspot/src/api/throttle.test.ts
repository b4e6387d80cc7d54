import { WabridgeError } from '@wabridge/core';
import { describe, expect, it } from 'vitest';
import { acquire, MAX_INLINE_WAIT_MS, nextMidnight, TokenBucket } from './throttle.ts';

describe('per-portal pacing', () => {
  it('lets a burst through, then one call per 1/rate seconds', () => {
    const bucket = new TokenBucket(9, 10, 0);
    for (let i = 0; i < 10; i++) expect(bucket.take(0)).toBe(0);
    expect(bucket.take(0)).toBe(112);
    expect(bucket.take(112)).toBe(0);
  });

  it('after a 429 nothing goes out until the pushed-back time', () => {
    const bucket = new TokenBucket(9, 10, 0);
    bucket.pushBack(2000, 0);
    expect(bucket.take(1000)).toBeGreaterThan(900);
    expect(bucket.take(2200)).toBe(0);
  });

  it('hands a long wait back to the queue as rate_limited instead of sleeping', async () => {
    const bucket = new TokenBucket(1, 1, 0);
    bucket.pushBack(10_000, 0);
    const error = await acquire(bucket, () => 0).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WabridgeError);
    expect((error as WabridgeError).code).toBe('rate_limited');
    expect((error as WabridgeError).retryAfterMs).toBeGreaterThan(MAX_INLINE_WAIT_MS);
  });
});

describe('the daily reset', () => {
  it('is the next midnight of the account time zone, across DST changes', () => {
    expect(nextMidnight(Date.UTC(2026, 5, 1, 13, 0), 'UTC')).toBe(Date.UTC(2026, 5, 2));
    expect(nextMidnight(Date.UTC(2026, 5, 1, 23, 59, 59), 'UTC')).toBe(Date.UTC(2026, 5, 2));
    // New York in summer is UTC-4: midnight there is 04:00 UTC.
    expect(nextMidnight(Date.UTC(2026, 5, 1, 13, 0), 'America/New_York')).toBe(Date.UTC(2026, 5, 2, 4));
    // The night the clocks go back in Berlin (25 Oct 2026): 00:00 on the 26th is 23:00 UTC on the 25th.
    expect(nextMidnight(Date.UTC(2026, 9, 25, 12, 0), 'Europe/Berlin')).toBe(Date.UTC(2026, 9, 25, 23));
    expect(nextMidnight(Date.UTC(2026, 2, 29, 12, 0), 'Europe/Berlin')).toBe(Date.UTC(2026, 2, 29, 22));
  });
});
