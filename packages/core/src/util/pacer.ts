import { WabridgeError } from '../errors/index.ts';
import { MemoryPaceLedger, type PaceLedger, type PaceRule } from './pace-ledger.ts';
import { sleep } from './sleep.ts';
import { currentWorkSlot } from './work-slot.ts';

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
   * How long `acquire` may wait when the delivery can step out of its worker slot for the wait
   * (`WorkSlot`): the wait then holds no slot, only a claimed job and a timer, so it may be longer
   * and hand fewer jobs back. 10 s by default (never less than `maxWaitMs`), a third of a lease.
   */
  parkedMaxWaitMs?: number;
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
  /**
   * Where the lanes live: this process by default; a shared ledger (the Postgres store's, through
   * `ConnectorDeps.pacing`) makes every process on the database draw from the same lanes. `now` is
   * the in-process ledger's clock only: a shared ledger uses the database's.
   */
  ledger?: PaceLedger | undefined;
  /** The lanes' name in the ledger (`<name>:<key>`); the label by default. */
  name?: string;
}

/**
 * Paces calls per key (a channel, a method, a portal, a phone number) before the platform would
 * answer 429: the generic cell rate algorithm, which is a token bucket of `burst` tokens refilled at
 * `ratePerSecond`, kept as one timestamp per key. Every connector and the WhatsApp sender pace
 * with it, so there is one answer to "wait, or hand the job back to the queue?".
 *
 * Callers reserve slots in arrival order, so concurrent jobs for the same key get consecutive slots
 * rather than racing; a slot is only reserved when the caller will use it. `block` applies a 429's
 * Retry-After to everyone calling for the key, not only the caller that was refused. The lanes live
 * in a `PaceLedger`: this process's by default, or one shared by every process on a database.
 */
export class Pacer {
  readonly #label: string;
  readonly #name: string;
  readonly #rule: PaceRule;
  readonly #maxWaitMs: number;
  readonly #parkedMaxWaitMs: number;
  readonly #ledger: PaceLedger;
  readonly #now: () => number;
  /** Per lane, the latest retry time handed out by a refusal (see `acquire`). */
  readonly #handedBack = new Map<string, number>();
  /** `window` shape: per lane, when this process's calls really left, within the last window. */
  readonly #left = new Map<string, number[]>();

