import type { AgentTemplateCommand, TemplateDefinition } from '@wabridge/core';
import { z } from 'zod';
import { parseRef } from '../api/refs.ts';
import { TEMPLATE_ACTION } from '../constants.ts';

/**
 * Agents choose a template two ways:
 * - the picker in a "window closed" notice (a `static_select`): Slack sends `block_actions`, we open
 *   a modal (`views.open`) with the template's text and one input per parameter, and its
 *   `view_submission` becomes `agent.template`;
 * - the slash command, from anywhere: `/whatsapp template <thread> <name> [language] | p1 | p2`,
 *   where `<thread>` is the card's link ("Copy link") or the `<channel>:<ts>` shown in the notice.
 */

const optionValue = /^([^|]+)\|([^|]+)\|(\d+)$/;

export interface PickedTemplate {
  name: string;
  language: string;
  parameters: number;
}

/** The picker option's value: `name|language|parameter count`. */
export function parsePickedTemplate(value: string | undefined): PickedTemplate | null {
  const match = optionValue.exec(value ?? '');
  if (!match?.[1] || !match[2] || !match[3]) return null;
  return { name: match[1], language: match[2], parameters: Number(match[3]) };
}

const metadataSchema = z.object({
  threadId: z.string(),
  name: z.string(),
  language: z.string(),
  parameters: z.number().int().min(0).max(20),
});

export type TemplateModalMetadata = z.infer<typeof metadataSchema>;

/** The modal asking for a template's parameters (what the agent sees before it is sent). */
export function templateModal(metadata: TemplateModalMetadata, definition: TemplateDefinition | undefined) {
  const preview = definition?.body ? `\n>${definition.body.replace(/\n/g, '\n>')}` : '';
  return {
    type: 'modal',
    callback_id: TEMPLATE_ACTION,
    title: { type: 'plain_text', text: 'Send a template' },
    submit: { type: 'plain_text', text: 'Send' },
    close: { type: 'plain_text', text: 'Cancel' },
    private_metadata: JSON.stringify(metadata),
    blocks: [
      {
        type: 'section',
        text: { type: 'mrkdwn', text: `*${metadata.name}* (${metadata.language})${preview}` },
      },
      ...Array.from({ length: metadata.parameters }, (_, i) => ({
        type: 'input',
        block_id: `param_${i + 1}`,
        label: { type: 'plain_text', text: `Parameter {{${i + 1}}}` },
        element: { type: 'plain_text_input', action_id: 'value' },
      })),
      {
        type: 'context',
        elements: [
          {
            type: 'mrkdwn',
            text: 'The template goes to the customer on WhatsApp as soon as you press Send.',
          },
        ],
      },
    ],
  };
}

export function parseModalMetadata(text: string | undefined): TemplateModalMetadata | null {
  try {
    const parsed = metadataSchema.safeParse(JSON.parse(text ?? ''));
    return parsed.success ? parsed.data : null;
  } catch {
    return null;
  }
}

/** Parameters typed in the modal, in order; the ids of the empty ones. */
export function modalParameters(
  metadata: TemplateModalMetadata,
  values: Record<string, Record<string, { value?: string | null }>>,
): { parameters: string[]; missing: string[] } {
  const parameters: string[] = [];
  const missing: string[] = [];
  for (let i = 1; i <= metadata.parameters; i++) {
    const value = values[`param_${i}`]?.value?.value?.trim() ?? '';
    if (value === '') missing.push(`param_${i}`);
    parameters.push(value);
  }
  return { parameters, missing };
}

/** `C…:ts`, or a Slack message link (`…/archives/C…/p1700000000000100[?thread_ts=…]`), as a thread id. */
export function parseThreadReference(text: string): string | null {
  const direct = parseRef(text);
  if (direct) return `${direct.channel}:${direct.ts}`;
  try {
    const url = new URL(text.replace(/^<|>$/g, '').split('|')[0] ?? '');
    const match = /\/archives\/([CGD][A-Z0-9]+)\/p(\d{10})(\d{6})/.exec(url.pathname);
    if (!match) return null;
    const threadTs = url.searchParams.get('thread_ts');
    return `${match[1]}:${threadTs ?? `${match[2]}.${match[3]}`}`;
  } catch {
    return null;
  }
}

export const COMMAND_USAGE = (command: string) =>
  [
    `*${command} template <thread> <name> [language] | parameter 1 | parameter 2 …*`,
    'Sends an approved WhatsApp template to the customer of a conversation thread.',
    '`<thread>` is the link of the conversation card ("Copy link") or the reference shown in a notice.',
    `Example: \`${command} template C0123ABCD:1700000000.000100 order_update en_US | Ada | #1042\``,
  ].join('\n');

/**
 * Parses the slash command's text. Language may be omitted when the workspace has the template
 * in one language only.
 */
export function parseTemplateCommand(
  text: string,
  templates: readonly TemplateDefinition[],
): { ok: true; threadId: string; template: AgentTemplateCommand['template'] } | { ok: false; error: string } {
  const [head = '', ...params] = text.split('|');
  const words = head.trim().split(/\s+/).filter(Boolean);
  if (words[0]?.toLowerCase() !== 'template') return { ok: false, error: 'usage' };
  const threadId = words[1] ? parseThreadReference(words[1]) : null;
  if (!threadId) return { ok: false, error: 'Give the conversation thread: its card link or reference.' };
  const name = words[2];
  if (!name) return { ok: false, error: 'Give the template name.' };
  let language = words[3];
  if (!language) {
    const languages = templates.filter((t) => t.name === name).map((t) => t.language);
    if (languages.length !== 1) {
      return {
        ok: false,
        error:
          languages.length > 1
            ? `Template ${name} exists in ${languages.join(', ')}: give the language.`
            : 'Give the template language, e.g. en_US.',
      };
    }
    language = languages[0] as string;
  }
  return { ok: true, threadId, template: { name, language, parameters: params.map((p) => p.trim()) } };
}
