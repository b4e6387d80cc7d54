import type { ConversationErasedEvent, DeliveryContext, DeliveryResult } from '@wabridge/core';
import { slackErrorCode } from '../api/errors.ts';
import { postedRef } from '../api/refs.ts';
import { renderErasedCard } from '../render/card.ts';
import type { ListedMessage, SlackDelivery } from './post.ts';

/**
 * GDPR erasure: every message and file the bot posted in the thread is deleted, and the card says
 * the conversation was erased. Replies written by people cannot be deleted with a bot token; the
 * card says how many remain, for a workspace admin to remove.
 */
export async function deliverErased(
  d: SlackDelivery,
  event: ConversationErasedEvent,
  ctx: DeliveryContext,
): Promise<DeliveryResult> {
  const ref = await ctx.refs.get('conversation', event.conversation.id);
  const root = postedRef(ref);
  if (!ref || !root || ref.data.erased === true) return {};
  const identity = await d.api.identity();
  const mine: ListedMessage[] = [];
  let people = 0;
  let cursor: string | undefined;
  do {
    let page: { messages?: ListedMessage[]; response_metadata?: { next_cursor?: string } };
    try {
      page = await d.api.call(
        'conversations.replies',
        { channel: root.channel, ts: root.ts, limit: 200, cursor },
        { pace: { tier: 'tier3' }, signal: ctx.signal },
      );
    } catch (error) {
      if (slackErrorCode(error) !== 'thread_not_found') throw error;
      page = {};
    }
    for (const m of page.messages ?? []) {
      if (m.ts === root.ts) continue;
      if (m.bot_id === identity.botId || m.user === identity.botUserId) mine.push(m);
      else people += 1;
    }
    cursor = page.response_metadata?.next_cursor || undefined;
  } while (cursor);
  for (const m of mine) {
    for (const file of m.files ?? []) {
      try {
        await d.api.call('files.delete', { file: file.id }, { pace: { tier: 'tier3' }, signal: ctx.signal });
      } catch (error) {
        if (slackErrorCode(error) !== 'file_not_found' && slackErrorCode(error) !== 'file_deleted')
          throw error;
      }
    }
    try {
      await d.api.call(
        'chat.delete',
        { channel: root.channel, ts: m.ts },
        { pace: { tier: 'tier3' }, signal: ctx.signal },
      );
    } catch (error) {
      if (slackErrorCode(error) !== 'message_not_found') throw error;
    }
  }
  const card = renderErasedCard(event.erasure.at, people);
  await d.post.update(ctx, root, { text: card.text, blocks: card.blocks });
  await ctx.refs.checkpoint({
    kind: ref.kind,
    entityId: ref.entityId,
    externalId: ref.externalId,
    data: { channel: root.channel, erased: true, card: card.key },
  });
  await d.windows.forget(event.conversation.id);
  return {};
}
