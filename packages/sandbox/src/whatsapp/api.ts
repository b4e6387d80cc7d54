/**
 * The Cloud API surface (graph.facebook.com) served by the emulator:
 *
 *   POST   /{version}/{phone-number-id}/messages          send, or mark as read (+ typing indicator)
 *   POST   /{version}/{phone-number-id}/media             multipart upload → { id }
 *   GET    /{version}/{media-id}                          → { url, mime_type, sha256, file_size, id, messaging_product }
 *   DELETE /{version}/{media-id}                          → { success: true }
 *   GET    /{version}/{phone-number-id}                   phone number profile (verified_name, quality_rating…)
 *   GET    /{version}/{waba-id}/message_templates         approved templates, Meta's listing shape
 *   GET|POST|DELETE /{version}/{waba-id}/subscribed_apps  the apps whose webhooks carry the WABA
 *   GET    /whatsapp_business/attachments/?mid&ext&hash   media bytes (bearer token, 5-minute URL)
 *
 * Every request needs `Authorization: Bearer <token>` (or `?access_token=`): 401, code 190
 * otherwise. A token reaches only the WABAs it was granted (each Meta app's system user sees its
 * own business's numbers): another number, WABA or its media answers like an object that does not
 * exist (400, code 100, subcode 33 — "does not exist, cannot be loaded due to missing permissions").
 * Errors are Meta-shaped (`errors.ts`). Every request is recorded as `api.request` (with the app id
 * of its token, if known); sends as
 * `send.accepted` / `send.rejected`.
 */

import type { Context } from 'hono';
import { Hono } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { retryAfterSeconds } from '../shared/rate-limit.ts';
import { RateLimitedError, sameRecipient, type WhatsAppCore } from './core.ts';
import { MetaApiError, newFbtraceId, unknownObject } from './errors.ts';
import { OPERATIONS } from './spec.ts';
import type { SendTemplateObject } from './templates.ts';
import type { RejectionRule, WhatsAppEvent, WhatsAppPhoneNumber } from './types.ts';
import { newWamid } from './wire.ts';

const VERSION = ':version{v[0-9]+\\.[0-9]+}';

type JsonObject = Record<string, unknown>;

