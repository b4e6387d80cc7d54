/**
 * HubSpot emulator over real HTTP, for `@hubspot/api-client` with `basePath` pointing at it.
 *
 *   const hs = await startHubSpotEmulator({ accessToken, clientSecret, webhookUrl, subscriptions });
 *   const client = new Client({ accessToken, basePath: hs.url });
 *   const id = hs.seedContact({ firstname: 'Ada', phone: '+1 (555) 020-0001' });
 *   hs.updateContact(id, { wabridge_whatsapp_consent: 'opted_out' }, { userId: 42 }); // → signed webhook
 *   hs.timeline(id);                          // communications on the contact, in timeline order
 *   hs.failNext('rate_limited');              // next call answers 429 TEN_SECONDLY_ROLLING
 *   await hs.close();
 *
 * What it emulates: contacts / communications / deals / tickets (basic, batch, search with the
 * normalised phone properties), properties and groups, v4 associations, the 10-second and daily
 * limits with HubSpot's 429 bodies, and signed v3 webhooks for property changes, creation,
 * deletion, privacy deletion and merge. Every effect is in `ledger`.
 */
import { Hono } from 'hono';
import type { Clock } from '../shared/clock.ts';
import type { Ledger } from '../shared/ledger.ts';
import { startServer } from '../shared/server.ts';
import { createHubSpotApi } from './api.ts';
import { HubSpotCore, type Outage } from './core.ts';
import type { CrmObject } from './crm.ts';
import type {
  FailNextOptions,
  HubSpotEmulatorOptions,
  HubSpotEvent,
  HubSpotFailure,
  HubSpotLimits,
  ObjectType,
  WebhookSubscription,
} from './types.ts';
import type { HubSpotWebhookEvent } from './webhooks.ts';

export interface HubSpotObject {
  id: string;
  properties: Record<string, string>;
  createdAt: number;
  updatedAt: number;
}

