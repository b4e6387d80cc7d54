/**
 * Classification of WhatsApp Cloud API failures into `WabridgeError` codes
 * (https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes): the queue retries only throttling and transient failures; everything else needs a person,
 * a template, or nothing at all. Pure functions, so the same verdicts apply to HTTP error bodies
 * and to the `errors[]` of failed status webhooks.
 */

import type { ErrorCode } from '@wabridge/core';
// From core's narrow entry: the store thread loads this module for its error table (ingest.ts).
import { WabridgeError } from '@wabridge/core/ingest';
import { z } from 'zod';

export interface MetaErrorMeaning {
  /** What Meta's code means, in words an agent understands. */
  meaning: string;
  /** What to do about it. */
  action: string;
}

/**
 * Meta error codes the bridge branches on or explains, for UIs telling an agent what a failure
 * means and what to do. Source: Meta's Cloud API error-code page
 * (https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes); codes marked [V?] here
 * are quoted by third parties but not confirmed on Meta's page.
 */
export const META_ERROR_MEANINGS: Readonly<Record<number, MetaErrorMeaning>> = Object.freeze({
  0: {
    meaning: 'Authentication failed: the access token could not be validated.',
    action: 'Generate a new system-user token and update the WhatsApp connection.',
  },
  1: {
    meaning: 'Unknown error at Meta (API Unknown).',
    action: 'Retried automatically; if it persists, check the WhatsApp status page.',
  },
  2: {
    meaning: 'Temporary error at Meta (API Service).',
    action: 'Retried automatically with back-off.',
  },
  4: {
    meaning: 'The app made too many API calls (application rate limit).',
    action: 'Retried automatically after a pause; reduce call volume if it recurs.',
  },
  10: {
    meaning:
      'Permission denied: the app lacks a permission, or the recipient is not allowed for a test number.',
    action: 'Check the token has whatsapp_business_messaging and the number is allowed.',
  },
  100: {
    meaning: 'Invalid parameter in the request.',
    action: 'Not retried; check the message content (length, media, template parameters).',
  },
  190: {
    meaning: 'The access token has expired or was revoked.',
    action: 'Generate a new system-user token and update the WhatsApp connection.',
  },
  200: {
    meaning: 'The app is missing a permission for this call.',
    action: 'Grant whatsapp_business_messaging / whatsapp_business_management to the token.',
  },
  368: {
    meaning: 'The business is temporarily blocked for policy violations.',
    action: 'Ops alert: review the account in WhatsApp Manager; do not retry.',
  },
  80007: {
    meaning: 'The WhatsApp Business Account hit its API rate limit.',
    action: 'Retried automatically after a pause.',
  },
  130429: {
    meaning: 'Throughput exceeded: too many messages per second from this number.',
    action: 'Retried automatically; the number’s queue slows down.',
  },
  130472: {
    meaning: 'The user’s number is part of a Meta experiment and did not receive this marketing message.',
    action: 'Do not retry; try a different channel or later.',
  },
  130497: {
    meaning: 'The business cannot message users in this country.',
    action: 'Do not retry; check the account’s country restrictions.',
  },
  131000: {
    meaning: 'Something went wrong at Meta.',
    action: 'Retried automatically; if it persists, check the WhatsApp status page.',
  },
  131005: {
    meaning: 'Access denied for this operation.',
    action: 'Check the token’s permissions for this phone number.',
  },
  131008: {
    meaning: 'A required parameter is missing.',
    action: 'Not retried; this is a bug in the request — report it.',
  },
  131009: {
    meaning: 'A parameter value is not valid.',
    action: 'Not retried; check the recipient, media and template values.',
  },
  131016: {
    meaning: 'WhatsApp is temporarily unavailable.',
    action: 'Retried automatically with back-off.',
  },
  131021: {
    meaning: 'The recipient is the sending business number itself.',
    action: 'Do not retry; send to a different number.',
  },
  131026: {
    meaning:
      'Message undeliverable: the user is not on WhatsApp, uses an old app, or has not accepted the terms.',
    action: 'Do not retry; flag the contact and reach them another way.',
  },
  131031: {
    meaning: 'The business account is locked.',
    action: 'Ops alert: resolve the lock in WhatsApp Manager.',
  },
  131037: {
    meaning: 'The business number needs an approved display name before it can send.',
    action: 'Ops alert: get the display name approved in WhatsApp Manager.',
  },
  131042: {
    meaning: 'Payment or eligibility problem with the business account.',
    action: 'Ops alert: fix the payment method / eligibility in WhatsApp Manager.',
  },
  131045: {
    meaning: 'The phone number’s certificate is wrong (registration problem).',
    action: 'Ops alert: re-register the phone number.',
  },
  131047: {
    meaning: 'More than 24 hours since the customer last wrote: free-form messages are not allowed.',
    action: 'Send an approved template message instead.',
  },
  131048: {
    meaning: 'Spam rate limit: sends from this number are restricted because of quality.',
    action: 'Stop campaign sends and check the number’s quality rating.',
  },
  131049: {
    meaning: 'Meta chose not to deliver this marketing message (per-user marketing limit).',
    action: 'Do not retry immediately; try again in a day or use another channel.',
  },
  131050: {
    meaning: 'The user stopped marketing messages from this business.',
    action: 'Record the opt-out; never retry this marketing send.',
  },
  131051: {
    meaning: 'The message type is not supported.',
    action: 'Show a placeholder; the customer should send it another way.',
  },
  131052: {
    meaning: 'The media sent by the user could not be downloaded.',
    action: 'Ask the customer to send the file again.',
  },
  131053: {
    meaning: 'The media could not be uploaded or fetched (URL, type or size).',
    action: 'Check the media URL is reachable and its type and size are supported.',
  },
  131056: {
    meaning: 'Pair rate limit: too many messages to the same customer in a short time.',
    action: 'Retried automatically for this customer only, after a few seconds.',
  },
  131057: {
    meaning: 'The business account is in maintenance mode (for example a throughput upgrade).',
    action: 'Retried automatically after a pause.',
  },
  131062: {
    meaning: 'This message cannot be sent to a business-scoped user ID (BSUID) [V?].',
    action: 'Send to the customer’s phone number instead, if known.',
  },
  132000: {
    meaning: 'The number of template parameters does not match the template.',
    action: 'Fix the template parameters.',
  },
  132001: {
    meaning: 'The template does not exist in this language, or is not approved.',
    action: 'Check the template name and language code in WhatsApp Manager.',
  },
  132005: {
    meaning: 'The filled-in template text is too long.',
    action: 'Shorten the template parameters.',
  },
  132007: {
    meaning: 'The template content violates a WhatsApp policy.',
    action: 'Edit the template parameters.',
  },
  132012: {
    meaning: 'A template parameter has the wrong format.',
    action: 'Fix the template parameters.',
  },
  132015: {
    meaning: 'The template is paused because of low quality.',
    action: 'Edit the template or use another one.',
  },
  132016: {
    meaning: 'The template is disabled because of low quality.',
    action: 'Create a new template.',
  },
  133010: {
    meaning: 'The business phone number is not registered with the Cloud API.',
    action: 'Ops alert: register the phone number.',
  },
});

