import type { DeliveryContext, DeliveryResult, StatusChangedEvent } from '@wabridge/core';
import { postedRef, type SlackMessageRef } from '../api/refs.ts';
import { renderOutbound, STATUS_REACTIONS } from '../render/messages.ts';
import { escapeMrkdwn } from '../render/text.ts';
import type { SlackDelivery } from './post.ts';

/**
 * An outbound message's progress. On a message an agent wrote in Slack (which only its author can
 * edit) it is one reaction that moves along ✔️ sent → ✅ delivered → 👀 read, or ❌; on a message
 * we mirrored from elsewhere the status line under it is updated. Statuses are read from the
 * message's current state, so a late `sent` after `read` changes nothing.
 */
export async function deliverStatus(
  d: SlackDelivery,
  event: StatusChangedEvent,
  thread: SlackMessageRef,
  ctx: DeliveryContext,
): Promise<DeliveryResult> {
  const { message } = event;
  const ref = await ctx.refs.get('message', message.id);
  const target = postedRef(ref);
  if (!ref || !target) return {};
  const state = message.state ?? 'pending';
  if (ref.data.shown === state) return {};
  const keep = (data: Record<string, unknown>): DeliveryResult => ({
    refs: [
      {
        kind: 'message',
        entityId: message.id,
        externalId: ref.externalId,
        data: { ...ref.data, ...data, shown: state },
      },
    ],
  });
  if (ref.data.mirror !== true) {
    // The agent's own message in Slack (the core recorded it as this message's ref): only its
    // author may edit it, so the progress is a reaction.
    const want = STATUS_REACTIONS[state] ?? null;
    const had = typeof ref.data.reaction === 'string' ? ref.data.reaction : null;
    if (want && want !== had) {
      await d.post.react('add', target, want, ctx);
      if (had) await d.post.react('remove', target, had, ctx);
    }
    // A failure reported by WhatsApp's status webhook (it carries the raw status) gets no notice
    // from the core, unlike a refused send: explain it in the thread.
    if (state === 'failed' && Object.keys(event.status.raw).length > 0 && message.error) {
      const statusTarget = { kind: 'status', entityId: event.status.id };
      const agent = message.sender?.agentId ? `<@${message.sender.agentId}> ` : '';
      const text = `:x: ${agent}your reply was not delivered: ${escapeMrkdwn(message.error.meaning)} ${escapeMrkdwn(message.error.action)}`;
      await d.post.once(
        ctx,
        statusTarget,
        await ctx.refs.get(statusTarget.kind, statusTarget.entityId),
        { channel: thread.channel, threadTs: thread.ts, text },
        {},
      );
    }
    return keep({ reaction: want ?? had });
  }
  const who = message.sender?.agentName ?? message.sender?.agentId ?? 'wabridge';
  const rendered = renderOutbound(message, {
    author: d.config.customizeAuthor ? null : who,
    masking: event.workspace.policies.numberMasking,
    mediaUnavailable: ref.data.mediaUnavailable === true,
  });
  // A file share keeps its file; only its comment can change.
  const update = typeof ref.data.fileId === 'string' ? { text: rendered.text } : rendered;
  await d.post.update(ctx, target, update);
  return keep({});
}
