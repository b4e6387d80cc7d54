import type {
  DeliveryContext,
  DeliveryResult,
  InboundMessageEvent,
  OutboundMessageEvent,
} from '@wabridge/core';
import { CHANGE_TYPES } from '@wabridge/core';
import { deliverChange } from './edit.ts';
import { isAgentReply, type TeamsThreads } from './post.ts';

/** A customer's message: a reply in the conversation's thread (created on first use). */
export async function deliverInbound(
  t: TeamsThreads,
  event: InboundMessageEvent,
  ctx: DeliveryContext,
): Promise<DeliveryResult> {
  if (CHANGE_TYPES.has(event.message.type)) return deliverChange(t, event, ctx);
  const thread = await t.thread(event, ctx, true);
  if (!thread) return {};
  const refs = await t.postMessage(thread, event, event.message, event.related, ctx);
  await t.threads.touch(thread, event.conversation.id);
  return { refs };
}

/** A message the business sent from elsewhere (another connector, the API, the Business app). */
export async function deliverOutbound(
  t: TeamsThreads,
  event: OutboundMessageEvent,
  ctx: DeliveryContext,
): Promise<DeliveryResult> {
  if (CHANGE_TYPES.has(event.message.type)) return deliverChange(t, event, ctx);
  // An agent's reply from this Teams thread: the thread already shows it.
  if (isAgentReply(await ctx.refs.get('message', event.message.id))) return {};
  const thread = await t.thread(event, ctx, true);
  if (!thread) return {};
  return { refs: await t.postMessage(thread, event, event.message, event.related, ctx) };
}
