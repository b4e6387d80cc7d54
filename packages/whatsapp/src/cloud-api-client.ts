/**
 * A small client for the WhatsApp Cloud API endpoints the bridge uses: send (text, template,
 * media, reaction, interactive), mark as read (+ typing indicator), upload, media info, and a
 * guarded media download. Every failure is a `WabridgeError` classified for the queue
 * (see cloud-api-errors.ts). It logs nothing; callers log with their own scoped logger.
 */

import { readUpTo, WabridgeError } from '@wabridge/core';
import { z } from 'zod';
import { classifyCloudApiError } from './cloud-api-errors.ts';
import {
  checkMediaUrl,
  createMediaUrlPolicy,
  DEFAULT_MEDIA_HOST_ALLOW_LIST,
  type HostResolver,
  type MediaUrlCheck,
  resolveMediaHost,
  systemResolver,
} from './media-url-policy.ts';
import { pinnedGet } from './pinned-request.ts';

export { classifyCloudApiError, META_ERROR_MEANINGS } from './cloud-api-errors.ts';

export const DEFAULT_GRAPH_BASE_URL = 'https://graph.facebook.com';
export const DEFAULT_GRAPH_API_VERSION = 'v23.0';
// lookaside.fbsbx.com has been seen rejecting requests without a custom User-Agent (see https://github.com/great-detail/WhatsApp-JS-SDK/issues/81);
// the format follows the pattern of the spec's `User-Agent` parameter (`name/x.y.z`).
export const DEFAULT_USER_AGENT = 'wabridge/0.1.0';

const MAX_JSON_BYTES = 1024 * 1024;
const MAX_ERROR_BYTES = 64 * 1024;
const MAX_MEDIA_REDIRECTS = 3;

export interface CloudApiClientOptions {
  /** System-user (or business) token with `whatsapp_business_messaging`. */
  accessToken: string;
  /** Default `https://graph.facebook.com`; point at the sandbox emulator or a proxy. */
  baseUrl?: string;
  /** Default `v23.0` (the vendored spec's version). */
  apiVersion?: string;
  fetch?: typeof globalThis.fetch;
  /** Per API call, including reading the response. Default 15 s. */
  timeoutMs?: number;
  /** For `uploadMedia` and `downloadMedia`, which move up to 100 MB. Default 120 s. */
  mediaTimeoutMs?: number;
  userAgent?: string;
  /**
   * Hosts `downloadMedia` may fetch (`host`, `host:port`, or `.suffix`). Replaces
   * `DEFAULT_MEDIA_HOST_ALLOW_LIST`; the base URL's host is always allowed.
   */
  mediaHostAllowList?: readonly string[];
  /**
   * Lets allow-listed media hosts be, or resolve to, private, loopback or link-local addresses.
   * Off by default. For a media proxy inside a private network or a local test server; the API
   * base URL's host needs no such permission.
   */
  mediaAllowPrivateNetwork?: boolean;
  /**
   * Resolves media host names (default: the system resolver). Every address it answers is vetted
   * and the download connects to the first one; tests inject names here.
   */
  resolveHost?: HostResolver;
}

export type MediaKind = 'image' | 'audio' | 'video' | 'document' | 'sticker';

interface SendCommon {
  /** The business number sending. */
  phoneNumberId: string;
  /** The customer: a phone number, or a business-scoped user ID (BSUID, e.g. `US.1349…`). */
  to: string;
  /** wamid of the message being replied to (quoted in WhatsApp). */
  replyTo?: string;
  /** Echoed back by Meta as `biz_opaque_callback_data` on this message's status webhooks. */
  callbackData?: string;
  signal?: AbortSignal;
}

export interface SendTextInput extends SendCommon {
  body: string;
  previewUrl?: boolean;
}

export interface TemplateParameter {
  type: string;
  [key: string]: unknown;
}

export interface TemplateComponent {
  type: 'header' | 'body' | 'button' | (string & {});
  sub_type?: string;
  index?: number | string;
  parameters?: readonly TemplateParameter[];
  [key: string]: unknown;
}

export interface SendTemplateInput extends SendCommon {
  name: string;
  /** A language code (`en_US`) or the full object (`{ code, policy }`). */
  language: string | { code: string; policy?: string };
  components?: readonly TemplateComponent[];
}

