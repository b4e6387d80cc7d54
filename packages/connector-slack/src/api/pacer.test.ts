import { isWabridgeError } from '@wabridge/core';
import { describe, expect, it, vi } from 'vitest';
import { Pacer } from './pacer.ts';

describe('pacing Slack calls', () => {
  it('hands out consecutive slots per key and sends back callers whose slot is too far away', async () => {
    let now = 1000;
    const pacer = new Pacer({ ratePerSecond: 1, burst: 1, maxWaitMs: 0, now: () => now });
    await pacer.acquire('C1');
    await pacer.acquire('C2'); // other channels are independent
    const refused = await pacer.acquire('C1').catch((e: unknown) => e);
    expect(isWabridgeError(refused) && refused.code === 'rate_limited' && refused.retryAfterMs).toBe(1000);
    now += 1000;
    await expect(pacer.acquire('C1')).resolves.toBeUndefined();
  });

  it('allows a rested key its burst, then the steady rate', async () => {
    const now = 0;
    const pacer = new Pacer({ ratePerSecond: 50 / 60, burst: 5, maxWaitMs: 0, now: () => now });
    for (let i = 0; i < 5; i++) await pacer.acquire('chat.update');
    await expect(pacer.acquire('chat.update')).rejects.toMatchObject({ code: 'rate_limited' });
  });

  it('holds a key back for Slack’s Retry-After', async () => {
    const now = 0;
    const pacer = new Pacer({ ratePerSecond: 100, burst: 1, maxWaitMs: 50, now: () => now });
    pacer.block('C1', 30_000);
    await expect(pacer.acquire('C1')).rejects.toMatchObject({ code: 'rate_limited', retryAfterMs: 29_975 });
  });

  it('keeps one interval between calls that really go out, however late their slot was used', async () => {
    // Fake timers and a fake performance clock: the claim is about the pacer's arithmetic, and a
    // busy machine delaying one continuation must not make the measured gaps lie.
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
    try {
      const pacer = new Pacer({ ratePerSecond: 20, burst: 1, maxWaitMs: 1000, marginMs: 5 });
      const sent: number[] = [];
      const calls = Promise.all(
        [0, 1, 2, 3].map(async () => {
          await pacer.acquire('C1');
          await pacer.spaceSend('C1');
          sent.push(performance.now());
        }),
      );
      await vi.runAllTimersAsync();
      await calls;
      const gaps = sent.slice(1).map((t, i) => t - (sent[i] as number));
      expect(gaps).toEqual([55, 55, 55]);
    } finally {
      vi.useRealTimers();
    }
  });
});
