/**
 * @wabridge/sandbox — local emulators of the platforms wabridge talks to, over real HTTP, for tests,
 * benchmarks and the demo. Emulators keep a ledger of every effect so tests can count.
 *
 * Shared building blocks: ledger, server, OpenAPI validation, rate limiters, webhook delivery, clock,
 * OAuth codes and consent pages (`completeConsent` answers any emulator's consent page over HTTP).
 * The Slack, HubSpot and Graph emulators have their own entries (`@wabridge/sandbox/slack` …).
 */

// Shared
export { Chaos, type ChaosOptions } from './shared/chaos.ts';
export { type Clock, createClock, unixSeconds, wallClockFrom } from './shared/clock.ts';
export {
  type ConsentChoice,
  ConsentPageError,
  type ConsentResult,
  completeConsent,
} from './shared/consent-client.ts';
export {
  type EntryOf,
  Ledger,
  type LedgerEntry,
  type LedgerEvent,
  type LedgerOptions,
  type LedgerQuery,
  LedgerTimeoutError,
  type WaitForOptions,
} from './shared/ledger.ts';
export {
  AuthorizationCodes,
  pkceChallenge,
  randomToken,
  safeEqual,
} from './shared/oauth.ts';
export {
  getAtPointer,
  type LoadOpenApiOptions,
  loadOpenApiSpec,
  normalizeDocument,
  type OpenApiDocument,
  OpenApiError,
  type OpenApiErrorCode,
  OpenApiSpec,
  pointer,
  refToPath,
  type SpecPatch,
  type SpecTimings,
  type ValidationResult,
} from './shared/openapi.ts';
export {
  type RateLimitDecision,
  type RateLimiter,
  retryAfterSeconds,
  SlidingWindowLimiter,
  type SlidingWindowOptions,
  TokenBucketLimiter,
  type TokenBucketOptions,
} from './shared/rate-limit.ts';
export {
  type RecordedRequest,
  type RecorderEvent,
  type RecorderResponse,
  startWebhookRecorder,
  type WebhookRecorder,
} from './shared/recorder.ts';
export { type FetchApp, type RunningServer, type StartServerOptions, startServer } from './shared/server.ts';
export {
  type AttemptReport,
  type Delivery,
  type DeliveryOutcome,
  type DeliveryResult,
  WebhookDispatcher,
  type WebhookDispatcherOptions,
  type WebhookRequest,
} from './shared/webhook-delivery.ts';

// WhatsApp
export type { WebhookOptions, WebhookSendResult } from './whatsapp/core.ts';
export {
  Customer,
  type CustomerOptions,
  createCustomer,
  type InboundOptions,
  type MediaInput,
  type MessageBuilders,
  type OrderInput,
  type PreparedMessage,
  type Referral,
  type SharedContact,
  type TextExtras,
} from './whatsapp/customer.ts';
export { META_ERRORS, type MetaErrorBody, type MetaErrorDefinition } from './whatsapp/errors.ts';
export { startWhatsAppEmulator, type WhatsAppEmulator } from './whatsapp/index.ts';
export { MEDIA_TYPES, type MediaKind } from './whatsapp/media.ts';
export type { InboundMessage, StatusObject, StatusValue, WebhookPayload } from './whatsapp/payloads.ts';
export { loadWhatsAppSpec, WHATSAPP_SPEC_FILE, WHATSAPP_SPEC_PATCHES } from './whatsapp/spec.ts';
export type { InboundRecord, OutboundRecord, OutboundStatus } from './whatsapp/state.ts';
export {
  DEFAULT_TEMPLATES,
  type RenderedTemplate,
  type ResolvedTemplate,
  type WhatsAppTemplate,
} from './whatsapp/templates.ts';
export {
  DEFAULT_APP_ID,
  DEFAULT_PHONE_NUMBERS,
  DEFAULT_RULES,
  DEFAULT_STATUS_DELAYS,
  type ErrorReport,
  type FailNextOptions,
  type RejectionRule,
  type StatusDelays,
  type WebhookTopic,
  type WhatsAppApp,
  type WhatsAppEmulatorOptions,
  type WhatsAppEvent,
  type WhatsAppPhoneNumber,
  type WhatsAppRules,
  type WhatsAppRulesInput,
} from './whatsapp/types.ts';
export { metaJson, signWebhookBody, verifyWebhookSignature } from './whatsapp/wire.ts';
