/**
 * Public types of the Slack emulator: its options and the events it writes to its ledger.
 */
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
}

/** Slack's per-method tiers (requests per minute per workspace), platform-facts §3.7. */
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
  /** The bot token (`xoxb-…`) the Web API accepts. */
  botToken: string;
  teamId?: string;
  teamName?: string;
  appId?: string;
  botId?: string;
  botUserId?: string;
  /** Channels the bot is a member of (default one, `C0SUPPORT01` / `support`). */
  channels?: SlackChannel[];
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

/** Everything the Slack emulator records. */
export type SlackEvent =
  | S<'api.call', { method: string; ok: boolean; error: string | undefined; httpStatus: number }>
  | S<'api.rate_limited', { method: string; key: string; retryAfterSeconds: number }>
  | S<'api.invalid', { method: string; errors: string[] }>
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
