/**
 * HubSpot's request budgets for one portal (https://developers.hubspot.com/docs/developer-tooling/platform/usage-guidelines): a rolling 10-second window per
 * app (TEN_SECONDLY_ROLLING), a daily count per account that resets at midnight (DAILY; the emulator
 * uses midnight UTC of its clock), and CRM search at a few requests per second (SECONDLY; search
 * is not counted in the 10-s window and its answers carry no rate-limit headers).
 *
 * Refused requests consume nothing. Every answer that is not a search carries the
 * `X-HubSpot-RateLimit-*` headers HubSpot documents.
 */
import { SlidingWindowLimiter } from '../shared/rate-limit.ts';
import { hubspotErrors } from './errors.ts';
import type { HubSpotLimits } from './types.ts';

const TEN_SECONDS = 10_000;
const DAY_MS = 24 * 60 * 60 * 1000;

export class PortalLimits {
  #limits: HubSpotLimits;
  #rolling: SlidingWindowLimiter;
  #search: SlidingWindowLimiter;
  #day = '';
  #used = 0;
  readonly #now: () => number;

  constructor(limits: HubSpotLimits, now: () => number) {
    this.#limits = limits;
    this.#now = now;
    this.#rolling = new SlidingWindowLimiter({ limit: limits.tenSecondly, windowMs: TEN_SECONDS, now });
    this.#search = new SlidingWindowLimiter({ limit: limits.searchPerSecond, windowMs: 1000, now });
  }

  get limits(): HubSpotLimits {
    return { ...this.#limits };
  }

  configure(limits: HubSpotLimits): void {
    if (limits.tenSecondly !== this.#limits.tenSecondly) {
      this.#rolling = new SlidingWindowLimiter({
        limit: limits.tenSecondly,
        windowMs: TEN_SECONDS,
        now: this.#now,
      });
    }
    if (limits.searchPerSecond !== this.#limits.searchPerSecond) {
      this.#search = new SlidingWindowLimiter({
        limit: limits.searchPerSecond,
        windowMs: 1000,
        now: this.#now,
      });
    }
    this.#limits = limits;
  }

  /** Requests counted today (UTC day of the clock). */
  get usedToday(): number {
    this.#rollDay();
    return this.#used;
  }

  /** Epoch ms of the next daily reset. */
  nextReset(): number {
    return (Math.floor(this.#now() / DAY_MS) + 1) * DAY_MS;
  }

  /**
   * Admits one request or throws the 429 HubSpot would send. Returns the headers to add.
   * `kind` is `search` for CRM search endpoints.
   */
  admit(kind: 'general' | 'search'): Record<string, string> {
    this.#rollDay();
    if (this.#used >= this.#limits.daily) {
      throw hubspotErrors.rateLimited('DAILY', this.nextReset() - this.#now());
    }
    const decision = kind === 'search' ? this.#search.take('portal') : this.#rolling.take('portal');
    if (!decision.allowed) {
      throw hubspotErrors.rateLimited(
        kind === 'search' ? 'SECONDLY' : 'TEN_SECONDLY_ROLLING',
        decision.retryAfterMs,
      );
    }
    this.#used++;
    if (kind === 'search') return {};
    return {
      'x-hubspot-ratelimit-daily': String(this.#limits.daily),
      'x-hubspot-ratelimit-daily-remaining': String(Math.max(0, this.#limits.daily - this.#used)),
      'x-hubspot-ratelimit-interval-milliseconds': String(TEN_SECONDS),
      'x-hubspot-ratelimit-max': String(this.#limits.tenSecondly),
      'x-hubspot-ratelimit-remaining': String(decision.remaining),
    };
  }

  #rollDay(): void {
    const day = new Date(this.#now()).toISOString().slice(0, 10);
    if (day !== this.#day) {
      this.#day = day;
      this.#used = 0;
    }
  }
}
