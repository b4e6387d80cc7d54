import { sleep } from './sleep.ts';

/**
 * Token buckets by key, for pacing calls to a platform proactively (before it answers 429).
 * `take` never waits: it says how long to wait, so a job can be rescheduled instead of holding a
 * worker slot.
 */
export class KeyedTokenBucket {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();
  private readonly ratePerMs: number;
  private readonly burst: number;
  private readonly now: () => number;

  /** `ratePerSecond` tokens are added per second, up to `burst`. */
  constructor(options: { ratePerSecond: number; burst: number; now?: () => number }) {
    this.ratePerMs = options.ratePerSecond / 1000;
    this.burst = options.burst;
    this.now = options.now ?? Date.now;
  }

  /** Takes a token if one is there; otherwise returns the milliseconds until one will be. */
  take(key: string): { ok: true } | { ok: false; waitMs: number } {
    const now = this.now();
    const bucket = this.buckets.get(key) ?? { tokens: this.burst, at: now };
    bucket.tokens = Math.min(this.burst, bucket.tokens + (now - bucket.at) * this.ratePerMs);
    bucket.at = now;
    this.buckets.set(key, bucket);
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return { ok: true };
    }
    return { ok: false, waitMs: Math.ceil((1 - bucket.tokens) / this.ratePerMs) };
  }

  /** Waits for a token (for callers that must not reschedule), giving up when `signal` aborts. */
  async acquire(key: string, signal?: AbortSignal): Promise<void> {
    for (;;) {
      const result = this.take(key);
      if (result.ok) return;
      await sleep(result.waitMs, signal);
    }
  }
}
