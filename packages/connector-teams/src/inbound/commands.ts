import { type Attachment, classifyAgentText, type DomainCommand } from '@wabridge/core';
import { formatAttachmentRef, isShareableUrl, mimeTypeOf, parseHostedContentUrl } from '../api/files.ts';
import { type ThreadLocation, teamsMessageRef } from '../api/ids.ts';
import type { ChatMessage } from '../api/teams-api.ts';
import { decodeEntities, teamsHtmlToText } from '../render/text.ts';

export interface CommandOptions {
  /** The service account (our own posts are never relayed). */
  selfId: string | null;
  notePrefix: string;
  sendMode: 'reply' | 'explicit';
  sendPrefix: string;
  mentionsAreNotes: boolean;
  templateLanguage: string;
  /** Hosts whose hostedContents URLs are Graph's own (see `graphHosts`): only their images are fetched. */
  graphHosts: readonly string[];
}

/** Note or send, by the rule every chat connector shares (core `classifyAgentText`). */
export function classifyReply(
  text: string,
  mentions: number,
  options: Pick<CommandOptions, 'notePrefix' | 'sendMode' | 'sendPrefix' | 'mentionsAreNotes'>,
): { mode: 'send' | 'note'; text: string } {
  return classifyAgentText(text, mentions > 0, options);
}

export type ChangeType = 'created' | 'updated' | 'deleted';

/**
 * What a human's message in a mapped thread asks for, in core commands. Ids are the channel-scoped
 * refs (`<channel>|<id>`); the idempotency key is the message id plus the change, so a notification
 * Graph repeats, and the same reply read back by a resync, are recorded once.
 *
 * - a new reply → `agent.reply` (a `note` per `classifyReply`) with its pasted images and shared
 *   files as attachments (`replyAttachments`), or `agent.template` for
 *   `/template name [language] | parameter | …`;
 * - an edited reply → `agent.edit`, a deleted one → `agent.delete` (the core tells the agent
 *   WhatsApp cannot apply either, when the reply had been sent);
 * - our own posts, bots, system events, DLP-blocked messages and reactions → nothing.
 */
export function commandsFor(
  message: ChatMessage,
  thread: ThreadLocation,
  change: ChangeType,
  options: CommandOptions,
): DomainCommand[] {
  if (!message.id) return [];
  const author = message.from?.user;
  if (!author?.id) return []; // apps, bots, system events
  if (options.selfId !== null && author.id === options.selfId) return [];
  if (message.messageType && message.messageType !== 'message') return [];
  // Only system events carry an event detail (members added, channel renamed, …).
  if (message.eventDetail) return [];
  // A DLP policy hid it from (external) readers: it must not leave for WhatsApp either. The
  // action is a flags value (`notifySender, blockAccess`).
  if (/\bblockAccess/i.test(message.policyViolation?.dlpAction ?? '')) return [];
  const threadId = teamsMessageRef(thread.channelId, thread.rootId);
  const messageId = teamsMessageRef(thread.channelId, message.id);
  const agent = { id: author.id, name: author.displayName ?? null };
  if (change === 'deleted' || message.deletedDateTime) {
    return [{ type: 'agent.delete', idempotencyKey: `${message.id}:deleted`, threadId, messageId, agent }];
  }
  if (change === 'updated') {
    // Reactions also update a message; only a real edit carries lastEditedDateTime.
    if (!message.lastEditedDateTime) return [];
    return [
      {
        type: 'agent.edit',
        idempotencyKey: `${message.id}:edited:${message.lastEditedDateTime}`,
        threadId,
        messageId,
        agent,
        // The text as now written: a new version of an internal note, when the archive keeps notes.
        text: teamsHtmlToText(
          replyAttachments(message, thread, options.graphHosts).body,
          message.body?.contentType,
        ),
      },
    ];
  }
  const files = replyAttachments(message, thread, options.graphHosts);
  const text = teamsHtmlToText(files.body, message.body?.contentType);
  const idempotencyKey = `${message.id}:created`;
  const template = parseTemplateCommand(text, options.templateLanguage);
  if (template) return [{ type: 'agent.template', idempotencyKey, threadId, messageId, agent, template }];
  const reply = classifyReply(text, message.mentions?.length ?? 0, options);
  return [
    {
      type: 'agent.reply',
      idempotencyKey,
      threadId,
      messageId,
      agent,
      text: reply.text,
      attachments: files.attachments,
      mode: reply.mode,
    },
  ];
}

