import type { ConnectorDeps, DeliveryContext, DeliveryResult, DomainEvent } from '@wabridge/core';
import { CHANGE_TYPES } from '@wabridge/core';
import type { SlackApi } from '../api/client.ts';
import type { SlackConfig } from '../config.ts';
import { deliverConsent } from './consent.ts';
import { deliverErased } from './erased.ts';
import { deliverInbound, deliverOutbound } from './message.ts';
import { deliverNotice } from './notice.ts';
import { type SlackDelivery, SlackPoster } from './post.ts';
import { deliverStatus } from './status.ts';
import { conversationThread } from './thread.ts';
import { WindowWatch } from './windows.ts';

/**
 * Mirrors domain events into Slack: one thread per conversation under a Block Kit card, every
 * message a reply in WhatsApp order, statuses on the messages, notices for the agents. One file
 * per event type in this folder; `post.ts` holds the effects they share, `thread.ts` the card.
 *
 * Idempotence: each post first checkpoints a `pending:<nonce>` ref and carries the nonce in the
 * message's metadata; a retry that finds the marker searches the thread for the nonce before
 * posting again. File shares checkpoint the uploaded file's id instead and ask `files.info` whether
 * it was shared. Updates and reactions are idempotent on Slack's side.
 */
export class SlackMirror {
  readonly windows: WindowWatch;
  readonly #d: SlackDelivery;

  constructor(config: SlackConfig, api: SlackApi, deps: ConnectorDeps) {
    this.windows = new WindowWatch(deps.state, api, deps.logger);
    this.#d = { config, api, deps, post: new SlackPoster(api, deps), windows: this.windows };
  }

  async deliver(event: DomainEvent, ctx: DeliveryContext): Promise<DeliveryResult> {
    if (event.type === 'conversation.erased') return deliverErased(this.#d, event, ctx);
    // An erased conversation keeps its row as a tombstone; nothing more is shown for it.
    if (event.conversation.erasedAt !== null) return {};
    // An edit or a deletion of a message never received changes nothing to show (no thread for it).
    if (
      (event.type === 'message.inbound' || event.type === 'message.outbound') &&
      CHANGE_TYPES.has(event.message.type)
    ) {
      if (!event.related) return {};
    }
    const cardMatters = event.type === 'consent.changed' || event.type === 'conversation.updated';
    const thread = await conversationThread(this.#d, event, ctx, cardMatters);
    switch (event.type) {
      case 'message.inbound':
        return deliverInbound(this.#d, event, thread, ctx);
      case 'message.outbound':
        return deliverOutbound(this.#d, event, thread, ctx);
      case 'message.status':
        return deliverStatus(this.#d, event, thread, ctx);
      case 'consent.changed':
        return deliverConsent(this.#d, event, thread, ctx);
      case 'notice':
        return deliverNotice(this.#d, event, thread, ctx);
      case 'conversation.updated':
        return {};
    }
  }
}