export type SendMediaInput = SendCommon & {
  kind: MediaKind;
  /** Image, video and document only. */
  caption?: string;
  /** Document only. */
  filename?: string;
} & ({ id: string; link?: undefined } | { link: string; id?: undefined });

export interface SendReactionInput {
  phoneNumberId: string;
  to: string;
  /** wamid of the message reacted to. */
  messageId: string;
  /** An emoji; the empty string removes our reaction. */
  emoji: string;
  callbackData?: string;
  signal?: AbortSignal;
}

/** The `interactive` object of Meta's send API (button, list, cta_url, flow, …). */
export interface InteractiveContent {
  type: 'button' | 'list' | 'cta_url' | 'flow' | 'product' | 'product_list' | (string & {});
  header?: Record<string, unknown>;
  body?: { text: string };
  footer?: { text: string };
  action: Record<string, unknown>;
  [key: string]: unknown;
}

export interface SendInteractiveInput extends SendCommon {
  interactive: InteractiveContent;
}

export interface MarkAsReadInput {
  phoneNumberId: string;
  /** wamid of the inbound message; earlier messages are marked read too. */
  messageId: string;
  /** Also show the typing indicator (up to 25 s or until we reply). */
  typing?: boolean;
  signal?: AbortSignal;
}

export interface UploadMediaInput {
  phoneNumberId: string;
  bytes: Uint8Array;
  mimeType: string;
  filename: string;
  signal?: AbortSignal;
}

export interface SendResult {
  wamid: string;
  contactWaId?: string;
  contactUserId?: string;
  /** `accepted`, `held_for_quality_assessment`, … when Meta reports it. */
  messageStatus?: string;
}

export interface MediaInfo {
  id: string;
  /** Valid for 5 minutes and only with the bearer token. */
  url: string;
  mime_type: string;
  sha256: string | undefined;
  file_size: number | undefined;
}

export interface DownloadMediaOptions {
  /** Abort beyond this many bytes (checked against the declared size and while streaming). */
  maxBytes: number;
  /** When given an id: only succeed if the media belongs to this number. */
  phoneNumberId?: string;
  signal?: AbortSignal;
}

export interface DownloadedMedia {
  bytes: Uint8Array;
  mimeType: string;
}

/** https://developers.facebook.com/docs/graph-api/reference/whats-app-business-account-to-number-current-status/ */
export interface PhoneNumberProfile {
  id: string;
  displayPhoneNumber: string | null;
  verifiedName: string | null;
  /** GREEN, YELLOW, RED or UNKNOWN/NA as Meta reports it. */
  qualityRating: string | null;
  codeVerificationStatus: string | null;
  nameStatus: string | null;
}

/** One entry of `GET /{waba-id}/subscribed_apps`. */
export interface SubscribedApp {
  appId: string;
  name: string | null;
  overrideCallbackUri: string | null;
}

const PHONE_PROFILE_FIELDS =
  'id,display_phone_number,verified_name,quality_rating,code_verification_status,name_status';

export interface CloudApiClient {
  sendText(input: SendTextInput): Promise<SendResult>;
  sendTemplate(input: SendTemplateInput): Promise<SendResult>;
  sendMedia(input: SendMediaInput): Promise<SendResult>;
  sendReaction(input: SendReactionInput): Promise<SendResult>;
  sendInteractive(input: SendInteractiveInput): Promise<SendResult>;
  markAsRead(input: MarkAsReadInput): Promise<void>;
  uploadMedia(input: UploadMediaInput): Promise<{ id: string }>;
  getMediaInfo(
    mediaId: string,
    options?: { phoneNumberId?: string; signal?: AbortSignal },
  ): Promise<MediaInfo>;
  /**
   * Pass the media id (from a webhook) unless the info was fetched moments ago: media URLs expire
   * after 5 minutes.
   */
  downloadMedia(media: string | MediaInfo, options: DownloadMediaOptions): Promise<DownloadedMedia>;
  /** The number's profile: `GET /{phone-number-id}?fields=…` (verified name, quality rating…). */
  getPhoneNumber(phoneNumberId: string, options?: { signal?: AbortSignal }): Promise<PhoneNumberProfile>;
  /** The apps whose webhooks carry the WABA: `GET /{waba-id}/subscribed_apps`. */
  listSubscribedApps(wabaId: string, options?: { signal?: AbortSignal }): Promise<SubscribedApp[]>;
}

