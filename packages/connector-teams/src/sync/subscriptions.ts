import { randomBytes, timingSafeEqual } from 'node:crypto';
import { type ConnectorDeps, type DomainCommand, isWabridgeError, type Logger } from '@wabridge/core';
import { graphStatus } from '../api/errors.ts';
import { channelPath } from '../api/ids.ts';
import type { ChannelPacer } from '../api/pacing.ts';
import type { ChatMessage, SubscriptionInput, TeamsApi } from '../api/teams-api.ts';
import type { ChannelTarget, TeamsConfig } from '../config.ts';
import { type CommandOptions, commandsFor } from '../inbound/commands.ts';
import { certificateForSubscription } from '../inbound/encryption.ts';
import type { ThreadIndex } from './threads.ts';

/** One channel's subscription, kept encrypted in the connector state (`clientState` is a shared secret). */
export interface ChannelSubscription {
  id: string;
  clientState: string;
  expiresAt: number;
  teamId: string;
  channelId: string;
  /** What it was created with (address, change types, certificate); a change re-creates it. */
  shape?: string;
  /** Replaced subscriptions whose late notifications are still accepted until `until`. */
  previous: Array<{ id: string; clientState: string; until: number }>;
}

/** What a lifecycle notification asked for, per channel, with the time it was asked. */
interface Repairs {
  reauthorize?: number;
  recreate?: number;
  resync?: number;
}

const SUBSCRIPTIONS_KEY = 'subscriptions'; // secret: Record<channel key, ChannelSubscription>
const REPAIRS_KEY = 'repairs'; // Record<channel key, Repairs>
const PREVIOUS_GRACE_MS = 15 * 60_000;
/** Clock skew tolerated between our clock and Graph's timestamps when reading replies back. */
const SKEW_MS = 5 * 60_000;
const CACHE_MS = 5000;

const channelKey = (c: ChannelTarget) => `${c.teamId}/${c.channelId}`;

export type LifecycleEvent = 'reauthorizationRequired' | 'subscriptionRemoved' | 'missed';

/**
 * The change-notification subscriptions of the connector (one per channel it posts to) and their
 * upkeep, all from `maintain()` (about once a minute, one worker at a time) or right after a
 * lifecycle notification:
 * - created when missing, renewed `renewBeforeMinutes` before expiry, re-created when Graph no
 *   longer knows them (checked on every pass) or they expired (e.g. after an outage);
 * - `reauthorizationRequired` → reauthorize; `subscriptionRemoved` → re-create; `missed` → resync;
 *   and every one of these, like a re-creation after expiry, ends with a resync, because replies
 *   may have been posted while notifications were not flowing;
 * - resync: the replies of threads with recent customer activity, read back since the thread was
 *   last synced, become the same commands a notification would have produced (the core drops
 *   those it already has, by idempotency key) and are recorded through `deps.emit`.
 */
export class SubscriptionManager {
  private readonly config: TeamsConfig;
  private readonly deps: ConnectorDeps;
  private readonly api: TeamsApi;
  private readonly pacer: ChannelPacer;
  private readonly threads: ThreadIndex;
  private readonly options: () => Promise<CommandOptions>;
  private readonly logger: Logger;
  private cache: { at: number; value: Record<string, ChannelSubscription> } | null = null;
  private running: Promise<void> | null = null;
  private again = false;

  constructor(
    config: TeamsConfig,
    deps: ConnectorDeps,
    parts: {
      api: TeamsApi;
      pacer: ChannelPacer;
      threads: ThreadIndex;
      commandOptions: () => Promise<CommandOptions>;
    },
  ) {
    this.config = config;
    this.deps = deps;
    this.api = parts.api;
    this.pacer = parts.pacer;
    this.threads = parts.threads;
    this.options = parts.commandOptions;
    this.logger = deps.logger.child({ component: 'teams-subscriptions' });
  }

