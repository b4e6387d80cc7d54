import { WabridgeError } from '../errors/index.ts';
import { sleep } from './sleep.ts';

export interface PacerOptions {
  /** Names what is paced, for the `rate_limited` message ("Slack calls", "Teams channel posts"). */
  label: string;
  /** Sustained calls per second for one key. */
  ratePerSecond: number;
  /** Calls allowed back to back from a rested key. */
  burst: number;
  /**
   * How long `acquire` may sleep for a slot instead of telling the caller to come back later.
   * Sleeping a little keeps a steady rate; sleeping long would hold a worker slot, so beyond this
   * it throws `rate_limited` and the queue reschedules the job without burning an attempt.
   */
  maxWaitMs: number;
  /**
   * Added to the interval between two calls for one key. Platforms measure when requests arrive,
   * and arrival times jitter by a few milliseconds (timers, event loop, network); without a margin,
   * a limiter that allows no burst would be refused about half the time.
   */
  marginMs?: number;
  /** Milliseconds; the monotonic wall clock by default (platforms count real seconds). */
  now?: () => number;
  /**
   * `bucket` (default): a token bucket of `burst` tokens refilled at `ratePerSecond`.
   * `window`: at most `burst` calls in any window of `burst / ratePerSecond` seconds (plus the
   * margin), for limits stated as "N per second" and counted that way (Graph's requests per
   * channel): a bucket would let a full burst plus a window's refill, 2N, through in one window.
   */
  shape?: 'bucket' | 'window';
}

interface Lane {
  /** Theoretical time of the next call at the steady rate (GCRA's "TAT"). */
  next: number;
  /** No call before this (a 429's Retry-After). */
  blockedUntil: number;
  /** When the latest call for this key actually went out. */
  lastSent: number;
  /** `window` shape: the reserved start times still inside the window, oldest first. */
  starts: number[];
}

/**
 * Paces calls per key (a channel, a method, a portal, a phone number) before the platform would
 * answer 429: the generic cell rate algorithm, which is a token bucket of `burst` tokens refilled at
 * `ratePerSecond`, kept as one timestamp per key. Every connector and the WhatsApp sender pace
 * with it, so there is one answer to "wait, or hand the job back to the queue?".
 *
 * Callers reserve slots in arrival order, so concurrent jobs for the same key get consecutive slots
 * rather than racing; a slot is only reserved when the caller will use it. `block` applies a 429's
 * Retry-After to everyone calling for the key, not only the caller that was refused.
 */
export class Pacer {
  readonly #label: string;
  readonly #interval: number;
  readonly #burst: number;
  readonly #maxWaitMs: number;
  readonly #now: () => number;
  /** The window's length for the `window` shape; null for a bucket. */
  readonly #windowMs: number | null;
  readonly #lanes = new Map<string, Lane>();

  constructor(options: PacerOptions) {
    if (!(options.ratePerSecond > 0)) throw new RangeError('ratePerSecond must be positive');
    this.#label = options.label;
    this.#interval = 1000 / options.ratePerSecond + (options.marginMs ?? 0);
    this.#burst = Math.max(1, Math.floor(options.burst));
    this.#maxWaitMs = options.maxWaitMs;
    this.#now = options.now ?? (() => performance.timeOrigin + performance.now());
    this.#windowMs =
      options.shape === 'window'
        ? (this.#burst / options.ratePerSecond) * 1000 + (options.marginMs ?? 0)
        : null;
  }

  get intervalMs(): number {
    return this.#interval;
  }

  #lane(key: string, now: number): Lane {
    let lane = this.#lanes.get(key);
    if (!lane) {
      lane = { next: now, blockedUntil: 0, lastSent: Number.NEGATIVE_INFINITY, starts: [] };
      this.#lanes.set(key, lane);
    }
    return lane;
  }

  /** The earliest time a call for `lane` may start. */
  #earliest(lane: Lane, now: number): number {
    if (this.#windowMs !== null) {
      const windowMs = this.#windowMs;
      while (lane.starts.length > 0 && (lane.starts[0] as number) + windowMs <= now) lane.starts.shift();
      // The call that would be the (burst + 1)-th in a window waits for the oldest to leave it.
      const oldest =
        lane.starts.length >= this.#burst ? lane.starts[lane.starts.length - this.#burst] : undefined;
      return Math.max(now, lane.blockedUntil, oldest === undefined ? now : oldest + windowMs);
    }
    // GCRA: a call may start (burst - 1) intervals before the lane's theoretical next slot.
    return Math.max(lane.next - (this.#burst - 1) * this.#interval, now, lane.blockedUntil);
  }

  /** Reserves the slot at `at` (never earlier than the slots reserved before it). */
  #reserve(lane: Lane, at: number): void {
    if (this.#windowMs !== null) lane.starts.push(at);
    else lane.next = Math.max(lane.next, at) + this.#interval;
  }

  /**
   * Takes a slot for `key` if one is free now and returns 0; otherwise reserves nothing and returns
   * the milliseconds until one will be. For callers that never wait (they reschedule the job).
   */
  tryTake(key: string): number {
    const now = this.#now();
    const lane = this.#lane(key, now);
    const earliest = this.#earliest(lane, now);
    if (earliest > now) return Math.ceil(earliest - now);
    this.#reserve(lane, now);
    return 0;
  }

  /**
   * Waits for a slot for `key`, or throws `rate_limited` (with when to come back) when it is further
   * away than `maxWaitMs`. Aborts with the signal.
   */
  async acquire(key: string, signal?: AbortSignal, maxWaitMs = this.#maxWaitMs): Promise<void> {
    const now = this.#now();
    const lane = this.#lane(key, now);
    const earliest = this.#earliest(lane, now);
    const wait = Math.max(0, earliest - now);
    if (wait > maxWaitMs) {
      // Back a little before the slot, to sleep the rest of it here: arriving late would let the
      // slot pass to a later job of the same key.
      throw new WabridgeError('rate_limited', `pacing ${this.#label} for ${key}`, {
        retryAfterMs: Math.ceil(wait - maxWaitMs / 2),
        details: { key, waitMs: Math.round(wait) },
      });
    }
    this.#reserve(lane, earliest);
    if (wait > 0) await sleep(wait, signal);
  }

  /**
   * Right before the call goes out: at least one interval after the previous call that really
   * went out (when no burst is allowed), so work done between `acquire` and the send (a checkpoint
   * write) cannot squeeze two calls closer together than the platform allows.
   */
  async spaceSend(key: string, signal?: AbortSignal): Promise<void> {
    const now = this.#now();
    const lane = this.#lane(key, now);
    // The send time is claimed before sleeping, so two callers never wake for the same moment.
    const at = this.#burst === 1 ? Math.max(now, lane.lastSent + this.#interval) : now;
    lane.lastSent = at;
    if (at > now) await sleep(at - now, signal);
  }

  /**
   * The platform answered 429: nobody calls for `key` before `retryAfterMs` from now, and the
   * bucket is empty then (a full burst right after the wait would only be refused again).
   */
  block(key: string, retryAfterMs: number): void {
    const now = this.#now();
    const lane = this.#lane(key, now);
    lane.blockedUntil = Math.max(lane.blockedUntil, now + retryAfterMs);
    lane.next = Math.max(lane.next, lane.blockedUntil + (this.#burst - 1) * this.#interval);
  }
}
