import { escapeMrkdwn } from './text.ts';

/**
 * Slack's `rich_text` blocks written back as the mrkdwn `text` Slack would have sent with them
 * (escaped, `<@U…>`, `<url|label>`), so a message that came with blocks only goes through the same
 * note/send rule and the same conversion as any other. Unknown element types add nothing.
 */

type Node = Record<string, unknown>;

const nodes = (value: unknown): Node[] =>
  Array.isArray(value)
    ? value.filter((v): v is Node => typeof v === 'object' && v !== null && !Array.isArray(v))
    : [];

const str = (value: unknown): string => (typeof value === 'string' ? value : '');

/** Wraps the visible part of `text` (not its surrounding spaces) in `mark`. */
function mark(text: string, marker: string): string {
  const match = /^(\s*)([\s\S]*?)(\s*)$/.exec(text);
  return match?.[2] ? `${match[1]}${marker}${match[2]}${marker}${match[3]}` : text;
}

function styled(text: string, style: unknown): string {
  if (typeof style !== 'object' || style === null) return text;
  const s = style as Record<string, unknown>;
  let out = text;
  if (s.code === true) out = mark(out, '`');
  if (s.strike === true) out = mark(out, '~');
  if (s.italic === true) out = mark(out, '_');
  if (s.bold === true) out = mark(out, '*');
  return out;
}

function inline(element: Node): string {
  switch (element.type) {
    case 'text':
      return styled(escapeMrkdwn(str(element.text)), element.style);
    case 'link': {
      const url = str(element.url);
      const label = str(element.text);
      return styled(label && label !== url ? `<${url}|${escapeMrkdwn(label)}>` : `<${url}>`, element.style);
    }
    case 'user':
      return `<@${str(element.user_id)}>`;
    case 'usergroup':
      return `<!subteam^${str(element.usergroup_id)}>`;
    case 'channel':
      return `<#${str(element.channel_id)}>`;
    case 'broadcast':
      return `<!${str(element.range)}>`;
    case 'emoji':
      return `:${str(element.name)}:${element.skin_tone ? `:skin-tone-${String(element.skin_tone)}:` : ''}`;
    case 'date':
      return escapeMrkdwn(str(element.fallback) || str(element.timestamp));
    case 'color':
      return escapeMrkdwn(str(element.value));
    default:
      return '';
  }
}

const inlines = (element: Node): string => nodes(element.elements).map(inline).join('');

function block(element: Node): string {
  switch (element.type) {
    case 'rich_text_section':
      return inlines(element);
    case 'rich_text_preformatted':
      return `\`\`\`${inlines(element)}\`\`\``;
    case 'rich_text_quote':
      return inlines(element)
        .split('\n')
        .map((line) => `&gt; ${line}`)
        .join('\n');
    case 'rich_text_list': {
      const indent = '    '.repeat(typeof element.indent === 'number' ? element.indent : 0);
      const offset = typeof element.offset === 'number' ? element.offset : 0;
      return nodes(element.elements)
        .map(
          (item, i) => `${indent}${element.style === 'ordered' ? `${offset + i + 1}.` : '•'} ${block(item)}`,
        )
        .join('\n');
    }
    default:
      return '';
  }
}

export function richTextToMrkdwn(blocks: readonly unknown[]): string {
  const parts: string[] = [];
  for (const top of nodes(blocks)) {
    if (top.type !== 'rich_text') continue;
    for (const element of nodes(top.elements)) {
      const text = block(element);
      if (text === '') continue;
      // Sections carry their own line breaks; a list or quote after one starts on a new line.
      const previous = parts[parts.length - 1];
      if (previous !== undefined && !previous.endsWith('\n')) parts.push('\n');
      parts.push(text);
    }
  }
  return parts.join('');
}
