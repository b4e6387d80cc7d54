/**
 * Public types of the HubSpot emulator: options, limits, webhook subscriptions, and the events it
 * writes to its ledger.
 */
import type { Clock } from '../shared/clock.ts';
import type { Ledger } from '../shared/ledger.ts';
import type { RateLimitPolicy } from './errors.ts';
import type { PhoneDefaults } from './phone.ts';

/** CRM object types the emulator serves (URL names; `0-1`-style ids are accepted too). */
export type ObjectType = 'contacts' | 'communications' | 'deals' | 'tickets' | 'companies';

export const OBJECT_TYPE_IDS: Readonly<Record<string, ObjectType>> = {
  '0-1': 'contacts',
  '0-2': 'companies',
  '0-3': 'deals',
  '0-5': 'tickets',
  '0-18': 'communications',
  contact: 'contacts',
  company: 'companies',
  deal: 'deals',
  ticket: 'tickets',
  communication: 'communications',
};

/**
 * Request budgets (platform-facts §2.6). Defaults are a Free/Starter private app: 100 requests per
 * rolling 10 s, 250,000 per day; CRM search 5 per second (not counted in the 10-s window).
 */
export interface HubSpotLimits {
  tenSecondly: number;
  daily: number;
  searchPerSecond: number;
}

export const DEFAULT_LIMITS: HubSpotLimits = { tenSecondly: 100, daily: 250_000, searchPerSecond: 5 };

/** What a portal's app subscribed to (private apps declare these in `webhooks.json`). */
export type WebhookSubscription =
  | { eventType: 'contact.propertyChange'; propertyName: string }
  | { eventType: 'contact.creation' | 'contact.deletion' | 'contact.privacyDeletion' | 'contact.merge' };

/** Who changed something: an app through the API, or a user in the CRM UI. */
export interface ChangeSource {
  changeSource: 'INTEGRATION' | 'CRM_UI' | 'API' | (string & {});
  sourceId: string;
}

export interface HubSpotEmulatorOptions {
  /** The private-app token the API accepts (`Authorization: Bearer …`). */
  accessToken: string;
  /** The app's client secret: webhooks are signed with it (v3). */
  clientSecret: string;
  portalId?: number;
  /** The app id put in webhooks and, as `sourceId`, on changes the app makes through the API. */
  appId?: number;
  limits?: Partial<HubSpotLimits>;
  clock?: Clock;
  ledger?: Ledger<HubSpotEvent>;
  /** Where webhooks go (the gateway's `/hooks/hubspot/<workspace>/webhooks`). */
  webhookUrl?: string;
  subscriptions?: WebhookSubscription[];
  /** Delays between webhook attempts (HubSpot retries failed deliveries). */
  webhookRetryDelaysMs?: number[];
  /**
   * Objects created or changed less than this long ago are not yet visible to CRM search (HubSpot
   * indexes asynchronously; "a few seconds", platform-facts §2.2). Default 0.
   */
  searchIndexLagMs?: number;
  /** Object types on which `hasUniqueValue` properties may be created (default: all). */
  uniquePropertyObjects?: ObjectType[];
  /** How numbers without a country code are read (default: a US portal). */
  phoneDefaults?: PhoneDefaults;
  port?: number;
  hostname?: string;
}

/** Failures `failNext` can inject into the next API call(s). */
export type HubSpotFailure =
  /** 429 TEN_SECONDLY_ROLLING. */
  | 'rate_limited'
  /** 429 DAILY. */
  | 'daily_limit'
  /** 503 before anything is done. */
  | 'unavailable'
  /** 400 VALIDATION_ERROR before anything is done. */
  | 'rejected'
  /** The call is carried out, then answered with 502: the client cannot know it happened. */
  | 'lost_response';

export interface FailNextOptions {
  count?: number;
  /** Only calls whose path contains this string (or matches this pattern) are affected. */
  path?: string | RegExp;
}

type Base<K extends string> = { platform: 'hubspot'; kind: K };

/** Everything the HubSpot emulator records in its ledger. */
export type HubSpotEvent =
  | (Base<'api.call'> & {
      method: string;
      path: string;
      status: number;
      /** Objects read or written by the call (batch inputs, search results, 1 for a single object). */
      records: number;
    })
  | (Base<'api.rate_limited'> & { policy: RateLimitPolicy; path: string })
  | (Base<'object.created'> & {
      objectType: ObjectType;
      id: string;
      properties: Record<string, string>;
      source: ChangeSource;
    })
  | (Base<'object.updated'> & {
      objectType: ObjectType;
      id: string;
      changed: Record<string, string>;
      source: ChangeSource;
    })
  | (Base<'object.archived'> & { objectType: ObjectType; id: string; source: ChangeSource })
  | (Base<'contact.merged'> & { primaryId: string; mergedId: string })
  | (Base<'contact.deleted'> & { id: string; privacy: boolean })
  | (Base<'association.created'> & {
      fromType: ObjectType;
      fromId: string;
      toType: ObjectType;
      toId: string;
      typeId: number;
    })
  | (Base<'property.created'> & { objectType: ObjectType; name: string; unique: boolean })
  | (Base<'group.created'> & { objectType: ObjectType; name: string })
  | (Base<'file.uploaded'> & { id: string; name: string; size: number; folderPath: string })
  | (Base<'file.deleted'> & { id: string })
  | (Base<'webhook.attempt'> & {
      url: string;
      attempt: number;
      status: number | undefined;
      ok: boolean;
      eventIds: number[];
      subscriptionTypes: string[];
    });

export type HubSpotEventKind = HubSpotEvent['kind'];
