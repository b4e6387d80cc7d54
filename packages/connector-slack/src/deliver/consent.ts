import {
  type ConsentChangedEvent,
  consentScopeWords,
  consentSourceWords,
  type DeliveryContext,
  type DeliveryResult,
} from '@wabridge/core';
import type { SlackMessageRef } from '../api/refs.ts';
import { contactName } from '../render/card.ts';
import { escapeMrkdwn, slackDate } from '../render/text.ts';
import { isDone, type SlackDelivery } from './post.ts';

/** A consent change: a line in the thread (the card shows the new state, see thread.ts). */
export async function deliverConsent(
  d: SlackDelivery,
  event: ConsentChangedEvent,
  thread: SlackMessageRef,
  ctx: DeliveryContext,
): Promise<DeliveryResult> {
  const { change } = event;
  const target = { kind: 'consent', entityId: change.id };
  const existing = await ctx.refs.get(target.kind, target.entityId);
  if (isDone(existing)) return {};
  const name = escapeMrkdwn(contactName(event.contact));
  const what = consentScopeWords(change.category);
  const how = consentSourceWords(change.source, ctx.platformName) ?? `(${escapeMrkdwn(change.source)})`;
  const text =
    change.state === 'opted_out'
      ? `:no_entry_sign: ${name} opted out of ${what} ${how} · ${slackDate(change.occurredAt)}${change.category === 'all' ? '. Replies from here will not be sent.' : '.'}`
      : `:white_check_mark: ${name} opted back in to ${what} ${how} · ${slackDate(change.occurredAt)}.`;
  await d.post.once(ctx, target, existing, { channel: thread.channel, threadTs: thread.ts, text }, {});
  return {};
}
