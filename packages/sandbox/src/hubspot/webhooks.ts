/**
 * HubSpot webhooks (https://developers.hubspot.com/docs/apps/developer-platform/build-apps/authentication/request-validation): CRM changes the app subscribed to are POSTed to the
 * target URL as a JSON **array** of events (up to 100 per request), signed with the app's client
 * secret:
 * - `X-HubSpot-Signature-v3` = base64(HMAC-SHA256(secret, method + uri + body + timestamp)) and
 *   `X-HubSpot-Request-Timestamp` (ms), fresh on every attempt;
 * - the older `X-HubSpot-Signature` (v1: hex SHA-256 of secret + body) with
 *   `X-HubSpot-Signature-Version: v1`, as CRM-object webhooks still carry.
 * Failed deliveries are retried (see `retryDelaysMs`). Changes made through the API carry
 * `changeSource: 'INTEGRATION'` and the app id as `sourceId`, so a client can ignore its own echoes.
 */
import { createHash, createHmac } from 'node:crypto';
import { WebhookDispatcher } from '../shared/webhook-delivery.ts';
import type { CrmChange } from './crm.ts';
import type { HubSpotEvent, WebhookSubscription } from './types.ts';

export interface HubSpotWebhookEvent {
  eventId: number;
  subscriptionId: number;
  portalId: number;
  appId: number;
  occurredAt: number;
  subscriptionType: string;
  attemptNumber: number;
  objectId: number;
  changeSource: string;
  sourceId?: string;
  changeFlag?: string;
  propertyName?: string;
  propertyValue?: string;
  primaryObjectId?: number;
  mergedObjectIds?: number[];
  newObjectId?: number;
  numberOfPropertiesMoved?: number;
}

/**
 * The v3 signature. HubSpot signs the URI it called with these escapes decoded (its request
 * validation guide); a receiver decodes the same way before comparing.
 */
export function signatureV3(input: {
  clientSecret: string;
  method: string;
  uri: string;
  body: string;
  timestamp: number | string;
}): string {
  const source = `${input.method.toUpperCase()}${decodeSignedUri(input.uri)}${input.body}${input.timestamp}`;
  return createHmac('sha256', input.clientSecret).update(source, 'utf8').digest('base64');
}

const URI_ESCAPES: Record<string, string> = {
  '%3A': ':',
  '%2F': '/',
  '%3F': '?',
  '%40': '@',
  '%21': '!',
  '%24': '$',
  '%27': "'",
  '%28': '(',
  '%29': ')',
  '%2A': '*',
  '%2C': ',',
  '%3B': ';',
};

export function decodeSignedUri(uri: string): string {
  return uri.replace(/%(3A|2F|3F|40|21|24|27|28|29|2A|2C|3B)/gi, (m) => URI_ESCAPES[m.toUpperCase()] ?? m);
}

export function signatureV1(clientSecret: string, body: string): string {
  return createHash('sha256').update(`${clientSecret}${body}`, 'utf8').digest('hex');
}

/** Where an app's webhooks go and what it subscribed to: one per app, shared by every portal it is installed in. */
export interface WebhookSettings {
  url: string | undefined;
  subscriptions: WebhookSubscription[];
}

export interface WebhookSenderOptions {
  clientSecret: string;
  portalId: number;
  appId: number;
  subscriptions: WebhookSubscription[];
  now: () => number;
  /** Where events are written (the emulator's ledger, stamped with the portal). */
  ledger: { record(event: HubSpotEvent): unknown };
  retryDelaysMs: readonly number[];
  url?: string;
  /** Settings shared with other portals (a public app's); `url` and `subscriptions` are then ignored. */
  settings?: WebhookSettings;
}

export class WebhookSender {
  readonly #settings: WebhookSettings;
  readonly #o: WebhookSenderOptions;
  readonly #dispatcher: WebhookDispatcher;
  #pending: HubSpotWebhookEvent[] = [];
  #flushScheduled = false;
  #nextEventId = 1000;

  constructor(options: WebhookSenderOptions) {
    this.#o = options;
    this.#settings = options.settings ?? { url: options.url, subscriptions: options.subscriptions };
    this.#dispatcher = new WebhookDispatcher({ retryDelaysMs: options.retryDelaysMs });
  }

  get url(): string | undefined {
    return this.#settings.url;
  }

  set url(url: string | undefined) {
    this.#settings.url = url;
  }

  get subscriptions(): WebhookSubscription[] {
    return this.#settings.subscriptions;
  }

  set subscriptions(subscriptions: WebhookSubscription[]) {
    this.#settings.subscriptions = subscriptions;
  }

  /** Turns a CRM change into the events the app subscribed to, and sends them soon (batched). */
  onChange(change: CrmChange): void {
    for (const event of this.eventsFor(change)) this.#pending.push(event);
    if (this.#pending.length > 0 && !this.#flushScheduled) {
      this.#flushScheduled = true;
      setImmediate(() => this.flush());
    }
  }