interface Verdict {
  code: ErrorCode;
  retryAfterMs?: number;
  details?: Record<string, unknown>;
}

const RATE_LIMIT_DEFAULT_MS = 1_000;
const PAIR_RATE_LIMIT_DEFAULT_MS = 6_000;

/** Codes whose meaning fixes the verdict whatever the HTTP status. */
function verdictForMetaCode(code: number, retryAfterMs: number | undefined): Verdict | undefined {
  switch (code) {
    case 130429:
    case 80007:
    // Graph's application-level throttle; dead-lettering it would drop messages for no reason.
    case 4:
      return { code: 'rate_limited', retryAfterMs: retryAfterMs ?? RATE_LIMIT_DEFAULT_MS };
    case 131056:
      return {
        code: 'rate_limited',
        retryAfterMs: retryAfterMs ?? PAIR_RATE_LIMIT_DEFAULT_MS,
        details: { scope: 'recipient' },
      };
    case 131047:
      return { code: 'window_closed', details: { needsTemplate: true } };
    case 131050:
      return { code: 'opted_out' };
    case 131026:
      return { code: 'undeliverable' };
    case 131048:
    case 131049:
    case 368:
    case 131031:
    case 131042:
    case 132000:
    case 132001:
      return { code: 'permanent' };
    case 0:
    case 190:
      return { code: 'auth_failed' };
    case 1:
    case 2:
    case 131000:
    case 131016:
    case 131057:
      return { code: 'transient' };
    default:
      return undefined;
  }
}

