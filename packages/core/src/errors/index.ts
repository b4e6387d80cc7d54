/**
 * One error type crosses package boundaries. `code` says what happened, `retryable` says what
 * the queue may do about it, `retryAfterMs` carries a platform's back-off signal.
 *
 * @example throw new WabridgeError('rate_limited', 'Slack asked us to wait', { retryAfterMs: 3000 })
 */
export type ErrorCode =
  // Input at an edge: the caller is wrong, nothing was stored.
  | 'bad_request'
  | 'payload_too_large'
  | 'unauthorized' // signature or credential missing / wrong
  | 'forbidden'
  | 'not_found'
  | 'conflict'
  // Delivery to a target platform.
  | 'rate_limited' // retryable, usually with retryAfterMs; does not burn an attempt
  | 'transient' // network error, 5xx, timeouts: retryable with back-off
  | 'permanent' // validation / permission errors: dead-letter at once
  | 'auth_failed' // token revoked or expired: an admin must act; not retried blindly
  | 'daily_quota' // a platform's daily budget is spent: retry at the reset
  // WhatsApp sending rules.
  | 'window_closed' // outside the 24-hour customer service window: a template is needed
  | 'opted_out' // the contact has opted out of this category
  | 'undeliverable'
  // Our own state.
  | 'config_invalid'
  | 'stale_lease' // a worker tried to settle a job it no longer owns
  | 'unavailable' // the store is locked by another process or its queue is full: nothing was done, retry later
  | 'internal';

const RETRYABLE: ReadonlySet<ErrorCode> = new Set([
  'rate_limited',
  'transient',
  'daily_quota',
  'unavailable',
]);

export interface WabridgeErrorOptions {
  retryable?: boolean;
  retryAfterMs?: number;
  /** HTTP status to answer when this error reaches an HTTP edge. */
  status?: number;
  /** Structured details safe to log and to show an operator (never secrets or message bodies). */
  details?: Record<string, unknown>;
  cause?: unknown;
}

export class WabridgeError extends Error {
  override readonly name = 'WabridgeError';
  readonly code: ErrorCode;
  readonly retryable: boolean;
  readonly retryAfterMs: number | undefined;
  readonly status: number | undefined;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message: string, options: WabridgeErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.retryable = options.retryable ?? RETRYABLE.has(code);
    this.retryAfterMs = options.retryAfterMs;
    this.status = options.status;
    this.details = options.details;
  }
}

export const isWabridgeError = (error: unknown): error is WabridgeError => error instanceof WabridgeError;

/** Wraps anything thrown into a WabridgeError; unknown errors are treated as transient. */
export function toWabridgeError(error: unknown): WabridgeError {
  if (error instanceof WabridgeError) return error;
  const message = error instanceof Error ? error.message : String(error);
  return new WabridgeError('transient', message, { cause: error });
}