  constructor(options: PacerOptions) {
    if (!(options.ratePerSecond > 0)) throw new RangeError('ratePerSecond must be positive');
    this.#label = options.label;
    this.#name = options.name ?? options.label;
    const burst = Math.max(1, Math.floor(options.burst));
    this.#rule = {
      intervalMs: 1000 / options.ratePerSecond + (options.marginMs ?? 0),
      burst,
      windowMs:
        options.shape === 'window' ? (burst / options.ratePerSecond) * 1000 + (options.marginMs ?? 0) : null,
    };
    this.#maxWaitMs = options.maxWaitMs;
    this.#parkedMaxWaitMs = Math.max(options.maxWaitMs, options.parkedMaxWaitMs ?? 10_000);
    this.#ledger = options.ledger ?? new MemoryPaceLedger(options.now);
    this.#now = options.now ?? (() => performance.timeOrigin + performance.now());
  }

  get intervalMs(): number {
    return this.#rule.intervalMs;
  }

  #lane(key: string): string {
    return `${this.#name}:${key}`;
  }

  /**
   * Takes a slot for `key` if one is free now and returns 0; otherwise reserves nothing and returns
   * the milliseconds until one will be. For callers that never wait (they reschedule the job).
   */
  async tryTake(key: string): Promise<number> {
    const grant = await this.#ledger.reserve(this.#lane(key), this.#rule, 0);
    return grant.granted ? 0 : Math.ceil(grant.waitMs);
  }

  /**
   * Waits for a slot for `key`, or throws `rate_limited` (with when to come back) when it is further
   * away than `maxWaitMs`. Aborts with the signal.
   *
   * Under a worker (`WorkSlot`) the wait is spent outside the worker's slot, and, when no
   * `maxWaitMs` is given, may last up to `parkedMaxWaitMs`.
   *
   * A refusal's retry time counts the jobs this pacer already handed back for the lane: each comes
   * back one interval after the previous one instead of all at the same moment, where all but the
   * first few would be refused again (a 5,000-message campaign made 81,193 Slack hand-backs so).
   */
  async acquire(key: string, signal?: AbortSignal, maxWaitMs?: number): Promise<void> {
    const slot = currentWorkSlot();
    const parks = slot?.canPark() === true;
    const limit = maxWaitMs ?? (parks ? this.#parkedMaxWaitMs : this.#maxWaitMs);
    const lane = this.#lane(key);
    const { granted, waitMs } = await this.#ledger.reserve(lane, this.#rule, limit);
    if (!granted) {
      // Back a little before the slot, to sleep the rest of it here: arriving late would let the
      // slot pass to a later job of the same key. Behind the jobs handed back before, one
      // interval apart.
      const now = this.#now();
      let at = now + Math.max(0, waitMs - limit / 2);
      const previous = this.#handedBack.get(lane);
      const spacing =
        this.#rule.windowMs === null ? this.#rule.intervalMs : this.#rule.windowMs / this.#rule.burst;
      if (previous !== undefined && previous + spacing > at) at = previous + spacing;
      this.#handedBack.set(lane, at);
      if (this.#handedBack.size > 10_000) this.#forgetPast(now);
      throw new WabridgeError('rate_limited', `pacing ${this.#label} for ${key}`, {
        retryAfterMs: Math.ceil(at - now),
        details: { key, waitMs: Math.round(waitMs) },
      });
    }
    if (waitMs <= 0) return;
    if (slot && parks) await slot.parked(() => sleep(waitMs, signal));
    else await sleep(waitMs, signal);
  }

  /** Drops the hand-back times already past (a bound on the map when keys are many). */
  #forgetPast(now: number): void {
    for (const [lane, at] of this.#handedBack) if (at < now) this.#handedBack.delete(lane);
  }

  /**
   * Right before the call goes out: at least one interval after the previous call that really
   * went out (when no burst is allowed), so work done between `acquire` and the send (a checkpoint
   * write) cannot squeeze two calls closer together than the platform allows.
   *
   * The `window` shape: no more than `burst` of this process's calls leave in any window, by the
   * clock at the moment each leaves. Reserved slots are slept to with timers, and an event loop
   * stalled for longer than the window fires two windows' timers in one turn: their calls would
   * reach the platform within one of its seconds (six Graph 429s in a 20,000-message campaign,
   * three channels within 10 ms). The check and the record are one synchronous step, so callers
   * woken together leave `burst` at a time. It counts this process's calls only: across processes
   * on a shared ledger the reserved slots keep them apart, and a stall is one process's.
   */
  async spaceSend(key: string, signal?: AbortSignal): Promise<void> {
    if (this.#rule.windowMs !== null) return this.#leaveWithinWindow(key, this.#rule.windowMs, signal);
    if (this.#rule.burst !== 1) return;
    // The send time is claimed before sleeping, so two callers never wake for the same moment.
    const waitMs = await this.#ledger.claimSend(this.#lane(key), this.#rule.intervalMs);
    if (waitMs > 0) await sleep(waitMs, signal);
  }

  async #leaveWithinWindow(key: string, windowMs: number, signal?: AbortSignal): Promise<void> {
    const burst = this.#rule.burst;
    for (;;) {
      const now = this.#now();
      const left = (this.#left.get(key) ?? []).filter((at) => at + windowMs > now);
      if (left.length < burst) {
        left.push(now);
        this.#left.set(key, left);
        if (this.#left.size > 10_000) this.#forgetLeft(now, windowMs);
        return;
      }
      this.#left.set(key, left);
      await sleep((left[left.length - burst] as number) + windowMs - now, signal);
    }
  }

  /** Drops the lanes with no call inside the window (a bound on the map when keys are many). */
  #forgetLeft(now: number, windowMs: number): void {
    for (const [key, left] of this.#left) {
      if ((left[left.length - 1] as number) + windowMs <= now) this.#left.delete(key);
    }
  }

  /**
   * The platform answered 429: nobody calls for `key` before `retryAfterMs` from now, and the
   * bucket is empty then (a full burst right after the wait would only be refused again). Never
   * rejects: when a shared ledger cannot be reached, the platform's next 429 says it again.
   */
  async block(key: string, retryAfterMs: number): Promise<void> {
    await this.#ledger.block(this.#lane(key), this.#rule, retryAfterMs).catch(() => {});
  }
}
