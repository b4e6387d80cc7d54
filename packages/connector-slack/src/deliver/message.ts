import {
  CHANGE_TYPES,
  type DeliveryContext,
  type DeliveryResult,
  type InboundMessageEvent,
  isBusinessAppMessage,
  type OutboundMessageEvent,
} from '@wabridge/core';
import { postedRef, type SlackMessageRef } from '../api/refs.ts';
import { contactName } from '../render/card.ts';
import { slackReactionName } from '../render/emoji.ts';
import { MEDIA_TYPES, renderInbound, renderOutbound } from '../render/messages.ts';
import { escapeMrkdwn, quote, truncate } from '../render/text.ts';
import { deliverChange } from './edit.ts';
import { isDone, type SlackDelivery } from './post.ts';

/** A customer's message: a reply in the thread (a file share for media), a reaction on the post. */
export async function deliverInbound(
  d: SlackDelivery,
  event: InboundMessageEvent,
  thread: SlackMessageRef,
  ctx: DeliveryContext,
): Promise<DeliveryResult> {
  const { message } = event;
  if (CHANGE_TYPES.has(message.type)) return deliverChange(d, event, ctx);
  const target = { kind: 'message', entityId: message.id };
  const existing = await ctx.refs.get(target.kind, target.entityId);
  if (isDone(existing)) return {};
  const name = contactName(event.contact);
  const masking = event.workspace.policies.numberMasking;
  const asCustomer = d.config.customizeAuthor;
  const author = asCustomer
    ? { username: truncate(`${name} (WhatsApp)`, 80), iconEmoji: ':speech_balloon:' }
    : {};
  const textPost = async (mediaUnavailable: boolean) => {
    const rendered = renderInbound(message, event.related, {
      masking,
      author: asCustomer ? null : name,
      mediaUnavailable,
    });
    if (rendered.kind !== 'text') throw new Error('a text rendering was expected');
    await d.post.once(
      ctx,
      target,
      existing,
      {
        channel: thread.channel,
        threadTs: thread.ts,
        text: rendered.text,
        blocks: rendered.blocks,
        ...author,
      },
      mediaUnavailable ? { mediaUnavailable: true } : {},
    );
    return {};
  };
  // File shares carry no custom author, so a media comment always names the customer.
  const rendered = renderInbound(message, event.related, { masking, author: name });
  if (rendered.kind === 'reaction') return deliverReaction(d, event, thread, ctx, rendered.emoji);
  if (rendered.kind === 'text') return textPost(false);
  const file = await d.post.fetchMedia(message, ctx);
  if (!file) return textPost(true);
  await d.post.uploadOnce(ctx, target, existing, {
    channel: thread.channel,
    threadTs: thread.ts,
    filename: file.filename,
    bytes: file.bytes,
    comment: rendered.comment,
  });
  return {};
}

/** A customer's reaction becomes a reaction on the mirrored message, or a note when that cannot be. */
export async function deliverReaction(
  d: SlackDelivery,
  event: InboundMessageEvent,
  thread: SlackMessageRef,
  ctx: DeliveryContext,
  emoji: string | null,
) {
  const { message, related } = event;
  const reacted = related ? postedRef(await ctx.refs.get('message', related.id)) : null;
  const key = `reaction:${related?.id ?? message.relatesTo ?? 'unknown'}`;
  const previous = await d.deps.state.get<string>(key);
  const name = contactName(event.contact);
  if (emoji) {
    const reaction = slackReactionName(emoji);
    if (reaction && reacted) {
      if (previous && previous !== reaction) await d.post.react('remove', reacted, previous, ctx);
      await d.post.react('add', reacted, reaction, ctx);
      await d.deps.state.set(key, reaction);
      return {};
    }
  } else if (previous && reacted) {
    await d.post.react('remove', reacted, previous, ctx);
    await d.deps.state.set(key, null);
    return {};
  }
  const about = related?.text ? `:\n${quote(escapeMrkdwn(related.text))}` : '';
  const text = emoji
    ? `*${escapeMrkdwn(name)}* reacted ${emoji}${about ? ` to${about}` : ''}`
    : `*${escapeMrkdwn(name)}* removed their reaction${about ? ` from${about}` : ''}`;
  const target = { kind: 'message', entityId: message.id };
  await d.post.once(
    ctx,
    target,
    await ctx.refs.get(target.kind, target.entityId),
    { channel: thread.channel, threadTs: thread.ts, text },
    {},
  );
  return {};
}

/** A message the business sent from elsewhere (the API, another connector, the Business app). */
export async function deliverOutbound(
  d: SlackDelivery,
  event: OutboundMessageEvent,
  thread: SlackMessageRef,
  ctx: DeliveryContext,
): Promise<DeliveryResult> {
  const { message } = event;
  if (CHANGE_TYPES.has(message.type)) return deliverChange(d, event, ctx);
  const target = { kind: 'message', entityId: message.id };
  const existing = await ctx.refs.get(target.kind, target.entityId);
  if (isDone(existing)) return {};
  const who = message.sender?.agentName ?? message.sender?.agentId ?? 'wabridge';
  const asAgent = d.config.customizeAuthor;
  const masking = event.workspace.policies.numberMasking;
  // `mirror` tells statuses this is our post (a status line to update), not an agent's own message;
  // `shown`, the state this rendering shows (a status the post already shows needs no update).
  const data: Record<string, unknown> = { mirror: true };
  const shows = { shown: message.state ?? 'pending' };
  // What the business sent from the WhatsApp Business app may carry media, like a customer's message.
  if (isBusinessAppMessage(message) && MEDIA_TYPES.has(message.type) && !message.revision?.revokedAt) {
    const file = await d.post.fetchMedia(message, ctx);
    if (file) {
      await d.post.uploadOnce(ctx, target, existing, {
        channel: thread.channel,
        threadTs: thread.ts,
        filename: file.filename,
        bytes: file.bytes,
        comment: renderOutbound(message, { author: who, masking, related: event.related }).text,
      });
      return {};
    }
    data.mediaUnavailable = true;
  }
  const rendered = renderOutbound(message, {
    author: asAgent ? null : who,
    masking,
    mediaUnavailable: data.mediaUnavailable === true,
    related: event.related,
  });
  await d.post.once(
    ctx,
    target,
    existing,
    {
      channel: thread.channel,
      threadTs: thread.ts,
      ...rendered,
      ...(asAgent
        ? {
            username: truncate(`${who} (via ${message.sender?.via ?? 'wabridge'})`, 80),
            iconEmoji: ':outbox_tray:',
          }
        : {}),
    },
    data,
    shows,
  );
  return {};
}
