/**
 * Where a `Pacer` keeps its lanes (one per paced key). In this process by default
 * (`MemoryPaceLedger`); a store shared by several processes (Postgres) offers one in the database,
 * so every worker on it draws from the same lane and N workers together call no faster than one.
 * Each operation is one atomic step on the lane (one statement on Postgres), and a shared ledger
 * measures time with its own clock and answers waits as durations, so the hosts' clocks never meet.
 */
export interface PaceLedger {
  /**
   * Reserves the lane's earliest free slot when it is at most `maxWaitMs` away (then the caller
   * must wait `waitMs` and call); otherwise reserves nothing and answers how far away it is.
   */
  reserve(lane: string, rule: PaceRule, maxWaitMs: number): Promise<PaceGrant>;
  /**
   * Claims the moment a call really goes out: at least `spacingMs` after the lane's previous one.
   * Answers how long to wait for it (see `Pacer.spaceSend`).
   */
  claimSend(lane: string, spacingMs: number): Promise<number>;
  /** A 429: no slot of the lane before `retryAfterMs` from now, and the bucket empty then. */
  block(lane: string, rule: PaceRule, retryAfterMs: number): Promise<void>;
}

/** A lane's limit, sent with every operation (the ledger keeps state, the callers the limits). */
export interface PaceRule {
  /** Milliseconds between two calls at the steady rate, margin included. */
  intervalMs: number;
  /** Calls allowed back to back from a rested lane. */
  burst: number;
  /** The `window` shape: at most `burst` calls in any `windowMs`; null for a token bucket (GCRA). */
  windowMs: number | null;
}

export interface PaceGrant {
  /** The slot is reserved for the caller. */
  granted: boolean;
  /** Milliseconds until the slot (reserved or not); 0 when it is free now. */
  waitMs: number;
}

interface Lane {
  /** Theoretical time of the next call at the steady rate (GCRA's "TAT"). */
  next: number;
  /** No call before this (a 429's Retry-After). */
  blockedUntil: number;
  /** When the latest call for this lane actually went out. */
  lastSent: number;
  /** `window` shape: the reserved start times still inside the window, oldest first. */
  starts: number[];
}

/**
 * The lanes of one process. Every operation runs to the end before its promise is returned, so
 * concurrent callers reserve in the order they called (no await between reading and updating).
 */
export class MemoryPaceLedger implements PaceLedger {
  readonly #now: () => number;
  readonly #lanes = new Map<string, Lane>();

  constructor(now: () => number = () => performance.timeOrigin + performance.now()) {
    this.#now = now;
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
  #earliest(lane: Lane, rule: PaceRule, now: number): number {
    if (rule.windowMs !== null) {
      const windowMs = rule.windowMs;
      while (lane.starts.length > 0 && (lane.starts[0] as number) + windowMs <= now) lane.starts.shift();
      // The call that would be the (burst + 1)-th in a window waits for the oldest to leave it.
      const oldest =
        lane.starts.length >= rule.burst ? lane.starts[lane.starts.length - rule.burst] : undefined;
      return Math.max(now, lane.blockedUntil, oldest === undefined ? now : oldest + windowMs);
    }
    // GCRA: a call may start (burst - 1) intervals before the lane's theoretical next slot.
    return Math.max(lane.next - (rule.burst - 1) * rule.intervalMs, now, lane.blockedUntil);
  }

  reserve(key: string, rule: PaceRule, maxWaitMs: number): Promise<PaceGrant> {
    const now = this.#now();
    const lane = this.#lane(key, now);
    const earliest = this.#earliest(lane, rule, now);
    const waitMs = Math.max(0, earliest - now);
    if (waitMs > maxWaitMs) return Promise.resolve({ granted: false, waitMs });
    if (rule.windowMs !== null) lane.starts.push(earliest);
    else lane.next = Math.max(lane.next, earliest) + rule.intervalMs;
    return Promise.resolve({ granted: true, waitMs });
  }

  claimSend(key: string, spacingMs: number): Promise<number> {
    const now = this.#now();
    const lane = this.#lane(key, now);
    const at = Math.max(now, lane.lastSent + spacingMs);
    lane.lastSent = at;
    return Promise.resolve(at - now);
  }

  block(key: string, rule: PaceRule, retryAfterMs: number): Promise<void> {
    const now = this.#now();
    const lane = this.#lane(key, now);
    lane.blockedUntil = Math.max(lane.blockedUntil, now + retryAfterMs);
    lane.next = Math.max(lane.next, lane.blockedUntil + (rule.burst - 1) * rule.intervalMs);
    return Promise.resolve();
  }
}

/**
 * The same ledger with every lane name prefixed: what the connector host hands each connector
 * (`ConnectorDeps.pacing`), so lanes of different connectors never meet in a shared ledger.
 */
export function scopedPaceLedger(ledger: PaceLedger, prefix: string): PaceLedger {
  return {
    reserve: (lane, rule, maxWaitMs) => ledger.reserve(`${prefix}${lane}`, rule, maxWaitMs),
    claimSend: (lane, spacingMs) => ledger.claimSend(`${prefix}${lane}`, spacingMs),
    block: (lane, rule, retryAfterMs) => ledger.block(`${prefix}${lane}`, rule, retryAfterMs),
  };
}