export interface HubSpotEmulator {
  /** Base URL for the SDK's `basePath`, e.g. `http://127.0.0.1:54321`. */
  readonly url: string;
  readonly portalId: number;
  readonly appId: number;
  readonly accessToken: string;
  readonly clientSecret: string;
  readonly ledger: Ledger<HubSpotEvent>;
  readonly clock: Clock;
  /** A contact as it exists before wabridge runs (no webhook, not an API call). */
  seedContact(properties: Record<string, string>): string;
  /** Any other object (deals, tickets…) seeded the same way, optionally associated to a contact. */
  seedObject(
    type: ObjectType,
    properties: Record<string, string>,
    associateTo?: { contactId: string },
  ): string;
  /** A user edits a contact in the CRM UI: property-change webhooks follow (`changeSource: CRM_UI`). */
  updateContact(id: string, properties: Record<string, string>, by?: { userId?: number }): void;
  /** A user deletes a contact (or a GDPR privacy deletion): a deletion webhook follows. */
  deleteContact(id: string, options?: { privacy?: boolean; userId?: number }): void;
  /** A user merges `mergedId` into `primaryId`: a merge webhook follows. */
  mergeContacts(primaryId: string, mergedId: string, by?: { userId?: number }): void;
  /** The live object an id stands for (merged ids resolve to the survivor), or null. */
  object(type: ObjectType, id: string): HubSpotObject | null;
  contact(id: string): HubSpotObject | null;
  contacts(): HubSpotObject[];
  communications(): HubSpotObject[];
  /** A file uploaded through the Files API. */
  file(id: string): { id: string; name: string; folderPath: string; type: string; bytes: Uint8Array } | null;
  /** Communications associated with a contact, in timeline order (`hs_timestamp`, then creation). */
  timeline(contactId: string): HubSpotObject[];
  /** Ids of objects of `toType` associated with an object. */
  associations(fromType: ObjectType, id: string, toType: ObjectType): string[];
  /** Makes the next matching call(s) fail (see `HubSpotFailure`). */
  failNext(failure: HubSpotFailure, options?: FailNextOptions): void;
  /** Every call fails until `until` (emulator clock): 503, or done-then-502 (`lost_response`). */
  setOutage(outage: Outage | null): void;
  configureLimits(limits: Partial<HubSpotLimits>): HubSpotLimits;
  /** Requests counted today against the daily limit. */
  readonly usedToday: number;
  /** Delay before recent writes are visible to search. */
  setSearchIndexLag(ms: number): void;
  setWebhookUrl(url: string): void;
  setSubscriptions(subscriptions: WebhookSubscription[]): void;
  /** Builds and POSTs events (with retries) to the webhook URL; resolves when done. */
  sendWebhook(
    events: HubSpotWebhookEvent[],
    url?: string,
  ): Promise<{ ok: boolean; status: number | undefined }>;
  /** A signed webhook request, as HubSpot would send it (override timestamp or secret to forge one). */
  webhookRequest(
    events: HubSpotWebhookEvent[],
    options?: { url?: string; timestamp?: number; secret?: string },
  ): Request;
  /** A property-change event as HubSpot would generate it (for hand-built webhooks). */
  propertyChangeEvent(
    contactId: string,
    propertyName: string,
    propertyValue: string,
    source?: { changeSource: string; sourceId: string },
  ): HubSpotWebhookEvent;
  /** Records read or written per API call so far (and the counts behind it). */
  apiStats(since?: number): { calls: number; records: number; recordsPerCall: number };
  advanceTime(ms: number): number;
  /** Resolves when no webhook delivery is pending. */
  idle(): Promise<void>;
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

const toObject = (object: CrmObject): HubSpotObject => ({
  id: object.id,
  properties: { ...object.properties },
  createdAt: object.createdAt,
  updatedAt: object.updatedAt,
});

/** Starts the HubSpot emulator on 127.0.0.1 (ephemeral port unless `port` is given). */
export async function startHubSpotEmulator(options: HubSpotEmulatorOptions): Promise<HubSpotEmulator> {
  const core = new HubSpotCore(options);
  const { crm } = core;
  const app = new Hono();
  app.route('/', createHubSpotApi(core));
  const server = await startServer(app, {
    ...(core.port === undefined ? {} : { port: core.port }),
    ...(core.hostname === undefined ? {} : { hostname: core.hostname }),
  });
  core.baseUrl = server.url;
  const ui = (userId = 1) => ({ changeSource: 'CRM_UI', sourceId: `userId:${userId}` });
  const requireContact = (id: string) => {
    const contact = crm.get('contacts', id);
    if (!contact) throw new RangeError(`no contact ${id} in the emulator`);
    return contact;
  };
  let closing: Promise<void> | undefined;
  const close = () => {
    closing ??= core.close().then(() => server.close());
    return closing;
  };
  let eventSeq = 900_000;

  return {
    url: server.url,
    portalId: core.portalId,
    appId: core.appId,
    accessToken: core.accessToken,
    clientSecret: core.clientSecret,
    ledger: core.ledger,
    clock: core.clock,
    seedContact: (properties) => crm.create('contacts', crm.validate('contacts', properties, null), ui()).id,
    seedObject(type, properties, associateTo) {
      const object = crm.create(type, crm.validate(type, properties, null), ui());
      if (associateTo) {
        const typeId = { deals: 4, tickets: 15, companies: 279 }[type as 'deals'];
        if (typeId)
          crm.associate('contacts', requireContact(associateTo.contactId).id, type, object.id, typeId);
      }
      return object.id;
    },
    updateContact(id, properties, by = {}) {
      const contact = requireContact(id);
      crm.update(contact, crm.validate('contacts', properties, contact), ui(by.userId));
    },
    deleteContact(id, deleteOptions = {}) {
      crm.deleteContact(id, deleteOptions.privacy ?? false, ui(deleteOptions.userId));
    },
    mergeContacts(primaryId, mergedId, by = {}) {
      crm.mergeContacts(primaryId, mergedId, ui(by.userId));
    },
    object(type, id) {
      const object = crm.get(type, id);
      return object ? toObject(object) : null;
    },
    contact: (id) => {
      const object = crm.get('contacts', id);
      return object ? toObject(object) : null;
    },
    contacts: () => crm.list('contacts').map(toObject),
    communications: () => crm.list('communications').map(toObject),
    file: (id) => core.files.get(id) ?? null,
    timeline(contactId) {
      return crm
        .associations('contacts', contactId, 'communications')
        .map((a) => crm.get('communications', a.id))
        .filter((o): o is CrmObject => o !== undefined)
        .sort(
          (a, b) =>
            Date.parse(a.properties.hs_timestamp ?? '') - Date.parse(b.properties.hs_timestamp ?? '') ||
            Number(a.id) - Number(b.id),
        )
        .map(toObject);
    },
    associations: (fromType, id, toType) => crm.associations(fromType, id, toType).map((a) => a.id),
    failNext: (failure, failOptions) => core.armFailure(failure, failOptions),
    setOutage: (outage) => {
      core.outage = outage;
    },
    configureLimits: (limits) => core.configureLimits(limits),
    get usedToday() {
      return core.limits.usedToday;
    },
    setSearchIndexLag: (ms) => {
      crm.searchIndexLagMs = ms;
    },
    setWebhookUrl: (url) => {
      core.webhooks.url = url;
    },
    setSubscriptions: (subscriptions) => {
      core.webhooks.subscriptions = subscriptions;
    },
    sendWebhook: (events, url) => core.webhooks.deliver(events, url),
    webhookRequest(events, requestOptions = {}) {
      const url = requestOptions.url ?? core.webhooks.url;
      if (!url) throw new TypeError('no webhook URL: pass one or call setWebhookUrl');
      const body = JSON.stringify(events);
      return new Request(url, {
        method: 'POST',
        headers: core.webhooks.headers(url, body, {
          ...(requestOptions.timestamp === undefined ? {} : { timestamp: requestOptions.timestamp }),
          ...(requestOptions.secret === undefined ? {} : { secret: requestOptions.secret }),
        }),
        body,
      });
    },
    propertyChangeEvent(contactId, propertyName, propertyValue, source = ui()) {
      return {
        eventId: eventSeq++,
        subscriptionId: 3000,
        portalId: core.portalId,
        appId: core.appId,
        occurredAt: core.clock.now(),
        subscriptionType: 'contact.propertyChange',
        attemptNumber: 0,
        objectId: Number(contactId),
        propertyName,
        propertyValue,
        changeSource: source.changeSource,
        sourceId: source.sourceId,
      };
    },
    apiStats(since = 0) {
      const calls = core.ledger.filter('api.call', (e) => e.seq > since);
      const records = calls.reduce((n, e) => n + e.records, 0);
      return {
        calls: calls.length,
        records,
        recordsPerCall: calls.length === 0 ? 0 : records / calls.length,
      };
    },
    advanceTime: (ms) => core.clock.advance(ms),
    idle: () => core.idle(),
    close,
    [Symbol.asyncDispose]: close,
  };
}

export type { Outage } from './core.ts';
export type { CrmChange } from './crm.ts';
export type { ErrorCategory, HubSpotErrorBody, RateLimitPolicy } from './errors.ts';
export { callingCode, type PhoneDefaults, searchablePhone, US_DEFAULTS } from './phone.ts';
export {
  type ChangeSource,
  DEFAULT_LIMITS,
  type FailNextOptions,
  type HubSpotEmulatorOptions,
  type HubSpotEvent,
  type HubSpotEventKind,
  type HubSpotFailure,
  type HubSpotLimits,
  type ObjectType,
  type WebhookSubscription,
} from './types.ts';
export { decodeSignedUri, type HubSpotWebhookEvent, signatureV1, signatureV3 } from './webhooks.ts';
