/**
 * Public types of the WhatsApp Cloud API emulator: its options (validated by `resolveOptions`), its
 * rules, and the events it writes to its ledger.
 */
import { z } from 'zod';
import { Ledger, type LedgerEvent } from '../shared/ledger.ts';
import type { DeliveryOutcome } from '../shared/webhook-delivery.ts';
import type { StatusValue } from './payloads.ts';
import type { RenderedTemplate, WhatsAppTemplate } from './templates.ts';

/** A business phone number served by the emulator. */
export interface WhatsAppPhoneNumber {
  phoneNumberId: string;
  /** Digits as Meta puts them in `metadata.display_phone_number`, e.g. `15550783881`. */
  displayPhoneNumber: string;
  wabaId: string;
  /** Shown by `GET /{version}/{phone-number-id}` (default `Wabridge Sandbox`). */
  verifiedName?: string;
  /** `quality_rating` of `GET /{version}/{phone-number-id}` (default GREEN). */
  qualityRating?: 'GREEN' | 'YELLOW' | 'RED' | 'NA';
  /** The Meta app whose webhooks carry this number (its WABA starts subscribed to it; default the default app). */
  appId?: string;
  /**
   * A system-user token of that app with access to this number's WABA only (the default `accessToken`
   * then cannot use it). Default: the default token covers it.
   */
  accessToken?: string;
}

/**
 * A Meta app (https://developers.facebook.com/docs/development/create-an-app): its secret signs the
 * webhooks of the WABAs subscribed to it, sent to its one callback URL.
 */
export interface WhatsAppApp {
  appId: string;
  appSecret: string;
  name?: string;
  webhookUrl?: string;
  verifyToken?: string;
}

/** Delay in ms before each status webhook, counted from the previous one; `null` = never sent. */
export interface StatusDelays {
  sent: number;
  delivered: number | null;
  read: number | null;
}

/** How a rule reports a refusal: as the HTTP error of the send (`response`) or as a `failed` status webhook. */
export type ErrorReport = 'response' | 'status';

export interface WhatsAppRules {
  /** 131047 for free-form (non-template) sends when the user's last message is older than `windowMs` or absent. */
  customerServiceWindow: { enabled: boolean; windowMs: number; report: ErrorReport };
  /** 130429 when one business number sends more than `perSecond` messages in any 1-second window. */
  throughput: { enabled: boolean; perSecond: number };
  /** 131056 (HTTP 429): token bucket per (business number, recipient) of `burst` tokens, one back every `refillEveryMs`. */
  pairRate: { enabled: boolean; burst: number; refillEveryMs: number };
  /** 131026 for these recipients (phone numbers or BSUIDs). */
  undeliverable: { recipients: string[]; report: ErrorReport };
  /** Recipients whose messages are accepted and then reported `failed` with this error. */
  asyncFailures: Record<string, { code: number; details?: string }>;
  /** 131050 for MARKETING templates to users who stopped marketing messages. */
  marketingOptOut: { enabled: boolean };
}

/** `configure()` / `rules` input: every part optional. */
export type WhatsAppRulesInput = {
  [K in Exclude<keyof WhatsAppRules, 'asyncFailures'>]?: Partial<WhatsAppRules[K]>;
} & { asyncFailures?: WhatsAppRules['asyncFailures'] };

export const DEFAULT_RULES: WhatsAppRules = {
  customerServiceWindow: { enabled: true, windowMs: 24 * 60 * 60 * 1000, report: 'response' },
  throughput: { enabled: true, perSecond: 80 },
  // ≈1 message per 6 s per user with bursts of up to 45 borrowed against later quota
  // (https://developers.facebook.com/documentation/business-messaging/whatsapp/throughput; burst size from third-party pages quoting Meta, [V?]).
  pairRate: { enabled: true, burst: 45, refillEveryMs: 6000 },
  undeliverable: { recipients: [], report: 'response' },
  asyncFailures: {},
  marketingOptOut: { enabled: true },
};

export const DEFAULT_STATUS_DELAYS: StatusDelays = { sent: 10, delivered: 100, read: 300 };

/** Id of the default Meta app. */
export const DEFAULT_APP_ID = '1234567890123456';

/** Sandbox defaults, shaped like the numbers in Meta's examples. */
export const DEFAULT_PHONE_NUMBERS: readonly WhatsAppPhoneNumber[] = [
  { phoneNumberId: '106540352242922', displayPhoneNumber: '15550783881', wabaId: '102290129340398' },
];

const phoneNumberSchema = z.object({
  phoneNumberId: z.string().regex(/^\d+$/, 'phone number ids are numeric'),
  displayPhoneNumber: z.string().regex(/^\d+$/, 'display numbers are digits only, as in webhooks'),
  wabaId: z.string().regex(/^\d+$/, 'WABA ids are numeric'),
  verifiedName: z.string().optional(),
  qualityRating: z.enum(['GREEN', 'YELLOW', 'RED', 'NA']).optional(),
  appId: z.string().regex(/^\d+$/, 'app ids are numeric').optional(),
  accessToken: z.string().min(1).optional(),
});

