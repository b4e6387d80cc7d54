import type {
  ChangeOrigin,
  ConsentState,
  ContactIdentity,
  IngestChange,
  IngestMessage,
  IngestResult,
  IngestStatus,
  IngestTranslator,
  IngestUnit,
  Logger,
  MessageError,
  Metrics,
  RoutingCache,
  Sender,
  Store,
  WebhookBodyOutcome,
  Workspace,
} from '@wabridge/core';
// Values from core's narrow entry and the error table's own module: this file runs in the store
// thread (ingest-plugin.ts), which loads only what ingest needs.
import { contentId, keywordMatcher, newId } from '@wabridge/core/ingest';
import { META_ERROR_MEANINGS } from './cloud-api-errors.ts';
import {
  changedMessageId,
  type EchoesValue,
  type EntryChange,
  echoRecipient,
  type InboundMessage,
  isKnownMessage,
  type MessagesValue,
  messageText,
  parseWebhookPayload,
  type StatusUpdate,
  type UserPreferencesValue,
  type WaContact,
  type WebhookError,
} from './schema.ts';

const utf8 = new TextDecoder('utf-8', { fatal: true });

export interface WhatsAppIngestorOptions {
  store: Store;
  routing: RoutingCache;
  logger: Logger;
  metrics: Metrics;
  now?: () => number;
}

/**
 * Turns a verified, parsed webhook into one store transaction: who wrote, in which conversation,
 * what, which consent changed, and which numbers nobody owns. Pure translation plus one
 * `store.ingest` call; the store makes it idempotent.
 */
export class WhatsAppIngestor implements IngestTranslator {
  private readonly options: WhatsAppIngestorOptions;
  private readonly matchers = new WeakMap<Workspace['policies'], ReturnType<typeof keywordMatcher>>();

  constructor(options: WhatsAppIngestorOptions) {
    this.options = options;
  }

  /**
   * A body that is not UTF-8 JSON is refused; one that is JSON but not a webhook we can read is
   * still Meta's signed data, so it is kept whole as a platform event rather than lost.
   */
  async ingestBody(body: Uint8Array, receivedAt?: number): Promise<WebhookBodyOutcome> {
    let json: unknown;
    try {
      json = parseJson(utf8.decode(body));
    } catch {
      return { ok: false, reason: 'invalid_json' };
    }
    const parsed = parseWebhookPayload(json);
    // An envelope without a single change (`entry: []`) is kept too: every acknowledged body
    // leaves a trace, and its other keys may be something new.
    const changes: EntryChange[] =
      parsed.ok && parsed.changes.length > 0
        ? parsed.changes
        : [
            {
              kind: 'other',
              field: '(envelope)',
              value: json,
              parseIssues: parsed.ok ? ['envelope without changes'] : parsed.issues,
              entryId: undefined,
            },
          ];
    return { ok: true, result: await this.ingest(changes, receivedAt) };
  }

  async ingest(
    changes: readonly EntryChange[],
    receivedAt = (this.options.now ?? Date.now)(),
  ): Promise<IngestResult> {
    const unit: IngestUnit = { receivedAt, changes: [] };
    for (const change of changes) {
      unit.changes.push(...(await this.translate(change, receivedAt)));
    }
    const result = await this.options.store.ingest(unit);
    const { metrics } = this.options;
    metrics.increment('messages_ingested_total', undefined, result.messagesStored);
    metrics.increment('jobs_queued_total', undefined, result.jobsQueued);
    if (result.consentChanges > 0)
      metrics.increment('consent_changes_total', undefined, result.consentChanges);
    if (result.unrouted > 0) metrics.increment('webhooks_unrouted_total', undefined, result.unrouted);
    if (result.platformEvents > 0)
      metrics.increment('platform_events_total', undefined, result.platformEvents);
    return result;
  }