export function createCloudApi(core: WhatsAppCore): Hono {
  const app = new Hono();

  app.use('*', async (c, next) => {
    await next();
    const version = /^\/(v\d+\.\d+)\//.exec(c.req.path)?.[1] ?? core.apiVersion;
    c.header('facebook-api-version', version);
    c.header('x-fb-trace-id', newFbtraceId());
    c.header('x-fb-request-id', newFbtraceId());
    // The app whose token made the call (never the token): tests check each number's own token was used.
    const appId = core.grant(bearerOf(c))?.appId;
    core.record({ kind: 'api.request', method: c.req.method, path: c.req.path, status: c.res.status, appId });
  });

  app.onError((error, c) => {
    const meta =
      error instanceof MetaApiError
        ? error
        : new MetaApiError(1, { httpStatus: 500, details: `Emulator error: ${error.message}` });
    if (meta instanceof RateLimitedError && Number.isFinite(meta.retryAfterMs)) {
      // Meta does not document Retry-After on these; the emulator adds it as a convenience.
      c.header('retry-after', String(retryAfterSeconds(meta.retryAfterMs)));
    }
    if (meta.code === 190) {
      c.header('www-authenticate', `OAuth "Facebook Platform" "invalid_token" "${meta.message}"`);
    }
    return c.json(meta.toBody(), meta.httpStatus as ContentfulStatusCode);
  });

  app.notFound(unknownPath);

  const requireAuth = (c: Context): { appId: string; wabaIds: Set<string> } => {
    const grant = core.grant(bearerOf(c));
    if (grant === undefined) throw new MetaApiError(190);
    return grant;
  };
  /** The number, if the token may use it; otherwise Meta's "object does not exist" for that id. */
  const requirePhone = (c: Context, phoneNumberId: string, method: 'get' | 'post') => {
    const grant = requireAuth(c);
    const phone = core.phone(phoneNumberId);
    if (phone === undefined || !grant.wabaIds.has(phone.wabaId)) throw unknownObject(method, phoneNumberId);
    return phone;
  };
  const requireWaba = (c: Context, wabaId: string, method: 'get' | 'post' | 'delete') => {
    const grant = requireAuth(c);
    if (!grant.wabaIds.has(wabaId) || ![...core.phoneNumbers.values()].some((p) => p.wabaId === wabaId)) {
      throw unknownObject(method, wabaId);
    }
    return grant;
  };

  // ---- messages ---------------------------------------------------------------------------------

  app.post(`/${VERSION}/:phoneNumberId/messages`, async (c) => {
    const phoneNumberId = c.req.param('phoneNumberId');
    let rule: RejectionRule = 'auth';
    let to: string | undefined;
    let type: string | undefined;
    try {
      requireAuth(c);
      rule = 'unknown_object';
      requirePhone(c, phoneNumberId, 'post');
      rule = 'throughput';
      core.checkThroughput(phoneNumberId);
      rule = 'invalid_json';
      const body = parseJsonObject(await c.req.text());
      if (body.status !== undefined && body.to === undefined && body.type === undefined) {
        rule = 'validation';
        return c.json(markAsRead(core, phoneNumberId, body, (r) => (rule = r)));
      }
      rule = 'validation';
      // Meta's documented default: a body without `type` is a text message.
      const message: JsonObject = body.type === undefined ? { ...body, type: 'text' } : body;
      to = typeof message.to === 'string' ? message.to : undefined;
      type = typeof message.type === 'string' ? message.type : undefined;
      validate(core, message);
      return c.json(send(core, phoneNumberId, message, (r) => (rule = r)));
    } catch (error) {
      if (error instanceof MetaApiError) {
        core.record({
          kind: 'send.rejected',
          phoneNumberId,
          to,
          type,
          rule,
          httpStatus: error.httpStatus,
          code: error.code,
          details: error.details,
        });
      }
      throw error;
    }
  });

  // ---- media ------------------------------------------------------------------------------------

  app.post(`/${VERSION}/:phoneNumberId/media`, async (c) => {
    const phoneNumberId = c.req.param('phoneNumberId');
    requirePhone(c, phoneNumberId, 'post');
    let form: Record<string, string | File | (string | File)[]>;
    try {
      form = await c.req.parseBody({ all: false });
    } catch {
      throw new MetaApiError(100, {
        details: 'Upload must be multipart/form-data with fields file, type, messaging_product.',
      });
    }
    const file = form.file;
    if (!(file instanceof File))
      throw new MetaApiError(100, { details: 'Param file is required and must be a file.' });
    if (form.messaging_product !== 'whatsapp') {
      throw new MetaApiError(100, { details: "Param messaging_product must be 'whatsapp'." });
    }
    if (core.validateRequests) {
      const fields = { file: '(binary)', messaging_product: form.messaging_product, type: form.type };
      const result = core.spec.validateRequestBody(
        'POST',
        OPERATIONS.uploadMedia,
        'multipart/form-data',
        fields,
      );
      if (!result.ok) throw new MetaApiError(100, { details: result.errors.join('; ') });
    }
    const mimeType = typeof form.type === 'string' && form.type !== '' ? form.type : file.type;
    const record = core.media.add({
      bytes: new Uint8Array(await file.arrayBuffer()),
      mimeType,
      phoneNumberId,
      filename: file.name,
      source: 'business',
      checkLimits: true,
    });
    core.record({
      kind: 'media.uploaded',
      mediaId: record.id,
      phoneNumberId,
      mimeType,
      fileSize: record.fileSize,
      source: 'business',
    });
    return c.json({ id: record.id });
  });

  app.get(`/${VERSION}/:wabaId/message_templates`, (c) => {
    const wabaId = c.req.param('wabaId');
    requireWaba(c, wabaId, 'get');
    const name = c.req.query('name');
    const limit = Math.min(Math.max(Number(c.req.query('limit') ?? 25) || 25, 1), 1000);
    const after = Number(decodeCursor(c.req.query('after')) ?? 0);
    const all = core.templates.list().filter((t) => name === undefined || t.name === name);
    const page = all.slice(after, after + limit);
    core.record({ kind: 'templates.listed', wabaId, count: page.length });
    return c.json({
      data: page.map((t) => core.templates.toGraph(t)),
      paging: {
        cursors: { before: encodeCursor(after), after: encodeCursor(after + page.length) },
        ...(after + page.length < all.length
          ? { next: `${core.baseUrl}${c.req.path}?limit=${limit}&after=${encodeCursor(after + page.length)}` }
          : {}),
      },
    });
  });

  // ---- WABA webhook subscriptions ------------------------------------------------------------
  // https://developers.facebook.com/docs/whatsapp/embedded-signup/webhooks (subscribed_apps)

  const subscribedApps = (wabaId: string, app?: string) =>
    [...(core.subscriptions.get(wabaId) ?? [])]
      .filter(([appId]) => app === undefined || appId === app)
      .map(([appId, override]) => {
        const meta = core.apps.get(appId);
        return {
          whatsapp_business_api_data: {
            id: appId,
            name: meta?.name ?? `App ${appId}`,
            link: `https://www.facebook.com/games/?app_id=${appId}`,
          },
          ...(override.overrideCallbackUri ? { override_callback_uri: override.overrideCallbackUri } : {}),
        };
      });

  app.get(`/${VERSION}/:wabaId{[0-9]+}/subscribed_apps`, (c) => {
    const wabaId = c.req.param('wabaId');
    requireWaba(c, wabaId, 'get');
    return c.json({ data: subscribedApps(wabaId) });
  });

  app.post(`/${VERSION}/:wabaId{[0-9]+}/subscribed_apps`, async (c) => {
    const wabaId = c.req.param('wabaId');
    const grant = requireWaba(c, wabaId, 'post');
    const text = await c.req.text();
    // Graph takes the fields as JSON, a form or the query string.
    let fields: Record<string, unknown> = Object.fromEntries(new URL(c.req.url).searchParams);
    if (text.trim() !== '') {
      const type = c.req.header('content-type') ?? '';
      fields = type.includes('json')
        ? { ...fields, ...parseJsonObject(text) }
        : { ...fields, ...Object.fromEntries(new URLSearchParams(text)) };
    }
    if (core.validateRequests) {
      const result = core.spec.validateSchema('SubscriptionRequest', fields);
      if (!result.ok) throw new MetaApiError(100, { details: result.errors.join('; ') });
    }
    const override =
      typeof fields.override_callback_uri === 'string' ? fields.override_callback_uri : undefined;
    if (override !== undefined) {
      let parsed: URL | undefined;
      try {
        parsed = new URL(override);
      } catch {
        parsed = undefined;
      }
      if (!parsed || !/^https?:$/.test(parsed.protocol)) {
        throw new MetaApiError(100, { details: 'override_callback_uri must be an absolute URL.' });
      }
    }
    core.subscribe(wabaId, grant.appId, {
      ...(override === undefined ? {} : { overrideCallbackUri: override }),
      ...(typeof fields.verify_token === 'string' ? { verifyToken: fields.verify_token } : {}),
    });
    return c.json(
      override === undefined
        ? { success: true }
        : { success: true, data: subscribedApps(wabaId, grant.appId) },
    );
  });

  app.delete(`/${VERSION}/:wabaId{[0-9]+}/subscribed_apps`, (c) => {
    const wabaId = c.req.param('wabaId');
    const grant = requireWaba(c, wabaId, 'delete');
    return c.json({ success: core.unsubscribe(wabaId, grant.appId) });
  });

  app.get(`/${VERSION}/:objectId{[0-9]+}`, (c) => {
    const grant = requireAuth(c);
    const id = c.req.param('objectId');
    const phone = core.phone(id);
    if (phone !== undefined) {
      if (!grant.wabaIds.has(phone.wabaId)) throw unknownObject('get', id);
      return c.json(phoneProfile(phone, c.req.query('fields')));
    }
    const record = core.media.get(id);
    const owner = c.req.query('phone_number_id');
    const mediaPhone = record === undefined ? undefined : core.phone(record.phoneNumberId);
    if (
      record === undefined ||
      (owner !== undefined && owner !== record.phoneNumberId) ||
      (mediaPhone !== undefined && !grant.wabaIds.has(mediaPhone.wabaId))
    )
      throw unknownObject('get', id);
    const { url, expiresAt } = core.media.issueUrl(record, core.baseUrl);
    core.record({ kind: 'media.url_issued', mediaId: id, expiresAt });
    return c.json({
      messaging_product: 'whatsapp',
      url,
      mime_type: record.mimeType,
      sha256: record.sha256Hex,
      file_size: String(record.fileSize),
      id: record.id,
    });
  });

  app.delete(`/${VERSION}/:mediaId{[0-9]+}`, (c) => {
    const grant = requireAuth(c);
    const id = c.req.param('mediaId');
    const record = core.media.get(id);
    const owner = c.req.query('phone_number_id');
    const mediaPhone = record === undefined ? undefined : core.phone(record.phoneNumberId);
    if (
      record === undefined ||
      (owner !== undefined && owner !== record.phoneNumberId) ||
      (mediaPhone !== undefined && !grant.wabaIds.has(mediaPhone.wabaId))
    )
      throw unknownObject('delete', id);
    core.media.delete(id);
    core.record({ kind: 'media.deleted', mediaId: id });
    return c.json({ success: true });
  });

  app.get('/whatsapp_business/attachments/*', (c) => {
    const query = new URL(c.req.url).searchParams;
    const mediaId = query.get('mid') ?? undefined;
    const grant = core.grant(bearerOf(c));
    const owner = mediaId === undefined ? undefined : core.media.get(mediaId);
    const ownerPhone = owner === undefined ? undefined : core.phone(owner.phoneNumberId);
    if (grant === undefined || (ownerPhone !== undefined && !grant.wabaIds.has(ownerPhone.wabaId))) {
      core.record({ kind: 'media.download_refused', mediaId, reason: 'unauthorized' });
      throw new MetaApiError(190);
    }
    const check = core.media.checkDownload(query);
    if (!check.ok) {
      core.record({ kind: 'media.download_refused', mediaId, reason: check.reason });
      throw new MetaApiError(100, {
        httpStatus: 404,
        message: check.reason === 'expired' ? 'URL signature expired' : 'Media not found',
        details:
          check.reason === 'expired'
            ? 'Media URLs are valid for 5 minutes; request a new one with GET /{media-id}.'
            : `No media behind this URL (${check.reason}).`,
      });
    }
    const { record } = check;
    core.record({ kind: 'media.downloaded', mediaId: record.id, fileSize: record.fileSize });
    return c.body(record.bytes.slice(), 200, {
      'content-type': record.mimeType,
      'content-length': String(record.fileSize),
      ...(record.filename === undefined
        ? {}
        : { 'content-disposition': `attachment; filename="${record.filename.replace(/"/g, '')}"` }),
    });
  });

  return app;
}

