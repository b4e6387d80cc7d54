import { type DeliveryContext, type DeliveryResult, type DomainEvent, displayName } from '@wabridge/core';
import { renderFailure, renderMessage, toPayloads } from '../render/messages.ts';
import {
  isAgentReply,
  isPost,
  nonceOf,
  type PostRefData,
  STATUS_REACTIONS,
  type TeamsThreads,
} from './post.ts';

/**
 * An outbound message's progress: our mirrored post shows it in its card; an agent's own reply
 * gets a reaction; a failure is explained in the thread.
 */
export async function deliverStatus(
  t: TeamsThreads,
  event: Extract<DomainEvent, { type: 'message.status' }>,
  ctx: DeliveryContext,
): Promise<DeliveryResult> {
  const ref = await ctx.refs.get('message', event.message.id);
  if (!ref) return {};
  const thread = await t.thread(event, ctx, false);
  if (!thread) return {};
  const failed = event.status.status === 'failed';
  if (isPost(ref)) {
    // The mirrored post shows the newest state in its card (PATCH keeps the post where it is).
    const data = ref.data as unknown as PostRefData;
    const rendered = renderMessage(event.message, {
      related: null,
      contactName: displayName(event.contact),
      masking: event.workspace.policies.numberMasking,
      mediaUrl: (id) => t.deps.media.url(id, t.config.mediaLinkTtlDays * 24 * 3600_000),
      mediaUnavailable: data.mediaUnavailable === true,
    });
    const [first] = toPayloads(
      rendered,
      (i) => (i === 0 ? data.nonce : nonceOf('message', event.message.id, i)),
      t.config.maxMessageBytes,
    );
    if (first) {
      await t.pacer.request(thread, ctx.signal);
      await t.bestEffort('show the delivery status', ctx, () =>
        t.api.updateMessage(thread, data.messageId, thread.rootId, first, ctx.signal),
      );
    }
  } else if (isAgentReply(ref)) {
    // An agent's own reply: a reaction on it follows its progress, as in the Slack connector.
    const reaction = STATUS_REACTIONS[event.status.status];
    if (reaction) await t.react(thread, ref.externalId, reaction, ctx);
  }
  if (!failed) return {};
  const error = event.status.error ?? event.message.error;
  return {
    refs: await t.post(thread, renderFailure(error, isAgentReply(ref)), 'failure', event.status.id, ctx),
  };
}
