import { type AgentIdentity, type Attachment, classifyAgentText, type DomainCommand } from '@wabridge/core';
import { z } from 'zod';
import type { SlackConfig } from '../config.ts';
import { richTextToMrkdwn } from '../render/rich-text.ts';
import { escapeMrkdwn, mentionsSomeone, slackToWhatsApp } from '../render/text.ts';

/**
 * Slack's events are parsed liberally: a field of an unexpected shape (`user` and `channel` are
 * objects in `user_change` or `channel_created`, `team_id` is null for org-wide apps, a file of a
 * Slack Connect channel has no name) reads as absent, so the callback is still acknowledged with
 * a 200 and whatever is usable in it still counts. Only the signature is checked strictly.
 */
const optional = <T extends z.ZodType>(schema: T) => schema.optional().catch(undefined);
const maybeString = optional(z.string());

const fileSchema = z.looseObject({
  id: z.string(),
  name: maybeString,
  title: maybeString,
  mimetype: maybeString,
  size: optional(z.number()),
  mode: maybeString,
});

/** Files that do not parse (no id) are dropped, not the message that carries them. */
const filesSchema = optional(
  z.array(z.unknown()).transform((files) =>
    files.flatMap((file) => {
      const parsed = fileSchema.safeParse(file);
      return parsed.success ? [parsed.data] : [];
    }),
  ),
);

const messageSchema = z.looseObject({
  type: maybeString,
  subtype: maybeString,
  user: maybeString,
  bot_id: optional(z.string().nullable()),
  bot_profile: optional(z.unknown()),
  app_id: optional(z.string().nullable()),
  text: maybeString,
  blocks: optional(z.array(z.unknown())),
  ts: maybeString,
  thread_ts: maybeString,
  channel: maybeString,
  files: filesSchema,
  edited: optional(z.looseObject({ user: maybeString, ts: maybeString })),
  user_profile: optional(
    z.looseObject({
      real_name: maybeString,
      display_name: maybeString,
      name: maybeString,
    }),
  ),
});

export type SlackMessage = z.infer<typeof messageSchema>;

const eventSchema = messageSchema.extend({
  type: z.string(),
  message: optional(messageSchema),
  previous_message: optional(messageSchema),
  deleted_ts: maybeString,
});

export const envelopeSchema = z.looseObject({
  type: z.string(),
  challenge: maybeString,
  team_id: optional(z.string().nullable()),
  api_app_id: maybeString,
  event_id: maybeString,
  // In a Slack Connect channel `team_id` can be the channel's other workspace; the installation
  // the event is delivered for is in `authorizations` (Slack keeps at most one there).
  authorizations: optional(z.array(z.unknown())),
  // An event of an unexpected shape is acknowledged and ignored, never refused.
  event: optional(eventSchema),
});

export type SlackEnvelope = z.infer<typeof envelopeSchema>;

/** Who we are in the workspace, to recognise our own posts when they come back as events. */
export interface OwnIdentity {
  botUserId: string | null;
  botId: string | null;
  appId: string | null;
}

/**
 * Our own posts, and any other app's: never relayed. A message is a bot's when it carries a
 * `bot_id` or `bot_profile` (chat.postMessage), has the `bot_message` subtype, comes from our bot
 * user (file uploads carry the user, not always a bot id) or from any app (`app_id`: a person's
 * message from a Slack client has none, an app posting with a user token has one; relaying
 * another integration's posts could start a loop between two bridges).
 */
export function isBotMessage(message: SlackMessage, own: OwnIdentity): boolean {
  return (
    Boolean(message.bot_id) ||
    (message.bot_profile !== undefined && message.bot_profile !== null) ||
    Boolean(message.app_id) ||
    message.subtype === 'bot_message' ||
    (own.botUserId !== null && message.user === own.botUserId)
  );
}

const isThreadReply = (m: SlackMessage): m is SlackMessage & { thread_ts: string; ts: string } =>
  typeof m.thread_ts === 'string' && typeof m.ts === 'string' && m.thread_ts !== m.ts;

function agentOf(message: SlackMessage): AgentIdentity {
  const profile = message.user_profile;
  return {
    id: message.user ?? 'unknown',
    name: profile?.real_name || profile?.display_name || profile?.name || null,
  };
}

/**
 * Note or send, by the rule every chat connector shares (core `classifyAgentText`); the text that
 * goes out is converted from Slack's markup to WhatsApp's.
 */
