/**
 * Login throttling: each failed sign-in counts against the account's key and the client's IP key;
 * past a key's free attempts, the next one waits `baseMs · 2^(extra − 1)` after the last (capped at
 * `maxMs`), and a key with no failure for `resetMs` starts over. Attempts are counted before the
 * password is checked (and forgiven on success), so a burst of parallel guesses counts whole.
 */
export interface ThrottlePolicy {
  baseMs: number;
  maxMs: number;
  resetMs: number;
}

export const DEFAULT_THROTTLE: ThrottlePolicy = { baseMs: 1000, maxMs: 15 * 60_000, resetMs: 60 * 60_000 };

export interface ThrottleKey {
  key: string;
  /** Failures allowed before waits begin. */
  free: number;
}

export interface ThrottleRow {
  failures: number;
  lastAt: number;
}

/** Until when `row` is locked (0: not locked). */
export function lockedUntil(
  row: ThrottleRow | undefined,
  free: number,
  at: number,
  policy: ThrottlePolicy,
): number {
  if (!row || at - row.lastAt >= policy.resetMs || row.failures < free) return 0;
  const extra = row.failures - free;
  const wait = Math.min(policy.maxMs, policy.baseMs * 2 ** Math.min(extra, 30));
  const until = row.lastAt + wait;
  return until > at ? until : 0;
}

export type ThrottleDecision = { ok: true } | { ok: false; retryAfterMs: number };
