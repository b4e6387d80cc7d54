import type { ConnectorState, Logger } from '@wabridge/core';
import type { SlackApi } from '../api/client.ts';
import { slackErrorCode } from '../api/errors.ts';
import type { Block } from '../render/card.ts';

const INDEX_KEY = 'windows';
const cardKey = (conversationId: string) => `window:${conversationId}`;

/** The card a conversation will show once its 24-hour window closes. */
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
 * times beside it), and `maintain()` (about once a minute) swaps it in when the time has come.
 * The next event of the conversation renders the card afresh anyway; this only covers the quiet time.
 *
 * The index is updated under an in-process lock; with several worker processes an update can be
 * lost, and such a card then changes at the conversation's next event instead.
 */
export class WindowWatch {
  readonly #state: ConnectorState;
  readonly #api: SlackApi;
  readonly #logger: Logger;
  readonly #known = new Map<string, { due: number; content: string }>();
  #lock: Promise<unknown> = Promise.resolve();

  constructor(state: ConnectorState, api: SlackApi, logger: Logger) {
    this.#state = state;
    this.#api = api;
    this.#logger = logger;
  }

  #serial<T>(work: () => Promise<T>): Promise<T> {
    const next = this.#lock.then(work, work);
    this.#lock = next.catch(() => {});
    return next;
  }

  /**
   * Remembers the closed card of a conversation whose window is open. Writes only what changed:
   * the card when its content does, the index when the closing time moves to another minute
   * (maintenance runs about once a minute anyway), so a busy conversation costs no write per message.
   */
  async track(conversationId: string, card: ClosingCard): Promise<void> {
    const due = Math.ceil(card.closesAt / 60_000) * 60_000;
    const content = JSON.stringify([card.channel, card.ts, card.text, card.blocks]);
    const known = this.#known.get(conversationId);
    if (known?.due === due && known.content === content) return;
    await this.#serial(async () => {
      if (known?.content !== content)
        await this.#state.set(cardKey(conversationId), { ...card, closesAt: due });
      const index = (await this.#state.get<Record<string, number>>(INDEX_KEY)) ?? {};
      if (index[conversationId] !== due) {
        index[conversationId] = due;
        await this.#state.set(INDEX_KEY, index);
      }
    });
    this.#known.set(conversationId, { due, content });
  }

  /** Drops what is kept for a conversation (erasure). */
  async forget(conversationId: string): Promise<void> {
    this.#known.delete(conversationId);
    await this.#serial(async () => {
      await this.#state.set(cardKey(conversationId), null);
      const index = (await this.#state.get<Record<string, number>>(INDEX_KEY)) ?? {};
      if (conversationId in index) {
        delete index[conversationId];
        await this.#state.set(INDEX_KEY, index);
      }
    });
  }

  /** Shows the closed card of every conversation whose window closed by `now`. Returns how many. */
  async closeDue(now: number): Promise<number> {
    const index = (await this.#state.get<Record<string, number>>(INDEX_KEY)) ?? {};
    let closed = 0;
    for (const [conversationId, closesAt] of Object.entries(index)) {
      if (closesAt > now) continue;
      const card = await this.#state.get<ClosingCard>(cardKey(conversationId));
      // Read again right before: a message may have reopened the window since the loop began.
      const current = (await this.#state.get<Record<string, number>>(INDEX_KEY))?.[conversationId];
      if (current !== closesAt) continue;
      if (card) {
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
            break;
          }
        }
      }
      // Dropped only if unchanged: a newer message may have moved the closing time meanwhile.
      await this.#drop(conversationId, closesAt);
    }
    return closed;
  }

  async #drop(conversationId: string, closesAt: number): Promise<void> {
    this.#known.delete(conversationId);
    await this.#serial(async () => {
      const index = (await this.#state.get<Record<string, number>>(INDEX_KEY)) ?? {};
      if (index[conversationId] !== closesAt) return;
      delete index[conversationId];
      await this.#state.set(INDEX_KEY, index);
      await this.#state.set(cardKey(conversationId), null);
    });
  }
}
