import { WabridgeError } from '@wabridge/core';
import { describe, expect, it } from 'vitest';
import { MAX_INLINE_WAIT_MS, nextMidnight, portalThrottle } from './throttle.ts';

describe('per-portal pacing', () => {
  it('is shared by every client of one portal, and a 429 holds back all of them', async () => {
    let now = 0;
    const rate = { perSecond: 9, burst: 10, searchPerSecond: 4 };
    const first = portalThrottle('https://api.hubapi.test|portal-1', rate, () => now);
    expect(portalThrottle('https://api.hubapi.test|portal-1', rate, () => now)).toBe(first);
    expect(portalThrottle('https://api.hubapi.test|portal-2', rate, () => now)).not.toBe(first);
    for (let i = 0; i < 10; i++) expect(await first.general.tryTake('portal-1')).toBe(0);
    expect(await first.general.tryTake('portal-1')).toBe(112);
    // Search has its own, slower pace.
    expect(await first.search.tryTake('portal-1')).toBe(0);
    expect(await first.search.tryTake('portal-1')).toBe(250);

    await first.general.block('portal-1', 10_000);
    now = 1;
    const error = await first.general.acquire('portal-1').catch((e: unknown) => e);
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