const metaInteger = z.union([
  z.number(),
  z
    .string()
    .regex(/^-?\d+$/)
    .transform((s) => Number(s)),
]);

const graphErrorBodySchema = z.looseObject({
  error: z.looseObject({
    message: z.string().optional(),
    type: z.string().optional(),
    code: metaInteger.optional(),
    error_subcode: metaInteger.optional(),
    // Graph sometimes sends error_data as a JSON string rather than an object.
    error_data: z.union([z.looseObject({ details: z.string().optional() }), z.string()]).optional(),
    fbtrace_id: z.string().optional(),
    is_transient: z.boolean().optional(),
  }),
});

export type HeadersLike = Headers | Readonly<Record<string, string | readonly string[] | undefined>>;

function headerValue(headers: HeadersLike | null | undefined, name: string): string | undefined {
  if (!headers) return undefined;
  if (headers instanceof Headers) return headers.get(name) ?? undefined;
  const key = Object.keys(headers).find((k) => k.toLowerCase() === name);
  if (key === undefined) return undefined;
  const value = headers[key];
  return typeof value === 'string' ? value : value?.[0];
}

/**
 * How long the server asked us to wait: `Retry-After` (seconds or HTTP date), else Graph's
 * `x-business-use-case-usage` `estimated_time_to_regain_access` (minutes). `undefined` if neither.
 */
export function retryAfterFromHeaders(
  headers: HeadersLike | null | undefined,
  now = Date.now(),
): number | undefined {
  const retryAfter = headerValue(headers, 'retry-after')?.trim();
  if (retryAfter) {
    if (/^\d+$/.test(retryAfter)) return Number(retryAfter) * 1000;
    const date = Date.parse(retryAfter);
    if (!Number.isNaN(date)) return Math.max(0, date - now);
  }
  const usage = headerValue(headers, 'x-business-use-case-usage');
  if (usage) {
    try {
      const parsed: unknown = JSON.parse(usage);
      let minutes = 0;
      if (typeof parsed === 'object' && parsed !== null) {
        for (const entries of Object.values(parsed)) {
          if (!Array.isArray(entries)) continue;
          for (const entry of entries) {
            const value: unknown = (entry as { estimated_time_to_regain_access?: unknown })
              ?.estimated_time_to_regain_access;
            if (typeof value === 'number' && value > minutes) minutes = value;
          }
        }
      }
      if (minutes > 0) return minutes * 60_000;
    } catch {
      // A malformed usage header is advisory only; fall back to defaults.
    }
  }
  return undefined;
}

/**
 * Maps a failed Cloud API response to a `WabridgeError`. `body` may be the raw text or the parsed
 * JSON. Details always carry `{metaCode, metaSubcode, fbtraceId, httpStatus}`; Meta's message is
 * kept in the error message, and known codes add `meaning` and `action` from
 * {@link META_ERROR_MEANINGS}.
 *
 * @example throw classifyCloudApiError(res.status, await res.text(), res.headers)
 */
