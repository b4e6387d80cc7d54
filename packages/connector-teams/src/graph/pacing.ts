import {
  type ConnectorState,
  KeyedTokenBucket,
  type Logger,
  type Metrics,
  sleep,
  WabridgeError,
} from '@wabridge/core';
import type { ChannelTarget, TeamsConfig } from '../config.ts';

const DAY_MS = 24 * 3600_000;
/** Longer waits are handed back to the queue instead of holding a worker slot. */
const MAX_INLINE_WAIT_MS = 3000;
const JITTER_MARGIN_MS = 100;

/**
 * Graph's Teams limits, respected before Graph has to say 429:
 * - at most `requestsPerSecond` requests per channel (Graph: 4/s per app per channel; default 3,
 *   leaving room for another process), every request counted: posts, updates, reads of replies;
 * - within that, new messages at `messagesPerSecond` (default 1, the pace Graph's docs advise);
 * - at most `dailyMessageLimit` new messages per channel per UTC day (Graph: 3,000 per app per
 *   channel per day), counted in the connector state so every worker sees the same count; the
 *   admin is warned once a day at `dailyAlertRatio`, and beyond the limit jobs wait for the next
 *   day (`daily_quota`, retried at the reset without burning attempts).
 *
 * The rate uses the wall clock on purpose: Graph counts real seconds, whatever clock a test injects.
 */
export class ChannelPacer {
  private readonly requests: SlidingWindow | null;
  private readonly messages: KeyedTokenBucket | null;
  private readonly config: Pick<TeamsConfig, 'dailyMessageLimit' | 'dailyAlertRatio'>;
  private readonly state: ConnectorState;
  private readonly logger: Logger;
  private readonly now: () => number;
  private readonly counts = new Map<string, number>();
  private readonly metrics: Metrics | null;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    config: Pick<TeamsConfig, 'pacing' | 'dailyMessageLimit' | 'dailyAlertRatio'>,
    deps: { state: ConnectorState; logger: Logger; now: () => number; metrics?: Metrics },
  ) {
    const pacing = config.pacing;
    this.requests = pacing ? new SlidingWindow(pacing.requestsPerSecond) : null;
    this.messages = pacing
      ? new KeyedTokenBucket({ ratePerSecond: pacing.messagesPerSecond, burst: pacing.messageBurst })
      : null;
    this.config = config;
    this.state = deps.state;
    this.logger = deps.logger;
    this.now = deps.now;
    this.metrics = deps.metrics ?? null;
  }

  /** Waits for the channel's next request slot (briefly), or asks the queue to come back later. */
  request(channel: ChannelTarget, signal?: AbortSignal, maxWaitMs = MAX_INLINE_WAIT_MS): Promise<void> {
    return this.slot(this.requests, 'requests', channel, signal, maxWaitMs);
  }

  /** A slot for a new message: the message pace first, then a request slot. */
  async post(channel: ChannelTarget, signal?: AbortSignal): Promise<void> {
    await this.slot(this.messages, 'messages', channel, signal, MAX_INLINE_WAIT_MS);
    await this.request(channel, signal);
  }

  private async slot(
    bucket: Pick<KeyedTokenBucket, 'take'> | null,
    what: string,
    channel: ChannelTarget,
    signal: AbortSignal | undefined,
    maxWaitMs: number,
  ): Promise<void> {
    if (!bucket) return;
    const key = `${channel.teamId}/${channel.channelId}`;
    for (;;) {
      const slot = bucket.take(key);
      if (slot.ok) return;
      if (slot.waitMs > maxWaitMs) {
        throw new WabridgeError('rate_limited', `pacing Teams channel ${what} (${key})`, {
          retryAfterMs: slot.waitMs,
        });
      }
      await sleep(slot.waitMs, signal);
    }
  }

  /** Reserves one of the channel's daily messages before a post. */
  reserveMessage(channel: ChannelTarget): Promise<void> {
    // Serialized in this process so concurrent deliveries do not lose counts.
    const run = this.queue.then(() => this.reserve(channel));
    this.queue = run.catch(() => {});
    return run;
  }

  private async reserve(channel: ChannelTarget): Promise<void> {
    const now = this.now();
    const day = new Date(now).toISOString().slice(0, 10);
    const key = `quota:${channel.teamId}/${channel.channelId}:${day}`;
    const used = (await this.state.get<number>(key)) ?? this.counts.get(key) ?? 0;
    const limit = this.config.dailyMessageLimit;
    if (used >= limit) {
      const reset = Date.parse(`${day}T00:00:00.000Z`) + DAY_MS;
      throw new WabridgeError(
        'daily_quota',
        `Teams allows ${limit} messages per channel per day; waiting for ${new Date(reset).toISOString()}`,
        {
          retryAfterMs: Math.max(1000, reset - now),
          details: { teamId: channel.teamId, channelId: channel.channelId, used, limit },
        },
      );
    }
    await this.state.set(key, used + 1);
    this.counts.set(key, used + 1);
    const alertAt = Math.ceil(limit * this.config.dailyAlertRatio);
    if (used + 1 === alertAt) {
      this.metrics?.increment('connector_alerts_total', {
        connector: 'teams',
        kind: 'channel_daily_limit_near',
      });
      this.logger.warn(
        { teamId: channel.teamId, channelId: channel.channelId, used: used + 1, limit },
        'Teams channel is close to its daily message limit; new messages will wait for tomorrow once it is reached. Route some conversations to another channel.',
      );
    }
    if (used + 1 === limit) {
      this.metrics?.increment('connector_alerts_total', { connector: 'teams', kind: 'channel_daily_limit' });
      this.logger.error(
        { teamId: channel.teamId, channelId: channel.channelId, limit },
        'Teams channel reached its daily message limit: mirroring to it pauses until 00:00 UTC',
      );
    }
  }
}

/**
 * "At most N requests in any second", as a sliding window: a token bucket would let a full bucket
 * plus a second's refill (2N) through in one second.
 */
class SlidingWindow {
  private readonly limit: number;
  private readonly windowMs: number;
  private readonly times = new Map<string, number[]>();

  constructor(perSecond: number) {
    this.limit = Math.max(1, Math.floor(perSecond));
    // A little longer than the second: requests leave spaced by the window but may arrive a few
    // milliseconds closer together (connection set-up, scheduling).
    this.windowMs = (this.limit / perSecond) * 1000 + JITTER_MARGIN_MS;
  }

  take(key: string): { ok: true } | { ok: false; waitMs: number } {
    const now = Date.now();
    const times = (this.times.get(key) ?? []).filter((t) => now - t < this.windowMs);
    this.times.set(key, times);
    if (times.length < this.limit) {
      times.push(now);
      return { ok: true };
    }
    return { ok: false, waitMs: Math.max(1, (times[0] as number) + this.windowMs - now) };
  }
}
