import { ErrorCode, type WebAPICallError } from '@slack/web-api';
import { WabridgeError } from '@wabridge/core';

/** Slack `error` codes meaning the token or the installation is no longer good: an admin must act. */
const AUTH_ERRORS = new Set([
  'not_authed',
  'invalid_auth',
  'account_inactive',
  'token_revoked',
  'token_expired',
  'no_permission',
  'missing_scope',
  'not_allowed_token_type',
  'team_access_not_granted',
  'ekm_access_denied',
  'org_login_required',
]);

/** Slack saying "try again later" in an `ok:false` body. */
const TRANSIENT_ERRORS = new Set([
  'internal_error',
  'fatal_error',
  'service_unavailable',
  'request_timeout',
  'team_added_to_org',
]);

const RATE_ERRORS = new Set(['ratelimited', 'rate_limited']);

/** Default wait when Slack says "rate limited" without a Retry-After. */
const DEFAULT_RETRY_AFTER_MS = 1000;

/** The Slack `error` code of a platform error, if this is one. */
export function slackErrorCode(error: unknown): string | undefined {
  if (error instanceof WabridgeError) return error.details?.slackError as string | undefined;
  const coded = error as Partial<WebAPICallError>;
  if (coded?.code === ErrorCode.PlatformError) return (coded as { data: { error: string } }).data.error;
  return undefined;
}

/**
 * Translates what `@slack/web-api` throws into the core's verdicts:
 * - 429 (`WebAPIRateLimitedError`, as `rejectRateLimitedCalls` is on) → `rate_limited` with Slack's
 *   Retry-After: the job waits without burning an attempt;
 * - network errors, timeouts, 5xx, and `internal_error`-like bodies → `transient` (back-off);
 * - revoked or under-scoped tokens → `auth_failed` (dead-lettered for an admin to fix and replay);
 * - anything else Slack refuses (`channel_not_found`, `invalid_blocks` …) → `permanent`.
 */
export function translateSlackError(error: unknown, method: string): WabridgeError {
  if (error instanceof WabridgeError) return error;
  const coded = error as Partial<WebAPICallError> & { message?: string };
  const details = { method };
  switch (coded?.code) {
    case ErrorCode.RateLimitedError: {
      const seconds = (coded as { retryAfter: number }).retryAfter;
      return new WabridgeError('rate_limited', `Slack rate-limited ${method}; retry after ${seconds} s`, {
        retryAfterMs: Math.max(1, seconds) * 1000,
        details: { ...details, slackError: 'ratelimited' },
        cause: error,
      });
    }
    case ErrorCode.PlatformError: {
      const slackError = (coded as { data: { error: string } }).data.error;
      const withCode = { ...details, slackError };
      if (RATE_ERRORS.has(slackError)) {
        return new WabridgeError('rate_limited', `Slack rate-limited ${method}`, {
          retryAfterMs: DEFAULT_RETRY_AFTER_MS,
          details: withCode,
          cause: error,
        });
      }
      if (AUTH_ERRORS.has(slackError)) {
        return new WabridgeError('auth_failed', `Slack refused the bot token for ${method}: ${slackError}`, {
          details: withCode,
          cause: error,
        });
      }
      if (TRANSIENT_ERRORS.has(slackError)) {
        return new WabridgeError('transient', `Slack failed ${method}: ${slackError}`, {
          details: withCode,
          cause: error,
        });
      }
      return new WabridgeError('permanent', `Slack rejected ${method}: ${slackError}`, {
        details: withCode,
        cause: error,
      });
    }
    case ErrorCode.HTTPError: {
      const status = (coded as { statusCode: number }).statusCode;
      if (status === 401 || status === 403) {
        return new WabridgeError('auth_failed', `Slack answered HTTP ${status} to ${method}`, {
          details,
          cause: error,
        });
      }
      if (status === 429) {
        return new WabridgeError('rate_limited', `Slack rate-limited ${method}`, {
          retryAfterMs: DEFAULT_RETRY_AFTER_MS,
          details,
          cause: error,
        });
      }
      const retryable = status >= 500 || status === 408;
      return new WabridgeError(
        retryable ? 'transient' : 'permanent',
        `Slack answered HTTP ${status} to ${method}`,
        {
          details: { ...details, status },
          cause: error,
        },
      );
    }
    case ErrorCode.RequestError:
      return new WabridgeError(
        'transient',
        `Slack unreachable for ${method}: ${coded.message ?? 'request failed'}`,
        {
          details,
          cause: error,
        },
      );
    default: {
      // The SDK turns a 429 without a usable Retry-After into a plain Error.
      const message = coded?.message ?? String(error);
      if (/rate limit|retry header/i.test(message)) {
        return new WabridgeError('rate_limited', `Slack rate-limited ${method}`, {
          retryAfterMs: DEFAULT_RETRY_AFTER_MS,
          details,
          cause: error,
        });
      }
      return new WabridgeError('transient', `Slack call ${method} failed: ${message}`, {
        details,
        cause: error,
      });
    }
  }
}
