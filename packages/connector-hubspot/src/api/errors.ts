/**
 * One translator from what the HubSpot SDK throws to a `WabridgeError` the queue can act on
 * (https://developers.hubspot.com/docs/developer-tooling/platform/usage-guidelines):
 *
 * | HubSpot answer                          | code          | queue does                          |
 * |-----------------------------------------|---------------|-------------------------------------|
 * | 429 TEN_SECONDLY_ROLLING / SECONDLY     | rate_limited  | waits `retryAfterMs`, no attempt used |
 * | 429 DAILY                               | daily_quota   | waits until the reset               |
 * | 5xx, network error, timeout             | transient     | retries with back-off               |
 * | 401, 403                                | auth_failed   | dead-letters: an admin must act     |
 * | 409                                     | conflict      | (handled by the caller)             |
 * | other 4xx (validation, not found)       | permanent     | dead-letters with HubSpot's message |
 */
import { WabridgeError } from '@wabridge/core';

/** What the SDK's `ApiException` carries. */
export interface HubSpotHttpError {
  code: number;
  body: unknown;
  headers: Record<string, string>;
}

export interface HubSpotErrorBody {
  status?: string;
  message?: string;
  category?: string;
  policyName?: string;
  correlationId?: string;
  context?: Record<string, string[]>;
  errors?: { message?: string; code?: string; context?: Record<string, string[]> }[];
}

export function isHttpError(error: unknown): error is HubSpotHttpError {
  return (
    typeof error === 'object' &&
    error !== null &&
    typeof (error as { code?: unknown }).code === 'number' &&
    'body' in error &&
    'headers' in error
  );
}

export function errorBody(error: HubSpotHttpError): HubSpotErrorBody {
  const body = error.body;
  if (typeof body === 'string') {
    try {
      return JSON.parse(body) as HubSpotErrorBody;
    } catch {
      return { message: body };
    }
  }
  return typeof body === 'object' && body !== null ? (body as HubSpotErrorBody) : {};
}

/** Default wait after a rolling-window 429 that names no delay: a fifth of the 10-s window. */
const ROLLING_RETRY_MS = 2000;

export function translateHubSpotError(error: unknown, operation: string): WabridgeError {
  if (error instanceof WabridgeError) return error;
  if (!isHttpError(error)) {
    const message = error instanceof Error ? error.message : String(error);
    return new WabridgeError('transient', `HubSpot ${operation} failed: ${message}`, { cause: error });
  }
  const body = errorBody(error);
  const status = error.code;
  const message = body.message ?? `HTTP ${status}`;
  const details = {
    operation,
    status,
    category: body.category,
    correlationId: body.correlationId,
    ...(body.errors ? { errors: body.errors.slice(0, 5).map((e) => e.message) } : {}),
  };
  const text = `HubSpot ${operation}: ${message}`;
  if (status === 429) {
    if (body.policyName === 'DAILY') {
      return new WabridgeError('daily_quota', text, { details, cause: error });
    }
    const header = Number(error.headers['retry-after']);
    const search = body.policyName === 'SECONDLY' || message.includes('secondly limit');
    const retryAfterMs =
      Number.isFinite(header) && header > 0 ? header * 1000 : search ? 1000 : ROLLING_RETRY_MS;
    return new WabridgeError('rate_limited', text, { retryAfterMs, details, cause: error });
  }
  if (status >= 500 || status === 0) return new WabridgeError('transient', text, { details, cause: error });
  if (status === 401 || status === 403)
    return new WabridgeError('auth_failed', text, { details, cause: error });
  if (status === 409) return new WabridgeError('conflict', text, { retryable: false, details, cause: error });
  return new WabridgeError('permanent', text, { details, cause: error });
}
