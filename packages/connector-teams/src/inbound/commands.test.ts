import type { ChatMessage } from '@microsoft/microsoft-graph-types';
import { describe, expect, it } from 'vitest';
import { commandsFor, parseTemplateCommand } from './commands.ts';

const thread = { teamId: 't', channelId: '19:c@thread.tacv2', rootId: '100' };
const options = {
  selfId: 'bridge-user',
  notePrefix: '//',
  sendMode: 'reply' as const,
  sendPrefix: '>>',
  mentionsAreNotes: true,
  templateLanguage: 'en_US',
};
const message = (extra: Partial<ChatMessage>): ChatMessage => ({
  id: '200',
  messageType: 'message',
  createdDateTime: '2026-01-01T00:00:00Z',
  from: { user: { id: 'agent-1', displayName: 'Grace' } } as ChatMessage['from'],
  body: { contentType: 'html', content: '<p>Hello</p>' },
  ...extra,
});

describe('Teams messages as commands', () => {
  it('turns a reply into agent.reply keyed by message id and change, with channel-scoped ids', () => {
    expect(commandsFor(message({}), thread, 'created', options)).toEqual([
      {
        type: 'agent.reply',
        idempotencyKey: '200:created',
        threadId: '19:c@thread.tacv2|100',
        messageId: '19:c@thread.tacv2|200',
        agent: { id: 'agent-1', name: 'Grace' },
        text: 'Hello',
        attachments: [],
        mode: 'send',
      },
    ]);
  });

  it('keeps notes, mentions and (in explicit mode) unmarked replies in Teams, and ignores our own posts, bots and system events', () => {
    const [note] = commandsFor(
      message({ body: { contentType: 'html', content: '// call back later' } }),
      thread,
      'created',
      options,
    );
    expect(note).toMatchObject({ type: 'agent.reply', mode: 'note' });
    const mention = commandsFor(
      message({ mentions: [{ id: 0, mentionText: 'Alan' }] }),
      thread,
      'created',
      options,
    );
    expect(mention).toMatchObject([{ mode: 'note' }]);
    const explicit = { ...options, sendMode: 'explicit' as const };
    expect(commandsFor(message({}), thread, 'created', explicit)).toMatchObject([{ mode: 'note' }]);
    expect(
      commandsFor(
        message({ body: { contentType: 'html', content: '>> On my way' } }),
        thread,
        'created',
        explicit,
      ),
    ).toMatchObject([{ mode: 'send', text: 'On my way' }]);
    expect(
      commandsFor(
        message({ from: { user: { id: 'bridge-user' } } as ChatMessage['from'] }),
        thread,
        'created',
        options,
      ),
    ).toEqual([]);
    expect(
      commandsFor(
        message({ from: { application: { id: 'bot' } } as ChatMessage['from'] }),
        thread,
        'created',
        options,
      ),
    ).toEqual([]);
    expect(commandsFor(message({ messageType: 'systemEventMessage' }), thread, 'created', options)).toEqual(
      [],
    );
  });

  it('tells edits from reactions, and reports deletions', () => {
    expect(commandsFor(message({}), thread, 'updated', options)).toEqual([]);
    expect(
      commandsFor(message({ lastEditedDateTime: '2026-01-01T00:05:00Z' }), thread, 'updated', options),
    ).toMatchObject([{ type: 'agent.edit', idempotencyKey: '200:edited:2026-01-01T00:05:00Z' }]);
    expect(
      commandsFor(message({ deletedDateTime: '2026-01-01T00:06:00Z' }), thread, 'updated', options),
    ).toMatchObject([{ type: 'agent.delete', idempotencyKey: '200:deleted' }]);
  });

  it('reads /template commands with an optional language and |-separated parameters', () => {
    expect(parseTemplateCommand('/template order_update | Ada | #42', 'en_US')).toEqual({
      name: 'order_update',
      language: 'en_US',
      parameters: ['Ada', '#42'],
    });
    expect(parseTemplateCommand('/Template promo pt_BR', 'en_US')).toEqual({
      name: 'promo',
      language: 'pt_BR',
      parameters: [],
    });
    expect(parseTemplateCommand('/templates are nice', 'en_US')).toBeNull();
    expect(parseTemplateCommand('about /template x', 'en_US')).toBeNull();
  });
});
