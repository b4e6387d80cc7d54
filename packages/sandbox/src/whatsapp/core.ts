/**
 * The emulated WhatsApp platform behind the HTTP routes: state, rules, status progression and
 * webhook delivery. `api.ts` (Cloud API), `control.ts` (sandbox control API) and `customer.ts`
 * (simulated users) all act through this object; it is internal to the package.
 */
import { randomBytes } from 'node:crypto';
import { type Clock, createClock, unixSeconds } from '../shared/clock.ts';
import { Ledger } from '../shared/ledger.ts';
import type { OpenApiSpec } from '../shared/openapi.ts';
import { SlidingWindowLimiter, TokenBucketLimiter } from '../shared/rate-limit.ts';
import { type AttemptReport, type Delivery, WebhookDispatcher } from '../shared/webhook-delivery.ts';
import { MetaApiError, webhookError } from './errors.ts';
import { MediaStore } from './media.ts';
import {
  envelope,
  type InboundMessage,
  inboundMessagesOf,
  type StatusObject,
  type StatusValue,
  statusesValue,
  type WebhookContact,
  type WebhookMetadata,
} from './payloads.ts';
import { loadWhatsAppSpec } from './spec.ts';
import {
  Directory,
  type InboundRecord,
  isStatusProgress,
  type OutboundRecord,
  type UserRecord,
} from './state.ts';
import { DEFAULT_TEMPLATES, TemplateRegistry } from './templates.ts';
import {
  DEFAULT_APP_ID,
  DEFAULT_PHONE_NUMBERS,
  DEFAULT_RULES,
  DEFAULT_STATUS_DELAYS,
  type FailNextOptions,
  optionsSchema,
  rulesInputSchema,
  type StatusDelays,
  type WebhookTopic,
  type WhatsAppApp,
  type WhatsAppEmulatorOptions,
  type WhatsAppEvent,
  type WhatsAppPhoneNumber,
  type WhatsAppRules,
  type WhatsAppRulesInput,
} from './types.ts';
import { digitsOnly, isBsuid, metaJson, signWebhookBody } from './wire.ts';

const DEFAULT_RETRY_DELAYS_MS = [1000, 4000, 16_000, 60_000];
const CONVERSATION_MS = 24 * 60 * 60 * 1000;

type Omit1<T> = T extends unknown ? Omit<T, 'platform'> : never;
/** A WhatsApp ledger event without its `platform` field (added by `record`). */
export type EventInput = Omit1<WhatsAppEvent>;

export interface WebhookOptions {
  /** The WABA the webhook is about: it goes to every app subscribed to it (default: the default app). */
  wabaId?: string;
  /** POST the same bytes this many times (default 1), like Meta's duplicate deliveries. */
  deliveries?: number;
  /** Send the duplicates at the same time instead of one after the other. */
  concurrent?: boolean;
  /** `invalid` signs with a wrong secret, `missing` omits the header (default `valid`). */
  signature?: 'valid' | 'invalid' | 'missing';
  /** Retry on failure like Meta (default true); false = one attempt per delivery. */
  retry?: boolean;
}

export interface WebhookSendResult {
  /** Status of each delivery's first attempt (undefined on network error), in delivery order. */
  statuses: Array<number | undefined>;
  deliveryIds: number[];
  /** Resolves when every delivery is acknowledged, gave up or was cancelled. */
  settled: Promise<void>;
}

interface FailRule extends FailNextOptions {
  remaining: number;
}

