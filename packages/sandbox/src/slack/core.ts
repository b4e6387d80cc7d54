/**
 * The emulated Slack app installation behind the HTTP routes: workspace state, rate limits,
 * planned failures, and signed callbacks to the app (Events API, interactivity, slash commands).
 * `api.ts` (Web API), `agent.ts` (simulated humans) and `index.ts` act through this object.
 */

import { createHmac, randomUUID } from 'node:crypto';
import { type Chaos, chaosFrom } from '../shared/chaos.ts';
import { type Clock, createClock } from '../shared/clock.ts';
import { Ledger } from '../shared/ledger.ts';
import { retryAfterSeconds, SlidingWindowLimiter, TokenBucketLimiter } from '../shared/rate-limit.ts';
import { type AttemptReport, type DeliveryResult, WebhookDispatcher } from '../shared/webhook-delivery.ts';
import { type Installation, SlackInstalls, type Team } from './installs.ts';
import { checkEventEnvelope } from './spec.ts';
import { SlackWorkspace, type StoredFile, type StoredMessage } from './state.ts';
import type {
  SlackChannel,
  SlackEmulatorOptions,
  SlackEvent,
  SlackFailure,
  SlackOAuthOptions,
  SlackRateLimits,
  SlackUser,
  SlackWorkspaceSeed,
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

export interface ResolvedOAuth {
  clientId: string;
  clientSecret: string;
  redirectUris: string[];
  /** Access-token lifetime with rotation on, or null. */
  rotation: { ttlMs: number } | null;
  orgDeployEnabled: boolean;
  codeTtlMs: number;
  consent: 'page' | 'auto';
}

export class SlackCore {
  readonly clock: Clock;
  readonly ledger: Ledger<SlackEvent>;
  readonly workspace: SlackWorkspace;
  readonly installs: SlackInstalls;
  readonly signingSecret: string;
  /** The default workspace (the one of `teamId`/`channels`). */
  readonly teamId: string;
  readonly teamName: string;
  readonly appId: string;
  /** The bot of the default workspace's installation (or the one it will get). */
  readonly botId: string;
  readonly botUserId: string;
  readonly oauth: ResolvedOAuth | null;
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
  /** Seeded throttling of Web API calls (`chaos` option), null without it. */
  chaos: Chaos | null;
  #outageUntil = 0;
  readonly #dispatcher: WebhookDispatcher;
  readonly #pending = new Set<Promise<unknown>>();

  constructor(options: SlackEmulatorOptions) {
    if (!options.signingSecret) throw new TypeError('the Slack emulator needs a signingSecret');
    if (options.botToken === '') throw new TypeError('botToken must not be empty (omit it instead)');
    this.clock = options.clock ?? createClock();
    // A shared ledger holds other platforms' events too; this emulator only writes Slack's.
    this.ledger =
      (options.ledger as Ledger<SlackEvent> | undefined) ?? new Ledger<SlackEvent>({ now: this.clock.now });
    this.signingSecret = options.signingSecret;
    this.chaos = chaosFrom(options.chaos);
    this.teamId = options.teamId ?? 'T0WABRIDGE';
    this.teamName = options.teamName ?? 'wabridge-sandbox';
    this.appId = options.appId ?? 'A0WABRIDGE';
    this.botId = options.botId ?? 'B0WABRIDGE';
    this.botUserId = options.botUserId ?? 'U0WABRIDGEBOT';
    this.workspace = new SlackWorkspace(this.clock.now);
    this.installs = new SlackInstalls(this.clock.now);
    for (const enterprise of options.enterprises ?? []) this.installs.addEnterprise(enterprise);
    const seeds: SlackWorkspaceSeed[] = [
      {
        id: this.teamId,
        name: this.teamName,
        domain: this.teamName,
        channels: options.channels ?? [...DEFAULT_CHANNELS],
        ...(options.enterpriseId === undefined ? {} : { enterpriseId: options.enterpriseId }),
      },
      ...(options.workspaces ?? []),
    ];
    for (const seed of seeds) {
      const team = this.installs.addTeam(seed);
      for (const channel of seed.channels ?? []) this.workspace.addChannel(team.id, channel);
      this.users.set(team.admin.id, { ...team.admin, teamId: team.id });
    }
    for (const enterprise of this.installs.enterprises.values())
      this.users.set(enterprise.admin.id, enterprise.admin);
    if (options.botToken !== undefined) {
      this.installs.preinstall({
        teamId: this.teamId,
        token: options.botToken,
        botUserId: this.botUserId,
        botId: this.botId,
      });
    }
    this.oauth = options.oauth ? resolveOAuth(options.oauth) : null;
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

  /** The live bot token of the default workspace's installation ('' when the app is not installed there). */
  get botToken(): string {
    const installation = this.installs.installationFor(this.teamId);
    if (!installation) return '';
    const live = [...this.installs.tokens.values()]
      .filter((t) => t.installKey === installation.key && t.tokenType === 'bot' && !t.revoked)
      .at(-1);
    return live?.token ?? '';
  }

  /** True for the bot user of any installation. */
  isBotUser(userId: string): boolean {
    for (const installation of this.installs.installations.values()) {
      if (installation.botUserId === userId) return true;
    }
    return false;
  }

  /** The workspace a channel belongs to. */
  teamOf(channelId: string): Team {
    return this.installs.team(this.workspace.channel(channelId).teamId);
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
  takeQuota(
    method: string,
    channel: string | undefined,
    installKey = this.teamId,
  ): { key: string; retryAfterSeconds: number } | null {
    const tier = METHOD_TIERS[method];
    const tierLimiter = tier ? this.#tierLimiters.get(tier) : undefined;
    // Tiers count per app per workspace (docs.slack.dev/apis/web-api/rate-limits).
    const tierKey = installKey === this.teamId ? method : `${installKey}:${method}`;
    const postsInChannel =
      (method === 'chat.postMessage' || method === 'files.completeUploadExternal') && channel;
    // Check both before consuming either, so a refused call costs nothing.
    if (tierLimiter) {
      const decision = tierLimiter.peek(tierKey);
      if (!decision.allowed)
        return { key: tierKey, retryAfterSeconds: retryAfterSeconds(decision.retryAfterMs) };
    }
    if (postsInChannel && this.#postLimiter) {
      const decision = this.#postLimiter.take(channel);
      if (!decision.allowed)
        return { key: channel, retryAfterSeconds: retryAfterSeconds(decision.retryAfterMs) };
    }
    tierLimiter?.take(tierKey);
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
    const base = `https://${this.teamOf(channel).domain}.slack.com/archives/${channel}/p${ts.replace('.', '')}`;
    return threadTs && threadTs !== ts ? `${base}?thread_ts=${threadTs}&cid=${channel}` : base;
  }

  fileUrl(file: StoredFile): string {
    return `${this.baseUrl}/files-pri/${file.teamId}-${file.id}/${encodeURIComponent(file.filename)}`;
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
        team_id: file.teamId,
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
      user_team: file.teamId,
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
      permalink: `https://${this.installs.team(file.teamId).domain}.slack.com/files/${file.user}/${file.id}/${encodeURIComponent(file.filename)}`,
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
    const channel = this.workspace.channel(message.channel);
    const parent = message.threadTs !== undefined ? channel.byTs.get(message.threadTs) : undefined;
    return {
      type: 'message',
      ...(message.subtype ? { subtype: message.subtype } : {}),
      user: message.user,
      text: message.text,
      ts: message.ts,
      team: channel.teamId,
      ...(message.botId ? { bot_id: message.botId, app_id: message.appId } : {}),
      ...(message.botId
        ? {
            bot_profile: {
              id: message.botId,
              app_id: message.appId,
              name: 'wabridge',
              team_id: channel.teamId,
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

  /**
   * The Events API envelope of `event` in workspace `teamId`, for the installation that receives it
   * (the workspace's own, or its organization's for an org-wide install), shaped and validated like
   * Slack's: `authorizations` names that installation, Grid workspaces add `enterprise_id`
   * (https://docs.slack.dev/enterprise/developing-for-enterprise-orgs).
   */
  envelope(
    event: Record<string, unknown>,
    teamId: string,
    installation?: Installation,
  ): Record<string, unknown> {
    const team = this.installs.team(teamId);
    const receiver = installation ?? this.installs.installationFor(teamId);
    if (!receiver) throw new Error(`the app is not installed in workspace ${teamId}`);
    const enterpriseId = team.enterpriseId ?? null;
    const envelope = {
      token: 'sandbox-verification-token',
      team_id: team.id,
      ...(enterpriseId ? { enterprise_id: enterpriseId } : {}),
      context_team_id: team.id,
      context_enterprise_id: enterpriseId,
      api_app_id: this.appId,
      event: { ...event, event_ts: event.event_ts ?? event.ts ?? this.workspace.nextTs() },
      type: 'event_callback',
      event_id: this.workspace.newId('Ev0'),
      event_time: Math.floor(this.clock.now() / 1000),
      authed_users: [receiver.botUserId],
      authorizations: [
        {
          enterprise_id: receiver.enterpriseId,
          // The workspace of the event, also for an org-wide installation
          // (api.slack.com/enterprise/apps/reference, "Sample event payload").
          team_id: team.id,
          user_id: receiver.botUserId,
          is_bot: true,
          is_enterprise_install: receiver.isEnterpriseInstall,
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
   * Posts an Events API callback about workspace `teamId` (default: the workspace of
   * `event.channel`): retried like Slack (same bytes, `X-Slack-Retry-Num`), and `duplicates` more
   * times after an acknowledgement, as Slack does when the ack came too late. Nothing is sent when
   * the app is not installed there, as in Slack (recorded as `callback.skipped`).
   */
  async sendEvent(
    event: Record<string, unknown>,
    options: { duplicates?: number; retry?: boolean; teamId?: string; installation?: Installation } = {},
  ): Promise<CallbackResult & { envelope: Record<string, unknown> }> {
    if (!this.eventsUrl) throw new Error('no eventsUrl configured on the Slack emulator');
    const teamId =
      options.teamId ?? (typeof event.channel === 'string' ? this.teamOf(event.channel).id : this.teamId);
    if (!options.installation && !this.installs.installationFor(teamId)) {
      return { ...this.#skipped('event', teamId, this.eventsUrl), envelope: {} };
    }
    const envelope = this.envelope(event, teamId, options.installation);
    const body = JSON.stringify(envelope);
    const id = String(envelope.event_id);
    const result = await this.#deliver('event', this.eventsUrl, id, body, 'application/json', {
      retry: options.retry ?? true,
      duplicates: options.duplicates ?? 0,
    });
    return { ...result, envelope };
  }

  /**
   * Sends `tokens_revoked` / `app_uninstalled` about an installation that just lost its tokens, one
   * after the other: the envelope still names the installation (Bolt skips `authorize` for these two
   * events, https://github.com/slackapi/bolt-js/issues/674). An org-wide installation's events carry
   * the organization in `team_id` and `enterprise_id` (Slack's pages do not show this case; unverified).
   */
  sendLifecycle(installation: Installation, events: Record<string, unknown>[]): void {
    if (!this.eventsUrl || events.length === 0) return;
    const url = this.eventsUrl;
    const run = (async () => {
      for (const event of events) {
        const envelope = {
          token: 'sandbox-verification-token',
          team_id: installation.teamId ?? installation.enterpriseId,
          ...(installation.enterpriseId ? { enterprise_id: installation.enterpriseId } : {}),
          api_app_id: this.appId,
          event: { ...event, event_ts: this.workspace.nextTs() },
          type: 'event_callback',
          event_id: this.workspace.newId('Ev0'),
          event_time: Math.floor(this.clock.now() / 1000),
          authed_users: [installation.botUserId],
          authorizations: [
            {
              enterprise_id: installation.enterpriseId,
              team_id: installation.teamId,
              user_id: installation.botUserId,
              is_bot: true,
              is_enterprise_install: installation.isEnterpriseInstall,
            },
          ],
        };
        if (this.validateEvents) {
          const errors = checkEventEnvelope(envelope);
          if (errors.length > 0)
            throw new Error(`the Slack emulator built an invalid event: ${errors.join('; ')}`);
        }
        const result = await this.#deliver(
          'event',
          url,
          envelope.event_id,
          JSON.stringify(envelope),
          'application/json',
          {
            retry: true,
            duplicates: 0,
          },
        );
        await result.settled;
      }
    })();
    this.#pending.add(run);
    void run
      .catch(() => {
        // Delivery problems are in the ledger (callback.attempt); nothing else to report.
      })
      .finally(() => this.#pending.delete(run));
  }

  /**
   * Posts an interaction payload or a slash command (form-encoded); Slack does not retry these, and
   * sends nothing for a workspace where the app is not installed.
   */
  async sendForm(
    channel: 'interaction' | 'command',
    fields: Record<string, string>,
    id: string,
    teamId?: string,
  ): Promise<CallbackResult> {
    const url = channel === 'interaction' ? this.interactivityUrl : this.commandsUrl;
    if (!url)
      throw new Error(
        `no ${channel === 'interaction' ? 'interactivityUrl' : 'commandsUrl'} configured on the Slack emulator`,
      );
    if (teamId !== undefined && !this.installs.installationFor(teamId))
      return this.#skipped(channel, teamId, url);
    const body = new URLSearchParams(fields).toString();
    return this.#deliver(channel, url, id, body, 'application/x-www-form-urlencoded', {
      retry: false,
      duplicates: 0,
    });
  }

  /** Nothing was sent: the app is not installed in the workspace (as in Slack, no callback at all). */
  #skipped(channel: 'event' | 'interaction' | 'command', teamId: string, url: string): CallbackResult {
    const reason = `the app is not installed in workspace ${teamId}`;
    this.record({ kind: 'callback.skipped', channel, teamId, reason });
    const first: AttemptReport = {
      deliveryId: 0,
      label: undefined,
      url,
      attempt: 0,
      status: undefined,
      ok: false,
      error: reason,
      durationMs: 0,
      responseBody: undefined,
      nextRetryInMs: undefined,
    };
    return { first, settled: Promise.resolve([]) };
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

function resolveOAuth(options: SlackOAuthOptions): ResolvedOAuth {
  if (!options.clientId || !options.clientSecret)
    throw new TypeError('oauth needs a clientId and a clientSecret');
  const rotation = options.tokenRotation;
  const ttlSeconds = typeof rotation === 'object' ? (rotation.accessTokenTtlSeconds ?? 43_200) : 43_200;
  if (!Number.isFinite(ttlSeconds) || ttlSeconds <= 0)
    throw new TypeError('accessTokenTtlSeconds must be positive');
  for (const uri of options.redirectUris ?? []) new URL(uri);
  return {
    clientId: options.clientId,
    clientSecret: options.clientSecret,
    redirectUris: [...(options.redirectUris ?? [])],
    rotation: rotation ? { ttlMs: ttlSeconds * 1000 } : null,
    orgDeployEnabled: options.orgDeployEnabled ?? false,
    codeTtlMs: (options.codeTtlSeconds ?? 600) * 1000,
    consent: options.consent ?? 'page',
  };
}
