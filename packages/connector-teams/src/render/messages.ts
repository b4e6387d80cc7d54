import {
  describeMessage,
  isBusinessAppMessage,
  MEDIA_UNAVAILABLE_NOTE,
  type Message,
  type MessageError,
  type MessageView,
  type NoticeEvent,
  type NumberMasking,
  senderVia,
  type TemplateDefinition,
} from '@wabridge/core';
import type { MessagePayload } from '../api/teams-api.ts';
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

function excerpt(text: string | null, max = 140): string {
  if (!text) return '';
  const chars = Array.from(text.replace(/\s+/g, ' ').trim());
  return chars.length > max ? `${chars.slice(0, max - 1).join('')}…` : chars.join('');
}

export interface RenderMessageOptions {
  related: Message | null;
  mediaUrl: (messageId: string) => string;
  contactName: string;
  /** The workspace's policy for phone numbers (shared contact cards, number changes). */
  masking: NumberMasking;
  /** WhatsApp no longer has the message's file: the post says so instead of linking it. */
  mediaUnavailable?: boolean;
}

/** Only http(s) links become anchors: anything else stays text. */
const safeHref = (url: string) => (/^https?:\/\//i.test(url) ? escapeHtml(url) : null);

/**
 * A customer's message (or an agent's reply sent from elsewhere, or what the business sent from
 * the WhatsApp Business app) as Teams HTML, from the core's description of it: the same words as
 * in Slack and HubSpot, with the workspace's number masking.
 */
export function renderMessage(message: Message, options: RenderMessageOptions): Rendered {
  const view = describeMessage(message, { masking: options.masking, related: options.related });
  const footer = footerOf(message, view, options.contactName);
  if (view.revoked) {
    return {
      before: '',
      text: '',
      after: `<p><i>${escapeHtml(`${view.icon} ${view.revoked.note}`)}</i></p>`,
      footer,
    };
  }
  const blocks: string[] = [];
  if (view.quote) blocks.push(`<blockquote>${textToHtml(view.quote)}</blockquote>`);
  if (view.media) {
    const label = view.media.filename ?? view.media.label;
    blocks.push(
      options.mediaUnavailable
        ? `<p>${escapeHtml(view.icon)} ${escapeHtml(label)}</p><p><i>⚠ ${escapeHtml(MEDIA_UNAVAILABLE_NOTE)}</i></p>`
        : `<p>📎 <a href="${escapeHtml(options.mediaUrl(message.id))}">${escapeHtml(label)}</a></p>`,
    );
  } else if (view.title) {
    blocks.push(`<p>${escapeHtml(view.icon)} <b>${escapeHtml(view.title)}</b></p>`);
  }
  const after: string[] = [];
  if (view.lines.length > 0)
    after.push(`<ul>${view.lines.map((l) => `<li>${textToHtml(l)}</li>`).join('')}</ul>`);
  for (const field of view.fields)
    after.push(`<p><b>${escapeHtml(field.label)}:</b> ${textToHtml(field.value)}</p>`);
  const links = view.links
    .map((l) => {
      const href = safeHref(l.url);
      return href
        ? `<a href="${href}">${escapeHtml(l.label)}</a>`
        : `${escapeHtml(l.label)}: ${escapeHtml(l.url)}`;
    })
    .join(' · ');
  if (links) after.push(`<p>${links}</p>`);
  return { before: blocks.join(''), text: view.text ?? '', after: after.join(''), footer };
}

function footerOf(message: Message, view: MessageView, contactName: string): string {
  const parts: string[] = [];
  if (message.direction === 'inbound') {
    parts.push(`WhatsApp · ${contactName} · ${clock(message.timestamp)}`);
  } else if (isBusinessAppMessage(message)) {
    parts.push(`Sent from the WhatsApp Business app · ${clock(message.timestamp)}`);
  } else {
    const via = senderVia(message.sender);
    parts.push(
      `Sent to WhatsApp by ${message.sender?.agentName ?? message.sender?.agentId ?? 'an agent'}${via ? ` (via ${via})` : ''} · ${clock(message.timestamp)}`,
    );
  }
  parts.push(...view.flags);
  if (view.edited) parts.push(`edited ${clock(view.edited.at)}`);
  if (view.revoked) parts.push(`deleted ${clock(view.revoked.at)}`);
  if (message.direction === 'outbound' && message.state) parts.push(statusWords(message.state));
  return parts.join(' · ');
}

/** A post that only says something short (a part of a message that is no longer needed). */
export function renderNote(text: string, footer: string): Rendered {
  return { before: '', text, after: '', footer };
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
