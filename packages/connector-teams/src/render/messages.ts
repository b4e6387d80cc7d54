import type { Message, MessageError, NoticeEvent, TemplateDefinition } from '@wabridge/core';
import type { MessagePayload } from '../graph/teams-api.ts';
import { attachment, footerCard } from './cards.ts';
import { byteLength, escapeHtml, splitForHtml, textToHtml } from './text.ts';

/**
 * A message to mirror, before it is cut to Teams' size limit: HTML blocks around a plain text that
 * may be split, and the footer line shown in the card under it.
 */
export interface Rendered {
  /** Trusted HTML (built here from escaped parts) shown before the text, on the first part only. */
  before: string;
  /** Untrusted text (escaped when rendered); split across several posts when too long. */
  text: string;
  /** Trusted HTML shown after the text, on the last part only. */
  after: string;
  footer: string;
}

const STATUS_WORDS: Record<string, string> = {
  pending: '⏳ Sending',
  sent: '✓ Sent',
  delivered: '✓✓ Delivered',
  read: '✓✓ Read',
  played: '▶ Played',
  failed: '⚠ Not delivered',
};

export const statusWords = (state: string | null): string => (state ? (STATUS_WORDS[state] ?? state) : '');

const clock = (ms: number) => `${new Date(ms).toISOString().slice(11, 16)} UTC`;

const MEDIA_LABELS: Record<string, string> = {
  image: 'Image',
  video: 'Video',
  audio: 'Audio',
  document: 'Document',
  sticker: 'Sticker',
};

type Content = Record<string, unknown>;
const obj = (v: unknown): Content => (v !== null && typeof v === 'object' ? (v as Content) : {});
const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);

function excerpt(text: string | null, max = 140): string {
  if (!text) return '';
  const chars = Array.from(text.replace(/\s+/g, ' ').trim());
  return chars.length > max ? `${chars.slice(0, max - 1).join('')}…` : chars.join('');
}

/** A customer's message (or an agent's reply sent from elsewhere) as Teams HTML. */
export function renderMessage(
  message: Message,
  options: { related: Message | null; mediaUrl: (messageId: string) => string; contactName: string },
): Rendered {
  const content = message.content;
  const type = message.type;
  const blocks: string[] = [];
  let text = message.text ?? '';
  if (options.related && type !== 'reaction') {
    blocks.push(
      `<blockquote>${textToHtml(excerpt(options.related.text) || `(${options.related.type})`)}</blockquote>`,
    );
  }
  const media = MEDIA_LABELS[type];
  if (media) {
    const item = obj(content[type]);
    const voice = type === 'audio' && item.voice === true;
    const label = str(item.filename) ?? (voice ? 'Voice message' : media);
    blocks.push(`<p>📎 <a href="${escapeHtml(options.mediaUrl(message.id))}">${escapeHtml(label)}</a></p>`);
  } else if (type === 'location') {
    const loc = obj(content.location);
    const lat = Number(loc.latitude);
    const lon = Number(loc.longitude);
    if (Number.isFinite(lat) && Number.isFinite(lon)) {
      const href = `https://www.openstreetmap.org/?mlat=${lat}&mlon=${lon}#map=17/${lat}/${lon}`;
      blocks.push(`<p>📍 <a href="${escapeHtml(href)}">${escapeHtml(text || `${lat}, ${lon}`)}</a></p>`);
      text = '';
    }
  } else if (type === 'contacts') {
    const cards = Array.isArray(content.contacts) ? content.contacts.map(obj) : [];
    const items = cards.map((c) => {
      const name = str(obj(c.name).formatted_name) ?? 'Contact';
      const phones = (Array.isArray(c.phones) ? c.phones.map(obj) : [])
        .map((p) => str(p.phone))
        .filter(Boolean);
      return `<li>${escapeHtml(name)}${phones.length ? `: ${escapeHtml(phones.join(', '))}` : ''}</li>`;
    });
    blocks.push(`<p>👤 Shared contact${items.length === 1 ? '' : 's'}:</p><ul>${items.join('')}</ul>`);
    text = '';
  } else if (type === 'reaction') {
    const emoji = str(obj(content.reaction).emoji);
    const target = options.related
      ? ` to “${excerpt(options.related.text, 80) || options.related.type}”`
      : '';
    text = emoji ? `Reacted ${emoji}${target}` : `Removed a reaction${target}`;
  } else if (type === 'interactive' || type === 'button') {
    text = `🔘 ${text}`;
  } else if (type === 'order') {
    const items = Array.isArray(obj(content.order).product_items)
      ? (obj(content.order).product_items as unknown[]).map(obj)
      : [];
    const lines = items.map(
      (i) =>
        `<li>${escapeHtml(String(i.quantity ?? 1))} × ${escapeHtml(str(i.product_retailer_id) ?? '?')} (${escapeHtml(String(i.item_price ?? ''))} ${escapeHtml(str(i.currency) ?? '')})</li>`,
    );
    blocks.push(`<p>🛒 Order:</p><ul>${lines.join('')}</ul>`);
  } else if (type === 'template') {
    const name = str(obj(content.template).name) ?? 'template';
    blocks.push(`<p>📄 Template <b>${escapeHtml(name)}</b></p>`);
  } else if (type === 'system') {
    text = text ? `ℹ ${text}` : 'ℹ System message';
  } else if (text === '' && !Array.isArray(content.attachments)) {
    text = `(A ${type} message that Teams cannot show: open WhatsApp to see it.)`;
  }
  const attachments = Array.isArray(content.attachments) ? content.attachments.map(obj) : [];
  const after = attachments.length
    ? `<p>📎 ${attachments.map((a) => escapeHtml(str(a.filename) ?? 'attachment')).join(', ')}</p>`
    : '';
  const footer =
    message.direction === 'inbound'
      ? `WhatsApp · ${options.contactName} · ${clock(message.timestamp)}`
      : `Sent to WhatsApp by ${message.sender?.agentName ?? message.sender?.agentId ?? 'an agent'}${message.sender?.via ? ` (via ${message.sender.via})` : ''} · ${clock(message.timestamp)}${message.state ? ` · ${statusWords(message.state)}` : ''}`;
  return { before: blocks.join(''), text, after, footer };
}