/** Graph's answer to a path it does not know (also used by the root app, where sub-app 404s end up). */
export function unknownPath(c: Context): Response {
  const error = new MetaApiError(2500, {
    message: `Unknown path components: ${c.req.path}`,
    details: `The WhatsApp emulator does not serve ${c.req.method} ${c.req.path}.`,
  });
  return c.json(error.toBody(), 400);
}

// ---- send --------------------------------------------------------------------------------------

function validate(core: WhatsAppCore, message: JsonObject): void {
  if (core.validateRequests) {
    const result = core.spec.validateRequestBody('POST', OPERATIONS.sendMessage, 'application/json', message);
    if (!result.ok) throw new MetaApiError(100, { details: result.errors.join('; ') });
  }
  // The spec does not pin these values; Meta does.
  if (message.messaging_product !== 'whatsapp') {
    throw new MetaApiError(100, { details: "(root)/messaging_product must be 'whatsapp'" });
  }
  if (message.recipient_type === 'group') {
    throw new MetaApiError(100, { details: 'Group messages are not emulated by the WhatsApp sandbox.' });
  }
  if (typeof message.to !== 'string' || message.to.trim() === '') {
    throw new MetaApiError(100, { details: '(root)/to must be a non-empty string' });
  }
}

function send(
  core: WhatsAppCore,
  phoneNumberId: string,
  message: JsonObject,
  step: (rule: RejectionRule) => void,
): JsonObject {
  const to = message.to as string;
  const type = message.type as string;
  const rules = core.rules;

  step('fail_next');
  const injected = core.takeFailNext(to);
  if (injected !== undefined && injected.asStatus !== true) {
    throw new MetaApiError(injected.code, {
      ...(injected.httpStatus === undefined ? {} : { httpStatus: injected.httpStatus }),
      ...(injected.details === undefined ? {} : { details: injected.details }),
    });
  }
  let failure: { code: number; details?: string } | undefined =
    injected === undefined
      ? undefined
      : { code: injected.code, ...(injected.details ? { details: injected.details } : {}) };

  const { user, created } = core.directory.resolveRecipient(to);
  if (created)
    core.record({
      kind: 'customer.created',
      key: user.key,
      waId: user.waId,
      userId: user.userId,
      name: user.name,
    });

  step('undeliverable');
  if (core.isUndeliverable(to, user)) {
    if (rules.undeliverable.report === 'response') throw new MetaApiError(131026);
    failure ??= { code: 131026 };
  }

  step('template');
  const template =
    type === 'template' ? core.templates.render(message.template as SendTemplateObject) : undefined;

  step('marketing_opt_out');
  if (template?.category === 'MARKETING' && user.marketingStopped && rules.marketingOptOut.enabled) {
    throw new MetaApiError(131050);
  }

  step('window');
  const inWindow = core.windowOpen(phoneNumberId, user);
  if (type !== 'template' && rules.customerServiceWindow.enabled && !inWindow) {
    if (rules.customerServiceWindow.report === 'response') throw new MetaApiError(131047);
    failure ??= { code: 131047 };
  }
  failure ??= core.asyncFailureFor(to, user);

  step('pair_rate');
  core.checkPairRate(phoneNumberId, user);

  const wamid = newWamid();
  core.acceptOutbound({
    wamid,
    phoneNumberId,
    userKey: user.key,
    to,
    type,
    category: template === undefined ? 'service' : template.category.toLowerCase(),
    inWindow,
    template,
    failure,
    body: message,
  });
  core.record({
    kind: 'send.accepted',
    ...summarize(core, message),
    wamid,
    phoneNumberId,
    to,
    waId: user.waId,
    userId: user.userId,
    template,
  });

  const contact: JsonObject = { input: to };
  if (user.waId !== undefined) contact.wa_id = user.waId;
  if (user.userId !== undefined && !(user.waId !== undefined && sameRecipient(to, user.waId)))
    contact.user_id = user.userId;
  return {
    messaging_product: 'whatsapp',
    contacts: [contact],
    messages: [template === undefined ? { id: wamid } : { id: wamid, message_status: 'accepted' }],
  };
}

