import type { ChatMessage } from '@microsoft/microsoft-graph-types';
import { describe, expect, it } from 'vitest';
import { parseAttachmentRef } from '../api/files.ts';
import { commandsFor, parseTemplateCommand } from './commands.ts';

const thread = { teamId: 't', channelId: '19:c@thread.tacv2', rootId: '100' };
const options = {
  selfId: 'bridge-user',
  notePrefix: '//',
  sendMode: 'reply' as const,
  sendPrefix: '>>',
  mentionsAreNotes: true,
  templateLanguage: 'en_US',
  graphHosts: ['graph.microsoft.com'],
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

  describe('files of a reply', () => {
    const replyUrl =
      'https://graph.microsoft.com/v1.0/teams/t/channels/19:c@thread.tacv2/messages/100/replies/200';
    const hosted = (id: string, base = replyUrl) => `${base}/hostedContents/${id}/$value`;
    const pdfUrl =
      'https://contoso.sharepoint.com/sites/Support/Shared%20Documents/WhatsApp/invoice%20%231.pdf';
    const withFiles = (content: string, attachments: ChatMessage['attachments'] = []) =>
      message({ body: { contentType: 'html', content }, attachments });
    const attachmentsOf = (m: ChatMessage) => {
      const [command] = commandsFor(m, thread, 'created', options);
      if (command?.type !== 'agent.reply') throw new Error('no agent.reply');
      return command;
    };

    it('turns pasted Graph images and shared files into attachments whose refs carry where to fetch them', () => {
      const command = attachmentsOf(
        withFiles(
          `<p>Here you go</p><p><img alt="image" src="${hosted('aWQ9eF8w=')}" itemtype="http://schema.skype.com/AMSImage"></p>` +
            `<p><img src="${hosted('b3RoZXI=').replace('/replies/200', '')}"></p>` +
            '<attachment id="f1"></attachment><attachment id="card"></attachment><attachment id="quote"></attachment>',
          [
            { id: 'f1', contentType: 'reference', contentUrl: pdfUrl, name: 'invoice #1.pdf' },
            { id: 'card', contentType: 'application/vnd.microsoft.card.adaptive', content: '{}' },
            { id: 'quote', contentType: 'messageReference', content: '{"messageId":"150"}' },
          ],
        ),
      );
      expect(command.text).toBe('Here you go');
      expect(command.attachments).toEqual([
        {
          ref: expect.stringMatching(/^teams-hosted:/),
          filename: 'image-1.png',
          mimeType: 'image/png',
          size: null,
        },
        {
          ref: expect.stringMatching(/^teams-hosted:/),
          filename: 'image-2.png',
          mimeType: 'image/png',
          size: null,
        },
        {
          ref: expect.stringMatching(/^teams-file:/),
          filename: 'invoice #1.pdf',
          mimeType: 'application/pdf',
          size: null,
        },
      ]);
      expect(command.attachments.map((a) => parseAttachmentRef(a.ref))).toEqual([
        { kind: 'hosted', url: hosted('aWQ9eF8w='), name: 'image-1' },
        { kind: 'hosted', url: hosted('b3RoZXI=').replace('/replies/200', ''), name: 'image-2' },
        { kind: 'file', teamId: 't', channelId: '19:c@thread.tacv2', url: pdfUrl, name: 'invoice #1.pdf' },
      ]);
    });

    it('sends an image-only reply as media with no placeholder text, and types files by their extension', () => {
      const imageOnly = attachmentsOf(withFiles(`<p><img src="${hosted('aWQ=')}" alt="image"></p>`));
      expect(imageOnly.text).toBe('');
      expect(imageOnly.attachments).toHaveLength(1);
      const names = ['a.DOCX', 'b.xlsx', 'c.jpeg', 'd.mp3', 'e.csv', 'f.zip', 'noextension'];
      const typed = attachmentsOf(
        withFiles(
          '',
          names.map((name, i) => ({
            id: `f${i}`,
            contentType: 'reference',
            contentUrl: `https://contoso.sharepoint.com/x/${i}`,
            name,
          })),
        ),
      );
      expect(typed.attachments.map((a) => a.mimeType)).toEqual([
        'application/vnd.openxmlformats-officedocument.wordprocessingml.document',
        'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
        'image/jpeg',
        'audio/mpeg',
        'text/csv',
        'application/octet-stream',
        'application/octet-stream',
      ]);
    });

    it('leaves images that are not hostedContents of this channel on Graph as text, and ignores non-https files', () => {
      const command = attachmentsOf(
        withFiles(
          `<p>look <img src="https://evil.example/v1.0/teams/t/channels/19:c@thread.tacv2/messages/200/hostedContents/x/$value">` +
            `<img src="${hosted('x').replace('19:c@thread.tacv2', '19:other@thread.tacv2')}">` +
            `<img src="${hosted('x').replace('https:', 'http:')}">` +
            '<img src="https://media.giphy.com/cat.gif"></p><attachment id="f"></attachment>',
          [{ id: 'f', contentType: 'reference', contentUrl: 'file:///etc/passwd', name: 'passwd' }],
        ),
      );
      expect(command.attachments).toEqual([]);
      expect(command.text).toBe('look [image][image][image][image]');
    });
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
