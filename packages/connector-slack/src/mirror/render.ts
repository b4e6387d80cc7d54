import { type Message, maskNumber, type NumberMasking } from '@wabridge/core';
import { escapeMrkdwn, quote, slackDate, truncate } from '../format/text.ts';
import type { Block } from './card.ts';

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

/** A message's text as section blocks (Slack caps a section at 3,000 characters). */
export function sections(mrkdwn: string): Block[] {
  const chars = [...mrkdwn];
  const blocks: Block[] = [];
  for (let i = 0; i < chars.length && blocks.length < 45; i += SECTION_MAX) {
    blocks.push({
      type: 'section',
      text: { type: 'mrkdwn', text: chars.slice(i, i + SECTION_MAX).join('') },
    });
  }
  return blocks;
}

function context(text: string): Block {
  return { type: 'context', elements: [{ type: 'mrkdwn', text }] };
}

function withAuthor(body: string, author: string | null): string {
  return author ? `*${escapeMrkdwn(author)}*: ${body}` : body;
}

/** How one customer message shows in the thread. */
export function renderInbound(
  message: Message,
  related: Message | null,
  options: RenderOptions,
): RenderedInbound {
  const content = message.content;
  const inner = obj(content[message.type]);
  const lines: string[] = [];
  const reply = obj(content.context);
  if (related?.text && message.type !== 'reaction') lines.push(quote(escapeMrkdwn(related.text)));
  else if (str(reply.id) && message.type !== 'reaction') lines.push('> _(reply to an earlier message)_');

  if (message.type === 'reaction') {
    const reaction = obj(content.reaction);
    return { kind: 'reaction', emoji: str(reaction.emoji) ?? null, target: str(reaction.message_id) ?? null };
  }
  if (MEDIA_TYPES.has(message.type)) {
    const caption = str(inner.caption);
    const label = mediaLabel(message.type, inner);
    lines.push(caption ? `${label} — ${escapeMrkdwn(caption)}` : label);
    return { kind: 'media', comment: withAuthor(lines.join('\n'), options.author) };
  }
  lines.push(bodyOf(message, inner, options));
  const flags: string[] = [`WhatsApp · ${slackDate(message.timestamp)}`];
  if (reply.forwarded || reply.frequently_forwarded)
    flags.push(reply.frequently_forwarded ? 'forwarded many times' : 'forwarded');
  const referral = obj(content.referral);
  if (str(referral.source_url) || str(referral.headline)) {
    const headline = escapeMrkdwn(str(referral.headline) ?? 'an ad');
    flags.push(
      str(referral.source_url) ? `came from <${referral.source_url}|${headline}>` : `came from ${headline}`,
    );
  }
  const product = obj(reply.referred_product);
  if (str(product.product_retailer_id))
    flags.push(`asks about product \`${escapeMrkdwn(String(product.product_retailer_id))}\``);
  const text = withAuthor(lines.join('\n'), options.author);
  return { kind: 'text', text, blocks: [...sections(text), context(flags.join(' · '))] };
}