  /** Every channel a thread can be in. */
  channels(): ChannelTarget[] {
    const all = new Map<string, ChannelTarget>();
    for (const c of [
      { teamId: this.config.teamId, channelId: this.config.channelId },
      ...this.config.routes,
    ]) {
      all.set(channelKey(c), { teamId: c.teamId, channelId: c.channelId });
    }
    return [...all.values()];
  }

  private async load(fresh = false): Promise<Record<string, ChannelSubscription>> {
    if (!fresh && this.cache && this.deps.now() - this.cache.at < CACHE_MS) return this.cache.value;
    const raw = await this.deps.state.getSecret(SUBSCRIPTIONS_KEY);
    const value = raw ? (JSON.parse(raw) as Record<string, ChannelSubscription>) : {};
    this.cache = { at: this.deps.now(), value };
    return value;
  }

  private async save(value: Record<string, ChannelSubscription>): Promise<void> {
    await this.deps.state.setSecret(SUBSCRIPTIONS_KEY, JSON.stringify(value));
    this.cache = { at: this.deps.now(), value };
  }

  /**
   * Is this a notification of one of our subscriptions, with its clientState (constant time)?
   * Returns the channel it belongs to. Another process may have just replaced a subscription, so
   * an unknown id is looked up once more in the stored state before it is refused.
   */
  async verify(
    subscriptionId: string,
    clientState: string | null | undefined,
  ): Promise<ChannelTarget | null> {
    const check = (subs: Record<string, ChannelSubscription>) => {
      const now = this.deps.now();
      for (const sub of Object.values(subs)) {
        const candidates = [
          { id: sub.id, clientState: sub.clientState },
          ...sub.previous.filter((p) => p.until > now),
        ];
        for (const c of candidates) {
          if (c.id === subscriptionId && safeEqual(clientState ?? '', c.clientState)) {
            return { teamId: sub.teamId, channelId: sub.channelId };
          }
        }
      }
      return null;
    };
    return check(await this.load()) ?? check(await this.load(true));
  }

  /** Records what a lifecycle notification asks for; `maintain` (or `repairSoon`) carries it out. */
  async request(channel: ChannelTarget, event: LifecycleEvent): Promise<void> {
    const all = (await this.deps.state.get<Record<string, Repairs>>(REPAIRS_KEY)) ?? {};
    const key = channelKey(channel);
    const now = this.deps.now();
    const repairs = { ...all[key] };
    if (event === 'reauthorizationRequired') repairs.reauthorize = now;
    if (event === 'subscriptionRemoved') repairs.recreate = now;
    repairs.resync = now;
    await this.deps.state.set(REPAIRS_KEY, { ...all, [key]: repairs });
  }

  /** Runs the upkeep now in the background (after a lifecycle notification); errors are logged. */
  repairSoon(): void {
    void this.maintain().catch((error) =>
      this.logger.error({ err: error }, 'Teams subscription repair failed'),
    );
  }

  /** One upkeep pass at a time in this process; a request during a pass runs one more pass. */
  maintain(): Promise<void> {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = (async () => {
      do {
        this.again = false;
        await this.pass();
      } while (this.again);
    })().finally(() => {
      this.running = null;
    });
    return this.running;
  }

  private async pass(): Promise<void> {
    if (!this.config.subscription.enabled) return;
    let failure: unknown = null;
    for (const channel of this.channels()) {
      try {
        await this.upkeep(channel);
      } catch (error) {
        failure ??= error;
        this.logger.error(
          { teamId: channel.teamId, code: isWabridgeError(error) ? error.code : undefined, err: error },
          'Teams subscription upkeep failed; retried at the next maintenance',
        );
      }
    }
    if (failure) throw failure;
  }

