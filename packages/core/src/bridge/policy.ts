import { consentSourceWords } from '../connector/consent-wording.ts';
import type { NoticeKind } from '../domain/events.ts';
import type { ConsentSnapshot, TemplateDefinition, WindowState } from '../domain/types.ts';

export type SendKind = { kind: 'free_form' } | { kind: 'template'; category: TemplateDefinition['category'] };

export type SendBlock =
  | { kind: 'opted_out'; category: 'all' | 'marketing'; since: number | null; source: string | null }
  | { kind: 'window_closed'; closedAt: number | null };

/**
 * May we send this to the customer now? One rule for every connector and for the sender, checked
 * when the agent writes and again right before the send (consent may change in between):
 * - an opt-out of all messages blocks everything;
 * - an opt-out of marketing blocks marketing templates;
 * - outside the 24-hour window only templates may be sent (WhatsApp would answer 131047).
 */
export function checkSendable(input: {
  consent: ConsentSnapshot;
  window: WindowState;
  send: SendKind;
}): SendBlock | null {
  const { consent, window, send } = input;
  if (consent.all.state === 'opted_out') {
    return { kind: 'opted_out', category: 'all', since: consent.all.at, source: consent.all.source };
  }
  if (send.kind === 'template' && send.category === 'marketing' && consent.marketing.state === 'opted_out') {
    return {
      kind: 'opted_out',
      category: 'marketing',
      since: consent.marketing.at,
      source: consent.marketing.source,
    };
  }
  if (send.kind === 'free_form' && !window.open) return { kind: 'window_closed', closedAt: window.closesAt };
  return null;
}

/** The words agents see when a reply is not sent. */
export function noticeText(
  block: SendBlock,
  contactName: string,
  now: number,
  /** A connector's name for people (`HubSpot`), when the opt-out came from its platform. */
  platformName?: (connectorId: string) => string | undefined,
): { kind: NoticeKind; text: string } {
  if (block.kind === 'opted_out') {
    const how = block.source
      ? ` ${consentSourceWords(block.source, platformName) ?? `(${block.source})`}`
      : '';
    const when = block.since
      ? ` on ${new Date(block.since).toISOString().slice(0, 16).replace('T', ' ')} UTC`
      : '';
    const what = block.category === 'all' ? 'WhatsApp messages' : 'marketing messages';
    const back = block.category === 'all' ? ' They can opt back in by sending START.' : '';
    return { kind: 'opted_out', text: `Not sent: ${contactName} opted out of ${what}${how}${when}.${back}` };
  }
  const ago = block.closedAt ? ` ${describeAgo(now - block.closedAt)} ago` : '';
  const text = block.closedAt
    ? `Not sent: the 24-hour customer service window closed${ago}. WhatsApp only accepts an approved template until ${contactName} writes again.`
    : `Not sent: ${contactName} has not written to this number yet, so WhatsApp only accepts an approved template.`;
  return { kind: 'window_closed', text };
}

function describeAgo(ms: number): string {
  const minutes = Math.max(1, Math.round(ms / 60_000));
  if (minutes < 120) return `${minutes} min`;
  const hours = Math.round(minutes / 60);
  if (hours < 48) return `${hours} h`;
  return `${Math.round(hours / 24)} days`;
}

/** Fills a template's {{n}} placeholders, for previews and mirrors. */
export function renderTemplate(
  template: Pick<TemplateDefinition, 'body'>,
  parameters: readonly string[],
): string {
  return template.body.replace(/\{\{(\d+)\}\}/g, (whole, n: string) => parameters[Number(n) - 1] ?? whole);
}

export interface ReplyModeOptions {
  /** A reply starting with this stays on the platform as an internal note (default `//`). */
  notePrefix: string;
  /** `reply`: every reply goes to the customer unless it is a note. `explicit`: only replies starting with `sendPrefix` go. */
  sendMode: 'reply' | 'explicit';
  sendPrefix: string;
  /** A reply that @-mentions a colleague is a note (people talking to each other, not to the customer). */
  mentionsAreNotes: boolean;
}

/**
 * Note or send? The one rule every chat connector applies to an agent's reply, so Slack and Teams
 * agents get the same behaviour. Returns the text to send (trimmed, send prefix removed); a note
 * returns the text as written.
 *
 * @example classifyAgentText('// check the invoice first', false, options) // { mode: 'note', … }
 */
export function classifyAgentText(
  text: string,
  mentionsSomeone: boolean,
  options: ReplyModeOptions,
): { mode: 'send' | 'note'; text: string } {
  const trimmed = text.trimStart();
  if (trimmed.startsWith(options.notePrefix)) return { mode: 'note', text };
  if (options.mentionsAreNotes && mentionsSomeone) return { mode: 'note', text };
  if (options.sendMode === 'explicit') {
    if (!trimmed.startsWith(options.sendPrefix)) return { mode: 'note', text };
    return { mode: 'send', text: trimmed.slice(options.sendPrefix.length).trim() };
  }
  return { mode: 'send', text: trimmed.trim() };
}
