import { createHash } from 'node:crypto';
import {
  type ConsentSnapshot,
  type Contact,
  type Conversation,
  maskNumber,
  type NumberMasking,
  type WindowState,
} from '@wabridge/core';
import { escapeMrkdwn, slackDate, truncate } from './text.ts';

export type Block = Record<string, unknown>;

export interface CardInput {
  contact: Contact;
  conversation: Conversation;
  consent: ConsentSnapshot;
  window: WindowState;
  masking: NumberMasking;
  links: { label: string; url: string }[];
  notePrefix: string;
}

export interface RenderedCard {
  text: string;
  blocks: Block[];
  /** Changes exactly when what the card shows changes: compared to decide on `chat.update`. */
  key: string;
}

/** The closing time is shown to the 10 minutes below, so a busy conversation does not rewrite its card on every message. */
const WINDOW_STEP_MS = 10 * 60_000;

export function contactName(contact: Contact): string {
  return contact.profileName ?? contact.username ?? 'WhatsApp customer';
}

/** The customer's number as the workspace policy allows it to be shown. */
export function shownNumber(contact: Contact, masking: NumberMasking): string {
  return maskNumber(contact.waId, masking) ?? (contact.username ? `@${contact.username}` : 'number withheld');
}

function consentLine(consent: ConsentSnapshot): string {
  if (consent.all.state === 'opted_out') {
    return `:no_entry_sign: Opted out of all messages${consent.all.at ? ` since ${slackDate(consent.all.at, '{date_short}')}` : ''}`;
  }
  if (consent.marketing.state === 'opted_out')
    return ':large_yellow_circle: Opted out of marketing; service replies allowed';
  return ':white_check_mark: Opted in';
}

function windowLine(window: WindowState): string {
  if (window.open && window.closesAt !== null) {
    const shown = Math.floor(window.closesAt / WINDOW_STEP_MS) * WINDOW_STEP_MS;
    return `:large_green_circle: Open — closes by ${slackDate(shown)}`;
  }
  if (window.closesAt !== null) return ':red_circle: Closed — only approved templates can be sent';
  return ':red_circle: Not opened — the customer has not written yet; templates only';
}

/** The thread's root message: who the customer is and what may be sent to them now. */
export function renderCard(input: CardInput): RenderedCard {
  const name = contactName(input.contact);
  const number = shownNumber(input.contact, input.masking);
  const business =
    maskNumber(input.conversation.displayPhoneNumber, 'none') ?? input.conversation.phoneNumberId;
  const links = input.links.map((l) => `<${l.url}|${escapeMrkdwn(l.label)}>`);
  const blocks: Block[] = [
    { type: 'header', text: { type: 'plain_text', text: truncate(`💬 ${name}`, 150), emoji: true } },
    {
      type: 'section',
      fields: [
        { type: 'mrkdwn', text: `*Customer*\n${escapeMrkdwn(number)}` },
        { type: 'mrkdwn', text: `*Business number*\n${escapeMrkdwn(business)}` },
        { type: 'mrkdwn', text: `*Consent*\n${consentLine(input.consent)}` },
        { type: 'mrkdwn', text: `*24-hour window*\n${windowLine(input.window)}` },
      ],
    },
    {
      type: 'context',
      elements: [
        {
          type: 'mrkdwn',
          text: [
            ...links,
            `Reply in this thread to answer on WhatsApp; start with \`${escapeMrkdwn(input.notePrefix)}\` for an internal note`,
          ].join(' · '),
        },
      ],
    },
  ];
  const text = `WhatsApp conversation with ${name} (${number})`;
  return { text, blocks, key: digest({ text, blocks }) };
}

/** What is left of the card once the conversation is erased. */
export function renderErasedCard(at: number, humanReplies: number): RenderedCard {
  const blocks: Block[] = [
    { type: 'header', text: { type: 'plain_text', text: '🗑️ Conversation erased', emoji: true } },
    {
      type: 'section',
      text: {
        type: 'mrkdwn',
        text: `This WhatsApp conversation was erased on ${slackDate(at, '{date_short}')} at the customer's or an administrator's request. The messages wabridge mirrored here were removed.${
          humanReplies > 0
            ? ` ${humanReplies} ${humanReplies === 1 ? 'reply' : 'replies'} written by people remain in this thread: a workspace admin can delete them.`
            : ''
        }`,
      },
    },
  ];
  const text = 'WhatsApp conversation erased';
  return { text, blocks, key: digest({ text, blocks }) };
}

function digest(value: unknown): string {
  return createHash('sha256').update(JSON.stringify(value)).digest('base64url').slice(0, 22);
}
