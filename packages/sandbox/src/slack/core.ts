/**
 * The emulated Slack app installation behind the HTTP routes: workspace state, rate limits,
 * planned failures, and signed callbacks to the app (Events API, interactivity, slash commands).
 * `api.ts` (Web API), `agent.ts` (simulated humans) and `index.ts` act through this object.
 */
import { createHmac, randomUUID } from 'node:crypto';
import { type Clock, createClock } from '../shared/clock.ts';
import { Ledger } from '../shared/ledger.ts';
import { retryAfterSeconds, SlidingWindowLimiter, TokenBucketLimiter } from '../shared/rate-limit.ts';
import { type AttemptReport, type DeliveryResult, WebhookDispatcher } from '../shared/webhook-delivery.ts';
import { checkEventEnvelope } from './spec.ts';
import { SlackWorkspace, type StoredFile, type StoredMessage } from './state.ts';
import type {
  SlackChannel,
  SlackEmulatorOptions,
  SlackEvent,
  SlackFailure,
  SlackRateLimits,
  SlackUser,
  TierLimits,
} from './types.ts';

type Omit1<T> = T extends unknown ? Omit<T, 'platform'> : never;
export type SlackEventInput = Omit1<SlackEvent>;

export const DEFAULT_CHANNELS: readonly SlackChannel[] = [{ id: 'C0SUPPORT01', name: 'support' }];
export const DEFAULT_RATE_LIMITS: SlackRateLimits = {
  postsPerChannel: { perSecond: 1, burst: 3 },
  tiers: { tier2: 20, tier3: 50, tier4: 100 },
};

/** Which tier a method is in (docs.slack.dev method pages); methods not listed are not tier-limited here. */
const METHOD_TIERS: Record<string, keyof TierLimits> = {
  'auth.test': 'tier4',
  'conversations.info': 'tier3',
  'conversations.history': 'tier3',
  'conversations.replies': 'tier3',
  'chat.update': 'tier3',
  'chat.delete': 'tier3',
  'chat.getPermalink': 'tier4',
  'reactions.add': 'tier3',
  'reactions.remove': 'tier3',
  'files.getUploadURLExternal': 'tier4',
  'files.completeUploadExternal': 'tier4',
  'files.info': 'tier4',
  'files.delete': 'tier3',
  'views.open': 'tier4',
  'users.info': 'tier4',
};

export interface CallbackResult {
  /** The first attempt's answer (status undefined on network error / timeout). */
  first: AttemptReport;
  /** Settles when the callback (and any forced retries) is acknowledged or given up. */
  settled: Promise<DeliveryResult[]>;
}

export class SlackCore {
  readonly clock: Clock;
  readonly ledger: Ledger<SlackEvent>;
  readonly workspace: SlackWorkspace;
  readonly signingSecret: string;
  botToken: string;
  readonly teamId: string;
  readonly teamName: string;
  readonly appId: string;
  readonly botId: string;
  readonly botUserId: string;
  readonly users = new Map<string, SlackUser>();
  readonly validateRequests: boolean;
  readonly validateEvents: boolean;
  echoBotMessages: boolean;
  eventsUrl: string | undefined;
  interactivityUrl: string | undefined;
  commandsUrl: string | undefined;
  baseUrl = '';
  readonly eventRetryDelaysMs: number[];
  #rateLimits: SlackRateLimits;
  #postLimiter: TokenBucketLimiter | null = null;
  #tierLimiters = new Map<keyof TierLimits, SlidingWindowLimiter>();
  #failures: { failure: SlackFailure; remaining: number }[] = [];
  #outageUntil = 0;
  readonly #dispatcher: WebhookDispatcher;
  readonly #pending = new Set<Promise<unknown>>();

  constructor(options: SlackEmulatorOptions) {
    if (!options.signingSecret) throw new TypeError('the Slack emulator needs a signingSecret');
    if (!options.botToken) throw new TypeError('the Slack emulator needs a botToken');
    this.clock = options.clock ?? createClock();
    // A shared ledger holds other platforms' events too; this emulator only writes Slack's.
    this.ledger =
      (options.ledger as Ledger<SlackEvent> | undefined) ?? new Ledger<SlackEvent>({ now: this.clock.now });
    this.signingSecret = options.signingSecret;
    this.botToken = options.botToken;
    this.teamId = options.teamId ?? 'T0WABRIDGE';
    this.teamName = options.teamName ?? 'wabridge-sandbox';
    this.appId = options.appId ?? 'A0WABRIDGE';
    this.botId = options.botId ?? 'B0WABRIDGE';
    this.botUserId = options.botUserId ?? 'U0WABRIDGEBOT';
    this.workspace = new SlackWorkspace(options.channels ?? DEFAULT_CHANNELS, this.clock.now);
    this.validateRequests = options.validateRequests ?? true;
    this.validateEvents = options.validateEvents ?? true;
    this.echoBotMessages = options.echoBotMessages ?? true;
    this.eventsUrl = options.eventsUrl;
    this.interactivityUrl = options.interactivityUrl;
    this.commandsUrl = options.commandsUrl;
    this.eventRetryDelaysMs = options.eventRetryDelaysMs ?? [1000, 60_000, 300_000];
    this.#rateLimits = { ...DEFAULT_RATE_LIMITS, ...options.rateLimits };
    this.#buildLimiters();
    this.#dispatcher = new WebhookDispatcher({ timeoutMs: options.ackTimeoutMs ?? 3000 });
  }

