/**
 * Admission for request bodies that are read before anyone is authenticated: a webhook's
 * signature covers its body, so the whole body must be in memory before it can be checked, and
 * until then anyone can send one. Without a bound, a few hundred connections that each send most
 * of a 1 MiB body and then stall pin hundreds of MiB until Node's request timeout.
 *
 * The gate counts bodies being read and their bytes: a declared Content-Length is reserved when
 * the body is admitted; a body without one (chunked) reserves its bytes as they arrive. A body
 * that does not fit is refused (the route answers 503 with Retry-After and closes the connection)
 * without a byte of it being read. Every admitted body must be released exactly once, on every
 * path: read and verified, refused, failed, or aborted by the client or the request timeout.
 *
 * A quarter of the budget (in count and in bytes) is kept for small bodies: real webhooks are a
 * few KiB, so a flood of large stalled bodies cannot lock them out, while the small bodies an
 * attacker might send instead are bounded by the count.
 */
export interface BodyGateLimits {
  /** Bodies being read at once. */
  maxBodies: number;
  /** Their total bytes (reserved or received). */
  maxBytes: number;
}

/** Bodies up to this size may use the whole budget; larger ones only three quarters of it. */
export const SMALL_BODY_BYTES = 64 * 1024;

export interface BodyTicket {
  /** Reserves `bytes` more for a body of unknown length; false (and nothing reserved) when full. */
  grow(bytes: number): boolean;
  /** Gives the body's slot and bytes back; later calls do nothing. */
  release(): void;
}

export class BodyGate {
  private bodies = 0;
  private bytes = 0;

  readonly limits: BodyGateLimits;

  constructor(limits: BodyGateLimits) {
    this.limits = limits;
  }

  /** What is admitted now: for tests, logs and metrics. */
  get inUse(): { bodies: number; bytes: number } {
    return { bodies: this.bodies, bytes: this.bytes };
  }

  /**
   * Admits a body declaring `declared` bytes (null: unknown, as with chunked encoding), or returns
   * null when it does not fit.
   */
  admit(declared: number | null): BodyTicket | null {
    const small = declared !== null && declared <= SMALL_BODY_BYTES;
    const share = small ? 1 : 0.75;
    const reserve = declared ?? 0;
    if (this.bodies + 1 > Math.max(1, Math.floor(this.limits.maxBodies * share))) return null;
    if (this.bytes + reserve > this.limits.maxBytes * share) return null;
    this.bodies++;
    this.bytes += reserve;
    let held = reserve;
    let released = false;
    return {
      grow: (bytes) => {
        if (released) return false;
        if (this.bytes + bytes > this.limits.maxBytes * 0.75) return false;
        this.bytes += bytes;
        held += bytes;
        return true;
      },
      release: () => {
        if (released) return;
        released = true;
        this.bodies--;
        this.bytes -= held;
      },
    };
  }
}
