/**
 * Meta's Graph/Cloud API errors as the emulator returns them:
 * `HTTP <status>` + `{ error: { message, type, code, error_subcode?, error_data: { messaging_product, details }, fbtrace_id } }`
 * (https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes). The same catalogue gives the `errors[]` of `failed` status webhooks.
 *
 * Wording follows Meta's error-code table (https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes).
 * HTTP statuses: Meta answers most Cloud API errors with 400; 131056 (pair rate) with 429
 * (https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes), 190 with 401, 1/2/131000 with 5xx. Where Meta's status is not documented
 * the choice is marked [V?] and can be overridden per call (`failNext({ httpStatus })`).
 */
import { randomBytes } from 'node:crypto';

export interface MetaErrorDefinition {
  code: number;
  /** HTTP status of a synchronous error response. */
  httpStatus: number;
  /** `error.message` of a response, e.g. `(#131047) Re-engagement message`. */
  message: string;
  /** `title` in webhook `errors[]`. */
  title: string;
  /** `error_data.details`. */
  details: string;
  type: string;
  /** Whether a client may retry (for documentation and the control API listing). */
  retryable: boolean;
}

const define = (
  code: number,
  httpStatus: number,
  title: string,
  details: string,
  retryable: boolean,
  type = 'OAuthException',
): MetaErrorDefinition => ({
  code,
  httpStatus,
  message: `(#${code}) ${title}`,
  title,
  details,
  type,
  retryable,
});

/** The errors the emulator knows by code. Any other code can still be injected with `failNext`. */
export const META_ERRORS: Readonly<Record<number, MetaErrorDefinition>> = Object.freeze({
  0: define(0, 401, 'AuthException', 'We were unable to authenticate the app user.', false),
  1: define(1, 500, 'API Unknown', 'Invalid request or possible server error.', true), // [V?] status
  2: define(2, 503, 'API Service', 'Temporary due to downtime or due to being overloaded.', true), // [V?] status
  4: define(4, 400, 'API Too Many Calls', 'The app has reached its API call rate limit.', true),
  100: define(
    100,
    400,
    'Invalid parameter',
    'The request included one or more unsupported or misspelled parameters.',
    false,
  ),
  190: {
    ...define(
      190,
      401,
      'Invalid OAuth access token',
      'Invalid OAuth access token - Cannot parse access token',
      false,
    ),
    message: 'Invalid OAuth access token - Cannot parse access token',
  },
  368: define(
    368,
    400,
    'Temporarily blocked for policies violations',
    'The WhatsApp Business Account associated with the app has been restricted or disabled for violating a platform policy.',
    false,
  ),
  80007: define(
    80007,
    400,
    'Rate limit issues',
    'The WhatsApp Business Account has reached its rate limit.',
    true,
  ),
  130429: define(130429, 400, 'Rate limit hit', 'Cloud API message throughput has been reached.', true),
  131000: define(
    131000,
    500,
    'Something went wrong',
    'Message failed to send due to an unknown error.',
    true,
  ), // [V?] status
  131026: define(
    131026,
    400,
    'Message Undeliverable',
    'Unable to deliver message. Reasons can include: the recipient phone number is not a WhatsApp phone number; the recipient has not accepted the new Terms of Service and Privacy Policy; the recipient is using an old WhatsApp version.',
    false,
  ),
  131031: define(
    131031,
    400,
    'Account has been locked',
    'The WhatsApp Business Account is restricted or disabled for violating a platform policy.',
    false,
  ),
  131042: define(
    131042,
    400,
    'Business eligibility payment issue',
    'There was an error related to your payment method.',
    false,
  ),
  131047: define(
    131047,
    400,
    'Re-engagement message',
    'Message failed to send because more than 24 hours have passed since the customer last replied to this number.',
    false,
  ),
  131048: define(
    131048,
    400,
    'Spam rate limit hit',
    'Message failed to send because there are restrictions on how many messages can be sent from this phone number. This may be because too many previous messages were blocked or flagged as spam.',
    true,
  ),
  131049: define(
    131049,
    400,
    'This message was not delivered to maintain healthy ecosystem engagement.',
    'In order to maintain a healthy ecosystem engagement, the message failed to be delivered.',
    true,
  ),
  131050: define(
    131050,
    400,
    'User has stopped marketing messages',
    'Unable to deliver the marketing message. This user has chosen to stop receiving marketing messages from this business.',
    false,
  ), // [V?] wording
  131051: define(131051, 400, 'Message type unknown', 'Message type is currently not supported.', false),
  131052: define(131052, 400, 'Media download error', 'Unable to download the media sent by the user.', true),
  131053: define(131053, 400, 'Media upload error', 'Unable to upload the media used in the message.', false),
  131056: define(
    131056,
    429,
    '(Business Account, Consumer Account) pair rate limit hit',
    'Message failed to send because there were too many messages sent from this phone number to the same phone number in a short period of time.',
    true,
  ),
  132000: define(
    132000,
    400,
    'Number of parameters does not match the expected number of params',
    'The number of variable parameter values included in the request did not match the number of variable parameters defined in the template.',
    false,
  ),
  132001: define(
    132001,
    400,
    'Template name does not exist in the translation',
    'The template does not exist in the specified language or the template has not been approved.',
    false,
  ),
});

