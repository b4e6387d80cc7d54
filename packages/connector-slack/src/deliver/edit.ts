import type {
  DeliveryContext,
  DeliveryResult,
  InboundMessageEvent,
  OutboundMessageEvent,
} from '@wabridge/core';
import { slackErrorCode } from '../api/errors.ts';
import { postedRef } from '../api/refs.ts';
import { type Block, contactName } from '../render/card.ts';
import { renderInbound, renderOutbound } from '../render/messages.ts';
import { isDone, type SlackDelivery } from './post.ts';

/**
 * An edit or a deletion of a message already mirrored: its post now shows the message as it
 * stands (the newest text and "edited", or the deletion note, the file removed). A message not
 * mirrored yet needs nothing: it is shown as it stands when its own turn comes.
 */
export async function deliverChange(
  d: SlackDelivery,
  event: InboundMessageEvent | OutboundMessageEvent,
  ctx: DeliveryContext,
): Promise<DeliveryResult> {
  const original = event.related;
  if (!original) return {};
  const ref = await ctx.refs.get('message', original.id);
  if (!ref || !isDone(ref)) return {};
  // An agent's own Slack message (not our post) can only be changed by its author.
  if (original.direction === 'outbound' && ref.data.mirror !== true) return {};
  const fileId = typeof ref.data.fileId === 'string' ? ref.data.fileId : null;
  const revoked = typeof original.revision?.revokedAt === 'number';
  if (revoked && fileId) {
    try {
      await d.api.call('files.delete', { file: fileId }, { pace: { tier: 'tier3' }, signal: ctx.signal });
    } catch (error) {
      const code = slackErrorCode(error);
      if (code !== 'file_not_found' && code !== 'file_deleted') throw error;
    }
  }
  const target = postedRef(ref);
  if (!target) return {};
  const masking = event.workspace.policies.numberMasking;
  const mediaUnavailable = ref.data.mediaUnavailable === true;
  let update: { text: string; blocks?: Block[] };
  if (original.direction === 'inbound') {
    const name = contactName(event.contact);
    const rendered = renderInbound(original, null, {
      masking,
      author: d.config.customizeAuthor && !fileId ? null : name,
      mediaUnavailable,
    });
    if (rendered.kind === 'reaction') return {};
    update = rendered.kind === 'media' ? { text: rendered.comment } : rendered;
  } else {
    const who = original.sender?.agentName ?? original.sender?.agentId ?? 'wabridge';
    update = renderOutbound(original, {
      author: d.config.customizeAuthor ? null : who,
      masking,
      mediaUnavailable,
    });
    if (fileId && !revoked) update = { text: update.text };
  }
  await d.post.update(ctx, target, update);
  return {};
}
