import type { DeliveryContext, DeliveryResult, NoticeEvent } from '@wabridge/core';
import { renderNotice } from '../render/messages.ts';
import { NOT_SENT, type TeamsThreads } from './post.ts';

/** A notice for the agents: why a reply was not sent, which templates can reopen the window. */
export async function deliverNotice(
  t: TeamsThreads,
  event: NoticeEvent,
  ctx: DeliveryContext,
): Promise<DeliveryResult> {
  const thread = await t.thread(event, ctx, false);
  if (!thread) return {};
  // The reply that was not sent gets 🚫, then the notice says why.
  if (event.notice.inReplyTo && NOT_SENT.has(event.notice.kind)) {
    await t.react(thread, event.notice.inReplyTo, '🚫', ctx);
  }
  return {
    refs: await t.post(
      thread,
      renderNotice(event.notice, t.config.templateLanguage),
      'notice',
      event.notice.id,
      ctx,
    ),
  };
}