type SendSummary = Pick<
  Extract<WhatsAppEvent, { kind: 'send.accepted' }>,
  'type' | 'text' | 'media' | 'reaction' | 'replyTo' | 'body'
>;

function summarize(core: WhatsAppCore, message: JsonObject): SendSummary {
  const type = message.type as string;
  const content = (message[type] ?? {}) as JsonObject;
  const str = (v: unknown) => (typeof v === 'string' ? v : undefined);
  const context = message.context as JsonObject | undefined;
  let text: string | undefined;
  let media: SendSummary['media'];
  let reaction: SendSummary['reaction'];
  switch (type) {
    case 'text':
      text = str(content.body);
      break;
    case 'image':
    case 'video':
    case 'audio':
    case 'document':
    case 'sticker': {
      const id = str(content.id);
      media = {
        ...(id === undefined ? {} : { id, known: core.media.get(id) !== undefined }),
        ...(str(content.link) === undefined ? {} : { link: str(content.link) }),
        ...(str(content.caption) === undefined ? {} : { caption: str(content.caption) }),
        ...(str(content.filename) === undefined ? {} : { filename: str(content.filename) }),
      };
      text = str(content.caption);
      break;
    }
    case 'reaction':
      reaction = { messageId: str(content.message_id) ?? '', emoji: str(content.emoji) ?? '' };
      break;
    case 'interactive':
      text = str((content.body as JsonObject | undefined)?.text);
      break;
    case 'location':
      text = str(content.name) ?? str(content.address);
      break;
  }
  return { type, text, media, reaction, replyTo: str(context?.message_id), body: message };
}

