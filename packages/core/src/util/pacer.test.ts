import { describe, expect, it, vi } from 'vitest';
import { isWabridgeError } from '../errors/index.ts';
import { Pacer } from './pacer.ts';
import { runInWorkSlot, type WorkSlot } from './work-slot.ts';

describe('pacing calls per key', () => {
  it('hands out consecutive slots per key and sends back callers whose slot is too far away', async () => {
    let now = 1000;
    const pacer = new Pacer({
      label: 'test calls',
      ratePerSecond: 1,
      burst: 1,
      maxWaitMs: 0,
      now: () => now,
    });
    await pacer.acquire('C1');
    await pacer.acquire('C2'); // other channels are independent
    const refused = await pacer.acquire('C1').catch((e: unknown) => e);
    expect(isWabridgeError(refused) && refused.code === 'rate_limited' && refused.retryAfterMs).toBe(1000);
    now += 1000;
    await expect(pacer.acquire('C1')).resolves.toBeUndefined();
  });

  it('allows a rested key its burst, then the steady rate', async () => {
    const now = 0;
    const pacer = new Pacer({
      label: 'test calls',
      ratePerSecond: 50 / 60,
      burst: 5,
      maxWaitMs: 0,
      now: () => now,
    });
    for (let i = 0; i < 5; i++) await pacer.acquire('chat.update');
    await expect(pacer.acquire('chat.update')).rejects.toMatchObject({ code: 'rate_limited' });
  });

  it("holds a key back for a 429's Retry-After, then lets the bucket refill from empty", async () => {
    const now = 0;
    const pacer = new Pacer({
      label: 'test calls',
      ratePerSecond: 100,
      burst: 1,
      maxWaitMs: 50,
      now: () => now,
    });
    await pacer.block('C1', 30_000);
    await expect(pacer.acquire('C1')).rejects.toMatchObject({ code: 'rate_limited', retryAfterMs: 29_975 });
    const bursty = new Pacer({
      label: 'test calls',
      ratePerSecond: 9,
      burst: 10,
      maxWaitMs: 0,
      now: () => now,
    });
    await bursty.block('portal', 2000);
    expect(await bursty.tryTake('portal')).toBe(2000);
    expect(await bursty.tryTake('other')).toBe(0);
  });

  it('tryTake takes a free slot or says how long until one, reserving nothing', async () => {
    let now = 0;
    const pacer = new Pacer({
      label: 'test calls',
      ratePerSecond: 9,
      burst: 10,
      maxWaitMs: 0,
      now: () => now,
    });
    for (let i = 0; i < 10; i++) expect(await pacer.tryTake('portal')).toBe(0);
    expect(await pacer.tryTake('portal')).toBe(112);
    expect(await pacer.tryTake('portal')).toBe(112);
    now = 112;
    expect(await pacer.tryTake('portal')).toBe(0);
    expect(await pacer.tryTake('portal')).toBe(111);
  });

  it('after a block the first call goes at the end of the wait, the next one an interval later', async () => {
    let now = 0;
    const pacer = new Pacer({
      label: 'test calls',
      ratePerSecond: 10,
      burst: 5,
      maxWaitMs: 0,
      now: () => now,
    });
    await pacer.block('C1', 1000);
    now = 1000;
    await pacer.acquire('C1');
    await expect(pacer.acquire('C1')).rejects.toMatchObject({ code: 'rate_limited', retryAfterMs: 100 });
    now = 1100;
    await expect(pacer.acquire('C1')).resolves.toBeUndefined();
  });

  it('names what it paces and the key in the rate_limited error', async () => {
    const pacer = new Pacer({
      label: 'Teams channel posts',
      ratePerSecond: 1,
      burst: 1,
      maxWaitMs: 0,
      now: () => 0,
    });
    await pacer.acquire('T/C');
    await expect(pacer.acquire('T/C')).rejects.toMatchObject({
      message: 'pacing Teams channel posts for T/C',
      details: { key: 'T/C', waitMs: 1000 },
    });
  });

  it('keeps one interval between calls that really go out, however late their slot was used', async () => {
    // Fake timers and a fake performance clock: the claim is about the pacer's arithmetic, and a
    // busy machine delaying one continuation must not make the measured gaps lie.
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
    try {
      const pacer = new Pacer({
        label: 'test calls',
        ratePerSecond: 20,
        burst: 1,
        maxWaitMs: 1000,
        marginMs: 5,
      });
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

describe('the window shape', () => {
  it('allows `burst` calls in any window, never a burst plus a refill', async () => {
    let now = 0;
    const pacer = new Pacer({
      label: 'Teams channel requests',
      shape: 'window',
      ratePerSecond: 4,
      burst: 4,
      marginMs: 100,
      maxWaitMs: 0,
      now: () => now,
    });
    for (let i = 0; i < 4; i++) expect(await pacer.tryTake('C1')).toBe(0);
    expect(await pacer.tryTake('C1')).toBe(1100);
    now = 600;
    // A bucket would have refilled two tokens by now; the window still holds four calls.
    expect(await pacer.tryTake('C1')).toBe(500);
    now = 1100;
    for (let i = 0; i < 4; i++) expect(await pacer.tryTake('C1')).toBe(0);
    expect(await pacer.tryTake('C1')).toBe(1100);
  });

  it('lets no more than `burst` calls leave in any window when a stall wakes two windows at once', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
    try {
      const pacer = graphChannelPacer();
      const start = performance.now();
      // Six callers whose slots were two windows' worth (three now, three 1,100 ms later), and an
      // event loop stalled for 1,200 ms: all six timers fire in one turn.
      vi.advanceTimersByTime(1200);
      const left: number[] = [];
      const sends = Promise.all(
        [0, 1, 2, 3, 4, 5].map(async () => {
          await pacer.spaceSend('C1');
          left.push(performance.now() - start);
        }),
      );
      await vi.runAllTimersAsync();
      await sends;
      expect(left).toEqual([1200, 1200, 1200, 2300, 2300, 2300]);
      // Another channel is not held back by this one's window.
      await pacer.spaceSend('C2');
      expect(performance.now() - start).toBe(2300);
    } finally {
      vi.useRealTimers();
    }
  });

  it('does not hold back calls that leave a window apart', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
    try {
      const pacer = graphChannelPacer();
      const start = performance.now();
      for (const at of [0, 0, 0, 1100, 1100, 1100, 2200]) {
        vi.advanceTimersByTime(start + at - performance.now());
        await pacer.spaceSend('C1');
        expect(performance.now() - start).toBe(at);
      }
    } finally {
      vi.useRealTimers();
    }
  });

  it('reserves waiting callers consecutive slots in arrival order', async () => {
    let now = 0;
    const pacer = new Pacer({
      label: 'x',
      shape: 'window',
      ratePerSecond: 2,
      burst: 2,
      maxWaitMs: 5000,
      now: () => now,
    });
    const order: number[] = [];
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    try {
      const calls = Promise.all(
        [0, 1, 2, 3, 4].map(async (i) => {
          await pacer.acquire('C1');
          order.push(i);
        }),
      );
      for (const step of [1000, 1000]) {
        now += step;
        await vi.advanceTimersByTimeAsync(step);
      }
      await calls;
    } finally {
      vi.useRealTimers();
    }
    expect(order).toEqual([0, 1, 2, 3, 4]);
    // Slots went at 0, 0, 1000, 1000 and 2000: the window from 2000 has room for one more call.
    now = 2000;
    expect(await pacer.tryTake('C1')).toBe(0);
    expect(await pacer.tryTake('C1')).toBe(1000);
  });

  // A 5,000-message campaign made 81,193 Slack hand-backs: every refused caller was told the same
  // retry time, so they all came back together and all but the first few were refused again.
  it('hands the callers it refuses back one interval apart, behind those handed back before', async () => {
    let now = 0;
    const pacer = new Pacer({
      label: 'test calls',
      ratePerSecond: 10,
      burst: 1,
      maxWaitMs: 50,
      now: () => now,
    });
    await pacer.acquire('C1');
    const retries: unknown[] = [];
    for (let i = 0; i < 4; i++)
      retries.push(await pacer.acquire('C1').catch((e: unknown) => isWabridgeError(e) && e.retryAfterMs));
    // The next slot is 100 ms away: back 25 ms before it, the next ones a slot later each.
    expect(retries).toEqual([75, 175, 275, 375]);
    expect(await pacer.acquire('C2').catch((e: unknown) => e)).toBeUndefined(); // keys are independent
    // Once those times have passed, a refusal counts from the lane's next slot again.
    now = 10_000;
    await pacer.acquire('C1');
    expect(await pacer.acquire('C1').catch((e: unknown) => isWabridgeError(e) && e.retryAfterMs)).toBe(75);
    // The window shape: a window's calls spread over it.
    const window = new Pacer({
      label: 'test calls',
      shape: 'window',
      ratePerSecond: 3,
      burst: 3,
      maxWaitMs: 0,
      now: () => now,
    });
    for (let i = 0; i < 3; i++) await window.acquire('C1');
    const spread: unknown[] = [];
    for (let i = 0; i < 3; i++)
      spread.push(await window.acquire('C1').catch((e: unknown) => isWabridgeError(e) && e.retryAfterMs));
    expect(spread).toEqual([1000, 1334, 1667]);
  });

  it('under a worker slot, waits outside the slot and longer before handing the job back', async () => {
    const now = 0;
    const pacer = new Pacer({
      label: 'test calls',
      ratePerSecond: 1,
      burst: 1,
      maxWaitMs: 0,
      parkedMaxWaitMs: 5000,
      now: () => now,
    });
    await pacer.acquire('C1');
    let parks = 0;
    let entered: () => void = () => {};
    const waiting = new Promise<void>((resolve) => {
      entered = resolve;
    });
    const slot: WorkSlot = {
      canPark: () => true,
      parked: (wait) => {
        parks++;
        entered();
        return wait();
      },
    };
    const controller = new AbortController();
    // A second away: beyond maxWaitMs, within parkedMaxWaitMs. Before, this was handed back.
    const call = runInWorkSlot(slot, () => pacer.acquire('C1', controller.signal)).catch((e: unknown) => e);
    await Promise.race([waiting, call]);
    expect(parks).toBe(1);
    controller.abort(new Error('stop'));
    expect(await call).toMatchObject({ message: 'stop' });
    // A slot that cannot park now: the pacer's own bound, in the slot.
    const full: WorkSlot = { canPark: () => false, parked: (wait) => wait() };
    await expect(runInWorkSlot(full, () => pacer.acquire('C1'))).rejects.toMatchObject({
      code: 'rate_limited',
    });
    // A caller's own bound is kept, slot or not.
    await expect(runInWorkSlot(slot, () => pacer.acquire('C1', undefined, 10))).rejects.toMatchObject({
      code: 'rate_limited',
    });
  });
});

/** Graph's per-channel requests as the Teams connector paces them: 3 in any 1,100 ms. */
function graphChannelPacer(): Pacer {
  return new Pacer({
    label: 'Teams channel requests',
    shape: 'window',
    ratePerSecond: 3,
    burst: 3,
    marginMs: 100,
    maxWaitMs: 5000,
  });
}
