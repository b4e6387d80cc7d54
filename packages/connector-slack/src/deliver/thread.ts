import {
  type DeliveryContext,
  type DomainEvent,
  type ExternalRef,
  isPendingRef,
  toWabridgeError,
} from '@wabridge/core';
import { postedRef, type SlackMessageRef } from '../api/refs.ts';
import { type CardInput, type RenderedCard, renderCard } from '../render/card.ts';
import type { SlackDelivery } from './post.ts';
import { chooseChannel } from './routing.ts';

/** What the card shows: the conversation as the event saw it, and the links others published. */
async function cardInput(d: SlackDelivery, event: DomainEvent, ctx: DeliveryContext): Promise<CardInput> {
  // Other connectors' records of this contact (a CRM page): shown as buttons, whoever published them.
  const links = await ctx.links.list(event.contact.id);
  return {
    contact: event.contact,
    conversation: event.conversation,
    consent: event.consent,
    window: event.window,
    masking: event.workspace.policies.numberMasking,
    links,
    notePrefix: d.config.notePrefix,
  };
}

/** The conversation's thread: created with its card on first use; the card refreshed when it changed. */
export async function conversationThread(
  d: SlackDelivery,
  event: DomainEvent,
  ctx: DeliveryContext,
  cardMatters: boolean,
): Promise<SlackMessageRef> {
  const target = { kind: 'conversation', entityId: event.conversation.id };
  const ref = await ctx.refs.get(target.kind, target.entityId);
  const input = await cardInput(d, event, ctx);
  const card = renderCard(input);
  let root = postedRef(ref);
  if (ref && root) {
    if (ref.data.card !== card.key) await updateCard(d, ref, root, card, ctx, cardMatters);
  } else {
    const channel =
      isPendingRef(ref) && typeof ref.data.channel === 'string'
        ? ref.data.channel
        : chooseChannel(d.config, event.conversation, event.contact);
    root = await d.post.once(
      ctx,
      target,
      ref,
      { channel, text: card.text, blocks: card.blocks },
      {},
      { card: card.key },
    );
    // A card an earlier attempt posted (its answer lost) is found, not posted, and recorded with
    // what that attempt rendered: brought up to date now, or it would wait for the next event.
    const recorded = await ctx.refs.get(target.kind, target.entityId);
    if (recorded && recorded.data.card !== card.key)
      await updateCard(d, recorded, root, card, ctx, cardMatters);
  }
  const { closesAt } = event.window;
  if (event.window.open && closesAt !== null) {
    const closed = renderCard({ ...input, window: { open: false, closesAt } });
    await d.windows.track(event.conversation.id, {
      ...root,
      closesAt,
      text: closed.text,
      blocks: closed.blocks,
    });
  }
  return root;
}

async function updateCard(
  d: SlackDelivery,
  ref: ExternalRef,
  root: SlackMessageRef,
  card: RenderedCard,
  ctx: DeliveryContext,
  required: boolean,
): Promise<void> {
  try {
    // Someone deleted the card: the thread lives on, there is nothing left to update.
    if ((await d.post.update(ctx, root, { text: card.text, blocks: card.blocks })) === 'gone') {
      ctx.logger.warn({}, 'conversation card is gone; not updating it');
    }
  } catch (error) {
    if (required) {
      throw error;
    } else {
      // A message must not wait for its card: the next event of the conversation tries again.
      ctx.logger.debug({ code: toWabridgeError(error).code }, 'card refresh postponed');
      return;
    }
  }
  await ctx.refs.checkpoint({
    kind: ref.kind,
    entityId: ref.entityId,
    externalId: ref.externalId,
    data: { ...ref.data, card: card.key },
  });
}
