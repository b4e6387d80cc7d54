/**
 * Message text as the console's page renders it: a list of segments, never markup. Slack's
 * mrkdwn, Teams' HTML and HubSpot's HTML bodies are parsed here, on the server, into plain strings
 * with a kind; the page puts each string in the DOM with `textContent`, so nothing a customer or an
 * agent types can become markup, script or a `javascript:` link in the console.
 */

export type Segment =
  | { t: 'text'; v: string }
  | { t: 'b'; v: string }
  | { t: 'i'; v: string }
  | { t: 's'; v: string }
  | { t: 'code'; v: string }
  /** `href` is always an `http(s)` URL; anything else stays text. */
  | { t: 'link'; v: string; href: string };

/** Emoji names Slack and wabridge use, for reactions and `:name:` in text. */
const EMOJI: Record<string, string> = {
  '+1': '👍',
  thumbsup: '👍',
  '-1': '👎',
  heart: '❤️',
  joy: '😂',
  smile: '😄',
  tada: '🎉',
  pray: '🙏',
  eyes: '👀',
  x: '❌',
  heavy_check_mark: '✔️',
  white_check_mark: '✅',
  no_entry_sign: '🚫',
  no_entry: '⛔',
  warning: '⚠️',
  information_source: 'ℹ️',
  hourglass_flowing_sand: '⏳',
  hourglass: '⌛',
  frame_with_picture: '🖼️',
  page_with_curl: '📃',
  page_facing_up: '📄',
  radio_button: '🔘',
  outbox_tray: '📤',
  pencil2: '✏️',
  wastebasket: '🗑️',
  clipboard: '📋',
  grey_question: '❔',
  label: '🏷️',
  microphone: '🎤',
  movie_camera: '🎥',
  musical_note: '🎵',
  shopping_trolley: '🛒',
  sparkles: '✨',
  wave: '👋',
  frowning: '😦',
  speech_balloon: '💬',
  round_pushpin: '📍',
  paperclip: '📎',
  package: '📦',
  camera: '📷',
  iphone: '📱',
  mobile_phone: '📱',
  bust_in_silhouette: '👤',
  lock: '🔒',
  unlock: '🔓',
  clock3: '🕒',
  envelope: '✉️',
  memo: '📝',
  point_right: '👉',
  arrow_right: '➡️',
  leftwards_arrow_with_hook: '↩️',
  arrows_counterclockwise: '🔄',
  red_circle: '🔴',
  large_green_circle: '🟢',
  large_yellow_circle: '🟡',
  like: '👍',
  laugh: '😆',
  surprised: '😮',
  sad: '😢',
  angry: '😠',
};

/** The emoji for a Slack or Teams reaction name (`thumbsup`, `like`), or the name itself. */
export function emojiFor(name: string): string {
  // Teams reaction types may be the emoji itself (`✔️`); Slack's are names, with `::skin-tone-2`.
  if (!/^[a-z0-9_+-]+(::[a-z0-9_-]+)?$/i.test(name)) return name;
  return EMOJI[name] ?? EMOJI[name.split('::')[0] ?? ''] ?? `:${name}:`;
}

const safeHref = (href: string): string | null => {
  try {
    const url = new URL(href);
    return url.protocol === 'http:' || url.protocol === 'https:' ? url.toString() : null;
  } catch {
    return null;
  }
};

