import { sleep, WabridgeError } from '@wabridge/core';

export interface PacerOptions {
  /** Sustained calls per second for one key. */
  ratePerSecond: number;
  /** Calls allowed back to back from a rested key. */
  burst: number;
  /**
   * How long a caller may sleep for its slot instead of being told to come back later. Sleeping a
   * little keeps a steady rate; sleeping long would hold a worker slot, so beyond this the pacer
   * throws `rate_limited` and the queue reschedules the job without burning an attempt.
   */
  maxWaitMs: number;
  /**
   * Added to the interval between two calls for one key. What Slack measures is when requests
   * arrive, and arrival times jitter by a few milliseconds (timers, event loop, network); without
   * a margin, a limiter that allows no burst would refuse about half the calls.
   */
  marginMs?: number;
  /** Monotonic milliseconds (real time: pacing is about the wall clock, not the core's clock). */
  now?: () => number;
}

interface Lane {
  /** Theoretical time of the next call at the steady rate (GCRA's "TAT"). */
  next: number;
  /** No call before this (a 429's Retry-After). */
  blockedUntil: number;
  /** When the latest call for this key actually went out. */
  lastSent: number;
}

/**
 * Paces calls per key (a channel, a method) before Slack would answer 429. Callers reserve slots in
 * arrival order, so concurrent jobs for the same channel get consecutive slots rather than racing;
 * a reservation is only made when the caller will actually use it (it sleeps at most `maxWaitMs`).
 * Right before sending, `spaceSend` keeps one interval after the previous call that really went
 * out, so work done between the reservation and the send (a checkpoint write) cannot squeeze two
 * calls closer together than Slack allows.
 */
export class Pacer {
  readonly #interval: number;
  readonly #burst: number;
  readonly #maxWaitMs: number;
  readonly #now: () => number;
  readonly #lanes = new Map<string, Lane>();

  constructor(options: PacerOptions) {
    this.#interval = 1000 / options.ratePerSecond + (options.marginMs ?? 0);
    this.#burst = Math.max(1, options.burst);
    this.#maxWaitMs = options.maxWaitMs;
    this.#now = options.now ?? (() => performance.timeOrigin + performance.now());
  }

  get intervalMs(): number {
    return this.#interval;
  }

  #lane(key: string, now: number): Lane {
    let lane = this.#lanes.get(key);
    if (!lane) {
      lane = { next: now, blockedUntil: 0, lastSent: Number.NEGATIVE_INFINITY };
      this.#lanes.set(key, lane);
    }
    return lane;
  }

  /**
   * Waits for a slot for `key`, or throws `rate_limited` (with the wait) when it is further away
   * than `maxWaitMs`. Aborts with the signal.
   */
  async acquire(key: string, signal?: AbortSignal): Promise<void> {
    const now = this.#now();
    const lane = this.#lane(key, now);
    // GCRA: a call may start (burst - 1) intervals before the lane's theoretical next slot.
    const earliest = Math.max(lane.next - (this.#burst - 1) * this.#interval, now, lane.blockedUntil);
    const wait = Math.max(0, earliest - now);
    if (wait > this.#maxWaitMs) {
      throw new WabridgeError('rate_limited', `pacing Slack calls for ${key}`, {
        retryAfterMs: Math.ceil(wait - this.#maxWaitMs / 2),
        details: { key, waitMs: Math.round(wait) },
      });
    }
    lane.next = Math.max(lane.next, earliest) + this.#interval;
    if (wait > 0) await sleep(wait, signal);
  }

  /** Right before the call goes out: at least one interval after the previous one (no burst). */
  async spaceSend(key: string, signal?: AbortSignal): Promise<void> {
    const now = this.#now();
    const lane = this.#lane(key, now);
    // The send time is claimed before sleeping, so two callers never wake for the same moment.
    const at = this.#burst === 1 ? Math.max(now, lane.lastSent + this.#interval) : now;
    lane.lastSent = at;
    if (at > now) await sleep(at - now, signal);
  }

  /** Slack answered 429: nobody calls for `key` before `retryAfterMs` from now. */
  block(key: string, retryAfterMs: number): void {
    const now = this.#now();
    const lane = this.#lane(key, now);
    lane.blockedUntil = Math.max(lane.blockedUntil, now + retryAfterMs);
    lane.next = Math.max(lane.next, lane.blockedUntil);
  }
}
