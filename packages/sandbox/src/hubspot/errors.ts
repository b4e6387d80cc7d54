/**
 * HubSpot's error bodies, as the emulator returns them (https://developers.hubspot.com/docs/developer-tooling/platform/usage-guidelines and HubSpot's
 * error-handling guide): `{ status: 'error', message, correlationId, category, subCategory?,
 * context?, errors?[], links? }`; 429s add `errorType: 'RATE_LIMIT'` and `policyName`.
 * Inside a multi-status (207) batch answer each failed input is a `StandardError` whose `context`
 * carries the input's `objectWriteTraceId`, which is how a client matches errors to inputs.
 */
import { randomUUID } from 'node:crypto';

export type ErrorCategory =
  | 'VALIDATION_ERROR'
  | 'OBJECT_NOT_FOUND'
  | 'CONFLICT'
  | 'INVALID_AUTHENTICATION'
  | 'MISSING_SCOPES'
  | 'RATE_LIMITS'
  | 'INTERNAL_ERROR'
  | 'SERVICE_UNAVAILABLE';

export interface ErrorDetail {
  message: string;
  code?: string;
  in?: string;
  context?: Record<string, string[]>;
}

export interface HubSpotErrorBody {
  status: 'error';
  message: string;
  correlationId: string;
  category: ErrorCategory | string;
  subCategory?: string;
  context?: Record<string, string[]>;
  errors?: ErrorDetail[];
  links?: Record<string, string>;
  errorType?: 'RATE_LIMIT';
  policyName?: RateLimitPolicy;
  requestId?: string;
}

export type RateLimitPolicy = 'TEN_SECONDLY_ROLLING' | 'DAILY' | 'SECONDLY';

/** An error the emulator answers with: HTTP status, HubSpot-shaped body, extra headers. */
export class HubSpotApiError extends Error {
  override readonly name = 'HubSpotApiError';
  readonly status: number;
  readonly body: HubSpotErrorBody;
  readonly headers: Record<string, string>;

  constructor(status: number, body: HubSpotErrorBody, headers: Record<string, string> = {}) {
    super(body.message);
    this.status = status;
    this.body = body;
    this.headers = headers;
  }
}

function body(category: string, message: string, extra: Partial<HubSpotErrorBody> = {}): HubSpotErrorBody {
  return { status: 'error', message, correlationId: randomUUID(), category, ...extra };
}

export const hubspotErrors = {
  validation: (message: string, errors: ErrorDetail[] = [], context?: Record<string, string[]>) =>
    new HubSpotApiError(400, body('VALIDATION_ERROR', message, { errors, ...(context ? { context } : {}) })),
  notFound: (message: string, context?: Record<string, string[]>) =>
    new HubSpotApiError(404, body('OBJECT_NOT_FOUND', message, context ? { context } : {})),
  conflict: (message: string, context?: Record<string, string[]>) =>
    new HubSpotApiError(409, body('CONFLICT', message, context ? { context } : {})),
  unauthorized: () =>
    new HubSpotApiError(
      401,
      body(
        'INVALID_AUTHENTICATION',
        'Authentication credentials not found. This API supports OAuth 2.0 authentication and you can find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview',
      ),
    ),
  rateLimited: (policy: RateLimitPolicy, retryAfterMs: number) =>
    new HubSpotApiError(
      429,
      body(
        'RATE_LIMITS',
        policy === 'DAILY'
          ? 'You have reached your daily limit.'
          : policy === 'SECONDLY'
            ? 'You have reached your secondly limit.'
            : 'You have reached your ten_secondly_rolling limit.',
        { errorType: 'RATE_LIMIT', policyName: policy, requestId: randomUUID() },
      ),
      // HubSpot does not promise Retry-After on API 429s; the emulator sends it for the rolling and
      // secondly windows (clients must not depend on it) and never for DAILY.
      policy === 'DAILY' ? {} : { 'retry-after': String(Math.max(1, Math.ceil(retryAfterMs / 1000))) },
    ),
  unavailable: () =>
    new HubSpotApiError(503, body('SERVICE_UNAVAILABLE', 'The service is temporarily unavailable.')),
  badGateway: () =>
    new HubSpotApiError(502, body('INTERNAL_ERROR', 'Bad gateway: the upstream did not answer in time.')),
};

/** One failed input of a multi-status batch answer. */
export interface StandardError {
  status: 'error';
  category: string;
  message: string;
  context: Record<string, string[]>;
  errors: ErrorDetail[];
  links: Record<string, string>;
  subCategory?: string;
}

export function standardError(error: HubSpotApiError, context: Record<string, string[]>): StandardError {
  return {
    status: 'error',
    category: error.body.category,
    message: error.body.message,
    context: { ...error.body.context, ...context },
    errors: error.body.errors ?? [],
    links: {},
  };
}
