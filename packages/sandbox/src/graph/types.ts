/**
 * Public types of the Microsoft Graph emulator: its options, the Teams objects it keeps and the
 * events it writes to its ledger.
 */
import type { ChaosOptions } from '../shared/chaos.ts';
import type { Ledger } from '../shared/ledger.ts';
import type { DeliveryOutcome } from '../shared/webhook-delivery.ts';

/** An Entra ID user: the service account the bridge posts as, or a human agent. */
export interface GraphUser {
  id: string;
  displayName: string;
  userPrincipalName: string;
}

/** An app registration: what a confidential client authenticates as (multi-tenant: usable in every tenant). */
export interface GraphApp {
  clientId: string;
  clientSecret: string;
  displayName?: string;
  /**
   * Registered redirect URIs; an authorization request must use one of them (a loopback URI matches
   * on any port, as Entra ID allows for `http://localhost`). Default: any.
   */
  redirectUris?: string[];
}

export interface GraphChannelSeed {
  id: string;
  displayName: string;
}

export interface GraphTeamSeed {
  id: string;
  displayName: string;
  channels: GraphChannelSeed[];
  /** Ids of the team's members (default: every account of its tenant). */
  members?: string[];
}

/** Another Entra ID tenant (organization) with its own accounts and teams. */
export interface GraphTenantSeed {
  tenantId: string;
  displayName: string;
  /** Verified domain, e.g. `fabrikam.example` (shown on the sign-in page). */
  domain?: string;
  /** The account the bridge signs in as in this tenant. */
  serviceAccount: GraphUser;
  /** Other accounts that can sign in (and be team members). */
  users?: GraphUser[];
  teams: GraphTeamSeed[];
}

export interface GraphLimits {
  /** Requests per second per app on one channel (Graph: 4). */
  channelRequestsPerSecond: number;
  /** Burst on top of that rate (a full bucket). */
  channelBurst: number;
  /** Messages (roots and replies) per app per channel per UTC day (Graph: 3,000). */
  dailyMessagesPerChannel: number;
  /** Largest accepted message body + attachments, in UTF-8 bytes (Teams: about 28 KB). */
  maxMessageBytes: number;
}

export interface GraphSubscriptionRules {
  /** Longest lifetime accepted for a chatMessage subscription (minutes). */
  maxLifetimeMinutes: number;
  /** A lifetime above this many minutes needs `lifecycleNotificationUrl` (Graph: 60). */
  lifecycleUrlRequiredAboveMinutes: number;
  /** How long the notification URL has to answer the validation handshake (Graph: 10 s). */
  validationTimeoutMs: number;
  /** Accept `http://` notification URLs on loopback hosts (tests run the gateway without TLS). */
  allowLoopbackHttp: boolean;
}

export interface GraphEmulatorOptions {
  /** Entra tenant id of the default tenant (default a fixed sandbox GUID). */
  tenantId?: string;
  /** Display name of the default tenant. */
  tenantName?: string;
  /** More tenants; app registrations are multi-tenant. */
  tenants?: GraphTenantSeed[];
  /**
   * What `/{tenant}/oauth2/v2.0/authorize` does: `auto` (default) signs the requested account (the
   * `login_hint`, else the tenant's service account) in at once and redirects, for headless flows;
   * `page` shows Microsoft's sign-in and consent page (pick an account, Accept / Cancel).
   */
  consent?: 'auto' | 'page';
  /** Lifetime of authorization codes (Entra ID: about 10 minutes). */
  codeTtlSeconds?: number;
  /** App registrations (default one, see `DEFAULT_APP`). */
  apps?: GraphApp[];
  /** The user the bridge signs in as (default `DEFAULT_SERVICE_ACCOUNT`). */
  serviceAccount?: GraphUser;
  /** Teams and channels (default one team with one channel). */
  teams?: GraphTeamSeed[];
  limits?: Partial<GraphLimits>;
  subscriptions?: Partial<GraphSubscriptionRules>;
  /** Access token lifetime in seconds (default 3600). */
  accessTokenTtlSeconds?: number;
  /**
   * `rotate` (default): every refresh returns a new refresh token and the old one stays valid, like
   * Entra ID. `strict`: a refresh token works once, so a client that loses the rotated token fails.
   */
  refreshTokenRotation?: 'rotate' | 'strict';
  /** Retry schedule of change notifications that are not acknowledged (default 1 s, 4 s, 16 s). */
  notificationRetryDelaysMs?: number[];
  /** Per-attempt timeout of a notification POST (Graph expects an answer within 3 s). */
  notificationTimeoutMs?: number;
  /** Base time source (default `Date.now`); `advanceTime` adds to it. */
  now?: () => number;
  ledger?: Ledger<GraphEvent>;
  /**
   * Seeded throttling: about `throttleRate` of the bridge's API calls are answered with the
   * platform's 429 (see `ChaosOptions`), on top of the modelled rate limits.
   */
  chaos?: ChaosOptions;
  port?: number;
  /** Interface to bind and the name in the certificate (default `localhost`). */
  hostname?: string;
}

export interface ItemBody {
  contentType: 'text' | 'html';
  content: string;
}

/** An image a simulated agent pastes into a message (stored as a Graph hostedContent). */
export interface HostedImageInput {
  bytes: Uint8Array | string;
  /** Default `image/png`. */
  contentType?: string;
}

/** A file a simulated agent shares into a message (uploaded to SharePoint, a `reference` attachment). */
export interface SharedFileInput {
  name: string;
  bytes: Uint8Array | string;
  /** What the download answers with; default `application/octet-stream`. */
  contentType?: string;
}

