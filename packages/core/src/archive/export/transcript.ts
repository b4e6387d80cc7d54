// Readable HTML transcripts for exports (issue 18, item 7). Every value from a message is escaped;
// the page is plain semantic HTML (a list of articles with time, author and text) with a language,
// a title and no script, so a screen reader or a browser's reader mode reads it as it is.

/** Escapes text for HTML element content and quoted attribute values. */
export function escapeHtml(text: string): string {
  return text
    .replaceAll('&', '&amp;')
    .replaceAll('<', '&lt;')
    .replaceAll('>', '&gt;')
    .replaceAll('"', '&quot;')
    .replaceAll("'", '&#39;');
}

/** One entry of a transcript, from an archived message record's data. */
export interface TranscriptEntry {
  readonly seq: number;
  readonly kind: string;
  readonly direction: string;
  readonly type: string;
  readonly ts: number;
  readonly text: string | null;
  /** Who wrote it: the contact's name, or the agent and the connector they answered from. */
  readonly author: string;
  /** A file of the export (relative to the transcript) holding the message's media, if kept. */
  readonly media?: { readonly href: string; readonly mimeType: string; readonly filename: string };
  /** Edits and deletions of this message, in order. */
  readonly revisions?: readonly TranscriptEntry[];
  /** Delivery statuses (sent, delivered, read, failed). */
  readonly statuses?: ReadonlyArray<{ readonly status: string; readonly ts: number }>;
}

const time = (ms: number): string => {
  const date = new Date(ms);
  return Number.isNaN(date.getTime()) ? String(ms) : date.toISOString();
};

function mediaHtml(media: NonNullable<TranscriptEntry['media']>): string {
  const href = escapeHtml(media.href);
  const name = escapeHtml(media.filename);
  if (media.mimeType.startsWith('image/')) return `<img src="${href}" alt="${name}">`;
  if (media.mimeType.startsWith('audio/'))
    return `<audio controls src="${href}"><a href="${href}">${name}</a></audio>`;
  if (media.mimeType.startsWith('video/'))
    return `<video controls src="${href}"><a href="${href}">${name}</a></video>`;
  return `<a href="${href}">${name}</a>`;
}

function entryHtml(entry: TranscriptEntry): string {
  // An agent's internal note (archive kind `note`): shown where it was written, marked as such,
  // since the contact never saw it.
  const internal = entry.kind === 'note';
  const text =
    entry.text === null
      ? `<p class="note">(${internal ? 'internal note' : `${escapeHtml(entry.type)} message`} without text)</p>`
      : `<p>${escapeHtml(entry.text).replaceAll('\n', '<br>')}</p>`;
  const revisions = (entry.revisions ?? [])
    .map((r) =>
      r.type === 'revoke'
        ? `<li>deleted at <time datetime="${time(r.ts)}">${time(r.ts)}</time> (record ${r.seq})</li>`
        : `<li>edited at <time datetime="${time(r.ts)}">${time(r.ts)}</time> (record ${r.seq}): ${escapeHtml(r.text ?? '')}</li>`,
    )
    .join('');
  const statuses = (entry.statuses ?? [])
    .map((s) => `${escapeHtml(s.status)} <time datetime="${time(s.ts)}">${time(s.ts)}</time>`)
    .join(', ');
  return [
    internal
      ? `<li><article class="internal" aria-label="internal note from ${escapeHtml(entry.author)}, not sent to the contact">`
      : `<li><article class="${escapeHtml(entry.direction)}" aria-label="${escapeHtml(entry.direction)} message from ${escapeHtml(entry.author)}">`,
    `<header>${internal ? '<strong class="internal-label">Internal note</strong> (not sent to the contact) · ' : ''}<strong>${escapeHtml(entry.author)}</strong> · <time datetime="${time(entry.ts)}">${time(entry.ts)}</time> · record ${entry.seq}</header>`,
    text,
    entry.media ? `<p>${mediaHtml(entry.media)}</p>` : '',
    revisions ? `<details><summary>Revisions</summary><ol>${revisions}</ol></details>` : '',
    statuses ? `<p class="status">Status: ${statuses}</p>` : '',
    '</article></li>',
  ].join('');
}

/** The opening of a transcript page, up to the start of its message list. */
export function transcriptHead(title: string, lines: readonly string[]): string {
  return [
    '<!doctype html>',
    '<html lang="en"><head><meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    `<title>${escapeHtml(title)}</title>`,
    '<style>body{font:16px/1.5 system-ui,sans-serif;max-width:48rem;margin:auto;padding:1rem}ol.messages{list-style:none;padding:0}',
    'article{border:1px solid #bbb;border-radius:.5rem;padding:.5rem 1rem;margin:.5rem 0}article.outbound{background:#eef6ee}',
    'article.internal{background:#fff8e1;border-style:dashed}.internal-label{color:#6b4500}',
    'header{font-size:.875rem;color:#333}.note,.status{color:#444;font-size:.875rem}img,video{max-width:100%}</style>',
    `</head><body><main><h1>${escapeHtml(title)}</h1>`,
    ...lines.map((line) => `<p>${escapeHtml(line)}</p>`),
    '<ol class="messages">',
  ].join('\n');
}

/** The list items of some entries (a page of a streamed transcript). */
export const transcriptEntries = (entries: readonly TranscriptEntry[]): string =>
  entries.map((e) => `${entryHtml(e)}\n`).join('');

export const TRANSCRIPT_TAIL = '</ol></main></body></html>\n';

/** A whole transcript page. */
export function transcriptHtml(
  title: string,
  lines: readonly string[],
  entries: readonly TranscriptEntry[],
): string {
  return `${transcriptHead(title, lines)}\n${transcriptEntries(entries)}${TRANSCRIPT_TAIL}`;
}

/**
 * Who wrote a message, from its record data: the agent and connector for replies and internal
 * notes, else the contact.
 */
export function authorOf(data: Record<string, unknown>, contactName: string): string {
  if (data.direction !== 'outbound' && data.direction !== 'internal') return contactName;
  const sender = data.sender as { agentName?: unknown; agentId?: unknown; via?: unknown } | null;
  if (!sender) return 'business';
  const agent = typeof sender.agentName === 'string' ? sender.agentName : String(sender.agentId ?? 'agent');
  return typeof sender.via === 'string' ? `${agent} (via ${sender.via})` : agent;
}
