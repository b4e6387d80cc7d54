import { type ConnectorState, SerialByKey, shardOf } from '@wabridge/core';
import { type ThreadLocation, teamsMessageRef } from '../api/ids.ts';

const DAY_MS = 24 * 3600_000;
/**
 * Each day's index is split over this many keys, by thread. One object per day made every
 * thread's first customer message of the day read and write all the others', one at a time under
 * the lock: with 20,000 new threads in a day (a campaign), each write carried megabytes through
 * the store and the mirrors went at the pace of that one queue.
 */
const DAY_SHARDS = 64;
/** The day's index before it was sharded: still read by `active`, no longer written. */
const legacyDayKey = (day: string) => `threads:${day}`;
const dayShardKey = (day: string, shard: number) => `threads:${day}:${shard}`;

export interface ActiveThread extends ThreadLocation {
  conversationId: string;
}

interface ThreadSync {
  /** Every reply created before this time (our clock) is known to be recorded as a command. */
  syncedUntil: number;
}

/**
 * Which threads to read back after notifications were missed, and how far back.
 *
 * Threads are indexed by the UTC day of their latest customer message (`threads:<day>:<shard>`), so a
 * resync reads only threads whose customers wrote within the lookback: a reply elsewhere could
 * not be sent anyway (the 24-hour window is closed). Per thread, `thread:<ref>` keeps how far
 * replies are known to be recorded; it only moves forward after the commands of a resync are
 * durably recorded, never from a notification, so a reply lost between a notification and the
 * gateway's write is still found by the next resync.
 */
export class ThreadIndex {
  private readonly state: ConnectorState;
  private readonly now: () => number;
  /**
   * The threads recorded today (`day|ref`): a marker spares the read of its bucket at the thread's
   * next customer message of the day, and is of no use once the day is over. Cleared when the day
   * changes, so the set holds one day's active threads, not every thread since the process started.
   */
  private readonly seen = new Set<string>();
  /** The day the markers in `seen` are for. */
  private seenDay = '';
  /** Read-modify-write of one key at a time, per key: the shards of a day do not wait for one another. */
  private readonly serial = new SerialByKey();

  constructor(state: ConnectorState, now: () => number) {
    this.state = state;
    this.now = now;
  }

  /** Records customer activity in a thread today (cheap after the first call of the day). */
  touch(thread: ThreadLocation, conversationId: string): Promise<void> {
    const day = new Date(this.now()).toISOString().slice(0, 10);
    const ref = teamsMessageRef(thread.channelId, thread.rootId);
    const marker = `${day}|${ref}`;
    if (day !== this.seenDay) {
      this.seen.clear();
      this.seenDay = day;
    }
    if (this.seen.has(marker)) return Promise.resolve();
    const key = dayShardKey(day, shardOf(ref, DAY_SHARDS));
    return this.serial.run(key, async () => {
      const bucket = (await this.state.get<Record<string, ActiveThread>>(key)) ?? {};
      if (!bucket[ref]) {
        bucket[ref] = {
          teamId: thread.teamId,
          channelId: thread.channelId,
          rootId: thread.rootId,
          conversationId,
        };
        await this.state.set(key, bucket);
      }
      this.seen.add(marker);
    });
  }

  /** How many thread markers are kept in memory (see `seen`). */
  get remembered(): number {
    return this.seen.size;
  }

  /** Threads with customer activity within `hours`. */
  async active(hours: number): Promise<ActiveThread[]> {
    const now = this.now();
    const days = Math.ceil(hours / 24) + 1;
    const found = new Map<string, ActiveThread>();
    for (let i = 0; i < days; i++) {
      const day = new Date(now - i * DAY_MS).toISOString().slice(0, 10);
      const keys = [
        ...Array.from({ length: DAY_SHARDS }, (_, shard) => dayShardKey(day, shard)),
        legacyDayKey(day),
      ];
      for (const key of keys) {
        const bucket = (await this.state.get<Record<string, ActiveThread>>(key)) ?? {};
        for (const [ref, thread] of Object.entries(bucket)) if (!found.has(ref)) found.set(ref, thread);
      }
    }
    return [...found.values()];
  }

  async syncedUntil(thread: ThreadLocation): Promise<number | null> {
    return (
      (await this.state.get<ThreadSync>(`thread:${teamsMessageRef(thread.channelId, thread.rootId)}`))
        ?.syncedUntil ?? null
    );
  }

  async markSynced(thread: ThreadLocation, until: number): Promise<void> {
    await this.state.set(`thread:${teamsMessageRef(thread.channelId, thread.rootId)}`, {
      syncedUntil: until,
    } satisfies ThreadSync);
  }
}
