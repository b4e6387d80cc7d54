/**
 * The HubSpot emulator's state and behaviour, independent of HTTP: the CRM, the portal's limits,
 * injected failures and outages, and the webhook sender. `api.ts` maps HTTP onto it; `index.ts`
 * exposes it to tests.
 */

import { AsyncLocalStorage } from 'node:async_hooks';
import { type Chaos, chaosFrom } from '../shared/chaos.ts';
import { type Clock, createClock } from '../shared/clock.ts';
import { Ledger } from '../shared/ledger.ts';
import { Crm } from './crm.ts';
import { HubSpotApiError, hubspotErrors } from './errors.ts';
import { PortalLimits } from './limits.ts';
import { US_DEFAULTS } from './phone.ts';
import {
  type ChangeSource,
  DEFAULT_LIMITS,
  type FailNextOptions,
  type HubSpotEmulatorOptions,
  type HubSpotEvent,
  type HubSpotFailure,
  type HubSpotLimits,
  type ObjectType,
} from './types.ts';
import { WebhookSender, type WebhookSettings } from './webhooks.ts';

const ALL_TYPES: ObjectType[] = ['contacts', 'communications', 'deals', 'tickets', 'companies'];

export interface Outage {
  until: number;
  /** `unavailable`: 503 before anything happens; `lost_response`: done, then answered 502. */
  mode: 'unavailable' | 'lost_response';
}

export interface StoredFile {
  id: string;
  name: string;
  folderPath: string;
  type: string;
  bytes: Uint8Array;
}

const requestSource = new AsyncLocalStorage<ChangeSource>();

/** What a bearer token means for this portal. */
export type AuthCheck =
  | { ok: true; source: ChangeSource }
  | { ok: false; expiredAgoMs?: number; expiredAt?: number };

type Omit1<T> = T extends unknown ? Omit<T, 'platform' | 'portalId'> : never;
export type HubSpotEventInput = Omit1<HubSpotEvent>;

