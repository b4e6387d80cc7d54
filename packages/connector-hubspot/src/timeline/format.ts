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
import type { Message } from '@wabridge/core';

const MEDIA_TYPES = new Set(['image', 'video', 'audio', 'document', 'sticker']);

const MEDIA_WORDS: Record<string, string> = {
  image: 'Image',
  video: 'Video',
  audio: 'Voice message or audio',
  document: 'Document',
  sticker: 'Sticker',
};

const VIA_NAMES: Record<string, string> = {
  slack: 'Slack',
  teams: 'Microsoft Teams',
  hubspot: 'HubSpot',
  api: 'the API',
};

export interface BodyInput {
  message: Message;
  contactName: string;
  /** A link to the media of the message, or null when there is none. */
  mediaLink: { url: string; expiresAt: number } | null;
  /** The media was uploaded to HubSpot Files and attached to the entry. */
  attachedFile: boolean;
}

export function isMedia(message: Message): boolean {
  return MEDIA_TYPES.has(message.type);
}

export function communicationBody(input: BodyInput): string {
  const { message } = input;
  const parts = [`<p><strong>${escapeHtml(header(message, input.contactName))}</strong></p>`];
  const media = isMedia(message) ? mediaPart(message, input) : null;
  if (media) parts.push(media);
  const text = bodyText(message);
  if (text) parts.push(`<p>${escapeHtml(text).replace(/\n/g, '<br>')}</p>`);
  if (!media && !text) parts.push(`<p><em>${escapeHtml(describeEmpty(message))}</em></p>`);
  if (message.state === 'failed') {
    const error = message.error;
    const why = error ? `${error.meaning} ${error.action}`.trim() : 'WhatsApp reported a failure.';
    parts.push(`<p><strong>⚠ Not delivered:</strong> ${escapeHtml(why)}</p>`);
  }
  return parts.join('');
}

function header(message: Message, contactName: string): string {
  if (message.direction === 'inbound') return `WhatsApp · received from ${contactName}`;
  const via = message.sender?.via ? (VIA_NAMES[message.sender.via] ?? message.sender.via) : null;
  const who = message.sender?.agentName ?? message.sender?.agentId ?? null;
  if (who && via) return `WhatsApp · sent by ${who} via ${via}`;
  if (via) return `WhatsApp · sent via ${via}`;
  return 'WhatsApp · sent';
}

function bodyText(message: Message): string | null {
  if (message.type === 'reaction') {
    return message.text ? `Reacted ${message.text} to a message` : 'Removed a reaction';
  }
  if (message.type === 'location') {
    const location = message.content.location as { latitude?: number; longitude?: number } | undefined;
    const where =
      location?.latitude !== undefined && location.longitude !== undefined
        ? `https://maps.google.com/?q=${location.latitude},${location.longitude}`
        : null;
    return [message.text ? `Location: ${message.text}` : 'Location', where].filter(Boolean).join('\n');
  }
  if (message.type === 'template') {
    const template = message.content.template as { name?: string } | undefined;
    return `${message.text ?? ''}${template?.name ? `\n(template ${template.name})` : ''}`.trim();
  }
  return message.text;
}

function describeEmpty(message: Message): string {
  if (message.type === 'unsupported') return 'A message type WhatsApp does not pass on to businesses.';
  if (message.type === 'request_welcome') return 'Opened the chat for the first time.';
  return `A ${message.type} message.`;
}

function mediaPart(message: Message, input: BodyInput): string {
  const media = (message.content[message.type] ?? {}) as { mime_type?: string; filename?: string };
  const attachments = (message.content.attachments ?? []) as { filename?: string; mimeType?: string }[];
  const mime = media.mime_type ?? attachments[0]?.mimeType;
  const filename = media.filename ?? attachments[0]?.filename;
  const what = [MEDIA_WORDS[message.type] ?? 'File', [mime, filename].filter(Boolean).join(', ')]
    .filter(Boolean)
    .join(' — ');
  if (input.attachedFile) return `<p>📎 ${escapeHtml(what)} (attached)</p>`;
  if (!input.mediaLink) return `<p>📎 ${escapeHtml(what)} (not available)</p>`;
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
