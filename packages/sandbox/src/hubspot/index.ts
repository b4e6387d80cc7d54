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
import { type ChaosOptions, chaosFrom } from '../shared/chaos.ts';
import type { Clock } from '../shared/clock.ts';
import type { Ledger } from '../shared/ledger.ts';
import { startServer } from '../shared/server.ts';
import { createHubSpotApi } from './api.ts';
import { HubSpotCore, type Outage } from './core.ts';
import type { CrmObject } from './crm.ts';
import { createHubSpotOAuthApi, HubSpotAccounts } from './oauth.ts';
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

/** What tests do inside one portal (HubSpot account): seed, act as a user, read the CRM. */
export interface HubSpotPortalHandle {
  readonly portalId: number;
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
  /** Turns seeded throttling of the default portal on (or off with null) from now on; see the `chaos` option. */
  setChaos(options: ChaosOptions | null): void;
  failNext(failure: HubSpotFailure, options?: FailNextOptions): void;
  /** Every call fails until `until` (emulator clock): 503, or done-then-502 (`lost_response`). */
  setOutage(outage: Outage | null): void;
  configureLimits(limits: Partial<HubSpotLimits>): HubSpotLimits;
  /** Requests counted today against the daily limit. */
  readonly usedToday: number;
  /** Delay before recent writes are visible to search. */
  setSearchIndexLag(ms: number): void;
}

/** An installation of the public app in a portal, without the browser dance. */
export interface HubSpotInstallResult {
  accessToken: string;
  refreshToken: string;
  expiresIn: number;
}

