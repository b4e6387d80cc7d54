/**
 * Rate limiters keyed by string, for emulating a platform's 429s (with `Retry-After`).
 *
 * Two models, because platforms describe their limits in two ways:
 * - `SlidingWindowLimiter` — "at most N events in any window of W ms" (WhatsApp's 80 messages per
 *   second per number, Slack's tiers per minute, HubSpot's 100 requests per 10 s).
 * - `TokenBucketLimiter` — "a steady rate with a burst allowance" (WhatsApp's pair rate: about one
 *   message every 6 s to the same user, short bursts borrowed against later quota; Graph's 4 rps
 *   per channel).
 *
 * Both read time from an injected `now()` (an emulator's controllable clock), so `clock.advance()`
 * refills buckets and slides windows. A denied attempt does not consume quota. `retryAfterMs` says
 * when the same request would next be allowed; `retryAfterSeconds()` turns it into a header value.
 *
 * @example
 *   const perRecipient = new TokenBucketLimiter({ capacity: 45, refillEveryMs: 6000, now: clock.now });
 *   const decision = perRecipient.take(`${phoneNumberId}:${to}`);
 *   if (!decision.allowed) return tooMany(retryAfterSeconds(decision.retryAfterMs));
 */

export interface RateLimitDecision {
  allowed: boolean;
  /** Quota left after this attempt (0 when denied). */
  remaining: number;
  /** The configured limit (window limit or bucket capacity). */
  limit: number;
  /** 0 when allowed; otherwise ms until the same cost would be allowed. */
  retryAfterMs: number;
}

/** Common interface, so an emulator can take either model in its options. */
export interface RateLimiter {
  /** Attempts to consume `cost` (default 1) for `key`. */
  take(key: string, cost?: number): RateLimitDecision;
  /** What `take` would answer, without consuming anything. */
  peek(key: string, cost?: number): RateLimitDecision;
  /** Forgets one key, or every key. */
  reset(key?: string): void;
}

/** Whole seconds for a `Retry-After` header: rounds up, at least 1. */
export const retryAfterSeconds = (ms: number): number => Math.max(1, Math.ceil(ms / 1000));

export interface SlidingWindowOptions {
  /** Events allowed per window. */
  limit: number;
  /** Window length in ms. */
  windowMs: number;
  now?: () => number;
}

/** At most `limit` events per key in any rolling window of `windowMs`. Exact: keeps one timestamp per event. */
export class SlidingWindowLimiter implements RateLimiter {
  readonly limit: number;
  readonly windowMs: number;
  readonly #now: () => number;
  readonly #events = new Map<string, number[]>();

  constructor(options: SlidingWindowOptions) {
    assertPositive('limit', options.limit);
    assertPositive('windowMs', options.windowMs);
    this.limit = options.limit;
    this.windowMs = options.windowMs;
    this.#now = options.now ?? Date.now;
  }

  take(key: string, cost = 1): RateLimitDecision {
    const decision = this.peek(key, cost);
    if (decision.allowed) {
      const times = this.#events.get(key) ?? [];
      const now = this.#now();
      for (let i = 0; i < cost; i++) times.push(now);
      this.#events.set(key, times);
    }
    return decision;
  }

  peek(key: string, cost = 1): RateLimitDecision {
    const now = this.#now();
    const times = this.#prune(key, now);
    const used = times.length;
    if (used + cost <= this.limit) {
      return { allowed: true, remaining: this.limit - used - cost, limit: this.limit, retryAfterMs: 0 };
    }
    // The request fits once enough of the oldest events have left the window.
    const mustExpire = used + cost - this.limit;
    const oldestNeeded = times[Math.min(mustExpire, used) - 1];
    const retryAfterMs =
      cost > this.limit || oldestNeeded === undefined
        ? Number.POSITIVE_INFINITY
        : oldestNeeded + this.windowMs - now;
    return { allowed: false, remaining: 0, limit: this.limit, retryAfterMs: Math.max(1, retryAfterMs) };
  }

  reset(key?: string): void {
    if (key === undefined) this.#events.clear();
    else this.#events.delete(key);
  }

  #prune(key: string, now: number): number[] {
    const times = this.#events.get(key);
    if (times === undefined) return [];
    const cutoff = now - this.windowMs;
    let drop = 0;
    while (drop < times.length && (times[drop] ?? 0) <= cutoff) drop++;
    if (drop > 0) times.splice(0, drop);
    if (times.length === 0) this.#events.delete(key);
    return times;
  }
}

export interface TokenBucketOptions {
  /** Bucket size: the burst allowed from a full bucket. */
  capacity: number;
  /** One token is added every `refillEveryMs` (e.g. 6000 for "one message per 6 s"). */
  refillEveryMs: number;
  now?: () => number;
}

/** A token bucket per key, full at first use; refills continuously at one token per `refillEveryMs`. */
export class TokenBucketLimiter implements RateLimiter {
  readonly capacity: number;
  readonly refillEveryMs: number;
  readonly #now: () => number;
  readonly #buckets = new Map<string, { tokens: number; updatedAt: number }>();

  constructor(options: TokenBucketOptions) {
    assertPositive('capacity', options.capacity);
    assertPositive('refillEveryMs', options.refillEveryMs);
    this.capacity = options.capacity;
    this.refillEveryMs = options.refillEveryMs;
    this.#now = options.now ?? Date.now;
  }

  take(key: string, cost = 1): RateLimitDecision {
    const decision = this.peek(key, cost);
    if (decision.allowed) {
      const bucket = this.#refilled(key);
      bucket.tokens -= cost;
      this.#buckets.set(key, bucket);
    }
    return decision;
  }

  peek(key: string, cost = 1): RateLimitDecision {
    const bucket = this.#refilled(key);
    if (bucket.tokens >= cost) {
      return {
        allowed: true,
        remaining: Math.floor(bucket.tokens - cost),
        limit: this.capacity,
        retryAfterMs: 0,
      };
    }
    const retryAfterMs =
      cost > this.capacity
        ? Number.POSITIVE_INFINITY
        : Math.ceil((cost - bucket.tokens) * this.refillEveryMs);
    return { allowed: false, remaining: 0, limit: this.capacity, retryAfterMs: Math.max(1, retryAfterMs) };
  }

  reset(key?: string): void {
    if (key === undefined) this.#buckets.clear();
    else this.#buckets.delete(key);
  }

  #refilled(key: string): { tokens: number; updatedAt: number } {
    const now = this.#now();
    const bucket = this.#buckets.get(key);
    if (bucket === undefined) return { tokens: this.capacity, updatedAt: now };
    const elapsed = Math.max(0, now - bucket.updatedAt);
    return {
      tokens: Math.min(this.capacity, bucket.tokens + elapsed / this.refillEveryMs),
      updatedAt: now,
    };
  }
}

function assertPositive(name: string, value: number): void {
  if (!(Number.isFinite(value) && value > 0)) {
    throw new RangeError(`rate limiter option '${name}' must be a positive number, got ${value}`);
  }
}
