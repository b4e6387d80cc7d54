import { type DeliveryContext, type DeliveryResult, type DomainEvent, displayName } from '@wabridge/core';
import { renderMessage, renderNote, toPayloads } from '../render/messages.ts';
import { isPost, nonceOf, type PostRefData, type TeamsThreads } from './post.ts';

/**
 * An edit or a deletion of a message already in the thread: its post (every part of it) now
 * shows the message as it stands, edited or deleted; the post stays where it is. A message not
 * posted yet is shown as it stands when its turn comes; an agent's own reply is theirs to edit.
 */
export async function deliverChange(
  t: TeamsThreads,
  event: Extract<DomainEvent, { type: 'message.inbound' | 'message.outbound' }>,
  ctx: DeliveryContext,
): Promise<DeliveryResult> {
  const original = event.related;
  if (!original) return {};
  const ref = await ctx.refs.get('message', original.id);
  if (!ref || !isPost(ref)) return {};
  const thread = await t.thread(event, ctx, false);
  if (!thread) return {};
  const data = ref.data as unknown as PostRefData;
  const rendered = renderMessage(original, {
    related: null,
    contactName: displayName(event.contact),
    masking: event.workspace.policies.numberMasking,
    mediaUrl: (id) => t.deps.media.url(id, t.config.mediaLinkTtlDays * 24 * 3600_000),
    mediaUnavailable: data.mediaUnavailable === true,
  });
  const nonce = (i: number) => (i === 0 ? data.nonce : nonceOf('message', original.id, i));
  const payloads = toPayloads(rendered, nonce, t.config.maxMessageBytes);
  const parts = Math.max(data.parts ?? 1, 1);
  for (let i = 0; i < parts; i++) {
    const post =
      i === 0 ? data : ((await ctx.refs.get('post', `${original.id}#${i}`))?.data as PostRefData | undefined);
    if (!post?.messageId) continue;
    // A shorter version leaves later parts over: they say so rather than repeat old text.
    const payload =
      payloads[i] ??
      toPayloads(renderNote('(see above)', rendered.footer), () => nonce(i), t.config.maxMessageBytes)[0];
    if (!payload) continue;
    await t.pacer.request(thread, ctx.signal);
    await t.bestEffort('show an edit or a deletion', ctx, () =>
      t.api.updateMessage(thread, post.messageId, thread.rootId, payload, ctx.signal),
    );
  }
  return {};
}
