/**
 * Public types of the Slack emulator: its options and the events it writes to its ledger.
 */
import type { ChaosOptions } from '../shared/chaos.ts';
import type { Clock } from '../shared/clock.ts';
import type { Ledger, LedgerEvent } from '../shared/ledger.ts';

export interface SlackChannel {
  /** Channel id as Slack shows it, e.g. `C0SUPPORT01`. */
  id: string;
  name: string;
}

export interface SlackUser {
  id: string;
  name: string;
  /** Workspace the person belongs to (default: the workspace of the channel they act in). */
  teamId?: string;
}

/** A Slack workspace (a team, `T…`), possibly part of an Enterprise Grid organization. */
export interface SlackWorkspaceSeed {
  id: string;
  name: string;
  /** `<domain>.slack.com` (default: the name, lower-cased, dashes for spaces). */
  domain?: string;
  /** The Enterprise Grid organization (`E…`) the workspace belongs to. */
  enterpriseId?: string;
  channels?: SlackChannel[];
  /** The person who installs apps here (the consent page's "signed in as"; default a workspace admin). */
  admin?: SlackUser;
}

/** An Enterprise Grid organization (`E…`): its workspaces name it in `enterpriseId`. */
export interface SlackEnterpriseSeed {
  id: string;
  name: string;
  /** `<domain>.enterprise.slack.com` (default from the name). */
  domain?: string;
  /** The org admin who can install an app on the whole organization. */
  admin?: SlackUser;
}

/**
 * The app's OAuth settings ("OAuth & Permissions" and "Manage distribution" in Slack's app config):
 * what `GET /oauth/v2/authorize` and `oauth.v2.access` check.
 */
export interface SlackOAuthOptions {
  clientId: string;
  clientSecret: string;
  /** Registered redirect URLs; a `redirect_uri` must be one of them (default: any, but then it is required). */
  redirectUris?: string[];
  /**
   * Token rotation (docs.slack.dev/authentication/using-token-rotation): access tokens expire after
   * `accessTokenTtlSeconds` (Slack: 12 h) and are renewed with single-use refresh tokens.
   */
  tokenRotation?: boolean | { accessTokenTtlSeconds?: number };
  /** The app may be installed on a whole Enterprise Grid organization ("org-ready" app). */
  orgDeployEnabled?: boolean;
  /** Lifetime of authorization codes (Slack: 10 minutes). */
  codeTtlSeconds?: number;
  /**
   * `page` (default): the authorize URL shows a consent page (workspace picker, Allow / Cancel).
   * `auto`: the authorize URL approves at once for the `team` parameter or the first workspace, for
   * headless flows that cannot click.
   */
  consent?: 'page' | 'auto';
}

/** Slack's per-method tiers (requests per minute per workspace), https://docs.slack.dev/apis/web-api/rate-limits. */
export interface TierLimits {
  tier2: number;
  tier3: number;
  tier4: number;
}

export interface SlackRateLimits {
  /**
   * `chat.postMessage` (and file shares, which post in the channel too) per channel: a token bucket
   * refilled at `perSecond`, holding at most `burst` (Slack: "1 per second, short bursts allowed").
   * `false` turns it off.
   */
  postsPerChannel: { perSecond: number; burst: number } | false;
  /** Tiered methods, as a sliding one-minute window per method; `false` turns them off. */
  tiers: TierLimits | false;
}