const BSUID = /^[A-Z]{2}\.[A-Za-z0-9][A-Za-z0-9.]{0,159}$/;

/**
 * True for a business-scoped user ID (`<ISO country>.<alnum>`, https://developers.facebook.com/documentation/business-messaging/whatsapp/business-scoped-user-ids/). Phone numbers never
 * contain letters, so the two cannot be confused.
 */
export function isBsuid(value: string): boolean {
  return BSUID.test(value);
}

const metaId = z.union([z.string(), z.number().transform((n) => String(n))]);

const sendResponseSchema = z.looseObject({
  contacts: z
    .array(
      z.looseObject({ input: z.string().optional(), wa_id: metaId.optional(), user_id: metaId.optional() }),
    )
    .optional(),
  messages: z.array(z.looseObject({ id: z.string().min(1), message_status: z.string().optional() })).min(1),
});

const mediaInfoResponseSchema = z.looseObject({
  url: z.string().min(1),
  mime_type: z.string().optional(),
  sha256: z.string().optional(),
  file_size: z
    .union([
      z.number(),
      z
        .string()
        .regex(/^\d+$/)
        .transform((s) => Number(s)),
    ])
    .optional(),
  id: metaId.optional(),
});

const uploadResponseSchema = z.looseObject({ id: metaId });
const successResponseSchema = z.looseObject({ success: z.literal(true) });

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

function badRequest(message: string): WabridgeError {
  return new WabridgeError('bad_request', message);
}

function requireText(value: unknown, name: string): string {
  if (typeof value !== 'string' || value.trim() === '')
    throw badRequest(`${name} must be a non-empty string`);
  return value.trim();
}

function configInvalid(message: string): WabridgeError {
  return new WabridgeError('config_invalid', `WhatsApp Cloud API client: ${message}`);
}

/**
 * Creates a Cloud API client. Options are validated here, so a bad configuration fails at
 * startup rather than on the first customer message.
 *
 * @example
 * const wa = createCloudApiClient({ accessToken: env.WA_TOKEN, baseUrl: env.WA_API_URL });
 * const { wamid } = await wa.sendText({ phoneNumberId, to: '16505551234', body: 'Hi!' });
 */