export interface ChatMessageAttachment {
  id: string;
  contentType: string;
  content?: string | null;
  contentUrl?: string | null;
  name?: string | null;
  thumbnailUrl?: string | null;
}

export interface ChatMessageFrom {
  user: { id: string; displayName: string; userIdentityType: 'aadUser' } | null;
  application: { id: string; displayName: string; applicationIdentityType: 'bot' } | null;
  device: null;
}

export interface ChatMessageReaction {
  reactionType: string;
  createdDateTime: string;
  user: { user: { id: string; displayName: string | null; userIdentityType: 'aadUser' } };
}

/** A channel message or reply, shaped like Graph's `chatMessage`. */
export interface ChatMessageRecord {
  id: string;
  teamId: string;
  channelId: string;
  /** Root id for replies, null for a root message. */
  replyToId: string | null;
  etag: string;
  messageType: 'message' | 'systemEventMessage';
  createdDateTime: string;
  lastModifiedDateTime: string;
  lastEditedDateTime: string | null;
  deletedDateTime: string | null;
  subject: string | null;
  summary: string | null;
  importance: 'normal' | 'high' | 'urgent';
  locale: string;
  webUrl: string;
  from: ChatMessageFrom;
  body: ItemBody;
  attachments: ChatMessageAttachment[];
  mentions: unknown[];
  reactions: ChatMessageReaction[];
  /** What a system event message reports (members added, channel renamed, …); absent for people's messages. */
  eventDetail?: Record<string, unknown> | null;
  /** Set when a DLP policy acted on the message (`dlpAction`: `none`, `notifySender`, `blockAccess`, …). */
  policyViolation?: Record<string, unknown> | null;
  /** Which token created it: the bridge (delegated as the service account) or a simulated human. */
  postedBy: 'bridge' | 'human';
}

export interface SubscriptionRecord {
  id: string;
  resource: string;
  changeType: string;
  notificationUrl: string;
  lifecycleNotificationUrl: string | null;
  clientState: string | null;
  expirationDateTime: string;
  includeResourceData: boolean;
  encryptionCertificate: string | null;
  encryptionCertificateId: string | null;
  applicationId: string;
  creatorId: string;
  latestSupportedTlsVersion: string;
  notificationContentType: 'application/json';
  /** Set by `lifecycle('reauthorizationRequired')`; cleared by reauthorize or renewal. */
  reauthorizationRequired: boolean;
}

export type LifecycleEvent = 'reauthorizationRequired' | 'subscriptionRemoved' | 'missed';

type G<K extends string, T> = { platform: 'graph'; kind: K } & T;

/** Everything the Graph emulator records. */
export type GraphEvent =
  | G<
      'api.request',
      {
        method: string;
        path: string;
        status: number;
        identity: 'app' | 'user' | 'none';
        /** When the request arrived (`at` is when it was answered). */
        receivedAt: number;
      }
    >
  | G<'token.issued', { grantType: string; clientId: string; userId: string | null; tenantId?: string }>
  | G<'token.rejected', { grantType: string; clientId: string | null; error: string; code: string }>
  | G<
      'authorize',
      {
        outcome: 'page' | 'auto' | 'approved' | 'declined' | 'invalid';
        tenant: string;
        clientId: string | null;
        userId: string | null;
        error: string | null;
        pkce: boolean;
      }
    >
  | G<
      'message.created',
      {
        id: string;
        teamId: string;
        channelId: string;
        replyToId: string | null;
        postedBy: 'bridge' | 'human';
        fromUserId: string | null;
        /** Plain text of the body (tags stripped), for assertions. */
        text: string;
        attachmentIds: string[];
        bytes: number;
      }
    >
  | G<
      'message.updated',
      { id: string; teamId: string; channelId: string; replyToId: string | null; by: 'bridge' | 'human' }
    >
  | G<'message.deleted', { id: string; teamId: string; channelId: string; replyToId: string | null }>
  | G<'content.served', { source: 'hostedContent' | 'driveItem'; id: string; bytes: number }>
  | G<'message.reaction', { id: string; channelId: string; reactionType: string }>
  | G<'message.rejected', { teamId: string; channelId: string; status: number; code: string; reason: string }>
  | G<
      'throttled',
      { key: string; rule: 'channel_rate' | 'daily_quota' | 'fail_next' | 'chaos'; retryAfterSeconds: number }
    >
  | G<
      'subscription.validation',
      { url: string; ok: boolean; status: number | undefined; reason: string | null }
    >
  | G<
      'subscription.created',
      { id: string; resource: string; expirationDateTime: string; encrypted: boolean }
    >
  | G<'subscription.renewed', { id: string; expirationDateTime: string }>
  | G<'subscription.reauthorized', { id: string }>
  | G<'subscription.deleted', { id: string; reason: 'client' | 'expired' | 'removed' }>
  | G<
      'notification.attempt',
      {
        deliveryId: number;
        subscriptionId: string;
        lifecycle: LifecycleEvent | null;
        changeType: string | null;
        messageId: string | null;
        attempt: number;
        status: number | undefined;
        ok: boolean;
        error: string | undefined;
        durationMs: number;
      }
    >
  | G<
      'notification.outcome',
      {
        deliveryId: number;
        subscriptionId: string;
        lifecycle: LifecycleEvent | null;
        outcome: DeliveryOutcome;
      }
    >
  | G<'notification.withheld', { subscriptionId: string; messageId: string; reason: 'outage' | 'dropped' }>;