/** A failure of a message we sent, in words for agents. */
export function renderFailure(error: MessageError | null, agentMessage: boolean): Rendered {
  const what = agentMessage
    ? 'This reply was not delivered to the customer'
    : 'A message was not delivered to the customer';
  const meaning = error ? `${error.meaning} ${error.action}`.trim() : 'WhatsApp reported a failure.';
  return {
    before: '',
    text: `⚠ ${what}: ${meaning}${error ? ` (WhatsApp error ${error.code})` : ''}`,
    after: '',
    footer: 'wabridge · delivery failure',
  };
}

/** A notice for agents (why a reply was not sent, which templates exist). */
export function renderNotice(notice: NoticeEvent['notice'], templateLanguageHint: string): Rendered {
  const templates = notice.templates;
  return {
    before: '',
    text: `⚠ ${notice.text}`,
    after: templates.length > 0 ? templateList(templates, templateLanguageHint) : '',
    footer: `wabridge notice · only visible in Teams`,
  };
}

function templateList(templates: readonly TemplateDefinition[], languageHint: string): string {
  const items = templates
    .map(
      (t) =>
        `<li><b>${escapeHtml(t.name)}</b> (${escapeHtml(t.language)}, ${escapeHtml(t.category)}, ${t.parameters} parameter${t.parameters === 1 ? '' : 's'}): ${textToHtml(excerpt(t.body, 200))}</li>`,
    )
    .join('');
  const example = templates[0];
  const usage = example
    ? `/template ${example.name}${example.language === languageHint ? '' : ` ${example.language}`}${Array.from({ length: example.parameters }, (_, i) => ` | value ${i + 1}`).join('')}`
    : '/template name | value';
  return `<p>Templates you can send:</p><ul>${items}</ul><p>Reply with <code>${escapeHtml(usage)}</code></p>`;
}

/** An informational line in the thread (consent changes and the like). */
export function renderInfo(text: string): Rendered {
  return { before: '', text, after: '', footer: 'wabridge · only visible in Teams' };
}

/**
 * Cuts a rendered message into posts of at most `maxBytes` (body and card), each with its own card
 * whose attachment id is that post's nonce (`nonces(i)`): Graph stores the id, which is how a
 * retry finds a post that was made before a crash.
 */
export function toPayloads(
  rendered: Rendered,
  nonce: (part: number) => string,
  maxBytes: number,
): MessagePayload[] {
  const frame = (i: number, total: number, body: string, footer: string): MessagePayload => {
    const id = nonce(i);
    const line = total > 1 ? `${footer} · part ${i + 1} of ${total}` : footer;
    return {
      body: { contentType: 'html', content: `${body}<attachment id="${id}"></attachment>` },
      attachments: [attachment(id, footerCard(line))],
    };
  };
  const size = (p: MessagePayload) =>
    byteLength(p.body.content) + (p.attachments ?? []).reduce((n, a) => n + byteLength(a.content), 0);
  const whole = frame(
    0,
    1,
    `${rendered.before}${rendered.text ? `<p>${textToHtml(rendered.text)}</p>` : ''}${rendered.after}`,
    rendered.footer,
  );
  if (size(whole) <= maxBytes) return [whole];
  // Budget for the text of each part: what is left after the frame, the blocks and a margin for "part n of m".
  const overhead = size(frame(0, 99, `${rendered.before}<p></p>${rendered.after}`, rendered.footer)) + 64;
  const budget = maxBytes - overhead;
  if (budget < 256) throw new RangeError('the blocks around the text leave no room within maxMessageBytes');
  const pieces = splitForHtml(rendered.text, budget);
  return pieces.map((piece, i) =>
    frame(
      i,
      pieces.length,
      `${i === 0 ? rendered.before : ''}<p>${textToHtml(piece)}</p>${i === pieces.length - 1 ? rendered.after : ''}`,
      rendered.footer,
    ),
  );
}
