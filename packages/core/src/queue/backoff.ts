/**
 * Retry delays: exponential with "equal jitter" (half fixed, half random), so retries spread out
 * but a job is never retried sooner than half its nominal delay.
 *
 * With the defaults (1 s base, factor 2, 5 min cap, 20 attempts) a job keeps trying for roughly an
 * hour before it is dead-lettered: a platform outage of several minutes loses nothing.
 *
 * | attempt | 1 | 2 | 3 | 4 | 5  | 6  | 7  | 8   | 9   | 10+ |
 * |---------|---|---|---|---|----|----|----|-----|-----|-----|
 * | nominal | 1s| 2s| 4s| 8s| 16s| 32s| 64s| 128s| 256s| 300s|
 */
export interface BackoffPolicy {
  baseMs: number;
  factor: number;
  capMs: number;
  maxAttempts: number;
}

export const DEFAULT_BACKOFF: BackoffPolicy = { baseMs: 1000, factor: 2, capMs: 300_000, maxAttempts: 20 };

export function backoffDelay(
  attempt: number,
  policy: BackoffPolicy,
  random: () => number = Math.random,
): number {
  const nominal = Math.min(policy.capMs, policy.baseMs * policy.factor ** Math.max(0, attempt - 1));
  return Math.round(nominal / 2 + random() * (nominal / 2));
}