export function createCloudApiClient(options: CloudApiClientOptions): CloudApiClient {
  const accessToken = options.accessToken;
  if (typeof accessToken !== 'string' || accessToken.trim() === '')
    throw configInvalid('accessToken is required');
  const apiVersion = options.apiVersion ?? DEFAULT_GRAPH_API_VERSION;
  if (!/^v\d+\.\d+$/.test(apiVersion)) throw configInvalid(`apiVersion "${apiVersion}" is not like v23.0`);
  let base: URL;
  try {
    base = new URL(options.baseUrl ?? DEFAULT_GRAPH_BASE_URL);
  } catch {
    throw configInvalid(`baseUrl "${options.baseUrl}" is not a valid URL`);
  }
  if (base.protocol !== 'https:' && base.protocol !== 'http:') throw configInvalid('baseUrl must be http(s)');
  if (base.search !== '' || base.hash !== '' || base.username !== '' || base.password !== '') {
    throw configInvalid('baseUrl must not carry a query, fragment or credentials');
  }
  const timeoutMs = options.timeoutMs ?? 15_000;
  const mediaTimeoutMs = options.mediaTimeoutMs ?? 120_000;
  for (const [name, value] of [
    ['timeoutMs', timeoutMs],
    ['mediaTimeoutMs', mediaTimeoutMs],
  ] as const) {
    if (!Number.isFinite(value) || value <= 0) throw configInvalid(`${name} must be a positive number`);
  }
  const fetchImpl = options.fetch ?? globalThis.fetch;
  if (typeof fetchImpl !== 'function') throw configInvalid('no fetch implementation available');
  const userAgent = options.userAgent ?? DEFAULT_USER_AGENT;
  if (userAgent.trim() === '' || /[\r\n]/.test(userAgent)) throw configInvalid('userAgent must be one line');

  const apiRoot = `${base.origin}${base.pathname.replace(/\/+$/, '')}/${apiVersion}`;
  const mediaPolicy = createMediaUrlPolicy(
    base,
    options.mediaHostAllowList ?? DEFAULT_MEDIA_HOST_ALLOW_LIST,
    {
      allowPrivateNetwork: options.mediaAllowPrivateNetwork === true,
    },
  );
  const resolveHost = options.resolveHost ?? systemResolver;
  const authorization = `Bearer ${accessToken.trim()}`;

  interface CallInit {
    method: 'GET' | 'POST';
    path: readonly string[];
    query?: Record<string, string | undefined>;
    json?: unknown;
    form?: FormData;
    signal?: AbortSignal | undefined;
    timeoutMs?: number;
    operation: string;
  }

  /** Performs one Graph call; returns the JSON of a 2xx answer (undefined if not JSON). */
  async function call(init: CallInit): Promise<unknown> {
    const url = new URL(`${apiRoot}/${init.path.map((segment) => encodeURIComponent(segment)).join('/')}`);
    for (const [key, value] of Object.entries(init.query ?? {})) {
      if (value !== undefined) url.searchParams.set(key, value);
    }
    const headers = new Headers({ authorization, 'user-agent': userAgent, accept: 'application/json' });
    let body: string | FormData | undefined;
    if (init.json !== undefined) {
      headers.set('content-type', 'application/json');
      body = JSON.stringify(init.json);
    } else if (init.form !== undefined) {
      body = init.form;
    }
    const limit = init.timeoutMs ?? timeoutMs;
    const deadline = AbortSignal.timeout(limit);
    const signal = init.signal ? AbortSignal.any([deadline, init.signal]) : deadline;

    let response: Response;
    let text: string;
    try {
      // Graph never redirects API calls; following one would carry the token somewhere unknown.
      response = await fetchImpl(url, { method: init.method, headers, body, signal, redirect: 'manual' });
      const read = await readUpTo(response, isOk(response.status) ? MAX_JSON_BYTES : MAX_ERROR_BYTES);
      text = read === null ? '' : new TextDecoder().decode(read);
    } catch (error) {
      throw networkError(error, init.operation, deadline.aborted, limit);
    }
    if (!isOk(response.status))
      throw classifyCloudApiError(response.status, text, response.headers, init.operation);
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      return undefined;
    }
    // Graph occasionally reports an error with a 200.
    if (isRecord(json) && isRecord(json.error)) {
      throw classifyCloudApiError(response.status, json, response.headers, init.operation);
    }
    return json;
  }

  async function send(
    common: SendCommon,
    type: string,
    content: Record<string, unknown>,
  ): Promise<SendResult> {
    const phoneNumberId = requireText(common.phoneNumberId, 'phoneNumberId');
    const to = requireText(common.to, 'to');
    const payload: Record<string, unknown> = {
      messaging_product: 'whatsapp',
      recipient_type: 'individual',
      // BSUID recipients go in `recipient` (`to` would win if both were set). The vendored v23.0
      // spec predates BSUIDs and Meta's BSUID page (https://developers.facebook.com/documentation/business-messaging/whatsapp/business-scoped-user-ids/) only says they can be addressed; the field name follows the
      // BSUID API changes as documented by BSPs (dualhook.com/docs/contacts-bsuid-api-changes) [V?].
      ...(isBsuid(to) ? { recipient: to } : { to }),
      type,
      ...content,
    };
    if (common.replyTo !== undefined)
      payload.context = { message_id: requireText(common.replyTo, 'replyTo') };
    if (common.callbackData !== undefined) payload.biz_opaque_callback_data = common.callbackData;

    const operation = `WhatsApp send ${type}`;
    const json = await call({
      method: 'POST',
      path: [phoneNumberId, 'messages'],
      json: payload,
      signal: common.signal,
      operation,
    });
    const parsed = sendResponseSchema.safeParse(json);
    if (!parsed.success) {
      // A 2xx means Meta most likely accepted the message; retrying could deliver it twice.
      throw new WabridgeError('permanent', `${operation}: 2xx answer without a message id`, {
        retryable: false,
        details: { mayHaveBeenSent: true },
      });
    }
    const contact = parsed.data.contacts?.[0];
    const message = parsed.data.messages[0];
    const result: SendResult = { wamid: message?.id ?? '' };
    if (contact?.wa_id !== undefined) result.contactWaId = contact.wa_id;
    if (contact?.user_id !== undefined) result.contactUserId = contact.user_id;
    if (message?.message_status !== undefined) result.messageStatus = message.message_status;
    return result;
  }

  async function getMediaInfo(
    mediaId: string,
    opts: { phoneNumberId?: string; signal?: AbortSignal } = {},
  ): Promise<MediaInfo> {
    const id = requireText(mediaId, 'mediaId');
    const json = await call({
      method: 'GET',
      path: [id],
      query: { phone_number_id: opts.phoneNumberId },
      signal: opts.signal,
      operation: 'WhatsApp media info',
    });
    const parsed = mediaInfoResponseSchema.safeParse(json);
    if (!parsed.success) {
      throw new WabridgeError('transient', 'WhatsApp media info: unexpected answer without a url', {
        details: { mediaId: id },
      });
    }
    return {
      id: parsed.data.id ?? id,
      url: parsed.data.url,
      mime_type: parsed.data.mime_type ?? '',
      sha256: parsed.data.sha256,
      file_size: parsed.data.file_size,
    };
  }

  async function downloadMedia(
    media: string | MediaInfo,
    opts: DownloadMediaOptions,
  ): Promise<DownloadedMedia> {
    const { maxBytes } = opts;
    if (!Number.isSafeInteger(maxBytes) || maxBytes <= 0)
      throw badRequest('maxBytes must be a positive integer');
    const info =
      typeof media === 'string'
        ? await getMediaInfo(media, {
            ...(opts.phoneNumberId === undefined ? {} : { phoneNumberId: opts.phoneNumberId }),
            ...(opts.signal === undefined ? {} : { signal: opts.signal }),
          })
        : media;
    if (info.file_size !== undefined && info.file_size > maxBytes) throw tooLarge(info.file_size, maxBytes);

    const operation = 'WhatsApp media download';
    const first = checkMediaUrl(info.url, mediaPolicy);
    if (!first.ok) throw refused(`${operation}: refusing media URL: ${first.reason}`);

    const stop = new AbortController();
    const deadline = AbortSignal.timeout(mediaTimeoutMs);
    const signal = AbortSignal.any([stop.signal, deadline, ...(opts.signal ? [opts.signal] : [])]);
    let hop: Extract<MediaUrlCheck, { ok: true }> = first;
    try {
      for (let redirects = 0; ; redirects++) {
        const url = hop.url;
        const headers = { authorization, 'user-agent': userAgent, accept: '*/*' };
        let response: Response;
        if (hop.trusted) {
          // The API base host: fetched like any API call.
          response = await fetchImpl(url, { method: 'GET', headers, redirect: 'manual', signal });
        } else {
          // Any other host: its addresses are vetted, and the connection goes to the vetted one.
          const resolved = await resolveMediaHost(url, mediaPolicy, resolveHost).catch((error: unknown) => {
            // Shaped like fetch's errors, so a DNS failure is classified (and retried) like one.
            throw new TypeError(`cannot resolve ${url.hostname}`, { cause: error });
          });
          if (!resolved.ok) {
            throw refused(
              `${operation}: refusing ${redirects === 0 ? 'media URL' : 'redirect'}: ${resolved.reason}`,
            );
          }
          response = await pinnedGet(url, resolved, headers, signal);
        }
        if (response.status >= 300 && response.status < 400) {
          await response.body?.cancel().catch(() => undefined);
          const location = response.headers.get('location');
          if (!location) throw refused(`${operation}: redirect without a Location header`);
          if (redirects >= MAX_MEDIA_REDIRECTS) {
            throw refused(`${operation}: more than ${MAX_MEDIA_REDIRECTS} redirects`);
          }
          let next: URL;
          try {
            next = new URL(location, url);
          } catch {
            throw refused(`${operation}: redirect to an invalid URL`);
          }
          const check = checkMediaUrl(next, mediaPolicy);
          if (!check.ok) throw refused(`${operation}: refusing redirect: ${check.reason}`);
          hop = check;
          continue;
        }
        if (!isOk(response.status)) {
          const read = await readUpTo(response, MAX_ERROR_BYTES);
          const text = read === null ? '' : new TextDecoder().decode(read);
          throw classifyCloudApiError(response.status, text, response.headers, operation);
        }
        const bytes = await readUpTo(response, maxBytes);
        if (bytes === null) {
          stop.abort();
          throw tooLarge(undefined, maxBytes);
        }
        const headerType = response.headers.get('content-type')?.split(';')[0]?.trim();
        return { bytes, mimeType: info.mime_type || headerType || 'application/octet-stream' };
      }
    } catch (error) {
      if (error instanceof WabridgeError) throw error;
      throw networkError(error, operation, deadline.aborted, mediaTimeoutMs);
    } finally {
      // Releases the connection of an abandoned body (oversize, error) instead of draining it.
      stop.abort();
    }
  }

  return Object.freeze({
    async getPhoneNumber(phoneNumberId: string, opts: { signal?: AbortSignal } = {}) {
      const json = await call({
        method: 'GET',
        path: [requireText(phoneNumberId, 'phoneNumberId')],
        query: { fields: PHONE_PROFILE_FIELDS },
        signal: opts.signal,
        operation: 'WhatsApp phone number profile',
      });
      const record = isRecord(json) ? json : {};
      const text = (key: string) => (typeof record[key] === 'string' ? (record[key] as string) : null);
      return {
        id: text('id') ?? phoneNumberId,
        displayPhoneNumber: text('display_phone_number'),
        verifiedName: text('verified_name'),
        qualityRating: text('quality_rating'),
        codeVerificationStatus: text('code_verification_status'),
        nameStatus: text('name_status'),
      } satisfies PhoneNumberProfile;
    },

    async listSubscribedApps(wabaId: string, opts: { signal?: AbortSignal } = {}) {
      const json = await call({
        method: 'GET',
        path: [requireText(wabaId, 'wabaId'), 'subscribed_apps'],
        signal: opts.signal,
        operation: 'WhatsApp WABA subscribed apps',
      });
      const data = isRecord(json) && Array.isArray(json.data) ? json.data : [];
      return data.filter(isRecord).map((entry): SubscribedApp => {
        const app = isRecord(entry.whatsapp_business_api_data) ? entry.whatsapp_business_api_data : {};
        return {
          appId: typeof app.id === 'string' ? app.id : String(app.id ?? ''),
          name: typeof app.name === 'string' ? app.name : null,
          overrideCallbackUri:
            typeof entry.override_callback_uri === 'string' ? entry.override_callback_uri : null,
        };
      });
    },

    async sendText(input: SendTextInput) {
      if (typeof input.body !== 'string' || input.body === '')
        throw badRequest('body must be a non-empty string');
      const text: Record<string, unknown> = { body: input.body };
      if (input.previewUrl !== undefined) text.preview_url = input.previewUrl;
      return send(input, 'text', { text });
    },

    async sendTemplate(input: SendTemplateInput) {
      const language =
        typeof input.language === 'string'
          ? { code: requireText(input.language, 'language') }
          : input.language;
      const template: Record<string, unknown> = { name: requireText(input.name, 'name'), language };
      if (input.components !== undefined && input.components.length > 0)
        template.components = input.components;
      return send(input, 'template', { template });
    },

    async sendMedia(input: SendMediaInput) {
      const hasId = typeof input.id === 'string' && input.id !== '';
      const hasLink = typeof input.link === 'string' && input.link !== '';
      if (hasId === hasLink) throw badRequest('sendMedia needs exactly one of id or link');
      if (input.caption !== undefined && (input.kind === 'audio' || input.kind === 'sticker')) {
        throw badRequest(`${input.kind} messages cannot have a caption`);
      }
      if (input.filename !== undefined && input.kind !== 'document') {
        throw badRequest('only document messages have a filename');
      }
      const object: Record<string, unknown> = hasId ? { id: input.id } : { link: input.link };
      if (input.caption !== undefined) object.caption = input.caption;
      if (input.filename !== undefined) object.filename = input.filename;
      return send(input, input.kind, { [input.kind]: object });
    },

    async sendReaction(input: SendReactionInput) {
      if (typeof input.emoji !== 'string')
        throw badRequest('emoji must be a string ("" removes the reaction)');
      return send(input, 'reaction', {
        reaction: { message_id: requireText(input.messageId, 'messageId'), emoji: input.emoji },
      });
    },

    async sendInteractive(input: SendInteractiveInput) {
      if (!isRecord(input.interactive) || typeof input.interactive.type !== 'string') {
        throw badRequest('interactive.type is required');
      }
      return send(input, 'interactive', { interactive: input.interactive });
    },

    async markAsRead(input: MarkAsReadInput) {
      const payload: Record<string, unknown> = {
        messaging_product: 'whatsapp',
        status: 'read',
        message_id: requireText(input.messageId, 'messageId'),
      };
      if (input.typing === true) payload.typing_indicator = { type: 'text' };
      const json = await call({
        method: 'POST',
        path: [requireText(input.phoneNumberId, 'phoneNumberId'), 'messages'],
        json: payload,
        signal: input.signal,
        operation: 'WhatsApp mark as read',
      });
      if (!successResponseSchema.safeParse(json).success) {
        throw new WabridgeError('transient', 'WhatsApp mark as read: answer was not {success: true}');
      }
    },

    async uploadMedia(input: UploadMediaInput) {
      const phoneNumberId = requireText(input.phoneNumberId, 'phoneNumberId');
      const mimeType = requireText(input.mimeType, 'mimeType');
      const filename = requireText(input.filename, 'filename');
      if (!(input.bytes instanceof Uint8Array)) throw badRequest('bytes must be a Uint8Array');
      // Blob wants an ArrayBuffer-backed view; only a SharedArrayBuffer-backed one needs a copy.
      const part =
        input.bytes.buffer instanceof ArrayBuffer
          ? (input.bytes as Uint8Array<ArrayBuffer>)
          : new Uint8Array(input.bytes);
      const form = new FormData();
      form.set('messaging_product', 'whatsapp');
      form.set('type', mimeType);
      form.set('file', new Blob([part], { type: mimeType }), filename);
      const json = await call({
        method: 'POST',
        path: [phoneNumberId, 'media'],
        form,
        signal: input.signal,
        timeoutMs: mediaTimeoutMs,
        operation: 'WhatsApp media upload',
      });
      const parsed = uploadResponseSchema.safeParse(json);
      if (!parsed.success)
        throw new WabridgeError('transient', 'WhatsApp media upload: answer without an id');
      return { id: parsed.data.id };
    },

    getMediaInfo,
    downloadMedia,
  });
}