export class WhatsAppCore {
  readonly clock: Clock;
  readonly ledger: Ledger<WhatsAppEvent>;
  readonly spec: OpenApiSpec;
  readonly directory = new Directory();
  readonly media: MediaStore;
  readonly templates: TemplateRegistry;
  readonly phoneNumbers: ReadonlyMap<string, WhatsAppPhoneNumber>;
  readonly apiVersion: string;
  readonly validateRequests: boolean;
  readonly statusDelays: StatusDelays;
  readonly port: number | undefined;
  readonly hostname: string | undefined;
  /** Meta apps by id; the default one first. */
  readonly apps = new Map<string, WhatsAppApp>();
  readonly defaultAppId: string;
  /** Access tokens: the app they belong to and the WABAs they may use. */
  readonly tokens = new Map<string, { appId: string; wabaIds: Set<string> }>();
  /** WABA → apps subscribed to its webhooks (with an optional per-WABA callback override). */
  readonly subscriptions = new Map<
    string,
    Map<string, { overrideCallbackUri?: string; verifyToken?: string }>
  >();
  #defaultToken: string;
  /** Public base URL of the emulator, set once the server listens. */
  baseUrl = '';
  #rules: WhatsAppRules;
  #throughput!: SlidingWindowLimiter;
  #pairRate!: TokenBucketLimiter;
  readonly #dispatcher: WebhookDispatcher;
  readonly #failRules: FailRule[] = [];
  readonly #tasks = new Set<Promise<unknown>>();
  readonly #sleepers = new Set<{ timer: NodeJS.Timeout; resolve: (ran: boolean) => void }>();
  #closed = false;

