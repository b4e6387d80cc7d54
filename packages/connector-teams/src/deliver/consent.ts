import {
  type ConsentChangedEvent,
  consentScopeWords,
  consentSourceWords,
  type DeliveryContext,
  type DeliveryResult,
  displayName,
} from '@wabridge/core';
import { renderInfo } from '../render/messages.ts';
import type { TeamsThreads } from './post.ts';

/** A consent change: the card shows the new state, and a line in the thread says what changed. */
export async function deliverConsent(
  t: TeamsThreads,
  event: ConsentChangedEvent,
  ctx: DeliveryContext,
): Promise<DeliveryResult> {
  const thread = await t.thread(event, ctx, false);
  if (!thread) return {};
  await t.updateRoot(thread, event, ctx);
  const change = event.change;
  const category = consentScopeWords(change.category);
  // The same words as the Slack thread and the core's notices (the kit's), around Teams' own icons.
  const how = consentSourceWords(change.source, ctx.platformName) ?? `(${change.source.replace('_', ' ')})`;
  const text =
    change.state === 'opted_out'
      ? `🔕 ${displayName(event.contact)} opted out of ${category} ${how}. ${change.category === 'all' ? 'Replies from this thread will not be sent.' : 'Marketing templates will not be sent.'}`
      : `🔔 ${displayName(event.contact)} opted back in to ${category} ${how}.`;
  return { refs: await t.post(thread, renderInfo(text), 'consent', change.id, ctx) };
}
