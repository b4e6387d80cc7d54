import type { ConnectorDeps, DeliveryContext, DeliveryResult, DomainEvent } from '@wabridge/core';
import type { ChannelPacer } from '../api/pacing.ts';
import type { TeamsApi } from '../api/teams-api.ts';
import type { TeamsConfig } from '../config.ts';
import type { ThreadIndex } from '../sync/threads.ts';
import { deliverConsent } from './consent.ts';
import { deliverErased } from './erased.ts';
import { deliverInbound, deliverOutbound } from './message.ts';
import { deliverNotice } from './notice.ts';
import { TeamsThreads } from './post.ts';
import { deliverStatus } from './status.ts';

/**
 * WhatsApp → Teams. One root message (a conversation card) per conversation, every message a reply
 * in the thread in WhatsApp order (the queue keeps the order per conversation), statuses on the
 * mirrored posts, failures and notices as replies. One file per event type in this folder;
 * `post.ts` holds the thread and the exactly-once posts they share.
 */
export class Mirror {
  readonly #t: TeamsThreads;

  constructor(
    config: TeamsConfig,
    deps: ConnectorDeps,
    parts: { api: TeamsApi; pacer: ChannelPacer; threads: ThreadIndex; selfId: () => Promise<string | null> },
  ) {
    this.#t = new TeamsThreads(config, deps, parts);
  }

  async deliver(event: DomainEvent, ctx: DeliveryContext): Promise<DeliveryResult> {
    const t = this.#t;
    switch (event.type) {
      case 'message.inbound':
        return deliverInbound(t, event, ctx);
      case 'message.outbound':
        return deliverOutbound(t, event, ctx);
      case 'message.status':
        return deliverStatus(t, event, ctx);
      case 'consent.changed':
        return deliverConsent(t, event, ctx);
      case 'conversation.updated': {
        const thread = await t.thread(event, ctx, false);
        if (thread) await t.updateRoot(thread, event, ctx);
        return {};
      }
      case 'conversation.erased':
        return deliverErased(t, event, ctx);
      case 'notice':
        return deliverNotice(t, event, ctx);
    }
  }
}
