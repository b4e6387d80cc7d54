/**
 * A controllable clock shared by every emulator.
 *
 * Platform rules that depend on time (WhatsApp's 24-hour window, 5-minute media URLs, rate-limit
 * windows, Slack's 5-minute signature window, Graph subscription expiry) read `clock.now()` instead of
 * `Date.now()`, so a test can jump a day ahead with `clock.advance(ms)` instead of waiting.
 *
 * Only the *reading* of time is virtual. Delays an emulator schedules (status webhooks, retries) use
 * real timers: advancing the clock makes the platform believe time passed, it does not fire timers.
 *
 * @example
 *   const clock = createClock();          // follows the wall clock
 *   clock.advance(25 * 60 * 60 * 1000);   // now() is 25 hours ahead from here on
 */
export interface Clock {
  /** Current time in epoch milliseconds, including every `advance()`. */
  now(): number;
  /** Moves the clock forward (a negative value moves it back) and returns the new `now()`. */
  advance(ms: number): number;
  /** Total offset applied on top of the base time source. */
  readonly offsetMs: number;
}

/** Creates a clock over `base` (default `Date.now`); pass a fixed function for fully deterministic tests. */
export function createClock(base: () => number = Date.now): Clock {
  let offsetMs = 0;
  return {
    now: () => base() + offsetMs,
    advance(ms: number): number {
      if (!Number.isFinite(ms))
        throw new RangeError(`clock.advance expects a finite number of ms, got ${ms}`);
      offsetMs += ms;
      return base() + offsetMs;
    },
    get offsetMs() {
      return offsetMs;
    },
  };
}

/**
 * A base for `createClock` that runs with the wall clock but starts at `startMs`. Tests of rules
 * that turn at midnight (HubSpot's daily budget) start at noon with it, so a run that happens to
 * begin at 23:59:59 cannot see the day turn between two calls.
 */
export function wallClockFrom(startMs: number): () => number {
  const origin = Date.now();
  return () => startMs + (Date.now() - origin);
}

/** Epoch milliseconds → Unix seconds as a string, the form Meta (and Slack) put in payloads. */
export const unixSeconds = (epochMs: number): string => String(Math.floor(epochMs / 1000));