export class HubSpotCore {
  readonly clock: Clock;
  readonly ledger: Ledger<HubSpotEvent>;
  readonly crm: Crm;
  readonly limits: PortalLimits;
  /** Seeded throttling of API calls (`chaos` option), null without it. */
  chaos: Chaos | null;
  readonly webhooks: WebhookSender;
  readonly portalId: number;
  readonly appId: number;
  readonly clientSecret: string;
  readonly port: number | undefined;
  readonly hostname: string | undefined;
  accessToken: string;
  outage: Outage | null = null;
  /** Set once the server listens (file URLs point here). */
  baseUrl = '';
  readonly files = new Map<string, StoredFile>();
  #fileSeq = 0;
  /** Path prefix of this portal's file URLs (the default portal has none). */
  filePathPrefix = '';
  /** Webhooks of the public (OAuth) app while it is installed in this portal. */
  appWebhooks: WebhookSender | null = null;
  /** Decides what a bearer token is worth here (the accounts layer adds OAuth tokens). */
  checkAuth: (authorization: string | undefined) => AuthCheck;
  readonly #failures: {
    failure: HubSpotFailure;
    remaining: number;
    skip: number;
    path?: string | RegExp;
  }[] = [];
  readonly #retryDelaysMs: number[];

  /**
   * `shared` makes an extra portal of the same emulator (same clock and ledger), with no private app
   * of its own: only OAuth tokens of the public app reach it.
   */
  constructor(
    options: HubSpotEmulatorOptions,
    shared?: {
      clock: Clock;
      ledger: Ledger<HubSpotEvent>;
      portalId: number;
      limits?: Partial<HubSpotLimits>;
    },
  ) {
    if (!shared && !options.accessToken) throw new TypeError('accessToken is required');
    if (!shared && !options.clientSecret) throw new TypeError('clientSecret is required');
    this.clock = shared?.clock ?? options.clock ?? createClock();
    this.ledger = shared?.ledger ?? options.ledger ?? new Ledger<HubSpotEvent>({ now: this.clock.now });
    this.portalId = shared?.portalId ?? options.portalId ?? 62515;
    this.appId = options.appId ?? 1160452;
    this.accessToken = shared ? '' : options.accessToken;
    this.clientSecret = options.clientSecret;
    this.port = options.port;
    this.hostname = options.hostname;
    this.#retryDelaysMs = options.webhookRetryDelaysMs ?? [1000, 5000, 30_000];
    const now = () => this.clock.now();
    const recorder = {
      record: (event: HubSpotEvent) => this.ledger.record({ ...event, portalId: this.portalId }),
    };
    this.webhooks = new WebhookSender({
      clientSecret: options.clientSecret,
      portalId: this.portalId,
      appId: this.appId,
      subscriptions: shared ? [] : (options.subscriptions ?? []),
      now,
      ledger: recorder,
      retryDelaysMs: this.#retryDelaysMs,
      ...(options.webhookUrl && !shared ? { url: options.webhookUrl } : {}),
    });
    this.crm = new Crm({
      now,
      ledger: recorder,
      uniqueTypes: new Set(options.uniquePropertyObjects ?? ALL_TYPES),
      phoneDefaults: options.phoneDefaults ?? US_DEFAULTS,
      searchIndexLagMs: options.searchIndexLagMs ?? 0,
      onChange: (change) => {
        this.webhooks.onChange(change);
        this.appWebhooks?.onChange(change);
      },
    });
    this.chaos = chaosFrom(options.chaos);
    this.limits = new PortalLimits({ ...DEFAULT_LIMITS, ...options.limits, ...shared?.limits }, now);
    this.checkAuth = (authorization) =>
      this.accessToken !== '' && authorization === `Bearer ${this.accessToken}`
        ? { ok: true, source: this.apiSource }
        : { ok: false };
  }

  record(event: HubSpotEventInput): void {
    this.ledger.record({ platform: 'hubspot', ...event, portalId: this.portalId } as HubSpotEvent);
  }

  /** Starts sending the public app's webhooks for this portal (its settings are the app's). */
  attachAppWebhooks(app: { clientSecret: string; appId: number; settings: WebhookSettings }): void {
    this.appWebhooks = new WebhookSender({
      clientSecret: app.clientSecret,
      portalId: this.portalId,
      appId: app.appId,
      subscriptions: [],
      settings: app.settings,
      now: () => this.clock.now(),
      ledger: { record: (event: HubSpotEvent) => this.ledger.record({ ...event, portalId: this.portalId }) },
      retryDelaysMs: this.#retryDelaysMs,
    });
  }

  /** The app is gone from the portal: its webhooks stop (pending ones are dropped). */
  detachAppWebhooks(): Promise<void> {
    const sender = this.appWebhooks;
    this.appWebhooks = null;
    return sender ? sender.close() : Promise.resolve();
  }

  /**
   * The source recorded for changes made through the API: the app whose token made the call (the
   * private app's, or the public app's for an OAuth token), kept per request.
   */
  get apiSource(): ChangeSource {
    return requestSource.getStore() ?? { changeSource: 'INTEGRATION', sourceId: String(this.appId) };
  }

  /** Runs an API handler with the change source of the token that called. */
  asSource<T>(source: ChangeSource, run: () => T): T {
    return requestSource.run(source, run);
  }

  /** The 401 for a token that is not (or no longer) good here. */
  authError(check: Extract<AuthCheck, { ok: false }>): HubSpotApiError {
    if (check.expiredAgoMs === undefined) return hubspotErrors.unauthorized();
    const minutes = Math.max(1, Math.round(check.expiredAgoMs / 60_000));
    // HubSpot's answer to an expired OAuth token (category EXPIRED_AUTHENTICATION).
    return new HubSpotApiError(401, {
      status: 'error',
      message: `The OAuth token used to make this call expired ${minutes} minute(s) ago.`,
      correlationId: crypto.randomUUID(),
      category: 'EXPIRED_AUTHENTICATION',
      context: { 'expire time': [new Date(check.expiredAt ?? this.clock.now()).toUTCString()] },
    });
  }

  configureLimits(limits: Partial<HubSpotLimits>): HubSpotLimits {
    const next = { ...this.limits.limits, ...limits };
    this.limits.configure(next);
    return next;
  }

  armFailure(failure: HubSpotFailure, options: FailNextOptions = {}): void {
    this.#failures.push({
      failure,
      remaining: options.count ?? 1,
      skip: options.skip ?? 0,
      ...(options.path === undefined ? {} : { path: options.path }),
    });
  }

  /** The failure to apply to a request on `path`, consuming one armed failure or the outage. */
  takeFailure(path: string): HubSpotFailure | null {
    if (this.outage) {
      if (this.clock.now() < this.outage.until) return this.outage.mode;
      this.outage = null;
    }
    const index = this.#failures.findIndex(
      (f) => f.path === undefined || (typeof f.path === 'string' ? path.includes(f.path) : f.path.test(path)),
    );
    const armed = this.#failures[index];
    if (!armed) return null;
    if (armed.skip > 0) {
      armed.skip--;
      return null;
    }
    armed.remaining--;
    if (armed.remaining <= 0) this.#failures.splice(index, 1);
    return armed.failure;
  }

  /** The error an injected failure answers with (`lost_response` is handled by the caller). */
  failureError(failure: Exclude<HubSpotFailure, 'lost_response'>): HubSpotApiError {
    switch (failure) {
      case 'rate_limited':
        return hubspotErrors.rateLimited('TEN_SECONDLY_ROLLING', 1000);
      case 'daily_limit':
        return hubspotErrors.rateLimited('DAILY', this.limits.nextReset() - this.clock.now());
      case 'unavailable':
        return hubspotErrors.unavailable();
      case 'rejected':
        return hubspotErrors.validation('Injected validation failure: the request was refused.', [
          { message: 'injected by failNext', code: 'INVALID_INPUT' },
        ]);
    }
  }

  deleteFile(id: string): boolean {
    const deleted = this.files.delete(id);
    if (deleted) this.record({ kind: 'file.deleted', id });
    return deleted;
  }

  storeFile(input: Omit<StoredFile, 'id'>): StoredFile {
    // A counter, not the map's size: ids stay unique when files are deleted.
    this.#fileSeq += 1;
    const file = { id: String(700_000 + this.#fileSeq), ...input };
    this.files.set(file.id, file);
    this.record({
      kind: 'file.uploaded',
      id: file.id,
      name: file.name,
      size: file.bytes.byteLength,
      folderPath: file.folderPath,
    });
    return file;
  }

  async idle(): Promise<void> {
    await this.webhooks.idle();
    await this.appWebhooks?.idle();
  }

  async close(): Promise<void> {
    await this.webhooks.close();
    await this.appWebhooks?.close();
  }
}