  record(event: SlackEventInput): void {
    this.ledger.record({ platform: 'slack', ...event } as SlackEvent);
  }

  // --- Limits and failures -------------------------------------------------------------------

  get rateLimits(): SlackRateLimits {
    return structuredClone(this.#rateLimits);
  }

  configureRateLimits(limits: Partial<SlackRateLimits>): void {
    this.#rateLimits = { ...this.#rateLimits, ...limits };
    this.#buildLimiters();
  }

  #buildLimiters(): void {
    const posts = this.#rateLimits.postsPerChannel;
    this.#postLimiter = posts
      ? new TokenBucketLimiter({
          capacity: posts.burst,
          refillEveryMs: 1000 / posts.perSecond,
          now: this.clock.now,
        })
      : null;
    this.#tierLimiters.clear();
    const tiers = this.#rateLimits.tiers;
    if (tiers) {
      for (const tier of ['tier2', 'tier3', 'tier4'] as const) {
        this.#tierLimiters.set(
          tier,
          new SlidingWindowLimiter({ limit: tiers[tier], windowMs: 60_000, now: this.clock.now }),
        );
      }
    }
  }

  /** Consumes quota for a call; returns the Retry-After seconds when the call must be refused. */
  takeQuota(method: string, channel: string | undefined): { key: string; retryAfterSeconds: number } | null {
    const tier = METHOD_TIERS[method];
    const tierLimiter = tier ? this.#tierLimiters.get(tier) : undefined;
    const postsInChannel =
      (method === 'chat.postMessage' || method === 'files.completeUploadExternal') && channel;
    // Check both before consuming either, so a refused call costs nothing.
    if (tierLimiter) {
      const decision = tierLimiter.peek(method);
      if (!decision.allowed)
        return { key: method, retryAfterSeconds: retryAfterSeconds(decision.retryAfterMs) };
    }
    if (postsInChannel && this.#postLimiter) {
      const decision = this.#postLimiter.take(channel);
      if (!decision.allowed)
        return { key: channel, retryAfterSeconds: retryAfterSeconds(decision.retryAfterMs) };
    }
    tierLimiter?.take(method);
    return null;
  }

  failNext(failure: SlackFailure, count = 1): void {
    this.#failures.push({ failure, remaining: count });
  }

  /** The next planned failure, if any (consumed). */
  takeFailure(): SlackFailure | undefined {
    const head = this.#failures[0];
    if (!head) return undefined;
    head.remaining -= 1;
    if (head.remaining <= 0) this.#failures.shift();
    return head.failure;
  }

  /** Slack is down (HTTP 503 on every Web API call) until `clock.now() >= until`. */
  setOutage(until: number): void {
    this.#outageUntil = until;
  }

  get down(): boolean {
    return this.clock.now() < this.#outageUntil;
  }

  // --- Wire shapes -----------------------------------------------------------------------------

  permalink(channel: string, ts: string, threadTs?: string): string {
    const base = `https://${this.teamName}.slack.com/archives/${channel}/p${ts.replace('.', '')}`;
    return threadTs && threadTs !== ts ? `${base}?thread_ts=${threadTs}&cid=${channel}` : base;
  }

  fileUrl(file: StoredFile): string {
    return `${this.baseUrl}/files-pri/${this.teamId}-${file.id}/${encodeURIComponent(file.filename)}`;
  }

  serializeFile(file: StoredFile): Record<string, unknown> {
    const shares: Record<string, unknown[]> = {};
    for (const share of file.shares) {
      const channel = this.workspace.channels.get(share.channel);
      const list = shares[share.channel] ?? [];
      shares[share.channel] = list;
      list.push({
        ts: share.ts,
        ...(share.threadTs ? { thread_ts: share.threadTs } : {}),
        channel_name: channel?.info.name ?? share.channel,
        team_id: this.teamId,
        share_user_id: file.user,
        reply_users: [],
        reply_users_count: 0,
        reply_count: 0,
      });
    }
    const extension = file.filename.includes('.') ? (file.filename.split('.').pop() ?? '') : '';
    return {
      id: file.id,
      created: file.created,
      timestamp: file.created,
      name: file.filename,
      title: file.title,
      mimetype: file.mimetype,
      filetype: extension,
      pretty_type: extension.toUpperCase(),
      user: file.user,
      user_team: this.teamId,
      editable: false,
      size: file.bytes?.byteLength ?? file.declaredLength,
      mode: 'hosted',
      is_external: false,
      external_type: '',
      is_public: true,
      public_url_shared: false,
      display_as_bot: false,
      username: '',
      url_private: this.fileUrl(file),
      url_private_download: `${this.fileUrl(file)}?download=1`,
      permalink: `https://${this.teamName}.slack.com/files/${file.user}/${file.id}/${encodeURIComponent(file.filename)}`,
      channels: [...new Set(file.shares.map((s) => s.channel))],
      groups: [],
      ims: [],
      comments_count: 0,
      shares: file.shares.length > 0 ? { public: shares } : {},
    };
  }

  serializeMessage(message: StoredMessage, options: { metadata?: boolean } = {}): Record<string, unknown> {
    const replies = message.threadTs === undefined ? this.workspace.replies(message.channel, message.ts) : [];
    const isParent = replies.length > 0;
    const parent =
      message.threadTs !== undefined
        ? this.workspace.channel(message.channel).messages.find((m) => m.ts === message.threadTs)
        : undefined;
    return {
      type: 'message',
      ...(message.subtype ? { subtype: message.subtype } : {}),
      user: message.user,
      text: message.text,
      ts: message.ts,
      team: this.teamId,
      ...(message.botId ? { bot_id: message.botId, app_id: message.appId } : {}),
      ...(message.botId
        ? {
            bot_profile: {
              id: message.botId,
              app_id: message.appId,
              name: 'wabridge',
              team_id: this.teamId,
              deleted: false,
            },
          }
        : {}),
      ...(message.username ? { username: message.username } : {}),
      ...(message.blocks ? { blocks: message.blocks } : {}),
      ...(message.userProfile ? { user_profile: message.userProfile } : {}),
      ...(message.fileIds.length > 0
        ? {
            files: message.fileIds.map((id) => {
              const file = this.workspace.files.get(id);
              return file && !file.deleted ? this.serializeFile(file) : { id, mode: 'tombstone' };
            }),
            upload: true,
          }
        : {}),
      ...(message.edited ? { edited: message.edited } : {}),
      ...(message.threadTs ? { thread_ts: message.threadTs, parent_user_id: parent?.user } : {}),
      ...(isParent
        ? {
            thread_ts: message.ts,
            reply_count: replies.length,
            reply_users_count: new Set(replies.map((r) => r.user)).size,
            reply_users: [...new Set(replies.map((r) => r.user))],
            latest_reply: replies[replies.length - 1]?.ts,
          }
        : {}),
      ...(message.reactions.size > 0
        ? {
            reactions: [...message.reactions].map(([name, users]) => ({ name, users, count: users.length })),
          }
        : {}),
      ...(options.metadata && message.metadata ? { metadata: message.metadata } : {}),
    };
  }

  // --- Callbacks to the app --------------------------------------------------------------------

  /** `v0=<hex HMAC-SHA256 of "v0:<timestamp>:<raw body>">` with the signing secret. */
  sign(timestamp: string, body: string, secret = this.signingSecret): string {
    return `v0=${createHmac('sha256', secret).update(`v0:${timestamp}:${body}`).digest('hex')}`;
  }

  signedHeaders(body: string, contentType: string, options: { secret?: string; timestamp?: string } = {}) {
    const timestamp = options.timestamp ?? String(Math.floor(this.clock.now() / 1000));
    return {
      'content-type': contentType,
      'x-slack-request-timestamp': timestamp,
      'x-slack-signature': this.sign(timestamp, body, options.secret),
    };
  }

  /** The Events API envelope of `event`, shaped and validated like Slack's. */
  envelope(event: Record<string, unknown>): Record<string, unknown> {
    const envelope = {
      token: 'sandbox-verification-token',
      team_id: this.teamId,
      context_team_id: this.teamId,
      context_enterprise_id: null,
      api_app_id: this.appId,
      event: { ...event, event_ts: event.event_ts ?? event.ts ?? this.workspace.nextTs() },
      type: 'event_callback',
      event_id: this.workspace.newId('Ev0'),
      event_time: Math.floor(this.clock.now() / 1000),
      authed_users: [this.botUserId],
      authorizations: [
        {
          enterprise_id: null,
          team_id: this.teamId,
          user_id: this.botUserId,
          is_bot: true,
          is_enterprise_install: false,
        },
      ],
      is_ext_shared_channel: false,
      event_context: `4-${randomUUID()}`,
    };
    if (this.validateEvents) {
      const errors = checkEventEnvelope(envelope);
      if (errors.length > 0)
        throw new Error(`the Slack emulator built an invalid event: ${errors.join('; ')}`);
    }
    return envelope;
  }

  /**
   * Posts an Events API callback: retried like Slack (same bytes, `X-Slack-Retry-Num`), and
   * `duplicates` more times after an acknowledgement, as Slack does when the ack came too late.
   */
  async sendEvent(
    event: Record<string, unknown>,
    options: { duplicates?: number; retry?: boolean } = {},
  ): Promise<CallbackResult & { envelope: Record<string, unknown> }> {
    if (!this.eventsUrl) throw new Error('no eventsUrl configured on the Slack emulator');
    const envelope = this.envelope(event);
    const body = JSON.stringify(envelope);
    const id = String(envelope.event_id);
    const result = await this.#deliver('event', this.eventsUrl, id, body, 'application/json', {
      retry: options.retry ?? true,
      duplicates: options.duplicates ?? 0,
    });
    return { ...result, envelope };
  }

  /** Posts an interaction payload or a slash command (form-encoded); Slack does not retry these. */
  async sendForm(
    channel: 'interaction' | 'command',
    fields: Record<string, string>,
    id: string,
  ): Promise<CallbackResult> {
    const url = channel === 'interaction' ? this.interactivityUrl : this.commandsUrl;
    if (!url)
      throw new Error(
        `no ${channel === 'interaction' ? 'interactivityUrl' : 'commandsUrl'} configured on the Slack emulator`,
      );
    const body = new URLSearchParams(fields).toString();
    return this.#deliver(channel, url, id, body, 'application/x-www-form-urlencoded', {
      retry: false,
      duplicates: 0,
    });
  }

  /** Echoes the bot's own activity as Slack does for an app subscribed to channel messages. */
  echo(event: Record<string, unknown>): void {
    if (!this.echoBotMessages || !this.eventsUrl) return;
    void this.sendEvent(event).catch(() => {
      // An unreachable receiver is recorded by the delivery attempts; nothing else to do.
    });
  }

  async #deliver(
    channel: 'event' | 'interaction' | 'command',
    url: string,
    id: string,
    body: string,
    contentType: string,
    options: { retry: boolean; duplicates: number },
  ): Promise<CallbackResult> {
    let lastReason = 'http_error';
    const onAttempt = (retryNum: number) => (report: AttemptReport) => {
      lastReason =
        report.status === undefined
          ? report.error?.includes('timed out')
            ? 'http_timeout'
            : 'connection_failed'
          : 'http_error';
      this.record({
        kind: 'callback.attempt',
        channel,
        id,
        attempt: report.attempt,
        retryNum,
        status: report.status,
        ok: report.ok,
        error: report.error,
        responseBody: report.responseBody,
      });
    };
    const headers = (retryNum: number, reason: () => string) => ({
      ...this.signedHeaders(body, contentType),
      ...(retryNum > 0 ? { 'x-slack-retry-num': String(retryNum), 'x-slack-retry-reason': reason() } : {}),
    });
    let retryNum = 0;
    const delivery = this.#dispatcher.deliver({
      url,
      body,
      label: id,
      retryDelaysMs: options.retry ? this.eventRetryDelaysMs : [],
      headers: (attempt) => {
        retryNum = attempt - 1;
        return headers(retryNum, () => lastReason);
      },
      onAttempt: (report) => onAttempt(report.attempt - 1)(report),
    });
    const first = await delivery.firstAttempt;
    const settled = (async () => {
      const results = [await delivery.done];
      for (let n = 1; n <= options.duplicates; n++) {
        const duplicate = this.#dispatcher.deliver({
          url,
          body,
          label: id,
          retryDelaysMs: [],
          headers: () => headers(retryNum + n, () => 'http_timeout'),
          onAttempt: onAttempt(retryNum + n),
        });
        results.push(await duplicate.done);
      }
      return results;
    })();
    this.#pending.add(settled);
    void settled.finally(() => this.#pending.delete(settled));
    return { first, settled };
  }

  /** Resolves when no callback delivery or retry is pending. */
  async idle(): Promise<void> {
    while (this.#pending.size > 0) await Promise.all(this.#pending);
    await this.#dispatcher.idle();
  }

  close(): Promise<void> {
    return this.#dispatcher.close();
  }
}