  private async translate(change: EntryChange, receivedAt: number): Promise<IngestChange[]> {
    // Where the change came from: stored with its platform events, and part of their ids.
    const origin: Origin = {
      wabaId: change.entryId ?? null,
      entryTime:
        typeof change.entryTime === 'number' && Number.isFinite(change.entryTime) ? change.entryTime : null,
      raw: [change.entryId ?? null, change.entryTime ?? null],
    };
    if (change.kind === 'other') {
      return [otherChange(null, change.field, change.value, change.parseIssues ?? [], origin)];
    }
    const phoneNumberId = change.value.metadata?.phone_number_id ?? null;
    const route = phoneNumberId ? await this.options.routing.route(phoneNumberId) : null;
    if (!route) {
      // Acknowledged and kept: answering an error would make Meta retry for days, and the data
      // must survive until a workspace claims the number (`wabridge replay --unrouted`).
      this.options.logger.warn(
        { phoneNumberId, field: change.field },
        'webhook for a phone number no workspace owns',
      );
      return [
        {
          kind: 'unrouted',
          id: contentId('unr', change.field, change.value),
          phoneNumberId,
          field: change.field,
          payload: change.value,
        },
      ];
    }
    const displayPhoneNumber =
      change.value.metadata?.display_phone_number ?? route.phoneNumber.displayPhoneNumber;
    if (change.kind === 'echoes') {
      const translated = this.translateEchoes(
        change.value,
        route.workspace,
        phoneNumberId as string,
        displayPhoneNumber ?? null,
        receivedAt,
        origin,
      );
      for (const rejected of change.rejected ?? []) {
        translated.push(
          otherChange(
            route.workspace.id,
            `smb_message_echoes.${rejected.key}`,
            rejected.item,
            rejected.issues,
            origin,
          ),
        );
      }
      const unknownKeys = Object.keys(change.value).filter((key) => !ECHOES_VALUE_KEYS.has(key));
      if (unknownKeys.length > 0 || change.value.message_echoes.length === 0) {
        translated.push(
          otherChange(
            route.workspace.id,
            change.field,
            change.value,
            [unknownKeys.length > 0 ? `keys not read: ${unknownKeys.join(', ')}` : 'no message echoes'],
            origin,
          ),
        );
      }
      return translated;
    }
    if (change.kind === 'user_preferences') {
      return this.translatePreferences(
        change.value,
        route.workspace,
        phoneNumberId as string,
        displayPhoneNumber ?? null,
        origin,
      );
    }
    const translated = this.translateMessages(
      change.value,
      route.workspace,
      phoneNumberId as string,
      displayPhoneNumber ?? null,
      receivedAt,
      origin,
    );
    // The value is read through the keys we know; one that brings nothing we read, or a key we do
    // not know (a new array beside `messages`, a new field of a contact or of the metadata), is
    // also kept whole, or that content would be lost. Messages and statuses are stored as they
    // came, so their own new fields need nothing more.
    const unknownKeys = unreadKeys(change.value);
    const empty =
      !change.value.messages?.length && !change.value.statuses?.length && !change.value.errors?.length;
    // Elements that did not parse are kept as they came, in the workspace the rest went to.
    for (const rejected of change.rejected ?? []) {
      translated.push(
        otherChange(route.workspace.id, `messages.${rejected.key}`, rejected.item, rejected.issues, origin),
      );
    }
    if (unknownKeys.length > 0 || (empty && !change.rejected?.length)) {
      translated.push(
        otherChange(
          route.workspace.id,
          change.field,
          change.value,
          [
            unknownKeys.length > 0
              ? `keys not read: ${unknownKeys.join(', ')}`
              : 'no messages, statuses or errors',
          ],
          origin,
        ),
      );
    }
    return translated;
  }

  private translateMessages(
    value: MessagesValue,
    workspace: Workspace,
    phoneNumberId: string,
    displayPhoneNumber: string | null,
    receivedAt: number,
    origin: Origin,
  ): IngestChange[] {
    const matcher = this.matcher(workspace);
    const anonymous: IngestChange[] = [];
    const messages: IngestMessage[] = [];
    for (const message of value.messages ?? []) {
      const contact = identityOf(message, value.contacts ?? []);
      if (!contact.waId && !contact.bsuid && !contact.parentBsuid) {
        // No conversation can be keyed without a user id, and refusing would lose the whole batch
        // to Meta's retries: the message is kept as it came, beside its batch.
        this.options.logger.warn(
          { workspace: workspace.id, phoneNumberId, wamid: message.id },
          'message without wa_id or BSUID; kept as a platform event',
        );
        anonymous.push(
          otherChange(workspace.id, 'messages', message, ['message without wa_id or BSUID'], origin),
        );
        continue;
      }
      const text = messageText(message) ?? null;
      const consentState = keywordBearing(message) ? matcher(text) : null;
      messages.push({
        id: newId('msg'),
        wamid: message.id,
        contact,
        type: message.type,
        timestamp: toMillis(message.timestamp),
        text,
        content: message as unknown as Record<string, unknown>,
        relatesTo: relatesTo(message),
        consent: consentState ? { category: 'all', state: consentState, entryId: newId('cns') } : null,
        identityChange: identityChange(message),
      });
    }
    const statuses: IngestStatus[] = (value.statuses ?? []).map((status) => ({
      id: newId('st'),
      wamid: status.id,
      status: status.status,
      timestamp: toMillis(status.timestamp),
      recipient: recipientOf(status),
      error: status.errors?.[0] ? toMessageError(status.errors[0]) : null,
      raw: status as unknown as Record<string, unknown>,
    }));
    for (const error of value.errors ?? []) {
      this.options.metrics.increment('platform_errors_total', { code: String(error.code ?? 'unknown') });
      this.options.logger.warn(
        { workspace: workspace.id, phoneNumberId, code: error.code, title: error.title },
        'WhatsApp reported an error for this number',
      );
    }
    return [
      {
        kind: 'messages',
        workspaceId: workspace.id,
        phoneNumberId,
        displayPhoneNumber,
        deliverAt: receivedAt + workspace.policies.reorderWindowMs,
        messages,
        statuses,
        errors: (value.errors ?? []) as Record<string, unknown>[],
        origin: { wabaId: origin.wabaId, entryTime: origin.entryTime },
      },
      ...anonymous,
    ];
  }

