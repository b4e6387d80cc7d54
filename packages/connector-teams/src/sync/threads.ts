import type { ConnectorState } from '@wabridge/core';
import { type ThreadLocation, teamsMessageRef } from '../api/ids.ts';

const DAY_MS = 24 * 3600_000;

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
 * Threads are indexed by the UTC day of their latest customer message (`threads:<day>`), so a
 * resync reads only threads whose customers wrote within the lookback: a reply elsewhere could
 * not be sent anyway (the 24-hour window is closed). Per thread, `thread:<ref>` keeps how far
 * replies are known to be recorded; it only moves forward after the commands of a resync are
 * durably recorded, never from a notification, so a reply lost between a notification and the
 * gateway's write is still found by the next resync.
 */
export class ThreadIndex {
  private readonly state: ConnectorState;
  private readonly now: () => number;
  private readonly seen = new Set<string>();
  private queue: Promise<unknown> = Promise.resolve();

  constructor(state: ConnectorState, now: () => number) {
    this.state = state;
    this.now = now;
  }

  /** Records customer activity in a thread today (cheap after the first call of the day). */
  touch(thread: ThreadLocation, conversationId: string): Promise<void> {
    const day = new Date(this.now()).toISOString().slice(0, 10);
    const ref = teamsMessageRef(thread.channelId, thread.rootId);
    const marker = `${day}|${ref}`;
    if (this.seen.has(marker)) return Promise.resolve();
    // Read-modify-write of one key: serialized within this process.
    const run = this.queue.then(async () => {
      const key = `threads:${day}`;
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
    this.queue = run.catch(() => {});
    return run;
  }

  /** Threads with customer activity within `hours`. */
  async active(hours: number): Promise<ActiveThread[]> {
    const now = this.now();
    const days = Math.ceil(hours / 24) + 1;
    const found = new Map<string, ActiveThread>();
    for (let i = 0; i < days; i++) {
      const day = new Date(now - i * DAY_MS).toISOString().slice(0, 10);
      const bucket = (await this.state.get<Record<string, ActiveThread>>(`threads:${day}`)) ?? {};
      for (const [ref, thread] of Object.entries(bucket)) if (!found.has(ref)) found.set(ref, thread);
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