  constructor(input: WhatsAppEmulatorOptions) {
    const options = optionsSchema.parse(input);
    this.clock = createClock(options.now);
    // A shared ledger also holds other platforms' events; entries recorded here all have platform 'whatsapp'.
    this.ledger =
      (input.ledger as Ledger<WhatsAppEvent> | undefined) ??
      new Ledger<WhatsAppEvent>({ now: this.clock.now });
    this.spec = loadWhatsAppSpec();
    this.defaultAppId = options.appId ?? DEFAULT_APP_ID;
    this.apps.set(this.defaultAppId, {
      appId: this.defaultAppId,
      appSecret: options.appSecret,
      name: 'wabridge',
      ...(options.webhookUrl === undefined ? {} : { webhookUrl: options.webhookUrl }),
      ...(options.verifyToken === undefined ? {} : { verifyToken: options.verifyToken }),
    });
    for (const app of options.apps ?? []) {
      if (this.apps.has(app.appId)) throw new TypeError(`Meta app ${app.appId} is declared twice`);
      this.apps.set(app.appId, { ...app });
    }
    this.#defaultToken = options.accessToken;
    this.apiVersion = options.apiVersion ?? 'v23.0';
    this.validateRequests = options.validateRequests ?? true;
    this.statusDelays = { ...DEFAULT_STATUS_DELAYS, ...options.statusDelaysMs };
    this.port = options.port;
    this.hostname = options.hostname;
    const numbers = options.phoneNumbers ?? DEFAULT_PHONE_NUMBERS;
    this.phoneNumbers = new Map(numbers.map((n) => [n.phoneNumberId, { ...n }]));
    if (this.phoneNumbers.size !== numbers.length) throw new TypeError('phoneNumbers contains duplicate ids');
    const defaultGrant = { appId: this.defaultAppId, wabaIds: new Set<string>() };
    this.tokens.set(options.accessToken, defaultGrant);
    for (const number of numbers) {
      const appId = number.appId ?? this.defaultAppId;
      if (!this.apps.has(appId))
        throw new TypeError(`phone number ${number.phoneNumberId} names unknown app ${appId}`);
      // Each WABA starts subscribed to its numbers' app, as after the embedded signup.
      const subscribed = this.subscriptions.get(number.wabaId) ?? new Map();
      subscribed.set(appId, {});
      this.subscriptions.set(number.wabaId, subscribed);
      if (number.accessToken !== undefined) {
        const grant = this.tokens.get(number.accessToken) ?? { appId, wabaIds: new Set<string>() };
        if (grant.appId !== appId)
          throw new TypeError(`token of number ${number.phoneNumberId} belongs to another app`);
        grant.wabaIds.add(number.wabaId);
        this.tokens.set(number.accessToken, grant);
      } else if (appId === this.defaultAppId) {
        defaultGrant.wabaIds.add(number.wabaId);
      }
    }
    this.templates = new TemplateRegistry(options.templates ?? DEFAULT_TEMPLATES);
    this.media = new MediaStore({ clock: this.clock, urlTtlMs: options.mediaUrlTtlMs ?? 5 * 60 * 1000 });
    this.#rules = mergeRules(DEFAULT_RULES, options.rules ?? {});
    this.#buildLimiters();
    this.#dispatcher = new WebhookDispatcher({
      retryDelaysMs: options.webhookRetry?.delaysMs ?? DEFAULT_RETRY_DELAYS_MS,
      timeoutMs: options.webhookRetry?.timeoutMs ?? 10_000,
      // Meta expects "200 OK"; any 2xx is accepted here so receivers answering 202/204 are not punished.
    });
  }

  record(event: EventInput): void {
    this.ledger.record({ platform: 'whatsapp', ...event } as WhatsAppEvent);
  }

  /** The default app's secret. */
  get appSecret(): string {
    return this.#app(this.defaultAppId).appSecret;
  }

  /** The default app's callback URL. */
  get webhookUrl(): string | undefined {
    return this.#app(this.defaultAppId).webhookUrl;
  }

  set webhookUrl(url: string | undefined) {
    const app = this.#app(this.defaultAppId);
    if (url === undefined) delete app.webhookUrl;
    else app.webhookUrl = url;
  }

  get verifyToken(): string | undefined {
    return this.#app(this.defaultAppId).verifyToken;
  }

  /** The default token (it covers the default app's numbers that have no token of their own). */
  get accessToken(): string {
    return this.#defaultToken;
  }

  set accessToken(token: string) {
    const grant = this.tokens.get(this.#defaultToken);
    this.tokens.delete(this.#defaultToken);
    this.#defaultToken = token;
    if (grant) this.tokens.set(token, grant);
  }

  #app(appId: string): WhatsAppApp {
    const app = this.apps.get(appId);
    if (!app) throw new TypeError(`no Meta app ${appId} in the emulator`);
    return app;
  }

  /** What a bearer token may use, or undefined for an unknown token. */
  grant(token: string | undefined): { appId: string; wabaIds: Set<string> } | undefined {
    return token === undefined ? undefined : this.tokens.get(token);
  }

  /** Sets an app's callback URL (the default app's when no id is given). */
  setAppWebhookUrl(url: string, appId = this.defaultAppId): void {
    this.#app(appId).webhookUrl = url;
  }

  subscribe(
    wabaId: string,
    appId: string,
    override: { overrideCallbackUri?: string; verifyToken?: string },
  ): void {
    const subscribed = this.subscriptions.get(wabaId) ?? new Map();
    subscribed.set(appId, override);
    this.subscriptions.set(wabaId, subscribed);
    this.record({
      kind: 'waba.subscribed',
      wabaId,
      appId,
      overrideCallbackUri: override.overrideCallbackUri,
    });
  }

  unsubscribe(wabaId: string, appId: string): boolean {
    const removed = this.subscriptions.get(wabaId)?.delete(appId) ?? false;
    if (removed) this.record({ kind: 'waba.unsubscribed', wabaId, appId });
    return removed;
  }

  get rules(): WhatsAppRules {
    return structuredClone(this.#rules);
  }

  /** Changes rules at run time (deep-merged one level); rate-limit state restarts when limits change. */
  configure(input: WhatsAppRulesInput): WhatsAppRules {
    const parsed = rulesInputSchema.parse(input);
    const before = this.#rules;
    this.#rules = mergeRules(before, parsed);
    if (
      before.throughput.perSecond !== this.#rules.throughput.perSecond ||
      before.pairRate.burst !== this.#rules.pairRate.burst ||
      before.pairRate.refillEveryMs !== this.#rules.pairRate.refillEveryMs
    ) {
      this.#buildLimiters();
    }
    this.record({ kind: 'rules.changed', rules: parsed });
    return this.rules;
  }

  phone(phoneNumberId: string): WhatsAppPhoneNumber | undefined {
    return this.phoneNumbers.get(phoneNumberId);
  }

  metadata(phone: WhatsAppPhoneNumber): WebhookMetadata {
    return { display_phone_number: phone.displayPhoneNumber, phone_number_id: phone.phoneNumberId };
  }

  advanceTime(ms: number): number {
    const now = this.clock.advance(ms);
    this.record({ kind: 'clock.advanced', ms, now });
    return now;
  }

  // ---------------------------------------------------------------------------------------------
  // Rules applied to sends

  armFailNext(options: FailNextOptions): void {
    const count = options.count ?? 1;
    this.#failRules.push({ ...options, remaining: count });
    this.record({
      kind: 'fail_next.armed',
      code: options.code,
      count,
      recipient: options.recipient,
      asStatus: options.asStatus ?? false,
    });
  }

  /** Consumes the first armed failure that applies to a send to `recipient` (undefined for mark-as-read). */
  takeFailNext(recipient: string | undefined): FailNextOptions | undefined {
    const index = this.#failRules.findIndex(
      (rule) =>
        rule.recipient === undefined || (recipient !== undefined && sameRecipient(rule.recipient, recipient)),
    );
    const rule = this.#failRules[index];
    if (rule === undefined) return undefined;
    rule.remaining -= 1;
    if (rule.remaining <= 0) this.#failRules.splice(index, 1);
    return rule;
  }

  /** 130429 when the business number is over its per-second throughput. */
  checkThroughput(phoneNumberId: string): void {
    if (!this.#rules.throughput.enabled) return;
    const decision = this.#throughput.take(phoneNumberId);
    if (!decision.allowed) throw new RateLimitedError(130429, decision.retryAfterMs);
  }

  /** 131056 when the (number, user) pair is over its rate; consumes a token when allowed. */
  checkPairRate(phoneNumberId: string, user: UserRecord): void {
    if (!this.#rules.pairRate.enabled) return;
    const decision = this.#pairRate.take(`${phoneNumberId}|${user.key}`);
    if (!decision.allowed) throw new RateLimitedError(131056, decision.retryAfterMs);
  }

  isUndeliverable(to: string, user: UserRecord): boolean {
    return this.#rules.undeliverable.recipients.some(
      (r) =>
        sameRecipient(r, to) || (user.waId !== undefined && sameRecipient(r, user.waId)) || r === user.userId,
    );
  }

  asyncFailureFor(to: string, user: UserRecord): { code: number; details?: string } | undefined {
    for (const [recipient, failure] of Object.entries(this.#rules.asyncFailures)) {
      if (
        sameRecipient(recipient, to) ||
        (user.waId !== undefined && sameRecipient(recipient, user.waId)) ||
        recipient === user.userId
      ) {
        return failure;
      }
    }
    return undefined;
  }

  /** True when the user wrote to this business number within the customer service window. */
  windowOpen(phoneNumberId: string, user: UserRecord): boolean {
    const last = this.directory.conversation(phoneNumberId, user.key).lastInboundAt;
    return last !== undefined && this.clock.now() - last < this.#rules.customerServiceWindow.windowMs;
  }

  // ---------------------------------------------------------------------------------------------
  // Outbound messages and their statuses

  /** Stores an accepted message and starts its status progression. */
  acceptOutbound(
    record: Omit<OutboundRecord, 'status' | 'statuses' | 'acceptedAt' | 'conversation'>,
  ): OutboundRecord {
    const now = this.clock.now();
    const conversation = this.directory.conversation(record.phoneNumberId, record.userKey);
    let pricing = conversation.pricing.get(record.category);
    if (pricing === undefined || pricing.expiresAt <= now) {
      pricing = { id: randomBytes(16).toString('hex'), expiresAt: now + CONVERSATION_MS };
      conversation.pricing.set(record.category, pricing);
    }
    const stored: OutboundRecord = {
      ...record,
      acceptedAt: now,
      status: 'accepted',
      statuses: [],
      conversation: pricing,
    };
    this.directory.outbound.set(stored.wamid, stored);
    conversation.messages.push({ direction: 'out', wamid: stored.wamid });
    this.#track(this.#progress(stored));
    return stored;
  }

  /** Emits the `read` status of a business message now (a user reading it). */
  readByUser(wamid: string): Promise<void> {
    const record = this.directory.outbound.get(wamid);
    if (record === undefined) return Promise.reject(new TypeError(`no business message ${wamid}`));
    return this.#track(this.emitStatus(record, 'read'));
  }

  async #progress(record: OutboundRecord): Promise<void> {
    const delays = this.statusDelays;
    if (!(await this.#sleep(delays.sent))) return;
    if (record.failure !== undefined) {
      await this.emitStatus(record, 'failed');
      return;
    }
    await this.emitStatus(record, 'sent');
    if (record.type === 'reaction' || delays.delivered === null) return; // reactions only get `sent`
    if (!(await this.#sleep(delays.delivered))) return;
    await this.emitStatus(record, 'delivered');
    const user = this.directory.users.get(record.userKey);
    if (delays.read === null || user?.readsMessages === false) return;
    if (!(await this.#sleep(delays.read))) return;
    await this.emitStatus(record, 'read');
  }

  /** Sends one status webhook (if it is progress) and waits until it is acknowledged or given up. */
  async emitStatus(record: OutboundRecord, status: StatusValue): Promise<void> {
    if (this.#closed || !isStatusProgress(record.status, status)) return;
    const now = this.clock.now();
    record.status = status;
    record.statuses.push({ status, at: now });
    const user = this.directory.users.get(record.userKey);
    const phone = this.phone(record.phoneNumberId);
    if (phone === undefined) return;
    const object: StatusObject = {
      id: record.wamid,
      status,
      timestamp: unixSeconds(now),
      ...(user?.waId === undefined ? {} : { recipient_id: user.waId }),
      ...(user?.userId === undefined ? {} : { recipient_user_id: user.userId }),
    };
    const callbackData = (record.body as { biz_opaque_callback_data?: unknown }).biz_opaque_callback_data;
    if (typeof callbackData === 'string') object.biz_opaque_callback_data = callbackData;
    if (status === 'failed') {
      const failure = record.failure ?? { code: 131000 };
      object.errors = [webhookError(failure.code, failure.details)];
    } else {
      object.conversation = {
        id: record.conversation.id,
        ...(status === 'sent' ? { expiration_timestamp: unixSeconds(record.conversation.expiresAt) } : {}),
        origin: { type: record.category },
      };
      const free = record.category === 'service' || (record.inWindow && record.category === 'utility');
      object.pricing = {
        billable: !free,
        pricing_model: 'PMP',
        category: record.category,
        type: free ? 'free_customer_service' : 'regular',
      };
    }
    const payload = envelope(phone.wabaId, 'messages', statusesValue(this.metadata(phone), [object]));
    const sent = this.deliverWebhook('status', metaJson(payload), {
      label: `${record.wamid} ${status}`,
      wabaId: phone.wabaId,
    });
    const first = sent.deliveries[0];
    this.record({
      kind: 'status.emitted',
      wamid: record.wamid,
      status,
      phoneNumberId: record.phoneNumberId,
      recipient: user?.waId ?? user?.userId ?? record.to,
      errorCodes: object.errors?.map((e) => e.code),
      deliveryId: first?.id,
    });
    await Promise.all(sent.deliveries.map((d) => d.done));
  }

  // ---------------------------------------------------------------------------------------------
  // Inbound messages

  /** Records an inbound message: opens/refreshes the service window, makes its id markable as read. */
  registerInbound(phoneNumberId: string, user: UserRecord, message: InboundMessage): InboundRecord {
    const sentAt = Number(message.timestamp) * 1000;
    const record: InboundRecord = {
      wamid: message.id,
      phoneNumberId,
      userKey: user.key,
      type: message.type,
      sentAt: Number.isFinite(sentAt) ? sentAt : this.clock.now(),
      message,
      readAt: undefined,
    };
    this.directory.inbound.set(record.wamid, record);
    const conversation = this.directory.conversation(phoneNumberId, user.key);
    conversation.messages.push({ direction: 'in', wamid: record.wamid });
    // System notices and unsupported messages are still user activity for the window (Meta counts
    // any user-initiated message); a timestamp in the past can leave the window closed on purpose.
    conversation.lastInboundAt = Math.max(
      conversation.lastInboundAt ?? Number.NEGATIVE_INFINITY,
      record.sentAt,
    );
    this.record({
      kind: 'inbound.message',
      wamid: record.wamid,
      phoneNumberId,
      type: record.type,
      waId: user.waId,
      userId: user.userId,
      sentAt: record.sentAt,
    });
    return record;
  }

  /** Learns the inbound messages of a hand-built payload so later sends and mark-as-read see them. */
  learnFromPayload(payload: unknown): void {
    for (const { phoneNumberId, message, contacts } of inboundMessagesOf(payload)) {
      const phone = phoneNumberId === undefined ? undefined : this.phone(phoneNumberId);
      if (phone === undefined || this.directory.inbound.has(message.id)) continue;
      const contact: WebhookContact | undefined = contacts[0];
      const waId = message.from ?? contact?.wa_id;
      const userId = message.from_user_id ?? contact?.user_id;
      const known =
        (waId && this.directory.find(waId)) || (userId && this.directory.find(userId)) || undefined;
      const user =
        known ??
        this.directory.add({
          ...(waId === undefined ? {} : { waId }),
          ...(userId === undefined ? {} : { userId }),
          name: contact?.profile?.name ?? waId ?? userId ?? 'unknown',
        });
      this.registerInbound(phone.phoneNumberId, user, message);
    }
  }

  /** The business marked an inbound message read: it and every earlier one of the conversation. */
  markRead(record: InboundRecord): void {
    const now = this.clock.now();
    for (const other of this.directory.inbound.values()) {
      if (
        other.phoneNumberId === record.phoneNumberId &&
        other.userKey === record.userKey &&
        other.sentAt <= record.sentAt &&
        other.readAt === undefined
      ) {
        other.readAt = now;
      }
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Webhooks

  /**
   * Where a webhook about `wabaId` goes: every app subscribed to the WABA, at its callback URL (or the
   * WABA's override), signed with its secret (https://developers.facebook.com/docs/graph-api/webhooks/getting-started/).
   * Without a WABA (a hand-built payload), the default app.
   */
  webhookTargets(wabaId: string | undefined): { appId: string; url: string | undefined; secret: string }[] {
    if (wabaId === undefined || !this.#knownWaba(wabaId)) {
      const app = this.#app(this.defaultAppId);
      return [{ appId: app.appId, url: app.webhookUrl, secret: app.appSecret }];
    }
    return [...(this.subscriptions.get(wabaId) ?? [])].map(([appId, override]) => {
      const app = this.#app(appId);
      return { appId, url: override.overrideCallbackUri ?? app.webhookUrl, secret: app.appSecret };
    });
  }

  #knownWaba(wabaId: string): boolean {
    return [...this.phoneNumbers.values()].some((p) => p.wabaId === wabaId);
  }

  /** POSTs a signed webhook body to the subscribed apps (`deliveries` times each); returns without waiting. */
  deliverWebhook(
    topic: WebhookTopic,
    body: string,
    options: WebhookOptions & { label?: string } = {},
  ): { deliveries: Delivery[] } {
    if (this.#closed) {
      this.record({ kind: 'webhook.skipped', topic, reason: 'emulator closed' });
      return { deliveries: [] };
    }
    const targets = this.webhookTargets(options.wabaId);
    if (targets.length === 0) {
      this.record({
        kind: 'webhook.skipped',
        topic,
        reason: `no app is subscribed to WABA ${options.wabaId}`,
      });
      return { deliveries: [] };
    }
    const deliveries: Delivery[] = [];
    for (const target of targets) {
      const url = target.url;
      if (url === undefined) {
        this.record({
          kind: 'webhook.skipped',
          topic,
          reason: `no webhookUrl configured for app ${target.appId} (setWebhookUrl)`,
        });
        continue;
      }
      const signature =
        options.signature === 'missing'
          ? undefined
          : signWebhookBody(options.signature === 'invalid' ? `not-${target.secret}` : target.secret, body);
      const headers = (): Record<string, string> => ({
        'content-type': 'application/json',
        'user-agent': 'facebookexternalua',
        ...(signature === undefined ? {} : { 'x-hub-signature-256': signature }),
      });
      const count = Math.max(1, options.deliveries ?? 1);
      for (let i = 0; i < count; i++) {
        const delivery = this.#dispatcher.deliver({
          url,
          body,
          headers,
          label: options.label,
          ...(options.retry === false ? { retryDelaysMs: [] } : {}),
          onAttempt: (report) => this.#recordAttempt(topic, report, target.appId),
        });
        this.#track(
          delivery.done.then((result) =>
            this.record({
              kind: 'webhook.outcome',
              deliveryId: result.deliveryId,
              topic,
              outcome: result.outcome,
              attempts: result.attempts.length,
            }),
          ),
        );
        deliveries.push(delivery);
      }
    }
    return { deliveries };
  }

  /**
   * Delivers a webhook and waits for the first attempt of every delivery: one after the other, or
   * all at once when `concurrent`. The emulator's side effects must be applied before calling this.
   */
  async sendWebhook(
    topic: WebhookTopic,
    body: string,
    options: WebhookOptions = {},
  ): Promise<WebhookSendResult> {
    const count = Math.max(1, options.deliveries ?? 1);
    const deliveries: Delivery[] = [];
    const firsts: AttemptReport[] = [];
    if (options.concurrent === true) {
      deliveries.push(...this.deliverWebhook(topic, body, options).deliveries);
      firsts.push(...(await Promise.all(deliveries.map((d) => d.firstAttempt))));
    } else {
      for (let i = 0; i < count; i++) {
        const sent = this.deliverWebhook(topic, body, { ...options, deliveries: 1 }).deliveries;
        if (sent.length === 0) break;
        for (const delivery of sent) {
          deliveries.push(delivery);
          firsts.push(await delivery.firstAttempt);
        }
      }
    }
    return {
      statuses: firsts.map((f) => f.status),
      deliveryIds: deliveries.map((d) => d.id),
      settled: Promise.all(deliveries.map((d) => d.done)).then(() => {}),
    };
  }

  /** Meta's GET handshake against an app's webhook URL; ok when the challenge is echoed with 200. */
  async verifyWebhook(
    verifyToken?: string,
    appId = this.defaultAppId,
  ): Promise<{ ok: boolean; status: number | undefined; body: string }> {
    const app = this.#app(appId);
    verifyToken ??= app.verifyToken ?? '';
    const url = app.webhookUrl;
    if (url === undefined) throw new TypeError('verifyWebhook needs a webhookUrl (setWebhookUrl)');
    const challenge = String(randomBytes(4).readUInt32BE(0));
    const target = new URL(url);
    target.searchParams.set('hub.mode', 'subscribe');
    target.searchParams.set('hub.challenge', challenge);
    target.searchParams.set('hub.verify_token', verifyToken);
    let status: number | undefined;
    let body = '';
    try {
      const response = await fetch(target, { headers: { 'user-agent': 'facebookplatform/1.0' } });
      status = response.status;
      body = await response.text();
    } catch (error) {
      body = error instanceof Error ? error.message : String(error);
    }
    const ok = status === 200 && body.trim() === challenge;
    this.record({ kind: 'webhook.verification', url, ok, status, challenge });
    return { ok, status, body };
  }

  #recordAttempt(topic: WebhookTopic, report: AttemptReport, appId: string): void {
    this.record({
      kind: 'webhook.attempt',
      deliveryId: report.deliveryId,
      appId,
      topic,
      label: report.label,
      url: report.url,
      attempt: report.attempt,
      status: report.status,
      ok: report.ok,
      error: report.error,
      durationMs: report.durationMs,
      nextRetryInMs: report.nextRetryInMs,
    });
  }

  // ---------------------------------------------------------------------------------------------
  // Lifecycle

  /** Resolves when no status progression, webhook delivery or retry is pending. */
  async idle(): Promise<void> {
    while (this.#tasks.size > 0 || this.#dispatcher.pending > 0) {
      await Promise.all([...this.#tasks]);
      await this.#dispatcher.idle();
    }
  }

  async close(): Promise<void> {
    this.#closed = true;
    for (const sleeper of this.#sleepers) {
      clearTimeout(sleeper.timer);
      sleeper.resolve(false);
    }
    this.#sleepers.clear();
    await this.#dispatcher.close();
    await Promise.allSettled([...this.#tasks]);
  }

  #track<T>(task: Promise<T>): Promise<T> {
    this.#tasks.add(task);
    void task.then(
      () => this.#tasks.delete(task),
      () => this.#tasks.delete(task),
    );
    return task;
  }

  /** Resolves true after `ms`, false if the emulator closes first. */
  #sleep(ms: number): Promise<boolean> {
    if (this.#closed) return Promise.resolve(false);
    return new Promise((resolve) => {
      const sleeper = {
        timer: setTimeout(() => {
          this.#sleepers.delete(sleeper);
          resolve(true);
        }, ms),
        resolve,
      };
      this.#sleepers.add(sleeper);
    });
  }

  #buildLimiters(): void {
    this.#throughput = new SlidingWindowLimiter({
      limit: this.#rules.throughput.perSecond,
      windowMs: 1000,
      now: this.clock.now,
    });
    this.#pairRate = new TokenBucketLimiter({
      capacity: this.#rules.pairRate.burst,
      refillEveryMs: this.#rules.pairRate.refillEveryMs,
      now: this.clock.now,
    });
  }
}

/** A rate-limit refusal: a Meta error that also knows when to retry (sent as `Retry-After`). */
export class RateLimitedError extends MetaApiError {
  readonly retryAfterMs: number;

  constructor(code: 130429 | 131056, retryAfterMs: number) {
    super(code);
    this.retryAfterMs = retryAfterMs;
  }
}

function mergeRules(base: WhatsAppRules, input: WhatsAppRulesInput): WhatsAppRules {
  return {
    customerServiceWindow: { ...base.customerServiceWindow, ...input.customerServiceWindow },
    throughput: { ...base.throughput, ...input.throughput },
    pairRate: { ...base.pairRate, ...input.pairRate },
    undeliverable: { ...base.undeliverable, ...input.undeliverable },
    asyncFailures: input.asyncFailures === undefined ? { ...base.asyncFailures } : { ...input.asyncFailures },
    marketingOptOut: { ...base.marketingOptOut, ...input.marketingOptOut },
  };
}

/** Same person: equal BSUIDs, or equal phone numbers ignoring formatting. */
export function sameRecipient(a: string, b: string): boolean {
  if (isBsuid(a) || isBsuid(b)) return a === b;
  return digitsOnly(a) === digitsOnly(b) && digitsOnly(a) !== '';
}
