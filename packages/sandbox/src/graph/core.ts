/**
 * The emulated Microsoft Graph behind the HTTP routes: tenants' tokens, Teams channel messages,
 * change-notification subscriptions and their delivery, throttling and outages. `oauth.ts`,
 * `api.ts` and the public handle in `index.ts` act through this object; it is internal.
 */

import { randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import { Chaos, type ChaosOptions, chaosFrom } from '../shared/chaos.ts';
import { type Clock, createClock } from '../shared/clock.ts';
import { Ledger } from '../shared/ledger.ts';
import { retryAfterSeconds, TokenBucketLimiter } from '../shared/rate-limit.ts';
import { WebhookDispatcher } from '../shared/webhook-delivery.ts';
import { GraphContent } from './content.ts';
import { createSigningKey, encryptResource, type SigningKey, signJwt } from './crypto.ts';
import { GraphError } from './errors.ts';
import type {
  ChatMessageAttachment,
  ChatMessageRecord,
  GraphApp,
  GraphEmulatorOptions,
  GraphEvent,
  GraphLimits,
  GraphSubscriptionRules,
  GraphTeamSeed,
  GraphTenantSeed,
  GraphUser,
  HostedImageInput,
  ItemBody,
  LifecycleEvent,
  SubscriptionRecord,
} from './types.ts';

type Omit1<T> = T extends unknown ? Omit<T, 'platform'> : never;
export type GraphEventInput = Omit1<GraphEvent>;

export const DEFAULT_TENANT_ID = '5f1c1f4e-5a7d-4b8e-9c1a-0b5ad5b0c0de';
export const DEFAULT_APP: GraphApp = {
  clientId: '8d0b1a3c-2f4e-4a6b-9c8d-7e6f5a4b3c2d',
  clientSecret: 'sandbox-client-secret',
  displayName: 'wabridge (sandbox)',
};
export const DEFAULT_SERVICE_ACCOUNT: GraphUser = {
  id: '11111111-2222-4333-8444-555555555555',
  displayName: 'WhatsApp Bridge',
  userPrincipalName: 'whatsapp-bridge@contoso.example',
};
export const DEFAULT_TEAMS: GraphTeamSeed[] = [
  {
    id: 'fbe2bf47-16c8-47cf-b4a5-4b9b187c508b',
    displayName: 'Customer Support',
    channels: [{ id: '19:4a95f7d8db4c4e7fae857bcebe0623e6@thread.tacv2', displayName: 'WhatsApp' }],
  },
];
export const DEFAULT_LIMITS: GraphLimits = {
  channelRequestsPerSecond: 4,
  channelBurst: 4,
  dailyMessagesPerChannel: 3000,
  maxMessageBytes: 28 * 1024,
};
export const DEFAULT_SUBSCRIPTION_RULES: GraphSubscriptionRules = {
  maxLifetimeMinutes: 4320,
  lifecycleUrlRequiredAboveMinutes: 60,
  validationTimeoutMs: 10_000,
  allowLoopbackHttp: true,
};
/** The app id Graph's notification service puts in `azp` of validation tokens. */
export const GRAPH_NOTIFICATION_APP_ID = '0bf30f3b-4a52-48df-9a82-234910c4a086';

export interface TokenGrant {
  kind: 'app' | 'user';
  clientId: string;
  userId: string | null;
  /** The tenant the token was issued for: its resources only. */
  tenantId: string;
  expiresAt: number;
}

export interface Tenant {
  tenantId: string;
  displayName: string;
  domain: string;
  serviceAccount: GraphUser;
}

export interface FailNext {
  status: number;
  retryAfterSeconds?: number;
  code?: string;
  count?: number;
  /**
   * Carry the request out, then answer with the error anyway: a response lost on the way back
   * (a 504 from a gateway after the message was created), the case where blind retries duplicate.
   */
  afterEffect?: boolean;
}

interface Channel {
  teamId: string;
  channelId: string;
  displayName: string;
  roots: string[];
  createdAt: number;
}

interface Team {
  id: string;
  displayName: string;
  tenantId: string;
  /** Member ids, or null for "every account of the tenant". */
  members: Set<string> | null;
}

interface PendingNotice {
  subscriptionId: string;
  messageId: string;
}

/** `teams('a')/channels('b')/messages` or `/teams/a/channels/b/messages` → { team, channel }. */
export function parseChannelResource(resource: string): { teamId: string; channelId: string } | null {
  const path = resource.replace(/^\//, '');
  const slash = /^teams\/([^/]+)\/channels\/([^/]+)\/messages$/.exec(path);
  if (slash?.[1] && slash[2])
    return { teamId: decodeURIComponent(slash[1]), channelId: decodeURIComponent(slash[2]) };
  const odata = /^teams\('([^']+)'\)\/channels\('([^']+)'\)\/messages$/.exec(path);
  if (odata?.[1] && odata[2]) return { teamId: odata[1], channelId: odata[2] };
  return null;
}

export function plainText(body: ItemBody): string {
  if (body.contentType === 'text') return body.content;
  return body.content
    .replace(/<attachment[^>]*><\/attachment>/gi, '')
    .replace(/<br\s*\/?>/gi, '\n')
    .replace(/<\/(p|div)>/gi, '\n')
    .replace(/<[^>]+>/g, '')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&amp;/g, '&')
    .trim();
}

const iso = (ms: number) => new Date(ms).toISOString();

export class GraphCore {
  /** The default tenant. */
  readonly tenantId: string;
  readonly tenants = new Map<string, Tenant>();
  /** Account id → its home tenant. */
  readonly userTenant = new Map<string, string>();
  readonly teams = new Map<string, Team>();
  readonly consent: 'auto' | 'page';
  readonly codeTtlMs: number;
  readonly apps: Map<string, GraphApp>;
  readonly serviceAccount: GraphUser;
  readonly limits: GraphLimits;
  readonly subscriptionRules: GraphSubscriptionRules;
  readonly clock: Clock;
  readonly ledger: Ledger<GraphEvent>;
  readonly signingKey: SigningKey = createSigningKey();
  readonly accessTokenTtlSeconds: number;
  readonly rotation: 'rotate' | 'strict';
  readonly port: number | undefined;
  readonly hostname: string;
  /** Set once the server listens: `https://localhost:1234`. */
  baseUrl = '';

  readonly users = new Map<string, GraphUser>();
  readonly channels = new Map<string, Channel>();
  readonly messages = new Map<string, ChatMessageRecord>();
  readonly subscriptions = new Map<string, SubscriptionRecord>();
  /** Subscription id → the tenant it was created in (notifications name it; other tenants cannot see it). */
  readonly subscriptionTenant = new Map<string, string>();
  /** Pasted images (hostedContents) and shared files of messages. */
  readonly content: GraphContent;
  private readonly accessTokens = new Map<string, TokenGrant>();
  private readonly refreshTokens = new Map<
    string,
    { clientId: string | null; userId: string; tenantId: string; revoked: boolean }
  >();
  private readonly limiter: TokenBucketLimiter;
  private readonly daily = new Map<string, number>();
  private readonly failures: FailNext[] = [];
  private chaos: Chaos | null;
  private readonly dispatcher: WebhookDispatcher;
  private readonly withheld: PendingNotice[] = [];
  private outage = false;
  private lastMessageId = 0;

  constructor(options: GraphEmulatorOptions = {}) {
    this.tenantId = options.tenantId ?? DEFAULT_TENANT_ID;
    this.apps = new Map((options.apps ?? [DEFAULT_APP]).map((a) => [a.clientId, a]));
    for (const app of this.apps.values()) for (const uri of app.redirectUris ?? []) new URL(uri);
    this.serviceAccount = options.serviceAccount ?? DEFAULT_SERVICE_ACCOUNT;
    this.consent = options.consent ?? 'auto';
    this.codeTtlMs = (options.codeTtlSeconds ?? 600) * 1000;
    this.limits = { ...DEFAULT_LIMITS, ...options.limits };
    this.chaos = chaosFrom(options.chaos);
    this.subscriptionRules = { ...DEFAULT_SUBSCRIPTION_RULES, ...options.subscriptions };
    this.clock = createClock(options.now);
    this.ledger = options.ledger ?? new Ledger<GraphEvent>({ now: this.clock.now });
    this.content = new GraphContent(this.clock.now);
    this.accessTokenTtlSeconds = options.accessTokenTtlSeconds ?? 3600;
    this.rotation = options.refreshTokenRotation ?? 'rotate';
    this.port = options.port;
    this.hostname = options.hostname ?? 'localhost';
    const tenants: GraphTenantSeed[] = [
      {
        tenantId: this.tenantId,
        displayName: options.tenantName ?? 'Contoso (sandbox)',
        serviceAccount: this.serviceAccount,
        teams: options.teams ?? DEFAULT_TEAMS,
      },
      ...(options.tenants ?? []),
    ];
    for (const seed of tenants) this.addTenant(seed);
    this.limiter = new TokenBucketLimiter({
      capacity: this.limits.channelBurst,
      refillEveryMs: 1000 / this.limits.channelRequestsPerSecond,
      now: this.clock.now,
    });
    this.dispatcher = new WebhookDispatcher({
      retryDelaysMs: options.notificationRetryDelaysMs ?? [1000, 4000, 16_000],
      timeoutMs: options.notificationTimeoutMs ?? 10_000,
    });
  }

  record(event: GraphEventInput): void {
    this.ledger.record({ platform: 'graph', ...event } as GraphEvent);
  }

  now(): number {
    return this.clock.now();
  }

  // ----------------------------------------------------------------------------------- teams

  addTenant(seed: GraphTenantSeed): void {
    if (this.tenants.has(seed.tenantId)) throw new TypeError(`tenant ${seed.tenantId} is declared twice`);
    const domain =
      seed.domain ??
      (seed.serviceAccount.userPrincipalName.split('@')[1] ||
        `${seed.displayName.toLowerCase().replace(/[^a-z0-9]+/g, '')}.example`);
    this.tenants.set(seed.tenantId, {
      tenantId: seed.tenantId,
      displayName: seed.displayName,
      domain,
      serviceAccount: seed.serviceAccount,
    });
    for (const user of [seed.serviceAccount, ...(seed.users ?? [])]) this.addUser(user, seed.tenantId);
    for (const team of seed.teams) this.addTeam(team, seed.tenantId);
  }

  addTeam(seed: GraphTeamSeed, tenantId = this.tenantId): void {
    const existing = this.teams.get(seed.id);
    if (existing && existing.tenantId !== tenantId) {
      throw new TypeError(`team ${seed.id} already belongs to tenant ${existing.tenantId}`);
    }
    this.teams.set(seed.id, {
      id: seed.id,
      displayName: seed.displayName,
      tenantId,
      members: seed.members ? new Set(seed.members) : (existing?.members ?? null),
    });
    for (const channel of seed.channels) this.addChannel(seed.id, channel.id, channel.displayName);
  }

  addChannel(teamId: string, channelId: string, displayName: string): void {
    if (!this.teams.has(teamId)) {
      // A channel of a team nobody declared: the team joins the default tenant.
      this.teams.set(teamId, { id: teamId, displayName: teamId, tenantId: this.tenantId, members: null });
    }
    this.channels.set(`${teamId}/${channelId}`, {
      teamId,
      channelId,
      displayName,
      roots: [],
      createdAt: this.now(),
    });
  }

  channel(teamId: string, channelId: string, tenantId?: string): Channel {
    const channel = this.channels.get(`${teamId}/${channelId}`);
    // Another tenant's team does not exist for this token.
    if (!channel || (tenantId !== undefined && this.teams.get(teamId)?.tenantId !== tenantId)) {
      throw new GraphError(404, 'NotFound', `channel ${channelId} of team ${teamId} not found`);
    }
    return channel;
  }

  team(teamId: string, tenantId?: string): Team {
    const team = this.teams.get(teamId);
    if (!team || (tenantId !== undefined && team.tenantId !== tenantId)) {
      throw new GraphError(404, 'NotFound', `No team found with Group Id ${teamId}`);
    }
    return team;
  }

  /** Teams an account is a member of (its tenant's teams without an explicit member list, too). */
  joinedTeams(userId: string): Team[] {
    const tenantId = this.userTenant.get(userId);
    return [...this.teams.values()].filter(
      (t) => t.tenantId === tenantId && (t.members === null || t.members.has(userId)),
    );
  }

  channelsOf(teamId: string): Channel[] {
    return [...this.channels.values()].filter((c) => c.teamId === teamId);
  }

  tenantOf(teamId: string): string {
    return this.teams.get(teamId)?.tenantId ?? this.tenantId;
  }

  /** Registers an account (an agent or a member) in a tenant (default: the default tenant). */
  addUser(user: GraphUser, tenantId = this.tenantId): void {
    this.users.set(user.id, user);
    if (!this.userTenant.has(user.id)) this.userTenant.set(user.id, tenantId);
  }

  // ----------------------------------------------------------------------------------- tokens

  /** A refresh token for an account (default the service account), as its interactive sign-in would yield. */
  signIn(userId = this.serviceAccount.id, clientId: string | null = null): string {
    const tenantId = this.userTenant.get(userId);
    if (!tenantId) throw new TypeError(`no account ${userId} in any tenant of the emulator`);
    const token = `rt.${randomBytes(24).toString('base64url')}`;
    this.refreshTokens.set(token, { clientId, userId, tenantId, revoked: false });
    return token;
  }

  /** Invalidates every refresh token of a user (password reset, admin revocation, consent withdrawn). */
  revokeRefreshTokens(userId = this.serviceAccount.id): void {
    for (const grant of this.refreshTokens.values()) if (grant.userId === userId) grant.revoked = true;
  }

  /** Invalidates issued access tokens (the next Graph call gets 401 until a new token is fetched). */
  expireAccessTokens(): void {
    this.accessTokens.clear();
  }

  checkClient(clientId: string | undefined, clientSecret: string | undefined): GraphApp {
    const app = clientId ? this.apps.get(clientId) : undefined;
    if (!app)
      throw new GraphError(
        400,
        'unauthorized_client',
        'AADSTS700016: Application not found in the directory.',
      );
    const a = Buffer.from(clientSecret ?? '');
    const b = Buffer.from(app.clientSecret);
    if (a.length !== b.length || !timingSafeEqual(a, b)) {
      throw new GraphError(401, 'invalid_client', 'AADSTS7000215: Invalid client secret provided.');
    }
    return app;
  }

  issueAccessToken(
    kind: 'app' | 'user',
    clientId: string,
    userId: string | null,
    tenantId = this.tenantId,
  ): { token: string; expiresIn: number } {
    const token = `at.${kind}.${randomBytes(24).toString('base64url')}`;
    this.accessTokens.set(token, {
      kind,
      clientId,
      userId,
      tenantId,
      expiresAt: this.now() + this.accessTokenTtlSeconds * 1000,
    });
    return { token, expiresIn: this.accessTokenTtlSeconds };
  }

  /** Uses a refresh token: returns the user and a rotated refresh token, or throws `invalid_grant`. */
  redeemRefreshToken(
    token: string,
    clientId: string,
    tenant?: string,
  ): { userId: string; tenantId: string; refreshToken: string } {
    const grant = this.refreshTokens.get(token);
    if (!grant) {
      throw new GraphError(
        400,
        'invalid_grant',
        'AADSTS9002313: Invalid request. Request is malformed or invalid.',
      );
    }
    if (grant.revoked) {
      throw new GraphError(
        400,
        'invalid_grant',
        'AADSTS50173: The provided grant has expired due to it being revoked, a fresh auth token is needed.',
      );
    }
    if (
      (grant.clientId !== null && grant.clientId !== clientId) ||
      (tenant !== undefined && tenant !== grant.tenantId)
    ) {
      throw new GraphError(400, 'invalid_grant', 'AADSTS70000: Provided grant is invalid or malformed.');
    }
    if (this.rotation === 'strict') grant.revoked = true;
    const next = `rt.${randomBytes(24).toString('base64url')}`;
    this.refreshTokens.set(next, {
      clientId,
      userId: grant.userId,
      tenantId: grant.tenantId,
      revoked: false,
    });
    return { userId: grant.userId, tenantId: grant.tenantId, refreshToken: next };
  }

  authenticate(header: string | undefined): TokenGrant {
    const token = /^Bearer (.+)$/.exec(header ?? '')?.[1];
    const grant = token ? this.accessTokens.get(token) : undefined;
    if (!grant) {
      throw new GraphError(401, 'InvalidAuthenticationToken', 'Access token is empty or invalid.');
    }
    if (grant.expiresAt <= this.now()) {
      throw new GraphError(
        401,
        'InvalidAuthenticationToken',
        'Access token has expired or is not yet valid.',
      );
    }
    return grant;
  }

  // ----------------------------------------------------------------------------------- limits

  setChaos(options: ChaosOptions | null): void {
    this.chaos = options ? new Chaos(options) : null;
  }

  failNext(failure: FailNext): void {
    this.failures.push({ ...failure, count: failure.count ?? 1 });
  }

  setOutage(on: boolean): void {
    const ended = this.outage && !on;
    this.outage = on;
    if (ended) this.releaseWithheld();
  }

  get inOutage(): boolean {
    return this.outage;
  }

  /**
   * Outage, injected failures and the per-channel rate: checked for every call of the bridge app.
   * Returns an error to answer after carrying the request out (`afterEffect` failures).
   */
  admit(channelKey: string | null): GraphError | null {
    if (this.outage) {
      throw new GraphError(503, 'ServiceUnavailable', 'The service is temporarily unavailable.', {
        'Retry-After': '30',
      });
    }
    const failure = this.failures[0];
    if (failure) {
      failure.count = (failure.count ?? 1) - 1;
      if ((failure.count ?? 0) <= 0) this.failures.shift();
      const headers: Record<string, string> = {};
      if (failure.retryAfterSeconds !== undefined) headers['Retry-After'] = String(failure.retryAfterSeconds);
      if (failure.status === 429) {
        this.record({
          kind: 'throttled',
          key: channelKey ?? '-',
          rule: 'fail_next',
          retryAfterSeconds: failure.retryAfterSeconds ?? 0,
        });
      }
      const code =
        failure.code ??
        (failure.status === 429
          ? 'TooManyRequests'
          : failure.status >= 500
            ? 'ServiceUnavailable'
            : 'BadRequest');
      const error = new GraphError(failure.status, code, `injected failure (${failure.status})`, headers);
      if (failure.afterEffect) return error;
      throw error;
    }
    if (this.chaos?.throttle()) {
      const seconds = this.chaos.retryAfterSeconds;
      this.record({ kind: 'throttled', key: channelKey ?? '-', rule: 'chaos', retryAfterSeconds: seconds });
      throw new GraphError(429, 'TooManyRequests', 'Too many requests.', { 'Retry-After': String(seconds) });
    }
    if (channelKey) {
      const decision = this.limiter.take(channelKey);
      if (!decision.allowed) {
        const seconds = retryAfterSeconds(decision.retryAfterMs);
        this.record({ kind: 'throttled', key: channelKey, rule: 'channel_rate', retryAfterSeconds: seconds });
        throw new GraphError(429, 'TooManyRequests', 'Too many requests on this channel.', {
          'Retry-After': String(seconds),
        });
      }
    }
    return null;
  }

  private countDaily(channelKey: string): void {
    const day = new Date(this.now()).toISOString().slice(0, 10);
    const key = `${channelKey}@${day}`;
    const used = this.daily.get(key) ?? 0;
    if (used >= this.limits.dailyMessagesPerChannel) {
      const midnight = Date.parse(`${day}T00:00:00.000Z`) + 24 * 3600_000;
      const seconds = retryAfterSeconds(midnight - this.now());
      this.record({ kind: 'throttled', key: channelKey, rule: 'daily_quota', retryAfterSeconds: seconds });
      throw new GraphError(429, 'TooManyRequests', 'The daily message limit for this channel is reached.', {
        'Retry-After': String(seconds),
      });
    }
    this.daily.set(key, used + 1);
  }

  // ----------------------------------------------------------------------------------- messages

  private nextMessageId(): string {
    this.lastMessageId = Math.max(this.now(), this.lastMessageId + 1);
    return String(this.lastMessageId);
  }

  /**
   * Creates a root (replyToId null) or a reply. `by` says whose token posted it. `images` are
   * pasted into an HTML body as `<img>` tags pointing at the message's hostedContents, like Teams
   * does (their URLs need the message id, known only here).
   */
  createMessage(input: {
    teamId: string;
    channelId: string;
    replyToId: string | null;
    body: ItemBody;
    subject?: string | null;
    attachments?: ChatMessageAttachment[];
    images?: readonly HostedImageInput[];
    user: GraphUser;
    by: 'bridge' | 'human';
  }): ChatMessageRecord {
    if (input.images?.length && input.body.contentType !== 'html') {
      throw new TypeError('images go into an HTML body');
    }
    const channel = this.channel(input.teamId, input.channelId);
    const channelKey = `${input.teamId}/${input.channelId}`;
    if (input.replyToId !== null) {
      const root = this.messages.get(this.messageKey(input.teamId, input.channelId, input.replyToId));
      if (!root || root.replyToId !== null) {
        throw new GraphError(404, 'NotFound', `message ${input.replyToId} not found in this channel`);
      }
    }
    const attachments = input.attachments ?? [];
    const bytes =
      Buffer.byteLength(input.body.content) +
      attachments.reduce(
        (n, a) => n + Buffer.byteLength(a.content ?? '') + Buffer.byteLength(a.contentUrl ?? ''),
        0,
      );
    if (bytes > this.limits.maxMessageBytes) {
      this.record({
        kind: 'message.rejected',
        teamId: input.teamId,
        channelId: input.channelId,
        status: 413,
        code: 'RequestEntityTooLarge',
        reason: `${bytes} bytes`,
      });
      throw new GraphError(413, 'RequestEntityTooLarge', 'Request Entity too large');
    }
    for (const attachment of attachments) {
      if (
        input.body.contentType !== 'html' ||
        !input.body.content.includes(`<attachment id="${attachment.id}"></attachment>`)
      ) {
        throw new GraphError(
          400,
          'BadRequest',
          `Attachment ${attachment.id} is not referenced in the message body with <attachment id="…"></attachment>.`,
        );
      }
    }
    if (input.by === 'bridge') this.countDaily(channelKey);
    const id = this.nextMessageId();
    const at = iso(this.now());
    const hostedIds = this.content.addHosted(
      this.messageKey(input.teamId, input.channelId, id),
      input.images ?? [],
    );
    const messageUrl = `${this.baseUrl}/v1.0/teams/${input.teamId}/channels/${input.channelId}/messages/${
      input.replyToId === null ? id : `${input.replyToId}/replies/${id}`
    }`;
    const images = hostedIds
      .map(
        (hostedId) =>
          `<p><img alt="image" src="${messageUrl}/hostedContents/${hostedId}/$value" width="250" height="250" itemscope="" itemtype="http://schema.skype.com/AMSImage" style="vertical-align:bottom; width:250px; height:250px"></p>`,
      )
      .join('');
    const message: ChatMessageRecord = {
      id,
      teamId: input.teamId,
      channelId: input.channelId,
      replyToId: input.replyToId,
      etag: id,
      messageType: 'message',
      createdDateTime: at,
      lastModifiedDateTime: at,
      lastEditedDateTime: null,
      deletedDateTime: null,
      subject: input.replyToId === null ? (input.subject ?? null) : null,
      summary: null,
      importance: 'normal',
      locale: 'en-us',
      webUrl: `https://teams.microsoft.com/l/message/${encodeURIComponent(input.channelId)}/${id}?groupId=${input.teamId}&tenantId=${this.tenantOf(input.teamId)}${input.replyToId ? `&parentMessageId=${input.replyToId}` : ''}`,
      from: {
        user: { id: input.user.id, displayName: input.user.displayName, userIdentityType: 'aadUser' },
        application: null,
        device: null,
      },
      body: { ...input.body, content: input.body.content + images },
      attachments: attachments.map((a) => ({ ...a })),
      mentions: [],
      reactions: [],
      postedBy: input.by,
    };
    this.messages.set(this.messageKey(input.teamId, input.channelId, id), message);
    if (input.replyToId === null) channel.roots.push(id);
    else {
      // Teams bumps the root's modification time when its thread gets a reply.
      const root = this.messages.get(this.messageKey(input.teamId, input.channelId, input.replyToId));
      if (root) root.lastModifiedDateTime = at;
    }
    this.record({
      kind: 'message.created',
      id,
      teamId: input.teamId,
      channelId: input.channelId,
      replyToId: input.replyToId,
      postedBy: input.by,
      fromUserId: input.user.id,
      text: plainText(input.body),
      attachmentIds: attachments.map((a) => a.id),
      bytes,
    });
    this.notify(message, 'created');
    return message;
  }

  messageKey(teamId: string, channelId: string, id: string): string {
    return `${teamId}/${channelId}/${id}`;
  }

  getMessage(teamId: string, channelId: string, id: string, replyToId: string | null): ChatMessageRecord {
    this.channel(teamId, channelId);
    const message = this.messages.get(this.messageKey(teamId, channelId, id));
    if (!message || message.replyToId !== replyToId) {
      throw new GraphError(404, 'NotFound', `message ${id} not found`);
    }
    return message;
  }

  updateMessage(
    message: ChatMessageRecord,
    patch: { body?: ItemBody; attachments?: ChatMessageAttachment[]; subject?: string | null },
    by: 'bridge' | 'human',
  ): void {
    const at = iso(this.now());
    if (patch.body) message.body = { ...patch.body };
    if (patch.attachments) message.attachments = patch.attachments.map((a) => ({ ...a }));
    if (patch.subject !== undefined && message.replyToId === null) message.subject = patch.subject;
    message.lastModifiedDateTime = at;
    message.lastEditedDateTime = at;
    message.etag = String(this.now());
    this.record({
      kind: 'message.updated',
      id: message.id,
      teamId: message.teamId,
      channelId: message.channelId,
      replyToId: message.replyToId,
      by,
    });
    this.notify(message, 'updated');
  }

  softDelete(message: ChatMessageRecord): void {
    const at = iso(this.now());
    message.deletedDateTime = at;
    message.lastModifiedDateTime = at;
    message.body = { contentType: 'html', content: '' };
    message.attachments = [];
    this.content.dropHosted(this.messageKey(message.teamId, message.channelId, message.id));
    this.record({
      kind: 'message.deleted',
      id: message.id,
      teamId: message.teamId,
      channelId: message.channelId,
      replyToId: message.replyToId,
    });
    this.notify(message, 'updated');
  }

  setReaction(message: ChatMessageRecord, user: GraphUser, reactionType: string): void {
    if (!message.reactions.some((r) => r.user.user.id === user.id && r.reactionType === reactionType)) {
      message.reactions.push({
        reactionType,
        createdDateTime: iso(this.now()),
        user: { user: { id: user.id, displayName: null, userIdentityType: 'aadUser' } },
      });
    }
    message.lastModifiedDateTime = iso(this.now());
    this.record({ kind: 'message.reaction', id: message.id, channelId: message.channelId, reactionType });
    this.notify(message, 'updated');
  }

  replies(teamId: string, channelId: string, rootId: string): ChatMessageRecord[] {
    const prefix = `${teamId}/${channelId}/`;
    const out: ChatMessageRecord[] = [];
    for (const [key, message] of this.messages) {
      if (key.startsWith(prefix) && message.replyToId === rootId) out.push(message);
    }
    return out.sort((a, b) => Number(a.id) - Number(b.id));
  }

  roots(teamId: string, channelId: string): ChatMessageRecord[] {
    const channel = this.channel(teamId, channelId);
    return channel.roots
      .map((id) => this.messages.get(this.messageKey(teamId, channelId, id)))
      .filter((m): m is ChatMessageRecord => m !== undefined);
  }

  /** The Graph JSON of a message (what GET returns). */
  toJson(message: ChatMessageRecord): Record<string, unknown> {
    const { postedBy: _postedBy, teamId, channelId, ...rest } = message;
    return {
      '@odata.context': `${this.baseUrl}/v1.0/$metadata#teams('${teamId}')/channels('${encodeURIComponent(channelId)}')/messages/$entity`,
      ...rest,
      chatId: null,
      channelIdentity: { teamId, channelId },
      // Graph always has both properties; null unless a test gave the message one.
      policyViolation: message.policyViolation ?? null,
      eventDetail: message.eventDetail ?? null,
      hostedContents: undefined,
    };
  }

  resourcePath(message: ChatMessageRecord): string {
    const base = `teams('${message.teamId}')/channels('${message.channelId}')/messages('${message.replyToId ?? message.id}')`;
    return message.replyToId ? `${base}/replies('${message.id}')` : base;
  }

  // ----------------------------------------------------------------------------------- subscriptions

  /** Graph's validation handshake: POST `?validationToken=` and expect the token back as text/plain. */
  async validateUrl(url: string): Promise<void> {
    const parsed = new URL(url);
    const loopback = ['localhost', '127.0.0.1', '[::1]'].includes(parsed.hostname);
    if (
      parsed.protocol !== 'https:' &&
      !(parsed.protocol === 'http:' && loopback && this.subscriptionRules.allowLoopbackHttp)
    ) {
      throw new GraphError(400, 'ValidationError', `The notification URL must use https: ${url}`);
    }
    const token = `Validation: Testing client application reachability for subscription Request-Id: ${randomUUID()}`;
    const target = new URL(url);
    target.searchParams.set('validationToken', token);
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), this.subscriptionRules.validationTimeoutMs);
    let status: number | undefined;
    let reason: string | null = null;
    try {
      const response = await fetch(target, {
        method: 'POST',
        headers: { 'content-type': 'text/plain; charset=utf-8' },
        body: '',
        signal: controller.signal,
      });
      status = response.status;
      const text = await response.text();
      const type = response.headers.get('content-type') ?? '';
      if (response.status !== 200) reason = `answered ${response.status}`;
      else if (!type.toLowerCase().startsWith('text/plain'))
        reason = `answered content-type ${type || '(none)'}`;
      else if (text !== token) reason = 'did not echo the validation token';
    } catch (error) {
      reason = controller.signal.aborted
        ? `no answer within ${this.subscriptionRules.validationTimeoutMs} ms`
        : `unreachable: ${error instanceof Error ? error.message : String(error)}`;
    } finally {
      clearTimeout(timer);
    }
    this.record({ kind: 'subscription.validation', url, ok: reason === null, status, reason });
    if (reason !== null) {
      throw new GraphError(
        400,
        'ValidationError',
        `Subscription validation request failed: ${url} ${reason}.`,
      );
    }
  }

  async createSubscription(input: Record<string, unknown>, grant: TokenGrant): Promise<SubscriptionRecord> {
    const str = (key: string) => (typeof input[key] === 'string' ? (input[key] as string) : null);
    const resource = str('resource');
    const changeType = str('changeType');
    const notificationUrl = str('notificationUrl');
    const expiration = str('expirationDateTime');
    if (!resource || !changeType || !notificationUrl || !expiration) {
      throw new GraphError(
        400,
        'InvalidRequest',
        'resource, changeType, notificationUrl and expirationDateTime are required.',
      );
    }
    const target = parseChannelResource(resource);
    if (!target) throw new GraphError(400, 'InvalidRequest', `Unsupported resource ${resource}.`);
    this.channel(target.teamId, target.channelId, grant.tenantId);
    for (const type of changeType.split(',')) {
      if (!['created', 'updated', 'deleted'].includes(type.trim())) {
        throw new GraphError(400, 'InvalidRequest', `Unsupported changeType ${type}.`);
      }
    }
    const lifecycleNotificationUrl = str('lifecycleNotificationUrl');
    const expiresAt = this.checkExpiration(expiration, lifecycleNotificationUrl !== null);
    const clientState = str('clientState');
    if (clientState !== null && clientState.length > 128) {
      throw new GraphError(400, 'InvalidRequest', 'clientState is limited to 128 characters.');
    }
    const includeResourceData = input.includeResourceData === true;
    const encryptionCertificate = str('encryptionCertificate');
    const encryptionCertificateId = str('encryptionCertificateId');
    if (includeResourceData) {
      if (grant.kind !== 'app') {
        throw new GraphError(
          403,
          'Forbidden',
          'Resource data is only available to application-only subscriptions.',
        );
      }
      if (!encryptionCertificate || !encryptionCertificateId) {
        throw new GraphError(
          400,
          'InvalidRequest',
          'includeResourceData needs encryptionCertificate and encryptionCertificateId.',
        );
      }
    }
    if (this.outage)
      throw new GraphError(503, 'ServiceUnavailable', 'The service is temporarily unavailable.');
    await this.validateUrl(notificationUrl);
    if (lifecycleNotificationUrl) await this.validateUrl(lifecycleNotificationUrl);
    const subscription: SubscriptionRecord = {
      id: randomUUID(),
      resource,
      changeType,
      notificationUrl,
      lifecycleNotificationUrl,
      clientState,
      expirationDateTime: iso(expiresAt),
      includeResourceData,
      encryptionCertificate,
      encryptionCertificateId,
      applicationId: grant.clientId,
      creatorId: grant.userId ?? grant.clientId,
      latestSupportedTlsVersion: 'v1_2',
      notificationContentType: 'application/json',
      reauthorizationRequired: false,
    };
    this.subscriptions.set(subscription.id, subscription);
    this.subscriptionTenant.set(subscription.id, grant.tenantId);
    this.record({
      kind: 'subscription.created',
      id: subscription.id,
      resource,
      expirationDateTime: subscription.expirationDateTime,
      encrypted: includeResourceData,
    });
    return subscription;
  }

  private checkExpiration(value: string, hasLifecycleUrl: boolean): number {
    const at = Date.parse(value);
    const now = this.now();
    if (!Number.isFinite(at) || at <= now) {
      throw new GraphError(400, 'InvalidRequest', 'expirationDateTime must be in the future.');
    }
    const minutes = (at - now) / 60_000;
    if (minutes > this.subscriptionRules.maxLifetimeMinutes + 1) {
      throw new GraphError(
        400,
        'InvalidRequest',
        `Subscription expiration can only be ${this.subscriptionRules.maxLifetimeMinutes} minutes in the future.`,
      );
    }
    if (!hasLifecycleUrl && minutes > this.subscriptionRules.lifecycleUrlRequiredAboveMinutes + 1) {
      throw new GraphError(
        400,
        'InvalidRequest',
        `lifecycleNotificationUrl is required for subscriptions longer than ${this.subscriptionRules.lifecycleUrlRequiredAboveMinutes} minutes.`,
      );
    }
    return at;
  }

  /** The live subscription, or a 404; an expired one is removed here (Graph deletes them silently). */
  liveSubscription(id: string, tenantId?: string): SubscriptionRecord {
    if (tenantId !== undefined && this.subscriptionTenant.get(id) !== tenantId) {
      throw new GraphError(404, 'ResourceNotFound', `The object was not found: subscription ${id}.`);
    }
    const subscription = this.subscriptions.get(id);
    if (subscription && Date.parse(subscription.expirationDateTime) <= this.now()) {
      this.subscriptions.delete(id);
      this.record({ kind: 'subscription.deleted', id, reason: 'expired' });
    } else if (subscription) {
      return subscription;
    }
    throw new GraphError(404, 'ResourceNotFound', `The object was not found: subscription ${id}.`);
  }

  renewSubscription(id: string, expiration: string, tenantId?: string): SubscriptionRecord {
    const subscription = this.liveSubscription(id, tenantId);
    const at = this.checkExpiration(expiration, subscription.lifecycleNotificationUrl !== null);
    subscription.expirationDateTime = iso(at);
    subscription.reauthorizationRequired = false;
    this.record({ kind: 'subscription.renewed', id, expirationDateTime: subscription.expirationDateTime });
    this.releaseAfterReauthorize(id);
    return subscription;
  }

  reauthorizeSubscription(id: string, tenantId?: string): void {
    const subscription = this.liveSubscription(id, tenantId);
    subscription.reauthorizationRequired = false;
    this.record({ kind: 'subscription.reauthorized', id });
    this.releaseAfterReauthorize(id);
  }

  deleteSubscription(id: string, tenantId?: string): void {
    this.liveSubscription(id, tenantId);
    this.subscriptions.delete(id);
    this.record({ kind: 'subscription.deleted', id, reason: 'client' });
  }

  /** Expires a subscription now (as if its owner had not renewed it in time). */
  expireSubscription(id: string): void {
    const subscription = this.subscriptions.get(id);
    if (!subscription) return;
    subscription.expirationDateTime = iso(this.now() - 1);
    try {
      this.liveSubscription(id);
    } catch {
      // Expected: looking it up is what removes an expired subscription.
    }
  }

  // ----------------------------------------------------------------------------------- notifications

  /**
   * A subscription's channel, parsed once per resource: every message posted is matched against
   * every subscription (one per channel in a campaign bench, 50 regular expressions per post).
   */
  private readonly channelsByResource = new Map<string, { teamId: string; channelId: string } | null>();
  private channelOf(resource: string): { teamId: string; channelId: string } | null {
    let target = this.channelsByResource.get(resource);
    if (target === undefined) {
      target = parseChannelResource(resource);
      if (this.channelsByResource.size >= 10_000) this.channelsByResource.clear();
      this.channelsByResource.set(resource, target);
    }
    return target;
  }

  private matching(message: ChatMessageRecord, changeType: string): SubscriptionRecord[] {
    const out: SubscriptionRecord[] = [];
    for (const subscription of [...this.subscriptions.values()]) {
      const target = this.channelOf(subscription.resource);
      if (!target || target.teamId !== message.teamId || target.channelId !== message.channelId) continue;
      if (
        !subscription.changeType
          .split(',')
          .map((s) => s.trim())
          .includes(changeType)
      )
        continue;
      try {
        this.liveSubscription(subscription.id);
      } catch {
        continue;
      }
      out.push(subscription);
    }
    return out;
  }

  private notify(message: ChatMessageRecord, changeType: 'created' | 'updated'): void {
    for (const subscription of this.matching(message, changeType)) {
      if (this.outage || subscription.reauthorizationRequired) {
        this.withheld.push({
          subscriptionId: subscription.id,
          messageId: this.messageKey(message.teamId, message.channelId, message.id),
        });
        this.record({
          kind: 'notification.withheld',
          subscriptionId: subscription.id,
          messageId: message.id,
          reason: 'outage',
        });
        continue;
      }
      this.deliverChange(subscription, message, changeType);
    }
  }

  private deliverChange(
    subscription: SubscriptionRecord,
    message: ChatMessageRecord,
    changeType: string,
  ): void {
    const body = this.changePayload(subscription, message, changeType);
    this.post(subscription, subscription.notificationUrl, body, null, { changeType, messageId: message.id });
  }

  /** The notification collection Graph posts about one change (encrypted when the subscription asks). */
  changePayload(
    subscription: SubscriptionRecord,
    message: ChatMessageRecord,
    changeType: string,
    override: { clientState?: string | null; subscriptionId?: string } = {},
  ): Record<string, unknown> {
    const item: Record<string, unknown> = {
      subscriptionId: override.subscriptionId ?? subscription.id,
      subscriptionExpirationDateTime: subscription.expirationDateTime,
      changeType,
      resource: this.resourcePath(message),
      resourceData: {
        id: message.id,
        '@odata.type': '#Microsoft.Graph.chatMessage',
        '@odata.id': this.resourcePath(message),
      },
      clientState: override.clientState === undefined ? subscription.clientState : override.clientState,
      tenantId: this.subscriptionTenant.get(subscription.id) ?? this.tenantOf(message.teamId),
    };
    const body: Record<string, unknown> = { value: [item] };
    if (
      subscription.includeResourceData &&
      subscription.encryptionCertificate &&
      subscription.encryptionCertificateId
    ) {
      item.encryptedContent = encryptResource(
        this.toJson(message),
        subscription.encryptionCertificate,
        subscription.encryptionCertificateId,
      );
      body.validationTokens = [
        this.validationToken(subscription.applicationId, this.subscriptionTenant.get(subscription.id)),
      ];
    }
    return body;
  }

  /** A JWT like the ones Graph adds to notifications with resource data. */
  validationToken(audience: string, tenantId = this.tenantId): string {
    const now = Math.floor(this.now() / 1000);
    return signJwt(
      {
        aud: audience,
        iss: `https://sts.windows.net/${tenantId}/`,
        iat: now - 60,
        nbf: now - 60,
        exp: now + 3600,
        azp: GRAPH_NOTIFICATION_APP_ID,
        azpacr: '2',
        tid: tenantId,
        ver: '1.0',
      },
      this.signingKey,
    );
  }

  private post(
    subscription: SubscriptionRecord,
    url: string,
    body: unknown,
    lifecycle: LifecycleEvent | null,
    detail: { changeType: string | null; messageId: string | null },
  ): Promise<boolean> {
    const delivery = this.dispatcher.deliver({
      url,
      body: JSON.stringify(body),
      headers: () => ({ 'content-type': 'application/json; charset=utf-8' }),
      onAttempt: (report) =>
        this.record({
          kind: 'notification.attempt',
          deliveryId: report.deliveryId,
          subscriptionId: subscription.id,
          lifecycle,
          changeType: detail.changeType,
          messageId: detail.messageId,
          attempt: report.attempt,
          status: report.status,
          ok: report.ok,
          error: report.error,
          durationMs: report.durationMs,
        }),
    });
    return delivery.done.then((result) => {
      this.record({
        kind: 'notification.outcome',
        deliveryId: result.deliveryId,
        subscriptionId: subscription.id,
        lifecycle,
        outcome: result.outcome,
      });
      // Graph drops a change notification it could not deliver and says so with `missed`.
      if (result.outcome === 'gave_up' && lifecycle === null && detail.messageId) {
        this.record({
          kind: 'notification.withheld',
          subscriptionId: subscription.id,
          messageId: detail.messageId,
          reason: 'dropped',
        });
        void this.lifecycle(subscription.id, 'missed');
      }
      return result.outcome === 'acknowledged';
    });
  }

  /** Sends a lifecycle notification (and applies its effect: `subscriptionRemoved` deletes it). */
  lifecycle(subscriptionId: string, event: LifecycleEvent): Promise<boolean> {
    const subscription = this.subscriptions.get(subscriptionId);
    if (!subscription) return Promise.resolve(false);
    if (event === 'subscriptionRemoved') {
      this.subscriptions.delete(subscriptionId);
      this.record({ kind: 'subscription.deleted', id: subscriptionId, reason: 'removed' });
    }
    if (event === 'reauthorizationRequired') subscription.reauthorizationRequired = true;
    const url = subscription.lifecycleNotificationUrl;
    if (!url) return Promise.resolve(false);
    const body = {
      value: [
        {
          subscriptionId,
          subscriptionExpirationDateTime: subscription.expirationDateTime,
          tenantId: this.subscriptionTenant.get(subscriptionId) ?? this.tenantId,
          clientState: subscription.clientState,
          lifecycleEvent: event,
        },
      ],
    };
    return this.post(subscription, url, body, event, { changeType: null, messageId: null });
  }

  /** After an outage, Graph tells each subscriber that it missed notifications. */
  private releaseWithheld(): void {
    const affected = new Set(this.withheld.splice(0).map((w) => w.subscriptionId));
    for (const id of affected) void this.lifecycle(id, 'missed');
  }

  /** Notifications withheld for a subscription waiting for reauthorization are reported as missed once it is reauthorized. */
  releaseAfterReauthorize(id: string): void {
    const mine = this.withheld.filter((w) => w.subscriptionId === id);
    if (mine.length === 0) return;
    for (const w of mine) this.withheld.splice(this.withheld.indexOf(w), 1);
    void this.lifecycle(id, 'missed');
  }

  idle(): Promise<void> {
    return this.dispatcher.idle();
  }

  close(): Promise<void> {
    return this.dispatcher.close();
  }
}
