import type { DeliveryContext, DeliveryResult, EventBase } from '@wabridge/core';
import type { ChatMessage } from '../api/teams-api.ts';
import type { TeamsThreads } from './post.ts';

/** GDPR erasure: the card says so, and every post of ours in the thread is deleted. */
export async function deliverErased(
  t: TeamsThreads,
  event: EventBase,
  ctx: DeliveryContext,
): Promise<DeliveryResult> {
  const thread = await t.thread(event, ctx, false);
  if (!thread) return {};
  await t.updateRoot(thread, event, ctx);
  const self = await t.selfId();
  await t.pacer.request(thread, ctx.signal);
  const ours: ChatMessage[] = [];
  for await (const page of t.api.listReplies(thread, thread.rootId, ctx.signal)) {
    for (const reply of page) {
      const author = reply.from?.user?.id;
      if (reply.id && !reply.deletedDateTime && author !== undefined && author === self) {
        ours.push(reply);
      }
    }
    await t.pacer.request(thread, ctx.signal);
  }
  for (const reply of ours) {
    await t.pacer.request(thread, ctx.signal);
    await t.bestEffort('delete a mirrored message', ctx, () =>
      t.api.softDelete(thread, reply.id as string, thread.rootId, ctx.signal),
    );
  }
  ctx.logger.info({ deleted: ours.length }, 'erased conversation removed from Teams');
  return {};
}