/**
 * The files of an agent's reply, as attachments the connector fetches when the message is sent:
 * - images pasted into it: `<img>` tags whose `src` is a hostedContents URL on Graph's host, in
 *   the thread's own channel (named `image-1.png`, …; the fetch learns the real type);
 * - files shared into it: `reference` attachments (SharePoint/OneDrive URLs, read through the
 *   shares API), typed by their extension.
 * Other attachments are no files: Adaptive Cards, `messageReference` (a quoted message), … The
 * returned body lacks the `<img>` tags of the images that go as media, so the text keeps no
 * `[image]` placeholder for them; sizes are unknown until the fetch.
 */
export function replyAttachments(
  message: ChatMessage,
  thread: ThreadLocation,
  hosts: readonly string[],
): { attachments: Attachment[]; body: string } {
  const attachments: Attachment[] = [];
  const seen = new Set<string>();
  let images = 0;
  let body = message.body?.content ?? '';
  if (message.body?.contentType === 'html') {
    body = body.replace(/<img\b[^>]*>/gi, (tag) => {
      const src = /\bsrc\s*=\s*(?:"([^"]*)"|'([^']*)')/i.exec(tag);
      const url = decodeEntities(src?.[1] ?? src?.[2] ?? '');
      const location = parseHostedContentUrl(url, hosts);
      if (!location || location.teamId !== thread.teamId || location.channelId !== thread.channelId)
        return tag;
      if (!seen.has(url)) {
        seen.add(url);
        const name = `image-${++images}`;
        attachments.push({
          ref: formatAttachmentRef({ kind: 'hosted', url, name }),
          filename: `${name}.png`,
          mimeType: 'image/png',
          size: null,
        });
      }
      return '';
    });
  }
  for (const attachment of message.attachments ?? []) {
    const url = attachment.contentUrl;
    if (attachment.contentType !== 'reference' || !url || !isShareableUrl(url) || seen.has(url)) continue;
    seen.add(url);
    const name = attachment.name || fileNameOf(url);
    attachments.push({
      ref: formatAttachmentRef({
        kind: 'file',
        teamId: thread.teamId,
        channelId: thread.channelId,
        url,
        name,
      }),
      filename: name,
      mimeType: mimeTypeOf(name),
      size: null,
    });
  }
  return { attachments, body };
}

/** The last segment of a file URL, for a reference attachment without a name. */
function fileNameOf(url: string): string {
  const last = new URL(url).pathname.split('/').filter(Boolean).pop() ?? '';
  try {
    return decodeURIComponent(last) || 'file';
  } catch {
    return last || 'file';
  }
}

/**
 * `/template order_update | Ada | 42` or `/template order_update pt_BR | Ada | 42`: the name, an
 * optional language, then `|`-separated parameters. Null when the text is not a template command.
 */
export function parseTemplateCommand(
  text: string,
  defaultLanguage: string,
): { name: string; language: string; parameters: string[] } | null {
  const match = /^\/template\b\s*([\s\S]*)$/i.exec(text.trim());
  if (!match) return null;
  const [head = '', ...parameters] = (match[1] ?? '').split('|').map((p) => p.trim());
  // A missing or malformed name still yields a command: the core answers with the templates list.
  const [name = '', language = defaultLanguage] = head.split(/\s+/).filter(Boolean);
  return { name, language, parameters };
}