export function classifyCloudApiError(
  status: number,
  body: unknown,
  headers?: HeadersLike | null,
  operation = 'WhatsApp Cloud API',
): WabridgeError {
  let parsedBody = body;
  if (typeof body === 'string') {
    try {
      parsedBody = JSON.parse(body);
    } catch {
      parsedBody = undefined;
    }
  }
  const graph = graphErrorBodySchema.safeParse(parsedBody);
  const error = graph.success ? graph.data.error : undefined;
  const metaCode = error?.code;
  const metaDetails = typeof error?.error_data === 'string' ? error.error_data : error?.error_data?.details;
  const retryAfterMs = retryAfterFromHeaders(headers);

  const verdict: Verdict =
    (metaCode === undefined ? undefined : verdictForMetaCode(metaCode, retryAfterMs)) ??
    verdictForStatus(status, error?.is_transient === true, retryAfterMs);

  const meaning = metaCode === undefined ? undefined : META_ERROR_MEANINGS[metaCode];
  const text = error?.message ?? (status > 0 ? `HTTP ${status}` : 'request failed');
  const codePart =
    metaCode === undefined
      ? ''
      : ` (code ${metaCode}${error?.error_subcode === undefined ? '' : `, subcode ${error.error_subcode}`})`;
  return new WabridgeError(
    verdict.code,
    `${operation}: ${text}${codePart}${metaDetails ? `: ${metaDetails}` : ''}`,
    {
      ...(verdict.retryAfterMs === undefined ? {} : { retryAfterMs: verdict.retryAfterMs }),
      details: {
        metaCode,
        metaSubcode: error?.error_subcode,
        fbtraceId: error?.fbtrace_id,
        httpStatus: status,
        ...(error?.type === undefined ? {} : { metaType: error.type }),
        ...(metaDetails === undefined ? {} : { metaDetails }),
        ...(meaning === undefined ? {} : { meaning: meaning.meaning, action: meaning.action }),
        ...verdict.details,
      },
    },
  );
}

function verdictForStatus(status: number, isTransient: boolean, retryAfterMs: number | undefined): Verdict {
  if (status === 401) return { code: 'auth_failed' };
  if (isTransient) return { code: 'transient' };
  if (status === 429) return { code: 'rate_limited', retryAfterMs: retryAfterMs ?? RATE_LIMIT_DEFAULT_MS };
  if (status === 408 || status >= 500) return { code: 'transient' };
  return { code: 'permanent' };
}

/** The shape of one `errors[]` item in a webhook (failed status, value-level error). */
export interface WebhookErrorLike {
  /** A number as documented; a code spelled otherwise classifies as permanent. */
  code: number | string;
  title?: string | undefined;
  message?: string | undefined;
  error_data?: { details?: string | undefined } | undefined;
}

/**
 * Gives a failed status webhook's error the same verdict a synchronous send error would get, so
 * a 131047 or 131050 that arrives asynchronously is handled like one returned by the API.
 *
 * @example for (const e of status.errors ?? []) markFailed(status.id, classifyWebhookError(e))
 */
export function classifyWebhookError(error: WebhookErrorLike): WabridgeError {
  const code = typeof error.code === 'number' ? error.code : Number(error.code);
  const verdict = (Number.isFinite(code) ? verdictForMetaCode(code, undefined) : undefined) ?? {
    code: 'permanent' as const,
  };
  const meaning = Number.isFinite(code) ? META_ERROR_MEANINGS[code] : undefined;
  const text = error.message ?? error.title ?? 'delivery failed';
  const details = error.error_data?.details;
  return new WabridgeError(
    verdict.code,
    `WhatsApp delivery failed: ${text} (code ${error.code})${details ? `: ${details}` : ''}`,
    {
      ...(verdict.retryAfterMs === undefined ? {} : { retryAfterMs: verdict.retryAfterMs }),
      details: {
        metaCode: Number.isFinite(code) ? code : error.code,
        metaSubcode: undefined,
        fbtraceId: undefined,
        httpStatus: undefined,
        ...(details === undefined ? {} : { metaDetails: details }),
        ...(meaning === undefined ? {} : { meaning: meaning.meaning, action: meaning.action }),
        ...verdict.details,
      },
    },
  );
}
