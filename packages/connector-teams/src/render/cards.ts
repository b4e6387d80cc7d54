import {
  type ConsentSnapshot,
  type Contact,
  type Conversation,
  maskNumber,
  type NumberMasking,
  type WindowState,
} from '@wabridge/core';
import { escapeCardText } from './text.ts';

export const ADAPTIVE_CARD = 'application/vnd.microsoft.card.adaptive';

export interface CardAttachment {
  id: string;
  contentType: typeof ADAPTIVE_CARD;
  content: string;
}

type CardElement = Record<string, unknown>;

function card(body: CardElement[]): string {
  return JSON.stringify({
    type: 'AdaptiveCard',
    $schema: 'http://adaptivecards.io/schemas/adaptive-card.json',
    version: '1.4',
    body,
  });
}

const time = (ms: number) => `${new Date(ms).toISOString().slice(0, 16).replace('T', ' ')} UTC`;

export function consentText(consent: ConsentSnapshot): string {
  const all = consent.all;
  if (all.state === 'opted_out') {
    return `Opted out of all messages${all.source ? ` (${all.source.replace('_', ' ')})` : ''}${all.at ? ` since ${time(all.at)}` : ''}`;
  }
  if (consent.marketing.state === 'opted_out') return 'Opted in; opted out of marketing';
  return 'Opted in';
}

export function windowText(window: WindowState): string {
  if (window.closesAt === null) return 'Not open: the customer has not written yet (templates only)';
  if (window.open) return `Open until ${time(window.closesAt)}`;
  return `Closed since ${time(window.closesAt)} (templates only)`;
}

export interface ConversationCardInput {
  conversation: Conversation;
  contact: Contact;
  consent: ConsentSnapshot;
  window: WindowState;
  masking: NumberMasking;
  notePrefix: string;
}

/** The thread's root: who the customer is, their consent and the 24-hour window, how to reply. */
export function conversationCard(input: ConversationCardInput): string {
  const { conversation, contact } = input;
  if (conversation.erasedAt !== null) {
    return card([
      {
        type: 'TextBlock',
        text: 'WhatsApp conversation (erased)',
        weight: 'Bolder',
        size: 'Medium',
        wrap: true,
      },
      {
        type: 'TextBlock',
        text: escapeCardText(
          `This conversation was erased on ${time(conversation.erasedAt)}; its messages were removed.`,
        ),
        wrap: true,
        isSubtle: true,
      },
    ]);
  }
  const facts: Array<{ title: string; value: string }> = [
    { title: 'Contact', value: escapeCardText(contact.profileName ?? 'Unknown') },
  ];
  const number = maskNumber(contact.waId, input.masking);
  if (number) facts.push({ title: 'WhatsApp', value: escapeCardText(number) });
  if (contact.username) facts.push({ title: 'Username', value: escapeCardText(`@${contact.username}`) });
  if (conversation.displayPhoneNumber) {
    facts.push({
      title: 'Business number',
      value: escapeCardText(`+${conversation.displayPhoneNumber.replace(/\D/g, '')}`),
    });
  }
  facts.push({ title: 'Consent', value: escapeCardText(consentText(input.consent)) });
  facts.push({ title: 'Reply window', value: escapeCardText(windowText(input.window)) });
  return card([
    { type: 'TextBlock', text: 'WhatsApp conversation', weight: 'Bolder', size: 'Medium', wrap: true },
    { type: 'FactSet', facts },
    {
      type: 'TextBlock',
      text: escapeCardText(
        `Reply in this thread to answer on WhatsApp. Start a reply with ${input.notePrefix} for an internal note; write "/template name | parameter | …" to send an approved template.`,
      ),
      wrap: true,
      isSubtle: true,
      size: 'Small',
    },
  ]);
}

/** The one-line card under each mirrored message: direction, time, delivery state. */
export function footerCard(line: string): string {
  return card([{ type: 'TextBlock', text: escapeCardText(line), size: 'Small', isSubtle: true, wrap: true }]);
}

export function attachment(id: string, content: string): CardAttachment {
  return { id, contentType: ADAPTIVE_CARD, content };
}
