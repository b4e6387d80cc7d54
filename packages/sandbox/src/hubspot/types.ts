/**
 * Public types of the HubSpot emulator: options, limits, webhook subscriptions, and the events it
 * writes to its ledger.
 */
import type { ChaosOptions } from '../shared/chaos.ts';
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
 * Request budgets (https://developers.hubspot.com/docs/developer-tooling/platform/usage-guidelines). Defaults are a Free/Starter private app: 100 requests per
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

/** Another HubSpot account (portal) a public app can be installed in. */
export interface HubSpotPortalSeed {
  portalId: number;
  name?: string;
  /** `hub_domain` of its tokens (default `<name>.hubspot.com`). */
  domain?: string;
  /** The user who installs apps there (the consent page's account; `user_id`/`user` of tokens). */
  user?: { id: number; email: string };
}

/**
 * A public app with OAuth (https://developers.hubspot.com/docs/api/oauth-quickstart-guide): what
 * `/oauth/authorize` and `/oauth/v1/token` check, and where its webhooks go.
 */
export interface HubSpotOAuthOptions {
  clientId: string;
  clientSecret: string;
  appId?: number;
  /** Registered redirect URLs (default: any, but one is required). */
  redirectUris?: string[];
  /** Required scopes configured on the app: an install URL must ask for exactly these (plus optional ones). */
  scopes?: string[];
  /** Optional scopes configured on the app. */
  optionalScopes?: string[];
  /** Access token lifetime (HubSpot: 30 minutes); shorten it to make tests refresh. */
  accessTokenTtlSeconds?: number;
  /** Issue a new refresh token on every refresh and retire the old one (HubSpot v1 keeps it; default false). */
  refreshTokenRotation?: boolean;
  codeTtlSeconds?: number;
  /** `page` (default): the account picker and consent page; `auto`: approve at once for the first portal. */
  consent?: 'page' | 'auto';
  /** The public app's webhook target (one for every portal it is installed in). */
  webhookUrl?: string;
  subscriptions?: WebhookSubscription[];
}

export interface HubSpotEmulatorOptions {
  /** The private-app token of the default portal (`Authorization: Bearer …`). */
  accessToken: string;
  /** The private app's client secret: its webhooks are signed with it (v3). */
  clientSecret: string;
  /** The default portal. */
  portalId?: number;
  /** More portals (HubSpot accounts) the public app can be installed in. */
  portals?: HubSpotPortalSeed[];
  /** A public app installed with OAuth. */
  oauth?: HubSpotOAuthOptions;
  /** The app id put in webhooks and, as `sourceId`, on changes the app makes through the API. */
  appId?: number;
  limits?: Partial<HubSpotLimits>;
  clock?: Clock;
  ledger?: Ledger<HubSpotEvent>;
  /**
   * Seeded throttling: about `throttleRate` of the bridge's API calls are answered with the
   * platform's 429 (see `ChaosOptions`), on top of the modelled rate limits.
   */
  chaos?: ChaosOptions;
  /** Where webhooks go (the gateway's `/hooks/hubspot/<workspace>/webhooks`). */
  webhookUrl?: string;
  subscriptions?: WebhookSubscription[];
  /** Delays between webhook attempts (HubSpot retries failed deliveries). */
  webhookRetryDelaysMs?: number[];
  /**
   * Objects created or changed less than this long ago are not yet visible to CRM search (HubSpot
   * indexes asynchronously; "a few seconds", https://developers.hubspot.com/docs/api-reference/2026-03/crm/search-the-crm). Default 0.
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
  /** Let this many matching calls through first (e.g. fail the second chunk of a batch). */
  skip?: number;
  /** Only calls whose path contains this string (or matches this pattern) are affected. */
  path?: string | RegExp;
}

/** `portalId`: the portal (HubSpot account) the event happened in. */
type Base<K extends string> = { platform: 'hubspot'; kind: K; portalId?: number };

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
  | (Base<'oauth.authorize'> & {
      outcome: 'page' | 'auto' | 'declined' | 'invalid';
      error: string | undefined;
    })
  | (Base<'oauth.installed'> & { scopes: string[]; userId: number; reinstall: boolean })
  | (Base<'oauth.uninstalled'> & { by: 'app' | 'user' })
  | (Base<'oauth.rejected'> & { grantType: string; status: string })
  | (Base<'oauth.token_issued'> & { grantType: string; rotated: boolean })
  | Base<'oauth.refresh_token_deleted'>
  | (Base<'webhook.attempt'> & {
      url: string;
      attempt: number;
      status: number | undefined;
      ok: boolean;
      eventIds: number[];
      subscriptionTypes: string[];
    });

export type HubSpotEventKind = HubSpotEvent['kind'];
