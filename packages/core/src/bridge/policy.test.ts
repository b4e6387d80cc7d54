import { describe, expect, it } from 'vitest';
import {
  checkSendable,
  classifyAgentText,
  noticeText,
  type ReplyModeOptions,
  renderTemplate,
} from './policy.ts';

const options: ReplyModeOptions = {
  notePrefix: '//',
  sendMode: 'reply',
  sendPrefix: '>>',
  mentionsAreNotes: true,
};
const open = { open: true, closesAt: Date.now() + 1000 };
const optedIn = {
  all: { state: 'opted_in', source: null, at: null },
  marketing: { state: 'opted_in', source: null, at: null },
} as const;

describe('agent reply modes', () => {
  it('keeps a note prefix or a colleague mention inside the platform', () => {
    expect(classifyAgentText('  // check the invoice first', false, options).mode).toBe('note');
    expect(classifyAgentText('can you take this one?', true, options).mode).toBe('note');
    expect(classifyAgentText('Your order ships today.  ', false, options)).toEqual({
      mode: 'send',
      text: 'Your order ships today.',
    });
  });

  it('sends only prefixed replies in explicit mode, without the prefix', () => {
    const explicit = { ...options, sendMode: 'explicit' as const };
    expect(classifyAgentText('thinking out loud', false, explicit).mode).toBe('note');
    expect(classifyAgentText('>> Hello!', false, explicit)).toEqual({ mode: 'send', text: 'Hello!' });
  });
});

describe('send policy', () => {
  it('blocks everything after an opt-out of all messages, and free-form text outside the window', () => {
    const out = { ...optedIn, all: { state: 'opted_out', source: 'keyword', at: 1 } } as const;
    expect(
      checkSendable({ consent: out, window: open, send: { kind: 'template', category: 'utility' } })?.kind,
    ).toBe('opted_out');
    expect(
      checkSendable({ consent: optedIn, window: { open: false, closesAt: 1 }, send: { kind: 'free_form' } })
        ?.kind,
    ).toBe('window_closed');
    expect(
      checkSendable({
        consent: optedIn,
        window: { open: false, closesAt: 1 },
        send: { kind: 'template', category: 'utility' },
      }),
    ).toBeNull();
  });

  it('a marketing opt-out blocks marketing templates only', () => {
    const marketingOut = {
      ...optedIn,
      marketing: { state: 'opted_out', source: 'meta_preference', at: 1 },
    } as const;
    expect(
      checkSendable({
        consent: marketingOut,
        window: open,
        send: { kind: 'template', category: 'marketing' },
      })?.kind,
    ).toBe('opted_out');
    expect(
      checkSendable({ consent: marketingOut, window: open, send: { kind: 'template', category: 'utility' } }),
    ).toBeNull();
    expect(checkSendable({ consent: marketingOut, window: open, send: { kind: 'free_form' } })).toBeNull();
  });

  it('fills template placeholders and leaves missing ones visible', () => {
    expect(renderTemplate({ body: 'Hi {{1}}, order {{2}} is {{3}}' }, ['Ada', '42'])).toBe(
      'Hi Ada, order 42 is {{3}}',
    );
  });
});

describe('opt-out notices', () => {
  const block = (source: string) => ({
    kind: 'opted_out' as const,
    category: 'all' as const,
    since: null,
    source,
  });
  it('say where the opt-out came from: the bridge in its words, a connector by its platform name', () => {
    const names = (id: string) => (id === 'crm' ? 'Acme CRM' : undefined);
    expect(noticeText(block('keyword'), 'Ada', 0, names).text).toBe(
      'Not sent: Ada opted out of WhatsApp messages by replying with an opt-out keyword. They can opt back in by sending START.',
    );
    expect(noticeText(block('crm'), 'Ada', 0, names).text).toBe(
      'Not sent: Ada opted out of WhatsApp messages in Acme CRM. They can opt back in by sending START.',
    );
    expect(noticeText(block('crm'), 'Ada', 0).text).toBe(
      'Not sent: Ada opted out of WhatsApp messages (crm). They can opt back in by sending START.',
    );
  });
});