export function classifyReply(
  text: string,
  config: Pick<SlackConfig, 'notePrefix' | 'sendMode' | 'sendPrefix' | 'mentionsAreNotes'>,
): { mode: 'send' | 'note'; text: string } {
  // Slack escapes `&`, `<` and `>` in message text, so an agent typing the default send prefix `>>`
  // arrives as `&gt;&gt;`: the prefixes are matched in both spellings.
  const verdict = classifyAgentText(
    unescapePrefix(unescapePrefix(text, config.notePrefix), config.sendPrefix),
    mentionsSomeone(text.trimStart()),
    config,
  );
  return verdict.mode === 'send' ? { mode: 'send', text: slackToWhatsApp(verdict.text).trim() } : verdict;
}

function unescapePrefix(text: string, prefix: string): string {
  const escaped = escapeMrkdwn(prefix);
  const trimmed = text.trimStart();
  return escaped !== prefix && trimmed.startsWith(escaped)
    ? `${prefix}${trimmed.slice(escaped.length)}`
    : text;
}

/**
 * Files Slack names but we cannot fetch: deleted (`tombstone`), stored elsewhere (`external`),
 * or beyond a free workspace's storage limit (`hidden_by_limit`, no name, no URL).
 */
const UNFETCHABLE_FILES = new Set(['tombstone', 'external', 'hidden_by_limit']);

/**
 * What an agent wrote: `text`, or when a client sent only blocks (`text` empty), the same message
 * written back from its rich_text blocks.
 */
const textOf = (message: SlackMessage): string =>
  message.text?.trim()
    ? message.text
    : message.blocks
      ? richTextToMrkdwn(message.blocks)
      : (message.text ?? '');

/**
 * What a verified `event_callback` asks the core to do. Thread replies become `agent.reply`
 * (threadId = `<channel>:<thread_ts>`, the ref of the conversation's card; messageId =
 * `<channel>:<ts>`), edits and deletions of thread replies `agent.edit` / `agent.delete`. The
 * idempotency key is Slack's `event_id`, the same on every retry of the event.
 */
export function commandsForEvent(
  envelope: SlackEnvelope,
  own: OwnIdentity,
  config: Pick<SlackConfig, 'notePrefix' | 'sendMode' | 'sendPrefix' | 'mentionsAreNotes'>,
): DomainCommand[] {
  const event = envelope.event;
  const key = envelope.event_id;
  if (!event || !key || event.type !== 'message' || !event.channel) return [];
  const channel = event.channel;
  switch (event.subtype) {
    case undefined:
    case 'file_share':
    case 'thread_broadcast':
    // `/me …` in a thread: a person's message like any other (Slack shows it in italics).
    case 'me_message': {
      // A person's message always names them; one with neither a user nor a bot id is no agent's.
      if (!event.user || isBotMessage(event, own) || !isThreadReply(event)) return [];
      const reply = classifyReply(textOf(event), config);
      const attachments: Attachment[] = (event.files ?? [])
        .filter((f) => !UNFETCHABLE_FILES.has(f.mode ?? ''))
        .map((f) => ({
          ref: f.id,
          filename: f.name ?? f.title ?? 'file',
          mimeType: f.mimetype ?? 'application/octet-stream',
          size: f.size ?? null,
        }));
      return [
        {
          type: 'agent.reply',
          idempotencyKey: key,
          threadId: `${channel}:${event.thread_ts}`,
          messageId: `${channel}:${event.ts}`,
          agent: agentOf(event),
          text: reply.text,
          attachments,
          mode: reply.mode,
        },
      ];
    }
    case 'message_changed': {
      const message = event.message;
      // Slack also sends message_changed when it adds link previews; only a person's edit has `edited`,
      // and a preview added to a message edited before keeps the same `edited.ts`.
      if (!message?.edited || isBotMessage(message, own) || !isThreadReply(message)) return [];
      const before = event.previous_message?.edited?.ts;
      if (before !== undefined && before === message.edited.ts) return [];
      return [
        {
          type: 'agent.edit',
          idempotencyKey: key,
          threadId: `${channel}:${message.thread_ts}`,
          messageId: `${channel}:${message.ts}`,
          agent: agentOf(message),
          // The text as now written: a new version of an internal note, when the archive keeps notes.
          text: textOf(message),
        },
      ];
    }
    case 'message_deleted': {
      const previous = event.previous_message;
      if (!previous || isBotMessage(previous, own) || !isThreadReply(previous)) return [];
      return [
        {
          type: 'agent.delete',
          idempotencyKey: key,
          threadId: `${channel}:${previous.thread_ts}`,
          messageId: `${channel}:${event.deleted_ts ?? previous.ts}`,
          agent: agentOf(previous),
        },
      ];
    }
    default:
      return [];
  }
}
