import {
  describeMessage,
  isBusinessAppMessage,
  MEDIA_UNAVAILABLE_NOTE,
  type Message,
  type MessageView,
  type NumberMasking,
  senderVia,
} from '@wabridge/core';
import type { Block } from './card.ts';
import { escapeMrkdwn, quote, slackDate } from './text.ts';

/** Media types re-hosted into Slack as files. */
export const MEDIA_TYPES = new Set(['image', 'video', 'audio', 'document', 'sticker']);

export type RenderedInbound =
  | { kind: 'text'; text: string; blocks: Block[] }
  | { kind: 'media'; comment: string }
  | { kind: 'reaction'; emoji: string | null; target: string | null };

export interface RenderOptions {
  masking: NumberMasking;
  /** Who wrote it, written into the text when the author cannot be shown as the poster. */
  author: string | null;
}

type Content = Record<string, unknown>;
const obj = (value: unknown): Content =>
  typeof value === 'object' && value !== null ? (value as Content) : {};
const str = (value: unknown): string | undefined =>
  typeof value === 'string' && value !== '' ? value : undefined;

const SECTION_MAX = 3000;

/**
 * A message's text as section blocks (Slack caps a section at 3,000 characters, counted here in
 * UTF-16 units so an emoji-heavy text cannot overflow one), never cutting inside a character.
 */
export function sections(mrkdwn: string): Block[] {
  const blocks: Block[] = [];
  let start = 0;
  while (start < mrkdwn.length && blocks.length < 45) {
    let end = Math.min(mrkdwn.length, start + SECTION_MAX);
    if (end < mrkdwn.length && /[\ud800-\udbff]/.test(mrkdwn.charAt(end - 1))) end -= 1;
    blocks.push({ type: 'section', text: { type: 'mrkdwn', text: mrkdwn.slice(start, end) } });
    start = end;
  }
  return blocks;
}

function context(text: string): Block {
  return { type: 'context', elements: [{ type: 'mrkdwn', text }] };
}

function withAuthor(body: string, author: string | null): string {
  return author ? `*${escapeMrkdwn(author)}*: ${body}` : body;
}

/** A link Slack cannot be tricked by: no `<`, `>` or `|` in the URL to end it early. */
function link(url: string, label: string): string {
  const safe = url.replace(/[<>|]/g, (c) => encodeURIComponent(c));
  return `<${safe}|${escapeMrkdwn(label)}>`;
}

/**
 * The core's description of a message as mrkdwn: the quoted message, a headline, what the author
 * wrote, then lines, facts and links. Customer text is always escaped.
 */
export function viewToMrkdwn(view: MessageView, options: { mediaNote?: string } = {}): string {
  if (view.revoked) return `${view.icon} _${escapeMrkdwn(view.revoked.note)}_`;
  const parts: string[] = [];
  if (view.quote) parts.push(quote(escapeMrkdwn(view.quote)));
  if (view.title) parts.push(`${view.icon} *${escapeMrkdwn(view.title)}*`);
  if (view.text) parts.push(escapeMrkdwn(view.text));
  for (const line of view.lines) parts.push(`• ${escapeMrkdwn(line)}`);
  for (const field of view.fields) parts.push(`*${escapeMrkdwn(field.label)}:* ${escapeMrkdwn(field.value)}`);
  if (view.links.length > 0) parts.push(view.links.map((l) => link(l.url, l.label)).join(' · '));
  if (options.mediaNote) parts.push(`:warning: ${escapeMrkdwn(options.mediaNote)}`);
  return parts.join('\n');
}

/** The small print under a message: where and when, forwarding, the ad, edits. */
function contextLine(view: MessageView, lead: string): string {
  const flags = [lead, ...view.flags.map(escapeMrkdwn)];
  if (view.edited) flags.push(`edited ${slackDate(view.edited.at)}`);
  if (view.revoked) flags.push(`deleted ${slackDate(view.revoked.at)}`);
  return flags.join(' · ');
}

/** How one customer message shows in the thread (as it stands now: edits shown, deletions blanked). */
export function renderInbound(
  message: Message,
  related: Message | null,
  options: RenderOptions & { mediaUnavailable?: boolean },
): RenderedInbound {
  if (message.type === 'reaction' && !message.revision?.revokedAt) {
    const reaction = obj(message.content.reaction);
    return { kind: 'reaction', emoji: str(reaction.emoji) ?? null, target: str(reaction.message_id) ?? null };
  }
  const view = describeMessage(message, { masking: options.masking, related });
  if (view.media && !options.mediaUnavailable) {
    return { kind: 'media', comment: withAuthor(viewToMrkdwn(view), options.author) };
  }
  const body = viewToMrkdwn(view, options.mediaUnavailable ? { mediaNote: MEDIA_UNAVAILABLE_NOTE } : {});
  const text = withAuthor(body, options.author);
  return {
    kind: 'text',
    text,
    blocks: [...sections(text), context(contextLine(view, `WhatsApp · ${slackDate(message.timestamp)}`))],
  };
}

export const STATUS_REACTIONS: Record<string, string> = {
  sent: 'heavy_check_mark',
  delivered: 'white_check_mark',
  read: 'eyes',
  played: 'eyes',
  failed: 'x',
};

/** The status line under an outbound message. */
export function statusLine(message: Message): string {
  switch (message.state) {
    case 'sent':
      return ':heavy_check_mark: Sent';
    case 'delivered':
      return ':white_check_mark: Delivered';
    case 'read':
      return ':eyes: Read';
    case 'played':
      return ':eyes: Played';
    case 'failed':
      return message.error
        ? `:x: Not delivered — ${escapeMrkdwn(message.error.meaning)} ${escapeMrkdwn(message.error.action)}`
        : ':x: Not delivered';
    default:
      return ':hourglass_flowing_sand: Sending…';
  }
}

/**
 * How a message sent to the customer from elsewhere shows in the thread: an agent's reply from
 * another tool or the API, a template, or what the business sent from the WhatsApp Business app.
 */
export function renderOutbound(
  message: Message,
  options: {
    author: string | null;
    masking?: NumberMasking;
    mediaUnavailable?: boolean;
    /** The message it replies to, when stored (a reply from the WhatsApp Business app quotes it). */
    related?: Message | null;
  },
): { text: string; blocks: Block[] } {
  const view = describeMessage(message, {
    masking: options.masking ?? 'partial',
    related: options.related ?? null,
  });
  const body = viewToMrkdwn(view, options.mediaUnavailable ? { mediaNote: MEDIA_UNAVAILABLE_NOTE } : {});
  const sender = message.sender;
  const text = withAuthor(body || '_(empty message)_', options.author);
  const lead = isBusinessAppMessage(message)
    ? `Sent from the WhatsApp Business app · ${slackDate(message.timestamp)}`
    : `To the customer${sender?.via ? ` via ${escapeMrkdwn(senderVia(sender) ?? sender.via)}` : ''} by ${escapeMrkdwn(
        sender?.agentName ?? sender?.agentId ?? 'wabridge',
      )}`;
  return {
    text,
    blocks: [...sections(text), context(`${contextLine(view, lead)} · ${statusLine(message)}`)],
  };
}
