import { emojiOfSlackName } from './emoji.ts';

/**
 * Text between WhatsApp and Slack. Both use `*bold*`, `_italic_` and `~strike~`; what differs is
 * Slack's control syntax (`<@U123>`, `<!channel>`, `<url|label>`) and its three escaped characters.
 */

/**
 * Escapes customer text for Slack mrkdwn: `&`, `<`, `>` only (Slack's rule), so a customer cannot
 * write `<!channel>` or a disguised link into the support channel.
 */
export function escapeMrkdwn(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** Cuts text to `max` characters (counting code points), marking the cut. */
export function truncate(text: string, max: number): string {
  const chars = [...text];
  return chars.length <= max ? text : `${chars.slice(0, max - 1).join('')}…`;
}

/**
 * Cuts text to at most `max` UTF-16 code units, the length JavaScript and Slack's limits count
 * (`msg_too_long` at 40,000), never inside a character, marking the cut.
 */
export function truncateUnits(text: string, max: number): string {
  if (text.length <= max) return text;
  let end = max - 1;
  // Do not leave half of a surrogate pair.
  if (/[\ud800-\udbff]/.test(text.charAt(end - 1))) end -= 1;
  return `${text.slice(0, end)}…`;
}

/** A `> quote` of the first line(s) of a message, for replies. */
export function quote(text: string, max = 140): string {
  return truncate(text.replace(/\s+/g, ' ').trim(), max)
    .split('\n')
    .map((line) => `> ${line}`)
    .join('\n');
}

/**
 * What an agent wrote in Slack, as the customer should read it on WhatsApp: links spelled out
 * (a typed `example.com` arrives as `<http://example.com|example.com>`: the agent's words
 * suffice), mentions and channel references made readable (Slack often sends a channel without
 * its name, `<#C123>` or `<#C123|>`), emoji short names (`:+1:`, and `:)` which Slack stores as
 * `:slightly_smiling_face:`) back to emoji, Slack's escapes undone, code spans kept as WhatsApp
 * monospace.
 */
export function slackToWhatsApp(text: string, names: (userId: string) => string | null = () => null): string {
  return text
    .replace(/<(https?:\/\/[^|>]+)\|([^>]+)>/g, (_m, url: string, label: string) =>
      label === url || label === url.replace(/^https?:\/\//, '').replace(/\/$/, '')
        ? label
        : `${label} (${url})`,
    )
    .replace(/<(https?:\/\/[^>]+)>/g, '$1')
    .replace(/<mailto:([^|>]+)(?:\|[^>]+)?>/g, '$1')
    .replace(/<tel:([^|>]+)(?:\|[^>]+)?>/g, '$1')
    .replace(
      /<@([UW][A-Z0-9]+)(?:\|([^>]+))?>/g,
      (_m, id: string, label?: string) => `@${label ?? names(id) ?? id}`,
    )
    .replace(/<#[CG][A-Z0-9]+(?:\|([^>]*))?>/g, (_m, name?: string) => `#${name || 'channel'}`)
    .replace(/<!(here|channel|everyone)(?:\|[^>]+)?>/g, '@$1')
    .replace(/<!subteam\^[A-Z0-9]+(?:\|([^>]+))?>/g, (_m, label?: string) => label ?? '@team')
    .replace(/<!date\^\d+\^[^|>]*\|([^>]+)>/g, '$1')
    .replace(
      /:([a-z0-9_+'-]+):(?::(skin-tone-[2-6]):)?/g,
      (m, name: string, tone?: string) => emojiOfSlackName(name, tone) ?? m,
    )
    .replace(/```([\s\S]*?)```/g, '```$1```')
    .replace(/(^|[^`])`([^`\n]+)`(?!`)/g, '$1```$2```')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&');
}

/** True when the text @-mentions a Slack user, a user group or the channel. */
export function mentionsSomeone(text: string): boolean {
  return /<@[UW][A-Z0-9]+(\|[^>]*)?>|<!subteam\^|<!(here|channel|everyone)/.test(text);
}

/** `2026-11-23 14:05 UTC` for a time in epoch ms. */
export function utc(ms: number): string {
  return `${new Date(ms).toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}

/** Slack's date formatting (shown in each reader's time zone) with a UTC fallback. */
export function slackDate(ms: number, format = '{date_short_pretty} {time}'): string {
  return `<!date^${Math.floor(ms / 1000)}^${format}|${utc(ms)}>`;
}