function mediaLabel(type: string, inner: Content): string {
  switch (type) {
    case 'image':
      return ':frame_with_picture: Photo';
    case 'video':
      return ':movie_camera: Video';
    case 'audio':
      return inner.voice === true ? ':microphone: Voice message' : ':musical_note: Audio';
    case 'document':
      return `:page_facing_up: Document${str(inner.filename) ? ` \`${escapeMrkdwn(String(inner.filename))}\`` : ''}`;
    default:
      return inner.animated === true ? ':sparkles: Animated sticker' : ':label: Sticker';
  }
}

function bodyOf(message: Message, inner: Content, options: RenderOptions): string {
  const content = message.content;
  switch (message.type) {
    case 'text':
      return escapeMrkdwn(str(inner.body) ?? message.text ?? '');
    case 'location': {
      const lat = Number(inner.latitude);
      const lng = Number(inner.longitude);
      const name = [str(inner.name), str(inner.address)].filter(Boolean).map((p) => escapeMrkdwn(String(p)));
      const map = `https://www.google.com/maps/search/?api=1&query=${lat},${lng}`;
      return `:round_pushpin: Location${name.length ? `: ${name.join(', ')}` : ''}\n<${map}|Open in Maps> (${lat}, ${lng})`;
    }
    case 'contacts': {
      const cards = Array.isArray(content.contacts) ? (content.contacts as Content[]) : [];
      const lines = cards.map((card) => {
        const name = obj(card.name);
        const org = obj(card.org);
        const phones = (Array.isArray(card.phones) ? (card.phones as Content[]) : [])
          .map((p) => maskNumber(str(p.phone) ?? str(p.wa_id) ?? null, options.masking))
          .filter((p): p is string => p !== null);
        const emails = (Array.isArray(card.emails) ? (card.emails as Content[]) : [])
          .map((e) => str(e.email))
          .filter(Boolean);
        const parts = [
          `*${escapeMrkdwn(str(name.formatted_name) ?? str(name.first_name) ?? 'Unnamed contact')}*`,
          ...phones,
          ...(emails as string[]).map(escapeMrkdwn),
          ...[str(org.company), str(org.title)].filter(Boolean).map((p) => escapeMrkdwn(String(p))),
        ];
        return `• ${parts.join(' · ')}`;
      });
      return `:bust_in_silhouette: Shared ${cards.length === 1 ? 'a contact card' : `${cards.length} contact cards`}\n${lines.join('\n')}`;
    }
    case 'interactive': {
      const chosen = obj(inner.button_reply ?? inner.list_reply);
      if (str(chosen.title)) {
        const description = str(chosen.description) ? ` — ${escapeMrkdwn(String(chosen.description))}` : '';
        return `:radio_button: Chose *${escapeMrkdwn(String(chosen.title))}*${description} _(option \`${escapeMrkdwn(String(chosen.id ?? ''))}\`)_`;
      }
      const flow = obj(inner.nfm_reply);
      if (str(flow.response_json)) {
        return `:clipboard: Submitted a form${str(flow.name) ? ` (${escapeMrkdwn(String(flow.name))})` : ''}:\n\`\`\`${escapeMrkdwn(truncate(String(flow.response_json), 2500))}\`\`\``;
      }
      return `:radio_button: Answered an interactive message (${escapeMrkdwn(String(inner.type ?? 'unknown'))})`;
    }
    case 'button':
      return `:radio_button: Tapped *${escapeMrkdwn(str(inner.text) ?? str(inner.payload) ?? 'a button')}*`;
    case 'order': {
      const items = (Array.isArray(inner.product_items) ? (inner.product_items as Content[]) : []).map(
        (item) =>
          `• ${escapeMrkdwn(String(item.product_retailer_id ?? '?'))} × ${String(item.quantity ?? 1)} @ ${String(item.item_price ?? '?')} ${escapeMrkdwn(String(item.currency ?? ''))}`,
      );
      const note = str(inner.text) ? `\n${escapeMrkdwn(String(inner.text))}` : '';
      return `:shopping_trolley: Placed an order (${items.length} item${items.length === 1 ? '' : 's'})${note}\n${items.join('\n')}`;
    }
    case 'system':
      return `:information_source: ${escapeMrkdwn(str(inner.body) ?? 'WhatsApp system message')}`;
    case 'request_welcome':
      return ':wave: Opened the chat for the first time';
    case 'unsupported': {
      const errors = Array.isArray(content.errors) ? (content.errors as Content[]) : [];
      const why = str(errors[0]?.title) ?? str(obj(errors[0]?.error_data).details);
      const kind = str(inner.type) ?? 'unknown';
      return `:warning: The customer sent a message WhatsApp does not pass on to apps (type \`${escapeMrkdwn(kind)}\`${why ? `: ${escapeMrkdwn(why)}` : ''}). Ask them to send it another way, e.g. as text or a photo.`;
    }
    default:
      return `:grey_question: A \`${escapeMrkdwn(message.type)}\` message wabridge cannot show yet${message.text ? `:\n${escapeMrkdwn(message.text)}` : '.'}`;
  }
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

/** How a message sent to the customer from elsewhere (another connector, the API) shows in the thread. */
export function renderOutbound(
  message: Message,
  options: { author: string | null },
): { text: string; blocks: Block[] } {
  const content = message.content;
  const template = obj(content.template);
  let body: string;
  if (message.type === 'template' && str(template.name)) {
    body = `:page_with_curl: Template \`${escapeMrkdwn(String(template.name))}\`${str(template.language) ? ` (${escapeMrkdwn(String(template.language))})` : ''}${message.text ? `:\n${escapeMrkdwn(message.text)}` : ''}`;
  } else {
    body = escapeMrkdwn(message.text ?? '');
  }
  const attachments = Array.isArray(content.attachments) ? (content.attachments as Content[]) : [];
  if (attachments.length > 0) {
    body += `${body ? '\n' : ''}${attachments.map((a) => `:paperclip: ${escapeMrkdwn(str(a.filename) ?? 'file')}`).join('\n')}`;
  }
  const sender = message.sender;
  const via = sender?.via ? ` via ${escapeMrkdwn(sender.via)}` : '';
  const who = sender?.agentName ?? sender?.agentId ?? 'wabridge';
  const text = withAuthor(body || '_(empty message)_', options.author);
  return {
    text,
    blocks: [
      ...sections(text),
      context(`To the customer${via} by ${escapeMrkdwn(who)} · ${statusLine(message)}`),
    ],
  };
}
