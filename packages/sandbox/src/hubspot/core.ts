/**
 * The HubSpot emulator's state and behaviour, independent of HTTP: the CRM, the portal's limits,
 * injected failures and outages, and the webhook sender. `api.ts` maps HTTP onto it; `index.ts`
 * exposes it to tests.
 */
import { type Clock, createClock } from '../shared/clock.ts';
import { Ledger } from '../shared/ledger.ts';
import { Crm } from './crm.ts';
import { type HubSpotApiError, hubspotErrors } from './errors.ts';
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
import { WebhookSender } from './webhooks.ts';

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

export class HubSpotCore {
  readonly clock: Clock;
  readonly ledger: Ledger<HubSpotEvent>;
  readonly crm: Crm;
  readonly limits: PortalLimits;
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
  readonly #failures: { failure: HubSpotFailure; remaining: number; path?: string | RegExp }[] = [];

  constructor(options: HubSpotEmulatorOptions) {
    if (!options.accessToken) throw new TypeError('accessToken is required');
    if (!options.clientSecret) throw new TypeError('clientSecret is required');
    this.clock = options.clock ?? createClock();
    this.ledger = options.ledger ?? new Ledger<HubSpotEvent>({ now: this.clock.now });
    this.portalId = options.portalId ?? 62515;
    this.appId = options.appId ?? 1160452;
    this.accessToken = options.accessToken;
    this.clientSecret = options.clientSecret;
    this.port = options.port;
    this.hostname = options.hostname;
    const now = () => this.clock.now();
    this.webhooks = new WebhookSender({
      clientSecret: options.clientSecret,
      portalId: this.portalId,
      appId: this.appId,
      subscriptions: options.subscriptions ?? [],
      now,
      ledger: this.ledger,
      retryDelaysMs: options.webhookRetryDelaysMs ?? [1000, 5000, 30_000],
      ...(options.webhookUrl ? { url: options.webhookUrl } : {}),
    });
    this.crm = new Crm({
      now,
      ledger: this.ledger,
      uniqueTypes: new Set(options.uniquePropertyObjects ?? ALL_TYPES),
      phoneDefaults: options.phoneDefaults ?? US_DEFAULTS,
      searchIndexLagMs: options.searchIndexLagMs ?? 0,
      onChange: (change) => this.webhooks.onChange(change),
    });
    this.limits = new PortalLimits({ ...DEFAULT_LIMITS, ...options.limits }, now);
  }

  /** The source recorded for changes made with the API token: this portal's app. */
  get apiSource(): ChangeSource {
    return { changeSource: 'INTEGRATION', sourceId: String(this.appId) };
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
    if (deleted) this.ledger.record({ platform: 'hubspot', kind: 'file.deleted', id });
    return deleted;
  }

  storeFile(input: Omit<StoredFile, 'id'>): StoredFile {
    // A counter, not the map's size: ids stay unique when files are deleted.
    this.#fileSeq += 1;
    const file = { id: String(700_000 + this.#fileSeq), ...input };
    this.files.set(file.id, file);
    this.ledger.record({
      platform: 'hubspot',
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
  }

  async close(): Promise<void> {
    await this.webhooks.close();
  }
}
