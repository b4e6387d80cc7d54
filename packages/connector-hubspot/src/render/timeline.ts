/**
 * What a WhatsApp message looks like on the HubSpot timeline. The body is HTML (HubSpot renders
 * `hs_communication_body` as rich text); every piece of customer or agent text is escaped.
 *
 * - A header line says the direction and who: "Received from Ada Lovelace" / "Sent by Grace
 *   Hopper via Slack".
 * - Media is a described link (kind, type, file name, caption) to the gateway's signed media URL,
 *   never the bytes — unless the workspace uploads media to HubSpot Files, then the file is
 *   attached and named here.
 * - A message WhatsApp could not deliver says so, with what it means and what to do.
 */
import {
  describeMessage,
  isBusinessAppMessage,
  MEDIA_UNAVAILABLE_NOTE,
  type Message,
  type MessageView,
  type NumberMasking,
  senderVia,
  utc,
} from '@wabridge/core';

const MEDIA_TYPES = new Set(['image', 'video', 'audio', 'document', 'sticker']);

export interface BodyInput {
  message: Message;
  contactName: string;
  /** A link to the media of the message, or null when there is none. */
  mediaLink: { url: string; expiresAt: number } | null;
  /** The media was uploaded to HubSpot Files and attached to the entry. */
  attachedFile: boolean;
  /** The message's file could not be had from WhatsApp (expired or deleted there). */
  mediaUnavailable?: boolean;
  /** The workspace's policy for phone numbers (shared contact cards, number changes). */
  masking?: NumberMasking;
  /** The message this one replies or reacts to, when stored. */
  related?: Message | null;
}

export function isMedia(message: Message): boolean {
  return MEDIA_TYPES.has(message.type);
}

const text = (value: string) => escapeHtml(value).replace(/\n/g, '<br>');
const httpUrl = (url: string) => /^https?:\/\//i.test(url);

/**
 * The body of a timeline entry, from the core's description of the message: the same words as in
 * Slack and Teams, and the workspace's number masking. An edit shows the newest version and says
 * so; a deleted message keeps its place on the timeline with only the deletion note.
 */
/** HubSpot refuses a string property longer than this (`INVALID_STRING`, "Value exceeds 65536 characters"). */
export const MAX_BODY_CHARS = 65_536;
const SHORTENED = ' … (shortened here; the whole message is kept in the wabridge archive)';

export function communicationBody(input: BodyInput): string {
  const view = describeMessage(input.message, {
    masking: input.masking ?? 'partial',
    related: input.related ?? null,
  });
  let body = renderBody(input, view);
  // A long message (WhatsApp allows 65,536 characters of text, and escaping adds more) is cut to
  // fit: the entry says so, and the archive keeps the whole text.
  for (let attempt = 0; body.length > MAX_BODY_CHARS && view.text && attempt < 5; attempt++) {
    const keep = Math.max(0, view.text.length - (body.length - MAX_BODY_CHARS) - SHORTENED.length - 64);
    let cut = view.text.slice(0, keep);
    if (/[\ud800-\udbff]$/.test(cut)) cut = cut.slice(0, -1);
    view.text = `${cut}${SHORTENED}`;
    body = renderBody(input, view);
  }
  return body;
}

function renderBody(input: BodyInput, view: MessageView): string {
  const { message } = input;
  const parts = [`<p><strong>${escapeHtml(header(message, input.contactName))}</strong></p>`];
  if (view.revoked) {
    parts.push(
      `<p><em>${escapeHtml(`${view.icon} ${view.revoked.note}`)}</em> (${escapeHtml(utc(view.revoked.at))})</p>`,
    );
    return parts.join('');
  }
  if (view.quote) parts.push(`<blockquote>${text(view.quote)}</blockquote>`);
  if (view.media) parts.push(mediaPart(message, input));
  else if (view.title)
    parts.push(`<p>${escapeHtml(view.icon)} <strong>${escapeHtml(view.title)}</strong></p>`);
  if (view.text) parts.push(`<p>${text(view.text)}</p>`);
  if (view.lines.length > 0) parts.push(`<ul>${view.lines.map((l) => `<li>${text(l)}</li>`).join('')}</ul>`);
  for (const field of view.fields)
    parts.push(`<p><strong>${escapeHtml(field.label)}:</strong> ${text(field.value)}</p>`);
  const links = view.links
    .map((l) =>
      httpUrl(l.url)
        ? `<a href="${escapeHtml(l.url)}">${escapeHtml(l.label)}</a>`
        : `${escapeHtml(l.label)}: ${escapeHtml(l.url)}`,
    )
    .join(' · ');
  if (links) parts.push(`<p>${links}</p>`);
  const notes = [...view.flags];
  if (view.edited)
    notes.push(
      `Edited ${utc(view.edited.at)}${view.edited.count > 1 ? ` (${view.edited.count} edits)` : ''}`,
    );
  if (notes.length > 0) parts.push(`<p><em>${escapeHtml(notes.join(' · '))}</em></p>`);
  if (!view.media && !view.title && !view.text && message.direction === 'outbound')
    parts.push('<p><em>(empty message)</em></p>');
  if (message.state === 'failed') {
    const error = message.error;
    const why = error ? `${error.meaning} ${error.action}`.trim() : 'WhatsApp reported a failure.';
    parts.push(`<p><strong>⚠ Not delivered:</strong> ${escapeHtml(why)}</p>`);
  }
  return parts.join('');
}

function header(message: Message, contactName: string): string {
  if (message.direction === 'inbound') return `WhatsApp · received from ${contactName}`;
  if (isBusinessAppMessage(message)) return 'WhatsApp · sent from the WhatsApp Business app';
  const via = senderVia(message.sender);
  const who = message.sender?.agentName ?? message.sender?.agentId ?? null;
  if (who && via) return `WhatsApp · sent by ${who} via ${via}`;
  if (via) return `WhatsApp · sent via ${via}`;
  return 'WhatsApp · sent';
}

const MEDIA_WORDS: Record<string, string> = {
  image: 'Image',
  video: 'Video',
  audio: 'Voice message or audio',
  document: 'Document',
  sticker: 'Sticker',
};

function mediaPart(message: Message, input: BodyInput): string {
  const media = (message.content[message.type] ?? {}) as { mime_type?: string; filename?: string };
  const attachments = (message.content.attachments ?? []) as { filename?: string; mimeType?: string }[];
  const mime = media.mime_type ?? attachments[0]?.mimeType;
  const filename = media.filename ?? attachments[0]?.filename;
  const what = [MEDIA_WORDS[message.type] ?? 'File', [mime, filename].filter(Boolean).join(', ')]
    .filter(Boolean)
    .join(' — ');
  if (input.attachedFile) return `<p>📎 ${escapeHtml(what)} (attached)</p>`;
  if (input.mediaUnavailable || !input.mediaLink)
    return `<p>📎 ${escapeHtml(what)}</p><p><em>⚠ ${escapeHtml(MEDIA_UNAVAILABLE_NOTE)}</em></p>`;
  const until = new Date(input.mediaLink.expiresAt).toISOString().slice(0, 10);
  return `<p>📎 ${escapeHtml(what)} — <a href="${escapeHtml(input.mediaLink.url)}">open</a> (link valid until ${until})</p>`;
}

export function escapeHtml(text: string): string {
  return text
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}