function markAsRead(
  core: WhatsAppCore,
  phoneNumberId: string,
  body: JsonObject,
  step: (rule: RejectionRule) => void,
): JsonObject {
  if (core.validateRequests) {
    const result = core.spec.validateSchema('MarkMessageRequestPayload', body);
    if (!result.ok) throw new MetaApiError(100, { details: result.errors.join('; ') });
  }
  if (body.status !== 'read' || body.messaging_product !== 'whatsapp') {
    throw new MetaApiError(100, {
      details: "Mark as read needs status 'read' and messaging_product 'whatsapp'.",
    });
  }
  step('fail_next');
  const injected = core.takeFailNext(undefined);
  if (injected !== undefined) {
    throw new MetaApiError(injected.code, {
      ...(injected.httpStatus === undefined ? {} : { httpStatus: injected.httpStatus }),
      ...(injected.details === undefined ? {} : { details: injected.details }),
    });
  }
  step('unknown_message');
  const messageId = String(body.message_id);
  const record = core.directory.inbound.get(messageId);
  if (record === undefined || record.phoneNumberId !== phoneNumberId) {
    throw new MetaApiError(100, {
      details: `No message ${messageId} received by phone number ${phoneNumberId}.`,
    });
  }
  core.markRead(record);
  const typing = body.typing_indicator as JsonObject | undefined;
  core.record({ kind: 'read.marked', phoneNumberId, messageId, typingIndicator: typing?.type === 'text' });
  return { success: true };
}

