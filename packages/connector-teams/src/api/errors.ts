import { WabridgeError } from '@wabridge/core';

/** What the Graph client throws (`GraphError`), read structurally. */
interface GraphErrorLike {
  statusCode?: number;
  code?: string | null;
  message?: string;
  headers?: Headers;
}

const DEFAULT_RETRY_AFTER_MS = 5000;

/** `Retry-After` in seconds or as an HTTP date → milliseconds (undefined when absent or unreadable). */
export function retryAfterMs(value: string | null | undefined, now = Date.now()): number | undefined {
  if (!value) return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const at = Date.parse(value);
  return Number.isFinite(at) ? Math.max(0, at - now) : undefined;
}

/**
 * The one translator from Graph failures to verdicts the queue acts on:
 * - 429, and 503 with `Retry-After` → `rate_limited` for that long (the job waits without burning an attempt);
 * - other 5xx, network errors, timeouts, 401 (a token that was just revoked) → `transient`;
 * - 403 → `auth_failed`: a permission, consent or team membership is missing, an admin must act;
 * - other 4xx (400, 404, 413 …) → `permanent`.
 */
export function toConnectorError(error: unknown, operation: string): WabridgeError {
  if (error instanceof WabridgeError) return error;
  const e = (error ?? {}) as GraphErrorLike;
  const status = typeof e.statusCode === 'number' ? e.statusCode : -1;
  const code = e.code ?? 'unknown';
  const detail = `${operation}: Graph answered ${status > 0 ? status : 'nothing'} ${code}${e.message ? ` (${e.message})` : ''}`;
  const details = { operation, status, graphCode: code };
  const retryAfter = retryAfterMs(e.headers?.get?.('retry-after'));
  // A 503 with Retry-After is Graph asking us to wait, like a 429 (an outage or an overload): the
  // job waits without burning an attempt, so a long outage does not dead-letter it.
  if (status === 429 || (status === 503 && retryAfter !== undefined)) {
    return new WabridgeError('rate_limited', detail, {
      retryAfterMs: retryAfter ?? DEFAULT_RETRY_AFTER_MS,
      details,
      cause: error,
    });
  }
  if (status === 401) return new WabridgeError('transient', detail, { details, cause: error });
  if (status === 403) {
    return new WabridgeError(
      'auth_failed',
      `${detail}. Check that the app has its Graph permissions with admin consent and that the service account is a member of the team.`,
      { details, cause: error },
    );
  }
  if (status >= 400 && status < 500) return new WabridgeError('permanent', detail, { details, cause: error });
  return new WabridgeError('transient', detail, {
    ...(retryAfter !== undefined ? { retryAfterMs: retryAfter } : {}),
    details,
    cause: error,
  });
}

export function graphStatus(error: unknown): number | undefined {
  if (error instanceof WabridgeError) return error.details?.status as number | undefined;
  const status = (error as GraphErrorLike | null)?.statusCode;
  return typeof status === 'number' ? status : undefined;
}
