import { describe, expect, it } from 'vitest';
import { classifyReply } from './events.ts';
import { parseTemplateCommand, parseThreadReference } from './templates.ts';

const templates = [
  { name: 'order_update', language: 'en_US', category: 'utility' as const, body: 'Hi {{1}}', parameters: 1 },
  { name: 'welcome', language: 'en_US', category: 'utility' as const, body: 'Welcome', parameters: 0 },
  { name: 'welcome', language: 'es', category: 'utility' as const, body: 'Bienvenido', parameters: 0 },
];

describe('choosing templates and notes from Slack', () => {
  it('reads a thread from a reference or a Slack message link', () => {
    expect(parseThreadReference('C0123ABCD:1700000000.000100')).toBe('C0123ABCD:1700000000.000100');
    expect(parseThreadReference('https://acme.slack.com/archives/C0123ABCD/p1700000000000100')).toBe(
      'C0123ABCD:1700000000.000100',
    );
    expect(
      parseThreadReference(
        '<https://acme.slack.com/archives/C0123ABCD/p1700000000000200?thread_ts=1700000000.000100&cid=C0123ABCD>',
      ),
    ).toBe('C0123ABCD:1700000000.000100');
    expect(parseThreadReference('not a thread')).toBeNull();
  });

  it('parses the slash command, taking the language from the only one the template has', () => {
    expect(
      parseTemplateCommand('template C0123ABCD:1700000000.000100 order_update | Ada ', templates),
    ).toEqual({
      ok: true,
      threadId: 'C0123ABCD:1700000000.000100',
      template: { name: 'order_update', language: 'en_US', parameters: ['Ada'] },
    });
    expect(parseTemplateCommand('template C0123ABCD:1700000000.000100 welcome', templates)).toEqual({
      ok: false,
      error: 'Template welcome exists in en_US, es: give the language.',
    });
    expect(parseTemplateCommand('template C0123ABCD:1700000000.000100 welcome es', templates)).toMatchObject({
      ok: true,
    });
    expect(parseTemplateCommand('help', templates)).toEqual({ ok: false, error: 'usage' });
  });

  it('keeps notes in Slack and sends the rest, or only what is marked in explicit mode', () => {
    const reply = { notePrefix: '//', sendMode: 'reply' as const, sendPrefix: '>>', mentionsAreNotes: true };
    expect(classifyReply('// VIP customer', reply).mode).toBe('note');
    expect(classifyReply('  // indented note', reply).mode).toBe('note');
    expect(classifyReply('<@U0BOB> please check', reply).mode).toBe('note');
    expect(classifyReply('Hello Ada', reply)).toEqual({ mode: 'send', text: 'Hello Ada' });
    expect(classifyReply('<@U0BOB> please check', { ...reply, mentionsAreNotes: false }).mode).toBe('send');
    const explicit = { ...reply, sendMode: 'explicit' as const };
    expect(classifyReply('thinking', explicit).mode).toBe('note');
    expect(classifyReply('>> Hello Ada', explicit)).toEqual({ mode: 'send', text: 'Hello Ada' });
  });
});
