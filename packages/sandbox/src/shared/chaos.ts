/**
 * Seeded chaos for the emulators: a share of the bridge's API calls answered with the platform's
 * own 429, picked by a seeded PRNG so a test run can be repeated. Which calls are hit depends on
 * the order the calls arrive in (the n-th call draws the n-th number), so the same seed and the
 * same call order throttle the same calls.
 *
 *   startGraphEmulator({ chaos: { seed: 42, throttleRate: 0.2 } })  // ~20% of calls: 429 + Retry-After: 1
 */

export interface ChaosOptions {
  /** Seed of the PRNG (any integer). */
  seed: number;
  /** Share of calls answered with a 429, from 0 to 1. */
  throttleRate: number;
  /** `Retry-After` of those 429s, in seconds (default 1). */
  retryAfterSeconds?: number;
}

export class Chaos {
  readonly retryAfterSeconds: number;
  readonly #rate: number;
  #state: number;
  #throttled = 0;

  constructor(options: ChaosOptions) {
    if (!(options.throttleRate >= 0 && options.throttleRate <= 1))
      throw new RangeError(`chaos throttleRate must be between 0 and 1, got ${options.throttleRate}`);
    if (!Number.isInteger(options.seed))
      throw new RangeError(`chaos seed must be an integer, got ${options.seed}`);
    this.#rate = options.throttleRate;
    this.#state = options.seed >>> 0;
    this.retryAfterSeconds = Math.max(1, Math.ceil(options.retryAfterSeconds ?? 1));
  }

  /** Whether this call is throttled (draws one number). */
  throttle(): boolean {
    const hit = this.#next() < this.#rate;
    if (hit) this.#throttled += 1;
    return hit;
  }

  /** How many calls were throttled so far. */
  get throttled(): number {
    return this.#throttled;
  }

  // mulberry32: small, fast and good enough to spread throttles evenly over calls.
  #next(): number {
    this.#state = (this.#state + 0x6d2b79f5) >>> 0;
    let t = this.#state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
}

/** A `Chaos` for the options, or null when none are given. */
export const chaosFrom = (options: ChaosOptions | undefined): Chaos | null =>
  options ? new Chaos(options) : null;