// ---- helpers -----------------------------------------------------------------------------------

/** The token of a request: `Authorization: Bearer|OAuth …` or `?access_token=`. */
function bearerOf(c: Context): string | undefined {
  const header = c.req.header('authorization') ?? '';
  const match = /^(?:Bearer|OAuth)\s+(.+)$/i.exec(header.trim());
  return match?.[1] ?? c.req.query('access_token');
}

/**
 * `GET /{phone-number-id}`: the default fields (id, display_phone_number, verified_name,
 * quality_rating) plus any requested with `fields` (PhoneNumberInfo in Meta's spec).
 */
function phoneProfile(phone: WhatsAppPhoneNumber, fieldsParam: string | undefined): JsonObject {
  const all: JsonObject = {
    id: phone.phoneNumberId,
    display_phone_number: formatDisplayNumber(phone.displayPhoneNumber),
    verified_name: phone.verifiedName ?? 'Wabridge Sandbox',
    quality_rating: phone.qualityRating ?? 'GREEN',
    code_verification_status: 'VERIFIED',
    name_status: 'APPROVED',
    platform_type: 'CLOUD_API',
    throughput: { level: 'STANDARD' },
  };
  if (fieldsParam === undefined) {
    const { code_verification_status: _c, name_status: _n, ...defaults } = all;
    return defaults;
  }
  const wanted = new Set([
    'id',
    ...fieldsParam
      .split(',')
      .map((f) => f.trim())
      .filter(Boolean),
  ]);
  return Object.fromEntries(Object.entries(all).filter(([key]) => wanted.has(key)));
}

/** `15550783881` → `+1 555-078-3881` (NANP), else `+<digits>`: how Graph shows a number. */
function formatDisplayNumber(digits: string): string {
  const nanp = /^1(\d{3})(\d{3})(\d{4})$/.exec(digits);
  return nanp ? `+1 ${nanp[1]}-${nanp[2]}-${nanp[3]}` : `+${digits}`;
}

function parseJsonObject(text: string): JsonObject {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new MetaApiError(100, { details: 'The request body is not valid JSON.' });
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new MetaApiError(100, { details: 'The request body must be a JSON object.' });
  }
  return value as JsonObject;
}

const encodeCursor = (offset: number): string => Buffer.from(String(offset)).toString('base64url');
const decodeCursor = (cursor: string | undefined): string | undefined =>
  cursor === undefined ? undefined : Buffer.from(cursor, 'base64url').toString();
