import { hash } from 'node:crypto';
import { type ConnectorState, type Logger, SerialByKey, shardOf } from '@wabridge/core';
import type { SlackApi } from '../api/client.ts';
import { slackErrorCode } from '../api/errors.ts';
import type { Block } from '../render/card.ts';

/** Before the index was sharded, one key held every conversation's closing time; still read. */
const LEGACY_INDEX_KEY = 'windows';
/**
 * The index of closing times is split over this many keys, by conversation. One object for all
 * made every conversation's first card read and write the closing times of all the others, one at
 * a time under the lock: a 20,000-message campaign's first cards went at ~14 a second, each
 * carrying a 1 MB object through the store, and a mass window closing re-read it per card.
 */
const INDEX_SHARDS = 64;
const shardKey = (shard: number) => `windows:${shard}`;
const cardKey = (conversationId: string) => `window:${conversationId}`;
/**
 * Conversations whose last tracked card is remembered, most recently tracked last. What is
 * remembered only spares writes (a conversation's next message in the same minute with the same
 * card writes nothing); one forgotten costs a write of its card at its next message. Unbounded,
 * it held every conversation with an open window, i.e. every conversation of the last 24 hours:
 * with the card’s whole content kept as a string (~1.3 KB in a heap snapshot of a campaign), 20,000 conversations hold ~25 MB
 * of the gateway's heap in this map. A digest of the content and this bound keep it under 2 MB.
 */
export const KNOWN_CONVERSATIONS = 10_000;

/** The shard of a conversation: stable across processes and restarts. */
export function windowShard(conversationId: string): number {
  return shardOf(conversationId, INDEX_SHARDS);
}

/** The closing card of a conversation whose window is open. */
export interface ClosingCard {
  channel: string;
  ts: string;
  closesAt: number;
  text: string;
  blocks: Block[];
}

/**
 * The 24-hour window closes without any event. So that the card does not keep saying "open", each
 * card with an open window leaves its closed version in the connector's state (an index of closing
 * times beside it, in shards), and `maintain()` (about once a minute) swaps it in when the time has
 * come. The next event of the conversation renders the card afresh anyway; this only covers the
 * quiet time.
 *
 * Each shard of the index is updated under an in-process lock of its own; with several worker
 * processes an update can be lost, and such a card then changes at the conversation's next event
 * instead.
 */
export class WindowWatch {
  readonly #state: ConnectorState;
  readonly #api: SlackApi;
  readonly #logger: Logger;
  /** Per conversation, the closing minute and a digest of the card last written (see KNOWN_CONVERSATIONS). */
  readonly #known = new Map<string, { due: number; digest: string }>();
  /** One read-modify-write at a time per index key (a shard, or the legacy index). */
  readonly #serial = new SerialByKey();

  constructor(state: ConnectorState, api: SlackApi, logger: Logger) {
    this.#state = state;
    this.#api = api;
    this.#logger = logger;
  }

  /**
   * Remembers the closed card of a conversation whose window is open. Writes only what changed:
   * the card when its content does, the index when the closing time moves to another minute
   * (maintenance runs about once a minute anyway), so a busy conversation costs no write per message.
   */
  async track(conversationId: string, card: ClosingCard): Promise<void> {
    const due = Math.ceil(card.closesAt / 60_000) * 60_000;
    // SHA-256: a collision would leave a changed card unwritten, so not a short checksum.
    const digest = hash(
      'sha256',
      JSON.stringify([card.channel, card.ts, card.text, card.blocks]),
      'base64url',
    );
    const known = this.#known.get(conversationId);
    if (known?.due === due && known.digest === digest) {
      this.#remember(conversationId, known);
      return;
    }
    const indexKey = shardKey(windowShard(conversationId));
    await this.#serial.run(indexKey, async () => {
      if (known?.digest !== digest)
        await this.#state.set(cardKey(conversationId), { ...card, closesAt: due });
      const index = (await this.#state.get<Record<string, number>>(indexKey)) ?? {};
      if (index[conversationId] !== due) {
        index[conversationId] = due;
        await this.#state.set(indexKey, index);
      }
    });
    this.#remember(conversationId, { due, digest });
  }

  /** Remembers a conversation's card as the most recent; the least recently tracked goes past the bound. */
  #remember(conversationId: string, known: { due: number; digest: string }): void {
    // Deleted first: a Map keeps insertion order, and re-inserting moves the entry to the end.
    this.#known.delete(conversationId);
    this.#known.set(conversationId, known);
    if (this.#known.size > KNOWN_CONVERSATIONS) {
      const oldest = this.#known.keys().next().value;
      if (oldest !== undefined) this.#known.delete(oldest);
    }
  }

  /** Drops what is kept for a conversation (erasure). */
  async forget(conversationId: string): Promise<void> {
    this.#known.delete(conversationId);
    await this.#state.set(cardKey(conversationId), null);
    for (const indexKey of [shardKey(windowShard(conversationId)), LEGACY_INDEX_KEY]) {
      await this.#serial.run(indexKey, async () => {
        const index = (await this.#state.get<Record<string, number>>(indexKey)) ?? {};
        if (conversationId in index) {
          delete index[conversationId];
          await this.#state.set(indexKey, index);
        }
      });
    }
  }

  /** Shows the closed card of every conversation whose window closed by `now`. Returns how many. */
  async closeDue(now: number): Promise<number> {
    let closed = 0;
    const indexKeys = [
      LEGACY_INDEX_KEY,
      ...Array.from({ length: INDEX_SHARDS }, (_, shard) => shardKey(shard)),
    ];
    for (const indexKey of indexKeys) {
      const index = (await this.#state.get<Record<string, number>>(indexKey)) ?? {};
      for (const [conversationId, closesAt] of Object.entries(index)) {
        if (closesAt > now) continue;
        const card = await this.#state.get<ClosingCard>(cardKey(conversationId));
        // Read again right before: a message may have reopened the window since the loop began.
        const current = (await this.#state.get<Record<string, number>>(indexKey))?.[conversationId];
        if (current !== closesAt) continue;
        // An entry of the legacy index whose conversation has one in its shard since (a message
        // came after the upgrade) is out of date: only the entry goes, the card is the shard's.
        const superseded =
          indexKey === LEGACY_INDEX_KEY &&
          (await this.#state.get<Record<string, number>>(shardKey(windowShard(conversationId))))?.[
            conversationId
          ] !== undefined;
        if (card && !superseded) {
          try {
            await this.#api.call(
              'chat.update',
              { channel: card.channel, ts: card.ts, text: card.text, blocks: card.blocks },
              { pace: { tier: 'tier3' } },
            );
            closed += 1;
          } catch (error) {
            const code = slackErrorCode(error);
            if (code !== 'message_not_found' && code !== 'cant_update_message') {
              // Rate limited or Slack unavailable: the next run continues from here.
              this.#logger.warn({ err: error }, 'could not show a closed window on a card; will retry');
              return closed;
            }
          }
        }
        // Dropped only if unchanged: a newer message may have moved the closing time meanwhile.
        await this.#drop(indexKey, conversationId, closesAt, !superseded);
      }
    }
    return closed;
  }

  async #drop(indexKey: string, conversationId: string, closesAt: number, withCard: boolean): Promise<void> {
    if (withCard) this.#known.delete(conversationId);
    await this.#serial.run(indexKey, async () => {
      const index = (await this.#state.get<Record<string, number>>(indexKey)) ?? {};
      if (index[conversationId] !== closesAt) return;
      delete index[conversationId];
      await this.#state.set(indexKey, index);
      if (withCard) await this.#state.set(cardKey(conversationId), null);
    });
  }
}