/** The definition for `code`, or a generic one for codes the catalogue does not list. */
export function metaError(code: number): MetaErrorDefinition {
  return (
    META_ERRORS[code] ?? define(code, 400, 'Error', `Error ${code} injected by the WhatsApp emulator.`, false)
  );
}

export interface MetaErrorOverrides {
  httpStatus?: number;
  message?: string;
  details?: string;
  subcode?: number;
}

/** A Meta-shaped error response; thrown inside handlers and rendered by the app's error handler. */
export class MetaApiError extends Error {
  override readonly name = 'MetaApiError';
  readonly code: number;
  readonly httpStatus: number;
  readonly details: string;
  readonly subcode: number | undefined;
  readonly type: string;
  readonly fbtraceId = newFbtraceId();

  constructor(code: number, overrides: MetaErrorOverrides = {}) {
    const definition = metaError(code);
    super(overrides.message ?? definition.message);
    this.code = code;
    this.httpStatus = overrides.httpStatus ?? definition.httpStatus;
    this.details = overrides.details ?? definition.details;
    this.subcode = overrides.subcode;
    this.type = definition.type;
  }

  /** The JSON body Meta returns. */
  toBody(): MetaErrorBody {
    return {
      error: {
        message: this.message,
        type: this.type,
        code: this.code,
        ...(this.subcode === undefined ? {} : { error_subcode: this.subcode }),
        error_data: { messaging_product: 'whatsapp', details: this.details },
        fbtrace_id: this.fbtraceId,
      },
    };
  }
}

export interface MetaErrorBody {
  error: {
    message: string;
    type: string;
    code: number;
    error_subcode?: number;
    error_data: { messaging_product: 'whatsapp'; details: string };
    fbtrace_id: string;
  };
}

/** One entry of `errors[]` in a `failed` status webhook or an `unsupported` inbound message. */
export function webhookError(code: number, details?: string): WebhookErrorObject {
  const definition = metaError(code);
  return {
    code,
    title: definition.title,
    message: definition.title,
    error_data: { details: details ?? definition.details },
    href: 'https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/',
  };
}

export interface WebhookErrorObject {
  code: number;
  title: string;
  message: string;
  error_data: { details: string };
  href: string;
}

/** `Unsupported get request. Object with ID '…' does not exist …` (code 100, subcode 33). */
export function unknownObject(method: string, id: string): MetaApiError {
  return new MetaApiError(100, {
    subcode: 33,
    message: `Unsupported ${method.toLowerCase()} request. Object with ID '${id}' does not exist, cannot be loaded due to missing permissions, or does not support this operation.`,
    details: `Object with ID '${id}' does not exist.`,
  });
}

/** Looks like Meta's trace ids: `A` + 22 base64url characters. */
export function newFbtraceId(): string {
  return `A${randomBytes(17).toString('base64url').slice(0, 22)}`;
}