const isOk = (status: number) => status >= 200 && status < 300;

function tooLarge(size: number | undefined, maxBytes: number): WabridgeError {
  return new WabridgeError(
    'payload_too_large',
    `WhatsApp media download: ${size === undefined ? 'more than' : `${size} bytes, over`} the ${maxBytes}-byte limit`,
    { details: { maxBytes, ...(size === undefined ? {} : { size }) } },
  );
}

function refused(message: string): WabridgeError {
  return new WabridgeError('permanent', message, { details: { reason: 'media_url_rejected' } });
}

function networkError(error: unknown, operation: string, timedOut: boolean, limitMs: number): WabridgeError {
  if (error instanceof WabridgeError) return error;
  if (timedOut) {
    return new WabridgeError('transient', `${operation}: no complete answer within ${limitMs} ms`, {
      cause: error,
      details: { timeoutMs: limitMs },
    });
  }
  const cause = error instanceof Error ? error.cause : undefined;
  const networkCode =
    typeof cause === 'object' && cause !== null && 'code' in cause && typeof cause.code === 'string'
      ? cause.code
      : undefined;
  const message = error instanceof Error ? error.message : String(error);
  return new WabridgeError(
    'transient',
    `${operation}: network error: ${message}${networkCode ? ` (${networkCode})` : ''}`,
    {
      cause: error,
      details: networkCode === undefined ? {} : { networkCode },
    },
  );
}