const appSchema = z.object({
  appId: z.string().regex(/^\d+$/, 'app ids are numeric'),
  appSecret: z.string().min(1),
  name: z.string().optional(),
  webhookUrl: z.url().optional(),
  verifyToken: z.string().optional(),
});

const templateSchema = z.object({
  name: z.string().min(1),
  language: z.string().optional(),
  category: z.enum(['MARKETING', 'UTILITY', 'AUTHENTICATION']).optional(),
  body: z.string(),
  header: z.string().optional(),
  footer: z.string().optional(),
  quickReplies: z.array(z.string()).optional(),
  status: z.enum(['APPROVED', 'PENDING', 'REJECTED', 'PAUSED']).optional(),
  id: z.string().optional(),
});

const report = z.enum(['response', 'status']);
const delay = z.number().int().nonnegative();

export const rulesInputSchema = z
  .object({
    customerServiceWindow: z
      .object({ enabled: z.boolean(), windowMs: z.number().positive(), report })
      .partial()
      .optional(),
    throughput: z
      .object({ enabled: z.boolean(), perSecond: z.number().int().positive() })
      .partial()
      .optional(),
    pairRate: z
      .object({ enabled: z.boolean(), burst: z.number().positive(), refillEveryMs: z.number().positive() })
      .partial()
      .optional(),
    undeliverable: z
      .object({ recipients: z.array(z.string()), report })
      .partial()
      .optional(),
    asyncFailures: z
      .record(z.string(), z.object({ code: z.number().int(), details: z.string().optional() }))
      .optional(),
    marketingOptOut: z.object({ enabled: z.boolean() }).partial().optional(),
  })
  .strict();

export const optionsSchema = z
  .object({
    appSecret: z.string().min(1),
    accessToken: z.string().min(1),
    appId: z.string().regex(/^\d+$/, 'app ids are numeric').optional(),
    apps: z.array(appSchema).optional(),
    webhookUrl: z.url().optional(),
    verifyToken: z.string().optional(),
    phoneNumbers: z.array(phoneNumberSchema).min(1).optional(),
    templates: z.array(templateSchema).optional(),
    statusDelaysMs: z
      .object({ sent: delay, delivered: delay.nullable(), read: delay.nullable() })
      .partial()
      .optional(),
    rules: rulesInputSchema.optional(),
    webhookRetry: z
      .object({ delaysMs: z.array(delay), timeoutMs: z.number().int().positive() })
      .partial()
      .optional(),
    mediaUrlTtlMs: z.number().int().positive().optional(),
    validateRequests: z.boolean().optional(),
    apiVersion: z
      .string()
      .regex(/^v\d+\.\d+$/)
      .optional(),
    now: z.custom<() => number>((v) => typeof v === 'function', 'now must be a function').optional(),
    ledger: z.instanceof(Ledger).optional(),
    port: z.number().int().min(0).max(65535).optional(),
    hostname: z.string().optional(),
  })
  .strict();

export interface WhatsAppEmulatorOptions {
  /** App Secret of the default Meta app: key of the `X-Hub-Signature-256` HMAC of its webhooks. */
  appSecret: string;
  /**
   * The default app's token the Cloud API accepts (change later with `setAccessToken`), for every number
   * of the default app that has no token of its own.
   */
  accessToken: string;
  /** Id of the default Meta app (default `DEFAULT_APP_ID`). */
  appId?: string;
  /** More Meta apps, each with its own secret and webhook URL (numbers name theirs with `appId`). */
  apps?: WhatsAppApp[];
  /** The gateway's webhook URL (can be set later with `setWebhookUrl`). */
  webhookUrl?: string;
  /** Verify token for `verifyWebhook()`'s GET handshake. */
  verifyToken?: string;
  /** Business numbers served (default: one sandbox number, `DEFAULT_PHONE_NUMBERS`). */
  phoneNumbers?: WhatsAppPhoneNumber[];
  /** Approved templates (default `hello_world`). */
  templates?: WhatsAppTemplate[];
  /** Delays of the sent → delivered → read status webhooks (default 10 / 100 / 300 ms). */
  statusDelaysMs?: Partial<StatusDelays>;
  /** Platform rules; every rule is on by default with Meta's documented numbers. */
  rules?: WhatsAppRulesInput;
  /** Retry schedule of undelivered webhooks (default 1 s, 4 s, 16 s, 60 s) and per-attempt timeout (10 s). */
  webhookRetry?: { delaysMs?: number[]; timeoutMs?: number };
  /** Lifetime of media download URLs (default 5 minutes). */
  mediaUrlTtlMs?: number;
  /** Validate request bodies against Meta's spec (default true). */
  validateRequests?: boolean;
  /** Version used by `apiUrl` and the `facebook-api-version` header (default `v23.0`); any `vNN.N` is served. */
  apiVersion?: string;
  /** Base time source (default `Date.now`); `advanceTime` adds to it. */
  now?: () => number;
  /** Record into this ledger (e.g. one shared with other emulators, typed with the union of their events). */
  ledger?: Ledger<LedgerEvent>;
  port?: number;
  hostname?: string;
}