  eventsFor(change: CrmChange): HubSpotWebhookEvent[] {
    const events: HubSpotWebhookEvent[] = [];
    const base = (subscriptionType: string, objectId: string) => {
      const index = this.subscriptions.findIndex((s) => s.eventType === subscriptionType);
      return {
        eventId: this.#nextEventId++,
        subscriptionId: 3000 + Math.max(0, index),
        portalId: this.#o.portalId,
        appId: this.#o.appId,
        occurredAt: this.#o.now(),
        subscriptionType,
        attemptNumber: 0,
        objectId: Number(objectId),
        changeSource: change.source.changeSource,
        sourceId: change.source.sourceId,
      };
    };
    const subscribed = (type: WebhookSubscription['eventType']) =>
      this.subscriptions.some((s) => s.eventType === type);
    switch (change.kind) {
      case 'created':
        if (change.type === 'contacts' && subscribed('contact.creation')) {
          events.push({ ...base('contact.creation', change.id), changeFlag: 'CREATED' });
        }
        break;
      case 'updated':
        if (change.type !== 'contacts') break;
        this.subscriptions.forEach((s, index) => {
          if (s.eventType !== 'contact.propertyChange' || !(s.propertyName in change.changed)) return;
          events.push({
            ...base('contact.propertyChange', change.id),
            subscriptionId: 3000 + index,
            propertyName: s.propertyName,
            propertyValue: change.changed[s.propertyName] ?? '',
          });
        });
        break;
      case 'deleted': {
        const type = change.privacy ? 'contact.privacyDeletion' : 'contact.deletion';
        if (subscribed(type)) {
          events.push({ ...base(type, change.id), changeFlag: change.privacy ? 'GDPR_DELETED' : 'DELETED' });
        }
        break;
      }
      case 'merged':
        if (subscribed('contact.merge')) {
          events.push({
            ...base('contact.merge', change.primaryId),
            changeFlag: 'MERGED',
            primaryObjectId: Number(change.primaryId),
            mergedObjectIds: [Number(change.mergedId)],
            newObjectId: Number(change.primaryId),
            numberOfPropertiesMoved: change.moved,
          });
        }
        break;
    }
    return events;
  }

  /** Sends what is pending now, in requests of up to 100 events. */
  flush(): void {
    this.#flushScheduled = false;
    const events = this.#pending;
    this.#pending = [];
    if (!this.url) return;
    for (let i = 0; i < events.length; i += 100) this.deliver(events.slice(i, i + 100));
  }

  /** Delivers events to the target URL with retries; resolves when acknowledged or given up. */
  deliver(
    events: HubSpotWebhookEvent[],
    url = this.url,
  ): Promise<{ ok: boolean; status: number | undefined }> {
    if (!url) return Promise.resolve({ ok: false, status: undefined });
    const body = JSON.stringify(events);
    const delivery = this.#dispatcher.deliver({
      url,
      body,
      label: events.map((e) => e.eventId).join(','),
      headers: () => this.headers(url, body),
      onAttempt: (report) => {
        this.#o.ledger.record({
          platform: 'hubspot',
          kind: 'webhook.attempt',
          url,
          attempt: report.attempt,
          status: report.status,
          ok: report.ok,
          eventIds: events.map((e) => e.eventId),
          subscriptionTypes: [...new Set(events.map((e) => e.subscriptionType))],
        });
      },
    });
    return delivery.done.then((result) => ({
      ok: result.outcome === 'acknowledged',
      status: result.attempts.at(-1)?.status,
    }));
  }

  /** The headers HubSpot sends with a body, signed now (or at `timestamp`, with `secret`). */
  headers(
    url: string,
    body: string,
    options: { timestamp?: number; secret?: string } = {},
  ): Record<string, string> {
    const timestamp = options.timestamp ?? this.#o.now();
    const secret = options.secret ?? this.#o.clientSecret;
    return {
      'content-type': 'application/json',
      'user-agent': 'HubSpot Connect 2.0 (http://dev.hubspot.com/) (namespace: webhooks-nio)',
      'x-hubspot-request-timestamp': String(timestamp),
      'x-hubspot-signature-v3': signatureV3({
        clientSecret: secret,
        method: 'POST',
        uri: url,
        body,
        timestamp,
      }),
      'x-hubspot-signature': signatureV1(secret, body),
      'x-hubspot-signature-version': 'v1',
      'x-hubspot-timeout-millis': '10000',
    };
  }

  /** Events that were generated and not sent yet. */
  get pending(): number {
    return this.#pending.length + this.#dispatcher.pending;
  }

  async idle(): Promise<void> {
    while (this.#flushScheduled || this.#dispatcher.pending > 0) {
      if (this.#flushScheduled) await new Promise((resolve) => setImmediate(resolve));
      await this.#dispatcher.idle();
    }
  }

  close(): Promise<void> {
    this.#pending = [];
    return this.#dispatcher.close();
  }
}