const decodeEntities = (text: string): string =>
  text
    .replace(/&nbsp;/g, ' ')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&#39;|&apos;/g, "'")
    .replace(/&#(\d+);/g, (_, n: string) => safeCodePoint(Number(n)))
    .replace(/&#x([0-9a-f]+);/gi, (_, n: string) => safeCodePoint(Number.parseInt(n, 16)))
    .replace(/&amp;/g, '&');

function safeCodePoint(n: number): string {
  return Number.isInteger(n) && n > 0 && n <= 0x10ffff ? String.fromCodePoint(n) : '';
}

/** Joins neighbouring text segments (keeps the page's DOM small). */
function tidy(segments: Segment[]): Segment[] {
  const out: Segment[] = [];
  for (const segment of segments) {
    if (segment.v === '') continue;
    const last = out.at(-1);
    if (last && last.t === 'text' && segment.t === 'text') last.v += segment.v;
    else out.push({ ...segment });
  }
  return out;
}

const INLINE =
  /(^|[\s(>"'])(\*[^*\n]+\*|_[^_\n]+_|~[^~\n]+~)(?=$|[\s).,!?:;"'<])|`([^`\n]+)`|:([a-z0-9_+-]+):/g;

/** Bold, italic, strike, code and `:emoji:` inside a run of plain text. */
function inline(text: string): Segment[] {
  const out: Segment[] = [];
  let last = 0;
  for (const match of text.matchAll(INLINE)) {
    const index = match.index ?? 0;
    const [whole, lead = '', marked, code, emoji] = match;
    if (emoji !== undefined) {
      const glyph = EMOJI[emoji];
      if (!glyph) continue;
      out.push({ t: 'text', v: text.slice(last, index) }, { t: 'text', v: glyph });
    } else if (code !== undefined) {
      out.push({ t: 'text', v: text.slice(last, index) }, { t: 'code', v: code });
    } else if (marked !== undefined) {
      const kind = marked[0] === '*' ? 'b' : marked[0] === '_' ? 'i' : 's';
      out.push({ t: 'text', v: text.slice(last, index) + lead }, { t: kind, v: marked.slice(1, -1) });
    }
    last = index + whole.length;
  }
  out.push({ t: 'text', v: text.slice(last) });
  return out;
}

/**
 * Slack message text (mrkdwn with Slack's escaping: `&lt;`, `&gt;`, `&amp;`, and `<…>` for links,
 * mentions and channels) as segments.
 */
export function fromSlackText(text: string, users: ReadonlyMap<string, string> = new Map()): Segment[] {
  const out: Segment[] = [];
  let last = 0;
  for (const match of text.matchAll(/<([^<>]+)>/g)) {
    const index = match.index ?? 0;
    out.push(...inline(decodeEntities(text.slice(last, index))));
    const inner = match[1] ?? '';
    const [target = '', label] = inner.split('|', 2);
    if (target.startsWith('@')) {
      out.push({ t: 'b', v: `@${users.get(target.slice(1)) ?? label ?? target.slice(1)}` });
    } else if (target.startsWith('#')) {
      out.push({ t: 'b', v: `#${label ?? target.slice(1)}` });
    } else if (target.startsWith('!date^')) {
      // `<!date^epoch^format|fallback>`: Slack shows the date in the reader's time zone; we show the fallback.
      out.push({ t: 'text', v: decodeEntities(label ?? '') });
    } else if (target.startsWith('!')) {
      out.push({ t: 'b', v: `@${label ?? target.slice(1).split('^')[0]}` });
    } else {
      const href = safeHref(decodeEntities(target));
      const shown = decodeEntities(label ?? target);
      out.push(href ? { t: 'link', v: shown, href } : { t: 'text', v: shown });
    }
    last = index + match[0].length;
  }
  out.push(...inline(decodeEntities(text.slice(last))));
  return tidy(out);
}

/** Markdown as Teams Adaptive Cards take it (`**bold**`, `_italic_`, `[label](url)`). */
export function fromCardMarkdown(markdown: string): Segment[] {
  // Markdown escapes (`\(`, `\*`) are for the renderer, not for the reader.
  const text = markdown.replace(/\\([\\`*_{}[\]()#+\-.!|>~])/g, '$1');
  const out: Segment[] = [];
  let last = 0;
  for (const match of text.matchAll(/\*\*([^*\n]+)\*\*|\[([^\]\n]+)\]\(([^)\s]+)\)/g)) {
    const index = match.index ?? 0;
    out.push(...inline(text.slice(last, index)));
    if (match[1] !== undefined) out.push({ t: 'b', v: match[1] });
    else {
      const href = safeHref(match[3] ?? '');
      out.push(href ? { t: 'link', v: match[2] ?? '', href } : { t: 'text', v: match[2] ?? '' });
    }
    last = index + match[0].length;
  }
  out.push(...inline(text.slice(last)));
  return tidy(out);
}

/**
 * An HTML body (Teams messages, HubSpot communications) as segments: links, bold and italics are
 * kept, line breaks become newlines, every other tag is dropped and entities are decoded.
 */
export function fromHtml(html: string): Segment[] {
  const out: Segment[] = [];
  let bold = 0;
  let italic = 0;
  let strike = 0;
  let link: { href: string | null; text: string } | null = null;
  const push = (text: string) => {
    if (text === '') return;
    if (link) {
      link.text += text;
      return;
    }
    out.push({ t: bold > 0 ? 'b' : italic > 0 ? 'i' : strike > 0 ? 's' : 'text', v: text });
  };
  const cleaned = html.replace(/<attachment[^>]*>\s*<\/attachment>/gi, '').replace(/<!--[\s\S]*?-->/g, '');
  let last = 0;
  for (const match of cleaned.matchAll(/<(\/?)([a-z][a-z0-9]*)\b([^>]*)>/gi)) {
    const index = match.index ?? 0;
    push(decodeEntities(cleaned.slice(last, index)));
    last = index + match[0].length;
    const closing = match[1] === '/';
    const tag = (match[2] ?? '').toLowerCase();
    const attributes = match[3] ?? '';
    switch (tag) {
      case 'b':
      case 'strong':
        bold += closing ? -1 : 1;
        break;
      case 'i':
      case 'em':
        italic += closing ? -1 : 1;
        break;
      case 's':
      case 'strike':
      case 'del':
        strike += closing ? -1 : 1;
        break;
      case 'br':
        push('\n');
        break;
      case 'p':
      case 'div':
      case 'tr':
      case 'blockquote':
        if (closing) push('\n');
        break;
      case 'li':
        push(closing ? '\n' : '• ');
        break;
      case 'a':
        if (!closing) {
          const href = /href\s*=\s*("([^"]*)"|'([^']*)')/i.exec(attributes);
          link = { href: safeHref(decodeEntities(href?.[2] ?? href?.[3] ?? '')), text: '' };
        } else if (link) {
          const { href, text } = link;
          link = null;
          out.push(href ? { t: 'link', v: text || href, href } : { t: 'text', v: text });
        }
        break;
      default:
        break;
    }
    bold = Math.max(0, bold);
    italic = Math.max(0, italic);
    strike = Math.max(0, strike);
  }
  push(decodeEntities(cleaned.slice(last)));
  if (link) out.push({ t: 'text', v: (link as { text: string }).text });
  const segments = tidy(out);
  // Trailing newlines from closing paragraphs.
  const tail = segments.at(-1);
  if (tail) tail.v = tail.v.replace(/\s+$/, '');
  const head = segments[0];
  if (head) head.v = head.v.replace(/^\s+/, '');
  return tidy(segments);
}

/** WhatsApp text: `*bold*`, `_italic_`, `~strike~` and monospace are WhatsApp's own formatting. */
export const fromWhatsAppText = (text: string): Segment[] => tidy(inline(text));

/** Plain text as one segment. */
export const plain = (text: string): Segment[] => (text === '' ? [] : [{ t: 'text', v: text }]);

/** The text of segments, for searching and tests. */
export const textOf = (segments: readonly Segment[]): string => segments.map((s) => s.v).join('');
