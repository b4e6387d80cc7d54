/**
 * Text in and out of Teams. Everything a customer wrote is escaped before it becomes HTML or
 * Adaptive Card markdown, so no customer text can inject markup, links or mentions; and what an
 * agent wrote in Teams (HTML) becomes WhatsApp text (with WhatsApp's *bold* / _italic_ / ~strike~).
 */

const HTML_ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => HTML_ESCAPES[c] ?? c);
}

/** Escaped text with line breaks kept. */
export function textToHtml(text: string): string {
  return escapeHtml(text).replace(/\r\n|\r|\n/g, '<br>');
}

/**
 * Escapes Adaptive Card markdown (TextBlock and FactSet values): emphasis, links, code, and the
 * characters that start a list, a heading or a quote at the beginning of a line.
 */
export function escapeCardText(text: string): string {
  return text
    .replace(/[\\`*_[\]()~]/g, (c) => `\\${c}`)
    .replace(/^(\s*)([#+-])(?=\s)/gm, '$1\\$2')
    .replace(/^(\s*)>/gm, '$1\\>')
    .replace(/^(\s*\d+)\./gm, '$1\\.');
}

const NAMED_ENTITIES: Record<string, string> = {
  amp: '&',
  lt: '<',
  gt: '>',
  quot: '"',
  apos: "'",
  nbsp: ' ',
  // What editors and pasted text bring along; numeric references cover the rest.
  ndash: '–',
  mdash: '—',
  lsquo: '‘',
  rsquo: '’',
  ldquo: '“',
  rdquo: '”',
  laquo: '«',
  raquo: '»',
  hellip: '…',
  bull: '•',
  middot: '·',
  euro: '€',
  pound: '£',
  yen: '¥',
  cent: '¢',
  copy: '©',
  reg: '®',
  trade: '™',
  deg: '°',
  times: '×',
  shy: '',
};

export function decodeEntities(text: string): string {
  return text.replace(/&(#x[0-9a-f]+|#\d+|[a-z]+);/gi, (whole, entity: string) => {
    if (entity[0] === '#') {
      const code =
        entity[1] === 'x' || entity[1] === 'X'
          ? Number.parseInt(entity.slice(2), 16)
          : Number(entity.slice(1));
      return Number.isInteger(code) && code > 0 && code <= 0x10ffff ? String.fromCodePoint(code) : whole;
    }
    return NAMED_ENTITIES[entity.toLowerCase()] ?? whole;
  });
}

/** "On a line of its own": one line break where there is none already, never a blank line. */
const LINE = '\uE000'; // private use: never in what Teams writes

/**
 * A Teams message body (HTML or text) as WhatsApp text. Paragraphs and line breaks become new
 * lines, emphasis becomes WhatsApp formatting, links keep their target, emoji their character,
 * mentions their name; every other tag is dropped.
 */
export function teamsHtmlToText(content: string, contentType: string | null | undefined = 'html'): string {
  if (contentType !== 'html') return content.trim();
  let html = content
    .replace(/<attachment\b[^>]*>\s*<\/attachment>/gi, '')
    .replace(/<emoji\b[^>]*\balt="([^"]*)"[^>]*>(?:<\/emoji>)?/gi, '$1')
    // Teams also writes emoji as images of the Skype emoji type: their alt is the character.
    .replace(/<img\b[^>]*>/gi, (tag) => {
      if (!/\bitemtype="[^"]*\/Emoji"/i.test(tag)) return '[image]';
      return /\balt="([^"]*)"/i.exec(tag)?.[1] ?? '';
    })
    // Code blocks (`<codeblock>` from the Teams editor, `<pre>`) and inline code become
    // WhatsApp monospace, on lines of their own.
    .replace(/<(codeblock|pre)\b[^>]*>([\s\S]*?)<\/\1>/gi, (_w, _t, inner: string) => {
      const code = inner.replace(/<\/?code\b[^>]*>/gi, '');
      return code.trim() === '' ? '' : `${LINE}\`\`\`${code}\`\`\`${LINE}`;
    })
    .replace(/<code\b[^>]*>([\s\S]*?)<\/code>/gi, (_w, inner: string) =>
      inner.trim() === '' ? inner : `\`${inner}\``,
    )
    .replace(/<br\s*\/?>/gi, '\n')
    // Each item starts a line; ending one adds none, so a list has no blank lines inside.
    .replace(/<li\b[^>]*>/gi, `${LINE}• `)
    .replace(/<\/(p|div|h[1-6]|ul|ol|blockquote|tr)>/gi, '\n')
    .replace(/<(b|strong)\b[^>]*>([\s\S]*?)<\/\1>/gi, (_w, _t, inner: string) => wrap(inner, '*'))
    .replace(/<(i|em)\b[^>]*>([\s\S]*?)<\/\1>/gi, (_w, _t, inner: string) => wrap(inner, '_'))
    .replace(/<(s|strike|del)\b[^>]*>([\s\S]*?)<\/\1>/gi, (_w, _t, inner: string) => wrap(inner, '~'))
    .replace(/<a\b[^>]*\bhref="([^"]*)"[^>]*>([\s\S]*?)<\/a>/gi, (_w, href: string, inner: string) => {
      const label = inner.replace(/<[^>]+>/g, '').trim();
      const target = decodeEntities(href);
      return label === '' || decodeEntities(label) === target ? target : `${label} (${target})`;
    });
  html = html.replace(/<[^>]+>/g, '').replace(/\n*(?:\uE000\n*)+/g, '\n');
  return decodeEntities(html)
    .replace(/\u00a0/g, ' ')
    .replace(/[ \t]+\n/g, '\n')
    .replace(/\n{3,}/g, '\n\n')
    .trim();
}

function wrap(inner: string, mark: string): string {
  const text = inner.trim();
  return text === '' ? inner : `${mark}${text}${mark}`;
}

/** UTF-8 size of a string. */
export function byteLength(text: string): number {
  return Buffer.byteLength(text, 'utf8');
}

/**
 * Splits `text` into pieces whose escaped HTML fits `maxBytes` each, preferring to cut at a line
 * break, then at a space, never inside a character.
 */
export function splitForHtml(text: string, maxBytes: number): string[] {
  if (maxBytes < 16) throw new RangeError('maxBytes is too small to split text');
  const chars = Array.from(text);
  const pieces: string[] = [];
  let start = 0;
  while (start < chars.length) {
    let size = 0;
    let end = start;
    while (end < chars.length) {
      const c = chars[end] as string;
      const cost = byteLength(c === '\n' ? '<br>' : escapeHtml(c));
      if (size + cost > maxBytes) break;
      size += cost;
      end++;
    }
    if (end < chars.length) {
      // Look back for a natural break in the last fifth of the piece.
      const floor = start + Math.floor((end - start) * 0.8);
      let cut = -1;
      for (let i = end - 1; i > floor && cut < 0; i--) if (chars[i] === '\n') cut = i + 1;
      for (let i = end - 1; i > floor && cut < 0; i--) if (chars[i] === ' ') cut = i + 1;
      if (cut > start) end = cut;
    }
    pieces.push(chars.slice(start, end).join(''));
    start = end;
  }
  return pieces.length > 0 ? pieces : [''];
}
