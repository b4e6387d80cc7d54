import type { DeliveryContext, DeliveryResult, NoticeEvent, NoticeKind } from '@wabridge/core';
import { formatRef, parseRef, type SlackMessageRef } from '../api/refs.ts';
import { TEMPLATE_ACTION, TEMPLATES_KEY } from '../constants.ts';
import type { Block } from '../render/card.ts';
import { sections } from '../render/messages.ts';
import { escapeMrkdwn, truncate } from '../render/text.ts';
import { isDone, type SlackDelivery } from './post.ts';

// Typed by kind: a new kind of notice does not compile until it has an icon.
const NOTICE_ICONS: Record<NoticeKind, string> = {
  opted_out: ':no_entry_sign:',
  window_closed: ':hourglass:',
  send_failed: ':x:',
  sent: ':white_check_mark:',
  edit_unsupported: ':pencil2:',
  delete_unsupported: ':wastebasket:',
  template_invalid: ':warning:',
  content_unsupported: ':no_entry_sign:',
  info: ':information_source:',
};

/** Notices that mean "your message did not go out": marked on the agent's message too. */
const NOT_SENT_NOTICES: Partial<Record<NoticeKind, string>> = {
  opted_out: 'no_entry_sign',
  window_closed: 'no_entry_sign',
  template_invalid: 'no_entry_sign',
  content_unsupported: 'no_entry_sign',
  send_failed: 'x',
};

/** A notice for the agents (the template picker when the window is closed); a reply not sent gets a mark. */
export async function deliverNotice(
  d: SlackDelivery,
  event: NoticeEvent,
  thread: SlackMessageRef,
  ctx: DeliveryContext,
): Promise<DeliveryResult> {
  const { notice } = event;
  const target = { kind: 'notice', entityId: notice.id };
  const existing = await ctx.refs.get(target.kind, target.entityId);
  if (!isDone(existing)) {
    const text = `${NOTICE_ICONS[notice.kind] ?? ':information_source:'} ${escapeMrkdwn(notice.text)}`;
    const blocks: Block[] = [...sections(text)];
    if (notice.templates.length > 0) {
      // The modal of the picker needs the templates' bodies; they are workspace policy, not personal data.
      await d.deps.state.set(TEMPLATES_KEY, notice.templates);
      blocks.push(
        {
          type: 'section',
          block_id: 'wabridge_templates',
          text: { type: 'mrkdwn', text: '*Send an approved template instead:*' },
          accessory: {
            type: 'static_select',
            action_id: TEMPLATE_ACTION,
            placeholder: { type: 'plain_text', text: 'Choose a template' },
            options: notice.templates.slice(0, 100).map((t) => ({
              text: { type: 'plain_text', text: truncate(`${t.name} (${t.language})`, 75) },
              description: {
                type: 'plain_text',
                text: truncate(t.body.replace(/\s+/g, ' ') || t.category, 75),
              },
              value: truncate(`${t.name}|${t.language}|${t.parameters}`, 150),
            })),
          },
        },
        {
          type: 'context',
          elements: [
            {
              type: 'mrkdwn',
              text: `Or type \`${d.config.slashCommand} template ${formatRef(thread)} <name> <language> | parameter 1 | parameter 2\``,
            },
          ],
        },
      );
    }
    await d.post.once(
      ctx,
      target,
      existing,
      { channel: thread.channel, threadTs: thread.ts, text, blocks },
      {},
    );
  }
  const marker = NOT_SENT_NOTICES[notice.kind];
  const agentMessage = parseRef(notice.inReplyTo);
  if (marker && agentMessage) await d.post.react('add', agentMessage, marker, ctx);
  return {};
}