export interface HubSpotEmulator extends HubSpotPortalHandle {
  /** Base URL for the SDK's `basePath`, e.g. `http://127.0.0.1:54321`. */
  readonly url: string;
  /** The default portal (the private app's). */
  readonly portalId: number;
  /** The private app of the default portal. */
  readonly appId: number;
  readonly accessToken: string;
  readonly clientSecret: string;
  readonly ledger: Ledger<HubSpotEvent>;
  readonly clock: Clock;
  /** `GET /oauth/authorize` of the public app (in place of `https://app.hubspot.com/oauth/authorize`). */
  readonly authorizeUrl: string;
  /** The public app (the `oauth` option), if any. */
  readonly oauthApp: { clientId: string; clientSecret: string; appId: number } | null;
  /** Every portal, with whether the public app is installed there. */
  portals(): { portalId: number; name: string; domain: string; installed: boolean; scopes: string[] }[];
  /** One portal's seeding, acting and reading (the default portal is this handle itself). */
  portal(portalId: number): HubSpotPortalHandle;
  /** Installs the public app in a portal as if a user had clicked "Connect app", and returns tokens. */
  install(portalId: number, scopes?: string[]): HubSpotInstallResult;
  /** A user removes the public app from a portal in HubSpot: its tokens stop working, its webhooks stop. */
  uninstall(portalId: number): Promise<void>;
  /** The public app's webhook target and subscriptions (shared by every portal it is installed in). */
  setAppWebhooks(settings: { url?: string; subscriptions?: WebhookSubscription[] }): void;
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

/** Seeding, user actions and reads of one portal's CRM. */
function portalHandle(core: HubSpotCore): HubSpotPortalHandle {
  const { crm } = core;
  const ui = (userId = 1) => ({ changeSource: 'CRM_UI', sourceId: `userId:${userId}` });
  const requireContact = (id: string) => {
    const contact = crm.get('contacts', id);
    if (!contact) throw new RangeError(`no contact ${id} in portal ${core.portalId}`);
    return contact;
  };
  return {
    portalId: core.portalId,
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
    setChaos: (options) => {
      core.chaos = chaosFrom(options ?? undefined);
    },
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
  };
}

/** Starts the HubSpot emulator on 127.0.0.1 (ephemeral port unless `port` is given). */
export async function startHubSpotEmulator(options: HubSpotEmulatorOptions): Promise<HubSpotEmulator> {
  const core = new HubSpotCore(options);
  const accounts = new HubSpotAccounts(core, options.oauth);
  accounts.add({ portalId: core.portalId, name: 'wabridge sandbox' }, core, createHubSpotApi(core));
  for (const seed of options.portals ?? []) {
    const portalCore = new HubSpotCore(options, {
      clock: core.clock,
      ledger: core.ledger,
      portalId: seed.portalId,
      // Public (OAuth) apps: 110 requests per 10 s per installing account, no daily cap.
      limits: { tenSecondly: 110, daily: Number.MAX_SAFE_INTEGER, ...options.limits },
    });
    portalCore.filePathPrefix = `/_portal/${seed.portalId}`;
    accounts.add(seed, portalCore, createHubSpotApi(portalCore));
  }
  const app = new Hono();
  app.route('/', createHubSpotOAuthApi(accounts));
  // File downloads of other portals carry their portal in the path.
  app.all('/_portal/:portal/*', (c) => {
    const portal = accounts.portals.get(Number(c.req.param('portal')));
    if (!portal)
      return c.json({ status: 'error', message: 'portal not found', category: 'OBJECT_NOT_FOUND' }, 404);
    const url = new URL(c.req.url);
    url.pathname = url.pathname.replace(`/_portal/${portal.portalId}`, '');
    return portal.app.fetch(new Request(url, c.req.raw));
  });
  // Everything else goes to the portal of the caller's token (the default portal otherwise).
  app.all('*', (c) => accounts.portalFor(c.req.header('authorization')).app.fetch(c.req.raw));
  const server = await startServer(app, {
    ...(core.port === undefined ? {} : { port: core.port }),
    ...(core.hostname === undefined ? {} : { hostname: core.hostname }),
  });
  for (const portal of accounts.portals.values()) portal.core.baseUrl = server.url;
  const ui = (userId = 1) => ({ changeSource: 'CRM_UI', sourceId: `userId:${userId}` });
  let closing: Promise<void> | undefined;
  const close = () => {
    closing ??= Promise.all([...accounts.portals.values()].map((p) => p.core.close())).then(() =>
      server.close(),
    );
    return closing;
  };
  let eventSeq = 900_000;
  const handles = new Map<number, HubSpotPortalHandle>();
  const own = portalHandle(core);

  return {
    ...own,
    get usedToday() {
      return core.limits.usedToday;
    },
    url: server.url,
    portalId: core.portalId,
    appId: core.appId,
    accessToken: core.accessToken,
    clientSecret: core.clientSecret,
    ledger: core.ledger,
    clock: core.clock,
    authorizeUrl: `${server.url}/oauth/authorize`,
    oauthApp: accounts.app
      ? {
          clientId: accounts.app.clientId,
          clientSecret: accounts.app.clientSecret,
          appId: accounts.app.appId,
        }
      : null,
    portals: () =>
      [...accounts.portals.values()].map((p) => {
        const install = accounts.installs.get(p.portalId);
        return {
          portalId: p.portalId,
          name: p.name,
          domain: p.domain,
          installed: install?.active === true,
          scopes: install?.active ? [...install.scopes] : [],
        };
      }),
    portal(portalId) {
      if (portalId === core.portalId) return own;
      let handle = handles.get(portalId);
      if (!handle) {
        handle = portalHandle(accounts.portal(portalId).core);
        handles.set(portalId, handle);
      }
      return handle;
    },
    install(
      portalId,
      scopes = accounts.app?.scopes ?? ['crm.objects.contacts.read', 'crm.objects.contacts.write'],
    ) {
      const portal = accounts.portal(portalId);
      accounts.install(portalId, scopes, portal.user.id);
      const tokens = accounts.issue({ portalId, scopes, userId: portal.user.id });
      return { accessToken: tokens.access, refreshToken: tokens.refresh, expiresIn: tokens.expiresIn };
    },
    uninstall: (portalId) => accounts.uninstall(portalId, 'user'),
    setAppWebhooks(settings) {
      if (settings.url !== undefined) accounts.appWebhooks.url = settings.url;
      if (settings.subscriptions !== undefined) accounts.appWebhooks.subscriptions = settings.subscriptions;
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
    idle: () => Promise.all([...accounts.portals.values()].map((p) => p.core.idle())).then(() => {}),
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
  type HubSpotOAuthOptions,
  type HubSpotPortalSeed,
  type ObjectType,
  type WebhookSubscription,
} from './types.ts';
export { decodeSignedUri, type HubSpotWebhookEvent, signatureV1, signatureV3 } from './webhooks.ts';