/** Where a send was refused. */
export type RejectionRule =
  | 'auth'
  | 'unknown_object'
  | 'invalid_json'
  | 'validation'
  | 'throughput'
  | 'fail_next'
  | 'undeliverable'
  | 'template'
  | 'marketing_opt_out'
  | 'window'
  | 'pair_rate'
  | 'unknown_message';

export type WebhookTopic = 'status' | 'message' | 'user_preferences' | 'raw';

type W<K extends string, T> = { platform: 'whatsapp'; kind: K } & T;

/** Everything the WhatsApp emulator records. */
export type WhatsAppEvent =
  | W<'api.request', { method: string; path: string; status: number; appId: string | undefined }>
  | W<
      'send.accepted',
      {
        wamid: string;
        phoneNumberId: string;
        /** `to` as the client sent it. */
        to: string;
        waId: string | undefined;
        userId: string | undefined;
        type: string;
        /** Text body, caption or rendered template body, when there is one. */
        text: string | undefined;
        template: RenderedTemplate | undefined;
        media:
          | { id?: string; link?: string; caption?: string; filename?: string; known?: boolean }
          | undefined;
        reaction: { messageId: string; emoji: string } | undefined;
        /** `context.message_id`: the message this one replies to. */
        replyTo: string | undefined;
        /** The request body as received. */
        body: unknown;
      }
    >
  | W<
      'send.rejected',
      {
        phoneNumberId: string;
        to: string | undefined;
        type: string | undefined;
        rule: RejectionRule;
        httpStatus: number;
        code: number;
        details: string;
      }
    >
  | W<'read.marked', { phoneNumberId: string; messageId: string; typingIndicator: boolean }>
  | W<
      'status.emitted',
      {
        wamid: string;
        status: StatusValue;
        phoneNumberId: string;
        recipient: string;
        errorCodes: number[] | undefined;
        deliveryId: number | undefined;
      }
    >
  | W<
      'inbound.message',
      {
        wamid: string;
        phoneNumberId: string;
        type: string;
        waId: string | undefined;
        userId: string | undefined;
        /** Epoch ms of the message's `timestamp`. */
        sentAt: number;
      }
    >
  | W<
      'inbound.echo',
      {
        phoneNumberId: string;
        waId: string | undefined;
        userId: string | undefined;
        wamid: string;
        type: string;
      }
    >
  | W<
      'inbound.user_preferences',
      {
        phoneNumberId: string;
        waId: string | undefined;
        userId: string | undefined;
        value: 'stop' | 'resume';
      }
    >
  | W<
      'webhook.attempt',
      {
        deliveryId: number;
        /** The Meta app whose URL and secret the delivery used. */
        appId?: string;
        topic: WebhookTopic;
        label: string | undefined;
        url: string;
        attempt: number;
        status: number | undefined;
        ok: boolean;
        error: string | undefined;
        durationMs: number;
        nextRetryInMs: number | undefined;
      }
    >
  | W<
      'webhook.outcome',
      { deliveryId: number; topic: WebhookTopic; outcome: DeliveryOutcome; attempts: number }
    >
  | W<'webhook.skipped', { topic: WebhookTopic; reason: string }>
  | W<'waba.subscribed', { wabaId: string; appId: string; overrideCallbackUri: string | undefined }>
  | W<'waba.unsubscribed', { wabaId: string; appId: string }>
  | W<'webhook.verification', { url: string; ok: boolean; status: number | undefined; challenge: string }>
  | W<
      'media.uploaded',
      {
        mediaId: string;
        phoneNumberId: string;
        mimeType: string;
        fileSize: number;
        source: 'business' | 'customer';
      }
    >
  | W<'media.url_issued', { mediaId: string; expiresAt: number }>
  | W<'media.downloaded', { mediaId: string; fileSize: number }>
  | W<
      'media.download_refused',
      {
        mediaId: string | undefined;
        reason: 'unauthorized' | 'expired' | 'not_found' | 'bad_signature' | 'deleted';
      }
    >
  | W<'media.deleted', { mediaId: string }>
  | W<'templates.listed', { wabaId: string; count: number }>
  | W<'customer.created', { key: string; waId: string | undefined; userId: string | undefined; name: string }>
  | W<'customer.changed', { key: string; change: 'number' | 'user_id'; from: string | undefined; to: string }>
  | W<'clock.advanced', { ms: number; now: number }>
  | W<'rules.changed', { rules: WhatsAppRulesInput }>
  | W<'fail_next.armed', { code: number; count: number; recipient: string | undefined; asStatus: boolean }>;

/** Injects errors into the next sends (`failNext`). */
export interface FailNextOptions {
  /** Meta error code, e.g. 131000 or 2 (see `META_ERRORS`). */
  code: number;
  /** Override the HTTP status (default from the catalogue, 400 for unknown codes). */
  httpStatus?: number;
  /** How many sends to fail (default 1). */
  count?: number;
  /** Only sends to this recipient (phone number or BSUID). */
  recipient?: string;
  /** Override `error_data.details`. */
  details?: string;
  /** Accept the send and report the error in a `failed` status webhook instead. */
  asStatus?: boolean;
}