export interface SlackEmulatorOptions {
  /** Signing secret of the app: key of `X-Slack-Signature` on every callback. */
  signingSecret: string;
  /**
   * The bot token (`xoxb-…`) of the app's installation in the default workspace (`teamId`), as a
   * single-workspace app gets it from its settings page. Without it, the default workspace starts
   * without the app, to be installed with OAuth like the others.
   */
  botToken?: string;
  /** The default workspace. */
  teamId?: string;
  teamName?: string;
  /** Grid organization of the default workspace. */
  enterpriseId?: string;
  appId?: string;
  /** Bot of the default installation. */
  botId?: string;
  botUserId?: string;
  /** Channels of the default workspace (default one, `C0SUPPORT01` / `support`). */
  channels?: SlackChannel[];
  /** More workspaces (the app is not installed in them until an OAuth install or `install()`). */
  workspaces?: SlackWorkspaceSeed[];
  /** Enterprise Grid organizations the workspaces may belong to. */
  enterprises?: SlackEnterpriseSeed[];
  /** "Add to Slack": enables `/oauth/v2/authorize` and `oauth.v2.access` for this app. */
  oauth?: SlackOAuthOptions;
  /** Events API request URL (the gateway's `/hooks/slack/<workspace>/events`). */
  eventsUrl?: string;
  /** Interactivity request URL (`…/interactivity`). */
  interactivityUrl?: string;
  /** Slash command request URL (`…/commands`). */
  commandsUrl?: string;
  rateLimits?: Partial<SlackRateLimits>;
  /**
   * Send `message` events for the bot's own posts, updates and deletions, as Slack does for an app
   * subscribed to `message.channels` (default true): the receiver must recognise its own echoes.
   */
  echoBotMessages?: boolean;
  /** Delays between event delivery attempts (Slack: almost at once, ~1 min, ~5 min). */
  eventRetryDelaysMs?: number[];
  /** How long Slack waits for the receiver's 2xx before counting a timeout (3 s). */
  ackTimeoutMs?: number;
  /** Validate Web API requests against Slack's published spec (default true). */
  validateRequests?: boolean;
  /** Validate every event we send against Slack's Events API schemas (default true). */
  validateEvents?: boolean;
  /** Time source shared with other emulators or the bridge (default: a clock on `Date.now`). */
  clock?: Clock;
  /** Record into this ledger (e.g. one shared with other emulators). */
  ledger?: Ledger<LedgerEvent>;
  /**
   * Seeded throttling: about `throttleRate` of the bridge's API calls are answered with the
   * platform's 429 (see `ChaosOptions`), on top of the modelled rate limits.
   */
  chaos?: ChaosOptions;
  port?: number;
  hostname?: string;
}

/** A planned failure of the next Web API call(s): 429, 503, or a Slack `ok:false` error. */
export type SlackFailure =
  | { kind: 'rate_limited'; retryAfterSeconds?: number }
  | { kind: 'unavailable'; status?: number }
  | { kind: 'error'; error: string }
  | { kind: 'reset' };

type S<K extends string, T> = { platform: 'slack'; kind: K } & T;

/** Where an installation lives: one workspace, or a whole Grid organization. */
export interface InstallationRef {
  teamId: string | null;
  enterpriseId: string | null;
  isEnterpriseInstall: boolean;
}

/** Everything the Slack emulator records. */
export type SlackEvent =
  | S<'api.call', { method: string; ok: boolean; error: string | undefined; httpStatus: number }>
  | S<'api.rate_limited', { method: string; key: string; retryAfterSeconds: number }>
  | S<'api.invalid', { method: string; errors: string[] }>
  | S<'api.denied', { method: string; error: string; teamId: string | null; needed: string | undefined }>
  | S<
      'oauth.authorize',
      { outcome: 'page' | 'auto' | 'invalid'; clientId: string | undefined; error: string | undefined }
    >
  | S<
      'oauth.decision',
      InstallationRef & { decision: 'allow' | 'cancel'; scopes: string[]; userScopes: string[] }
    >
  | S<'oauth.rejected', { method: string; error: string; grantType: string }>
  | S<
      'install.created',
      InstallationRef & {
        botUserId: string;
        botId: string;
        scopes: string[];
        installerUserId: string;
        reinstall: boolean;
      }
    >
  | S<'install.removed', InstallationRef & { reason: 'apps.uninstall' | 'admin' | 'last_token_revoked' }>
  | S<'token.issued', InstallationRef & { tokenType: 'bot' | 'user'; rotating: boolean; grant: string }>
  | S<'token.revoked', InstallationRef & { tokenType: 'bot' | 'user'; userId: string; reason: string }>
  | S<'callback.skipped', { channel: 'event' | 'interaction' | 'command'; teamId: string; reason: string }>
  | S<
      'message.posted',
      {
        channel: string;
        ts: string;
        threadTs: string | undefined;
        user: string;
        bot: boolean;
        text: string;
        subtype: string | undefined;
        fileIds: string[];
        metadata: unknown;
      }
    >
  | S<'message.updated', { channel: string; ts: string; text: string; user: string }>
  | S<'message.deleted', { channel: string; ts: string; user: string }>
  | S<'reaction.added', { channel: string; ts: string; name: string; user: string }>
  | S<'reaction.removed', { channel: string; ts: string; name: string; user: string }>
  | S<'file.uploaded', { fileId: string; filename: string; size: number; sha256: string }>
  | S<'file.shared', { fileId: string; channel: string; ts: string; threadTs: string | undefined }>
  | S<'file.deleted', { fileId: string }>
  | S<'view.opened', { viewId: string; callbackId: string | undefined; triggerId: string }>
  | S<
      'callback.attempt',
      {
        /** `event` (Events API), `interaction` or `command`. */
        channel: 'event' | 'interaction' | 'command';
        id: string;
        attempt: number;
        retryNum: number;
        status: number | undefined;
        ok: boolean;
        error: string | undefined;
        responseBody: string | undefined;
      }
    >;
