import type { ConsentChangedEvent, DeliveryContext, DeliveryResult } from '@wabridge/core';
import type { SlackMessageRef } from '../api/refs.ts';
import { contactName } from '../render/card.ts';
import { escapeMrkdwn, slackDate } from '../render/text.ts';
import { isDone, type SlackDelivery } from './post.ts';

const CONSENT_SOURCES: Record<string, string> = {
  keyword: 'by replying with an opt-out keyword',
  meta_preference: 'in WhatsApp',
  hubspot: 'in HubSpot',
  admin: 'by an administrator',
  api: 'through the API',
  platform_error: 'as reported by WhatsApp',
};

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
  const what = change.category === 'all' ? 'all WhatsApp messages' : 'marketing messages';
  const how = CONSENT_SOURCES[change.source] ?? `(${escapeMrkdwn(change.source)})`;
  const text =
    change.state === 'opted_out'
      ? `:no_entry_sign: ${name} opted out of ${what} ${how} · ${slackDate(change.occurredAt)}${change.category === 'all' ? '. Replies from here will not be sent.' : '.'}`
      : `:white_check_mark: ${name} opted back in to ${what} ${how} · ${slackDate(change.occurredAt)}.`;
  await d.post.once(ctx, target, existing, { channel: thread.channel, threadTs: thread.ts, text }, {});
  return {};
}
