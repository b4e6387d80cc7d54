/**
 * Pacing per HubSpot portal. HubSpot's burst limit is per app and its daily limit per account
 * (https://developers.hubspot.com/docs/developer-tooling/platform/usage-guidelines), so every connector instance that talks to the same portal from this
 * process shares one throttle: a pacer (token bucket) for ordinary calls, another for CRM search, and the
 * daily pause. With a shared pace ledger (`ConnectorDeps.pacing`, Postgres) the buckets are shared
 * by every worker on the database; the daily pause is stored in the connector state, which every
 * worker reads again every few seconds (HubSpotApi), so one DAILY 429 pauses them all.
 *
 * A call waits for a token when the wait is short; a longer wait is handed back to the queue as
 * `rate_limited`, so a worker slot is not held while HubSpot's window refills.
 */
import { type PaceLedger, Pacer } from '@wabridge/core';

/** Longest wait for a token before the call is handed back to the queue instead. */
export const MAX_INLINE_WAIT_MS = 3000;

export interface PortalThrottle {
  /** Ordinary calls and CRM search, each paced per portal (the key is the portal's). */
  general: Pacer;
  search: Pacer;
  /** Epoch ms until which the portal's daily limit is spent (0 = not paused). */
  pausedUntil: number;
}

const throttles = new Map<string, PortalThrottle>();

/** Tests: forget this process's throttles, as another process never had them. */
export function forgetPortalThrottles(): void {
  throttles.clear();
}

/** The throttle shared by everything in this process that calls portal `key`. */
export function portalThrottle(
  key: string,
  rate: { perSecond: number; burst: number; searchPerSecond: number },
  now: () => number,
  ledger?: PaceLedger,
): PortalThrottle {
  let throttle = throttles.get(key);
  if (!throttle) {
    const pacer = (label: string, ratePerSecond: number, burst: number) =>
      new Pacer({ label, ratePerSecond, burst, maxWaitMs: MAX_INLINE_WAIT_MS, now, ledger, name: label });
    throttle = {
      general: pacer('HubSpot calls of this portal', rate.perSecond, rate.burst),
      search: pacer('HubSpot CRM searches of this portal', rate.searchPerSecond, 1),
      pausedUntil: 0,
    };
    throttles.set(key, throttle);
  }
  return throttle;
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
