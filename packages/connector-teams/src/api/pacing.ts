import {
  type ConnectorState,
  type Logger,
  type Metrics,
  type PaceLedger,
  Pacer,
  WabridgeError,
} from '@wabridge/core';
import type { ChannelTarget, TeamsConfig } from '../config.ts';

const DAY_MS = 24 * 3600_000;
/**
 * Longer waits are handed back to the queue instead of holding a worker slot. Under a worker that
 * lets a paced wait step out of its slot (core's `WorkSlot`), the `Pacer`'s longer parked wait
 * applies instead: the wait then holds no slot.
 */
const MAX_INLINE_WAIT_MS = 3000;
const JITTER_MARGIN_MS = 100;

/**
 * Graph's Teams limits, respected before Graph has to say 429:
 * - at most `requestsPerSecond` requests per channel (Graph: 4/s per app per channel; default 3,
 *   leaving room for another app), every request counted: posts, updates, reads of replies;
 *   with a shared pace ledger (`ConnectorDeps.pacing`, Postgres) counted for all workers together;
 * - within that, new messages at `messagesPerSecond` (default 1, the pace Graph's docs advise);
 * - at most `dailyMessageLimit` new messages per channel per UTC day (Graph: 3,000 per app per
 *   channel per day), counted atomically in the connector state, so every worker on the store
 *   counts against the same number; the
 *   admin is warned once a day at `dailyAlertRatio`, and beyond the limit jobs wait for the next
 *   day (`daily_quota`, retried at the reset without burning attempts).
 *
 * The rate uses the wall clock on purpose: Graph counts real seconds, whatever clock a test injects.
 */
export class ChannelPacer {
  private readonly requests: Pacer | null;
  private readonly messages: Pacer | null;
  private readonly config: Pick<TeamsConfig, 'dailyMessageLimit' | 'dailyAlertRatio'>;
  private readonly state: ConnectorState;
  private readonly logger: Logger;
  private readonly now: () => number;
  private readonly metrics: Metrics | null;

  constructor(
    config: Pick<TeamsConfig, 'pacing' | 'dailyMessageLimit' | 'dailyAlertRatio'>,
    deps: {
      state: ConnectorState;
      logger: Logger;
      now: () => number;
      metrics?: Metrics;
      pacing?: PaceLedger;
    },
  ) {
    const pacing = config.pacing;
    this.requests = pacing
      ? new Pacer({
          label: 'Teams channel requests',
          shape: 'window',
          ratePerSecond: pacing.requestsPerSecond,
          burst: Math.max(1, Math.floor(pacing.requestsPerSecond)),
          // A little longer than the second: requests leave spaced by the window but may arrive
          // a few milliseconds closer together (connection set-up, scheduling).
          marginMs: JITTER_MARGIN_MS,
          maxWaitMs: MAX_INLINE_WAIT_MS,
          ledger: deps.pacing,
          name: 'requests',
        })
      : null;
    this.messages = pacing
      ? new Pacer({
          label: 'Teams channel messages',
          ratePerSecond: pacing.messagesPerSecond,
          burst: pacing.messageBurst,
          maxWaitMs: MAX_INLINE_WAIT_MS,
          ledger: deps.pacing,
          name: 'messages',
        })
      : null;
    this.config = config;
    this.state = deps.state;
    this.logger = deps.logger;
    this.now = deps.now;
    this.metrics = deps.metrics ?? null;
  }

  /**
   * Waits for the channel's next request slot (briefly), or asks the queue to come back later.
   * `maxWaitMs`: a bound of the caller's own (a deadline); else the pacer's (see MAX_INLINE_WAIT_MS).
   */
  async request(channel: ChannelTarget, signal?: AbortSignal, maxWaitMs?: number): Promise<void> {
    await this.requests?.acquire(channelKey(channel), signal, maxWaitMs);
  }

  /**
   * The moment a request on the channel leaves (`ChannelSendGuard`): no more of this process's
   * requests in any of the channel's windows than it allows, whenever their slots were taken.
   */
  async beforeSend(channel: ChannelTarget, signal?: AbortSignal): Promise<void> {
    await this.requests?.spaceSend(channelKey(channel), signal);
  }

  /**
   * Everything before a new message leaves, in this order: the message pace, one of the channel's
   * daily messages, the caller's marker (`mark`, a store write), and last the request slot, so the
   * request leaves right after its slot. With the slot taken before the two store writes, a stall
   * of the store (a second or more under a campaign's status storm) let requests whose slots were
   * a window apart reach Graph within one of its seconds: 3–9 × 429 per 20,000-message campaign.
   */
  async beforeNewMessage(
    channel: ChannelTarget,
    signal: AbortSignal,
    mark: () => Promise<void>,
  ): Promise<void> {
    await this.messages?.acquire(channelKey(channel), signal);
    await this.reserveMessage(channel);
    await mark();
    await this.request(channel, signal);
  }

  /**
   * Reserves one of the channel's daily messages before a post: one atomic count in the store, so
   * workers on one database (Postgres) share the channel's quota without losing counts.
   */
  async reserveMessage(channel: ChannelTarget): Promise<void> {
    const now = this.now();
    const day = new Date(now).toISOString().slice(0, 10);
    const limit = this.config.dailyMessageLimit;
    const counted = await this.state.count(`quota:${channel.teamId}/${channel.channelId}:${day}`, limit);
    if (counted === null) {
      const reset = Date.parse(`${day}T00:00:00.000Z`) + DAY_MS;
      throw new WabridgeError(
        'daily_quota',
        `Teams allows ${limit} messages per channel per day; waiting for ${new Date(reset).toISOString()}`,
        {
          retryAfterMs: Math.max(1000, reset - now),
          details: { teamId: channel.teamId, channelId: channel.channelId, used: limit, limit },
        },
      );
    }
    const alertAt = Math.ceil(limit * this.config.dailyAlertRatio);
    if (counted === alertAt) {
      this.metrics?.increment('connector_alerts_total', {
        connector: 'teams',
        kind: 'channel_daily_limit_near',
      });
      this.logger.warn(
        { teamId: channel.teamId, channelId: channel.channelId, used: counted, limit },
        'Teams channel is close to its daily message limit; new messages will wait for tomorrow once it is reached. Route some conversations to another channel.',
      );
    }
    if (counted === limit) {
      this.metrics?.increment('connector_alerts_total', { connector: 'teams', kind: 'channel_daily_limit' });
      this.logger.error(
        { teamId: channel.teamId, channelId: channel.channelId, limit },
        'Teams channel reached its daily message limit: mirroring to it pauses until 00:00 UTC',
      );
    }
  }
}

const channelKey = (channel: ChannelTarget): string => `${channel.teamId}/${channel.channelId}`;