  private async upkeep(channel: ChannelTarget): Promise<void> {
    const key = channelKey(channel);
    const subs = await this.load(true);
    const repairs = (await this.deps.state.get<Record<string, Repairs>>(REPAIRS_KEY))?.[key] ?? {};
    const current = subs[key];
    const now = this.deps.now();
    const renewBefore = this.config.subscription.renewBeforeMinutes * 60_000;
    let resync = repairs.resync !== undefined;
    const reshaped = current !== undefined && current.shape !== this.input(channel, '').shape;
    if (!current || repairs.recreate !== undefined || current.expiresAt <= now || reshaped) {
      // A subscription that lapsed or was removed left a gap: read the threads back afterwards.
      if (current) resync = true;
      await this.create(channel, current);
    } else if (repairs.reauthorize !== undefined) {
      try {
        await this.api.reauthorizeSubscription(current.id);
        this.logger.info({ teamId: channel.teamId }, 'Teams subscription reauthorized');
      } catch (error) {
        if (graphStatus(error) !== 404) throw error;
        await this.create(channel, current);
      }
      resync = true;
    } else if (current.expiresAt - now > renewBefore) {
      // Graph can drop a subscription without a lifecycle notification reaching us: one cheap
      // read per pass notices it, and the gap is read back.
      try {
        await this.api.getSubscription(current.id);
      } catch (error) {
        if (graphStatus(error) !== 404) throw error;
        this.logger.warn({ teamId: channel.teamId }, 'Teams subscription disappeared; re-creating it');
        await this.create(channel, current);
        resync = true;
      }
    } else {
      try {
        const expiresAt = now + this.config.subscription.lifetimeMinutes * 60_000;
        await this.api.renewSubscription(current.id, new Date(expiresAt).toISOString());
        await this.save({ ...(await this.load(true)), [key]: { ...current, expiresAt } });
        this.logger.info(
          { teamId: channel.teamId, expiresAt: new Date(expiresAt).toISOString() },
          'Teams subscription renewed',
        );
      } catch (error) {
        if (graphStatus(error) !== 404) throw error;
        await this.create(channel, current);
        resync = true;
      }
    }
    if (resync) await this.resync(channel);
    await this.clear(key, repairs);
  }

  /** Clears the repairs this pass handled, keeping any asked for meanwhile. */
  private async clear(key: string, handled: Repairs): Promise<void> {
    const all = (await this.deps.state.get<Record<string, Repairs>>(REPAIRS_KEY)) ?? {};
    const now = { ...all[key] };
    let changed = false;
    for (const k of ['reauthorize', 'recreate', 'resync'] as const) {
      if (now[k] !== undefined && now[k] === handled[k]) {
        delete now[k];
        changed = true;
      }
    }
    if (changed) await this.deps.state.set(REPAIRS_KEY, { ...all, [key]: now });
  }

  /** The subscription this configuration asks for, and a summary of what would need a new one. */
  private input(channel: ChannelTarget, clientState: string): { input: SubscriptionInput; shape: string } {
    const base = (this.config.subscription.notificationBaseUrl ?? this.deps.publicUrl).replace(/\/$/, '');
    const hooks = `${base}/hooks/teams/${encodeURIComponent(this.deps.workspaceId)}`;
    const expiresAt = this.deps.now() + this.config.subscription.lifetimeMinutes * 60_000;
    const input: SubscriptionInput = {
      changeType: this.config.subscription.changeTypes,
      notificationUrl: `${hooks}/notifications`,
      lifecycleNotificationUrl: `${hooks}/lifecycle`,
      resource: `${channelPath(channel)}/messages`,
      expirationDateTime: new Date(expiresAt).toISOString(),
      clientState,
      latestSupportedTlsVersion: 'v1_2',
    };
    if (this.config.encryptionCertificate && this.config.encryptionCertificateId) {
      input.includeResourceData = true;
      input.encryptionCertificate = certificateForSubscription(this.config.encryptionCertificate);
      input.encryptionCertificateId = this.config.encryptionCertificateId;
    }
    const shape = [input.notificationUrl, input.changeType, input.encryptionCertificateId ?? '-'].join(' ');
    return { input, shape };
  }