  /**
   * Messages the business sent from the WhatsApp Business app (coexistence numbers): outbound
   * messages of the customer's conversation, already sent, mirrored like an agent's reply and
   * never sent again. An echo without a recipient is kept as a platform event.
   */
  private translateEchoes(
    value: EchoesValue,
    workspace: Workspace,
    phoneNumberId: string,
    displayPhoneNumber: string | null,
    receivedAt: number,
    origin: Origin,
  ): IngestChange[] {
    const anonymous: IngestChange[] = [];
    const messages: IngestMessage[] = [];
    for (const echo of value.message_echoes) {
      const to = echoRecipient(echo);
      const contact = withProfile(to, value.contacts ?? []);
      if (!contact.waId && !contact.bsuid && !contact.parentBsuid) {
        this.options.logger.warn(
          { workspace: workspace.id, phoneNumberId, wamid: echo.id },
          'message echo without a recipient; kept as a platform event',
        );
        anonymous.push(
          otherChange(workspace.id, 'smb_message_echoes', echo, ['message echo without a recipient'], origin),
        );
        continue;
      }
      messages.push({
        id: newId('msg'),
        wamid: echo.id,
        contact,
        type: echo.type,
        timestamp: toMillis(echo.timestamp),
        text: messageText(echo) ?? null,
        content: echo as unknown as Record<string, unknown>,
        relatesTo: relatesTo(echo),
        consent: null,
        identityChange: null,
        direction: 'outbound',
        sender: BUSINESS_APP_SENDER,
      });
    }
    return [
      {
        kind: 'messages',
        workspaceId: workspace.id,
        phoneNumberId,
        displayPhoneNumber,
        // Nothing to sort in: what the business sent is mirrored as soon as it is stored.
        deliverAt: receivedAt,
        messages,
        statuses: [],
        errors: [],
        origin: { wabaId: origin.wabaId, entryTime: origin.entryTime },
      },
      ...anonymous,
    ];
  }

  private translatePreferences(
    value: UserPreferencesValue,
    workspace: Workspace,
    phoneNumberId: string,
    displayPhoneNumber: string | null,
    origin: Origin,
  ): IngestChange[] {
    const preferences = [];
    const notUnderstood: IngestChange[] = [];
    for (const preference of value.user_preferences) {
      const state = preferenceState(preference.value);
      const identity = withProfile(
        { waId: preference.wa_id, bsuid: preference.user_id, parentBsuid: preference.parent_user_id },
        value.contacts ?? [],
      );
      if (state === null || (!identity.waId && !identity.bsuid)) {
        this.options.logger.warn(
          { workspace: workspace.id, category: preference.category, value: preference.value },
          'user preference not understood; kept as a platform event',
        );
        notUnderstood.push(
          otherChange(
            workspace.id,
            'user_preferences',
            preference,
            ['preference value or user not recognised'],
            origin,
          ),
        );
        continue;
      }
      const occurredAt = toMillis(preference.timestamp);
      preferences.push({
        // Derived from the content, so Meta's retries of the same webhook add no ledger entry.
        entryId: contentId(
          'cns',
          workspace.id,
          identity.waId,
          identity.bsuid,
          preference.category,
          preference.value,
          occurredAt,
        ),
        contact: identity,
        category: preference.category.startsWith('marketing') ? ('marketing' as const) : ('all' as const),
        state,
        occurredAt,
        details: {
          category: preference.category,
          value: preference.value,
          detail: preference.detail ?? null,
        },
      });
    }
    return [
      { kind: 'user_preferences', workspaceId: workspace.id, phoneNumberId, displayPhoneNumber, preferences },
      ...notUnderstood,
    ];
  }

