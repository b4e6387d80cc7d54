/**
 * Pacing per HubSpot portal. HubSpot's burst limit is per app and its daily limit per account
 * (https://developers.hubspot.com/docs/developer-tooling/platform/usage-guidelines), so every connector instance that talks to the same portal from this
 * process shares one throttle: a token bucket for ordinary calls, another for CRM search, and the
 * daily pause. (Across processes the 429 answers still hold the line: a rolling 429 slows the
 * bucket down, a DAILY 429 pauses the portal.)
 *
 * A call waits for a token when the wait is short; a longer wait is handed back to the queue as
 * `rate_limited`, so a worker slot is not held while HubSpot's window refills.
 */
import { sleep, WabridgeError } from '@wabridge/core';

/** A token bucket that can also be pushed back (after a 429) so the next token comes later. */
export class TokenBucket {
  readonly #ratePerMs: number;
  readonly #burst: number;
  #tokens: number;
  #at: number;

  constructor(ratePerSecond: number, burst: number, now: number) {
    this.#ratePerMs = ratePerSecond / 1000;
    this.#burst = burst;
    this.#tokens = burst;
    this.#at = now;
  }

  /** Takes a token (0 = go now) or returns how long until one is there. */
  take(now: number): number {
    this.#refill(now);
    if (this.#tokens >= 1) {
      this.#tokens -= 1;
      return 0;
    }
    return Math.ceil((1 - this.#tokens) / this.#ratePerMs);
  }

  /** Empties the bucket so that no call goes out for `ms`. */
  pushBack(ms: number, now: number): void {
    this.#refill(now);
    this.#tokens = Math.min(this.#tokens, -ms * this.#ratePerMs);
  }

  #refill(now: number): void {
    this.#tokens = Math.min(this.#burst, this.#tokens + Math.max(0, now - this.#at) * this.#ratePerMs);
    this.#at = now;
  }
}

export interface PortalThrottle {
  general: TokenBucket;
  search: TokenBucket;
  /** Epoch ms until which the portal's daily limit is spent (0 = not paused). */
  pausedUntil: number;
}

const throttles = new Map<string, PortalThrottle>();

/** The throttle shared by everything in this process that calls portal `key`. */
export function portalThrottle(
  key: string,
  rate: { perSecond: number; burst: number; searchPerSecond: number },
  now: number,
): PortalThrottle {
  let throttle = throttles.get(key);
  if (!throttle) {
    throttle = {
      general: new TokenBucket(rate.perSecond, rate.burst, now),
      search: new TokenBucket(rate.searchPerSecond, 1, now),
      pausedUntil: 0,
    };
    throttles.set(key, throttle);
  }
  return throttle;
}

/** Longest wait for a token before the call is handed back to the queue instead. */
export const MAX_INLINE_WAIT_MS = 3000;

/** Waits for a token of `bucket`, or throws `rate_limited` when the wait would be long. */
export async function acquire(bucket: TokenBucket, now: () => number, signal?: AbortSignal): Promise<void> {
  for (;;) {
    const wait = bucket.take(now());
    if (wait === 0) return;
    if (wait > MAX_INLINE_WAIT_MS) {
      throw new WabridgeError('rate_limited', 'HubSpot request budget of this portal is used up for now', {
        retryAfterMs: wait,
      });
    }
    await sleep(wait, signal);
  }
}

/**
 * The next midnight in `timeZone` after `now` (HubSpot resets daily limits at the account's
 * midnight). Works through DST changes by correcting the offset once.
 */
export function nextMidnight(now: number, timeZone: string): number {
  const parts = localParts(now, timeZone);
  const guess = Date.UTC(parts.year, parts.month - 1, parts.day + 1);
  let result = guess - offsetMs(guess, timeZone);
  result = guess - offsetMs(result, timeZone);
  return result > now ? result : result + 24 * 60 * 60 * 1000;
}

function localParts(at: number, timeZone: string) {
  const formatted = new Intl.DateTimeFormat('en-US', {
    timeZone,
    hourCycle: 'h23',
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
  }).formatToParts(new Date(at));
  const get = (type: string) => Number(formatted.find((p) => p.type === type)?.value ?? 0);
  return {
    year: get('year'),
    month: get('month'),
    day: get('day'),
    hour: get('hour'),
    minute: get('minute'),
    second: get('second'),
  };
}

/** Offset of `timeZone` from UTC at instant `at`, in ms (positive east of Greenwich). */
function offsetMs(at: number, timeZone: string): number {
  const p = localParts(at, timeZone);
  const asUtc = Date.UTC(p.year, p.month - 1, p.day, p.hour, p.minute, p.second);
  return asUtc - Math.floor(at / 1000) * 1000;
}