  private async create(channel: ChannelTarget, replaced: ChannelSubscription | undefined): Promise<void> {
    const clientState = randomBytes(32).toString('base64url');
    const { input, shape } = this.input(channel, clientState);
    const expiresAt = Date.parse(input.expirationDateTime);
    // Graph validates both URLs before it answers. A notification arriving between its answer
    // and our save is refused as unknown; Graph delivers it again later.
    const created = await this.api.createSubscription(input);
    if (!created.id) throw new Error('Graph returned a subscription without an id');
    const subs = await this.load(true);
    const now = this.deps.now();
    const previous = [
      ...(replaced
        ? [{ id: replaced.id, clientState: replaced.clientState, until: now + PREVIOUS_GRACE_MS }]
        : []),
      ...(replaced?.previous ?? []),
    ].filter((p) => p.until > now);
    await this.save({
      ...subs,
      [channelKey(channel)]: {
        id: created.id,
        clientState,
        expiresAt: created.expirationDateTime ? Date.parse(created.expirationDateTime) : expiresAt,
        teamId: channel.teamId,
        channelId: channel.channelId,
        shape,
        previous,
      },
    });
    this.logger.info(
      { teamId: channel.teamId, replaced: replaced !== undefined },
      'Teams subscription created',
    );
    if (replaced) {
      try {
        await this.api.deleteSubscription(replaced.id);
      } catch {
        // Usually already gone (expired or removed by Graph).
      }
    }
  }

  /**
   * Reads back the replies of the channel's recently active threads since they were last synced
   * and records them as commands. A thread's sync point moves only after its commands are recorded.
   */
  async resync(channel: ChannelTarget): Promise<void> {
    if (!this.deps.emit) {
      this.logger.warn({}, 'cannot resync Teams replies: this host records no commands from maintenance');
      return;
    }
    const options = await this.options();
    const lookbackMs = this.config.resyncLookbackHours * 3600_000;
    const threads = (await this.threads.active(this.config.resyncLookbackHours)).filter(
      (t) => t.teamId === channel.teamId && t.channelId === channel.channelId,
    );
    let recorded = 0;
    for (const thread of threads) {
      const startedAt = this.deps.now();
      const since = (await this.threads.syncedUntil(thread)) ?? startedAt - lookbackMs;
      const replies: ChatMessage[] = [];
      await this.pacer.request(thread, undefined, 60_000);
      for await (const page of this.api.listReplies(thread, thread.rootId)) {
        replies.push(...page);
        await this.pacer.request(thread, undefined, 60_000);
      }
      const commands: DomainCommand[] = [];
      const after = (value: string | null | undefined) =>
        value !== null && value !== undefined && Date.parse(value) >= since - SKEW_MS;
      // Two replies can share a millisecond: Teams message ids grow with time, so they break ties
      // (a page may list newest first, and a stable sort would keep that order).
      replies.sort(
        (a, b) =>
          Date.parse(a.createdDateTime ?? '') - Date.parse(b.createdDateTime ?? '') ||
          compareMessageIds(a.id, b.id),
      );
      for (const reply of replies) {
        if (reply.deletedDateTime) {
          if (after(reply.deletedDateTime)) commands.push(...commandsFor(reply, thread, 'deleted', options));
          continue;
        }
        if (after(reply.createdDateTime)) commands.push(...commandsFor(reply, thread, 'created', options));
        if (reply.lastEditedDateTime && after(reply.lastEditedDateTime)) {
          commands.push(...commandsFor(reply, thread, 'updated', options));
        }
      }
      await this.deps.emit(commands);
      await this.threads.markSynced(thread, startedAt);
      recorded += commands.length;
    }
    this.logger.info(
      { teamId: channel.teamId, threads: threads.length, commands: recorded },
      'Teams replies resynced',
    );
  }
}

function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  // Compare equal-length buffers so the time does not depend on where they differ.
  if (x.length !== y.length) {
    timingSafeEqual(y, y);
    return false;
  }
  return timingSafeEqual(x, y);
}

/** Orders Teams message ids (numeric strings that grow with time); other ids compare as text. */
function compareMessageIds(a: string | undefined, b: string | undefined): number {
  const left = a ?? '';
  const right = b ?? '';
  if (/^\d+$/.test(left) && /^\d+$/.test(right))
    return left.length - right.length || (left < right ? -1 : left > right ? 1 : 0);
  return left < right ? -1 : left > right ? 1 : 0;
}