  private matcher(workspace: Workspace): ReturnType<typeof keywordMatcher> {
    let matcher = this.matchers.get(workspace.policies);
    if (!matcher) {
      matcher = keywordMatcher(workspace.policies.optOutKeywords);
      this.matchers.set(workspace.policies, matcher);
    }
    return matcher;
  }
}

// Meta sends some ids as JSON numbers (`message_template_id`, flow and WABA ids); one above 2^53
// would be stored rounded, a different id. Such integers keep their exact digits as a string
// (every id field accepts one). The reviver only runs when the body has a JSON number of 16 or
// more digits: ids sent as strings (most of them, and 15-16 digits long) do not count.
const LONG_NUMBER = /[:,[]\s*-?\d{16}/;
type SourceReviver = (key: string, value: unknown, context?: { source?: string }) => unknown;
const keepUnsafeIntegers: SourceReviver = (_key, value, context) =>
  typeof value === 'number' && Number.isInteger(value) && !Number.isSafeInteger(value) && context?.source
    ? context.source
    : value;

function parseJson(text: string): unknown {
  if (!LONG_NUMBER.test(text)) return JSON.parse(text);
  return JSON.parse(text, keepUnsafeIntegers as (key: string, value: unknown) => unknown);
}

/** Meta's timestamps are unix seconds (as strings); ours are milliseconds. */
export function toMillis(timestamp: string | number): number {
  const seconds = typeof timestamp === 'number' ? timestamp : Number(timestamp);
  return Number.isFinite(seconds) ? Math.round(seconds * 1000) : 0;
}

/** A change's origin (see ChangeOrigin), and its entry's id and time as they came, for ids. */
interface Origin extends ChangeOrigin {
  raw: unknown[];
}

function otherChange(
  workspaceId: string | null,
  field: string,
  payload: unknown,
  parseIssues: string[],
  origin: Origin,
): IngestChange {
  // Content-derived id: a retried webhook stores the same event once, and two equal values Meta
  // sent as two events (at two entry times, or for two WABAs) stay two.
  return {
    kind: 'other',
    id: contentId('pev', field, payload, ...origin.raw),
    workspaceId,
    field,
    payload,
    parseIssues,
    origin: { wabaId: origin.wabaId, entryTime: origin.entryTime },
  };
}

/** Keys of a `messages` value, its metadata and its contacts that are not stored as read. */
function unreadKeys(value: MessagesValue): string[] {
  const unread = new Set(Object.keys(value).filter((key) => !MESSAGES_VALUE_KEYS.has(key)));
  const add = (path: string, object: unknown, known: ReadonlySet<string>) => {
    if (typeof object !== 'object' || object === null) return;
    for (const key of Object.keys(object)) if (!known.has(key)) unread.add(`${path}.${key}`);
  };
  add('metadata', value.metadata, METADATA_KEYS);
  for (const contact of value.contacts ?? []) {
    add('contacts[]', contact, CONTACT_KEYS);
    add('contacts[].profile', contact.profile, PROFILE_KEYS);
  }
  return [...unread];
}

const METADATA_KEYS: ReadonlySet<string> = new Set(['display_phone_number', 'phone_number_id']);
// What a contact is stored as (contacts: wa_id, bsuid, parent_bsuid, username, profile_name).
const CONTACT_KEYS: ReadonlySet<string> = new Set(['profile', 'wa_id', 'user_id', 'parent_user_id']);
const PROFILE_KEYS: ReadonlySet<string> = new Set(['name', 'username']);

/** Who sent an echo: the business itself, in the WhatsApp Business app or a linked device. */
export const BUSINESS_APP_SENDER = {
  via: 'whatsapp_business_app',
  agentId: null,
  agentName: null,
} as const satisfies Sender;

const ECHOES_VALUE_KEYS: ReadonlySet<string> = new Set([
  'messaging_product',
  'metadata',
  'contacts',
  'message_echoes',
]);

/** The keys of a `messages` value that translation reads (see MessagesValue). */
const MESSAGES_VALUE_KEYS: ReadonlySet<string> = new Set([
  'messaging_product',
  'metadata',
  'contacts',
  'messages',
  'statuses',
  'errors',
]);

// Only what the customer typed or tapped can be a keyword; a caption or a location name cannot.
function keywordBearing(message: InboundMessage): boolean {
  return message.type === 'text' || message.type === 'button' || message.type === 'interactive';
}

function identityOf(message: InboundMessage, contacts: readonly WaContact[]): ContactIdentity {
  const system = systemOf(message);
  if (system) {
    // System messages come without contacts[]. One that announces a new identity belongs to the
    // contact as it was: the old number (`from`) and the previous BSUIDs, which a BSUID change
    // without a phone number only names in the notice itself.
    return {
      waId: message.from ?? system.customer ?? null,
      bsuid: system.previous_user_id ?? message.from_user_id ?? null,
      parentBsuid: system.previous_parent_user_id ?? message.from_parent_user_id ?? null,
      username: null,
      profileName: null,
    };
  }
  // A message's single contacts[] entry is its sender's even when it carries no id of its own.
  return withProfile(
    { waId: message.from, bsuid: message.from_user_id, parentBsuid: message.from_parent_user_id },
    contacts,
    { onlyEntry: true },
  );
}

/**
 * The identity the ids name, completed from the webhook's contacts[] entry that carries one of
 * them (profile name, username, and the ids the entry adds). Both sides must carry an id to match:
 * otherwise a BSUID-only sender would match the first entry without a wa_id (undefined ===
 * undefined) and take another user's profile.
 */
function withProfile(
  ids: { waId?: string | null; bsuid?: string | null; parentBsuid?: string | null },
  contacts: readonly WaContact[],
  options: { onlyEntry?: boolean } = {},
): ContactIdentity {
  const contact =
    contacts.find((c) => (ids.waId && c.wa_id === ids.waId) || (ids.bsuid && c.user_id === ids.bsuid)) ??
    (options.onlyEntry && contacts.length === 1 ? contacts[0] : undefined);
  return {
    waId: ids.waId ?? contact?.wa_id ?? null,
    bsuid: ids.bsuid ?? contact?.user_id ?? null,
    parentBsuid: ids.parentBsuid ?? contact?.parent_user_id ?? null,
    username: contact?.profile?.username ?? null,
    profileName: contact?.profile?.name ?? null,
  };
}

function recipientOf(status: StatusUpdate): ContactIdentity {
  return {
    waId: status.recipient_id ?? null,
    bsuid: status.recipient_user_id ?? null,
    parentBsuid: status.parent_recipient_user_id ?? null,
    username: null,
    profileName: null,
  };
}

// The type is compared before the schema check (a zod parse): a plain text message, the common
// case on the hot path, needs none.
function relatesTo(message: InboundMessage): string | null {
  if (message.type === 'reaction') {
    if (isKnownMessage(message) && message.type === 'reaction') return message.reaction.message_id ?? null;
  }
  return changedMessageId(message) ?? message.context?.id ?? null;
}

/** The `system` object of a system message (the type is compared before the schema check). */
function systemOf(message: InboundMessage) {
  if (message.type !== 'system' || !isKnownMessage(message) || message.type !== 'system') return null;
  return message.system;
}

function identityChange(message: InboundMessage): IngestMessage['identityChange'] {
  const system = systemOf(message);
  if (!system) return null;
  if (system.type === 'user_changed_number' || system.type === 'customer_changed_number') {
    // The older `customer_changed_number` names the new number `new_wa_id` (and may name the old
    // one `wa_id`); the current shape has only `wa_id`, the new number.
    const waId = system.new_wa_id ?? system.wa_id;
    return waId ? { waId, bsuid: system.user_id ?? null, parentBsuid: system.parent_user_id ?? null } : null;
  }
  if (system.type === 'user_changed_user_id') {
    return system.user_id
      ? { waId: null, bsuid: system.user_id, parentBsuid: system.parent_user_id ?? null }
      : null;
  }
  return null;
}

function preferenceState(value: string): ConsentState | null {
  const folded = value.toLowerCase();
  if (['stop', 'stopped', 'opt_out', 'opted_out', 'unsubscribe'].includes(folded)) return 'opted_out';
  if (['resume', 'resumed', 'start', 'opt_in', 'opted_in', 'subscribe'].includes(folded)) return 'opted_in';
  return null;
}

/** Describes a WhatsApp error in words an agent can act on. */
export function toMessageError(error: WebhookError): MessageError {
  const code = typeof error.code === 'number' ? error.code : Number(error.code);
  const known = META_ERROR_MEANINGS[code];
  return {
    code: Number.isFinite(code) ? code : String(error.code),
    title: error.title ?? error.message ?? 'WhatsApp error',
    meaning:
      known?.meaning ??
      error.error_data?.details ??
      error.message ??
      'WhatsApp could not deliver the message.',
    action: known?.action ?? 'Check the error code in Meta’s documentation.',
  };
}

/** This module's URL for the store thread (`openThreadedSqliteStore({ ingestTranslator })`). */
export const WHATSAPP_INGEST_TRANSLATOR = new URL('./ingest-plugin.ts', import.meta.url).href;
