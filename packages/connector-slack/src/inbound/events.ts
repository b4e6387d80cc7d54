import { type AgentIdentity, type Attachment, classifyAgentText, type DomainCommand } from '@wabridge/core';
import { z } from 'zod';
import type { SlackConfig } from '../config.ts';
import { mentionsSomeone, slackToWhatsApp } from '../format/text.ts';

const fileSchema = z.looseObject({
  id: z.string(),
  name: z.string().optional(),
  title: z.string().optional(),
  mimetype: z.string().optional(),
  size: z.number().optional(),
  mode: z.string().optional(),
});

const messageSchema = z.looseObject({
  type: z.string().optional(),
  subtype: z.string().optional(),
  user: z.string().optional(),
  bot_id: z.string().optional(),
  app_id: z.string().optional(),
  text: z.string().optional(),
  ts: z.string().optional(),
  thread_ts: z.string().optional(),
  channel: z.string().optional(),
  files: z.array(fileSchema).optional(),
  edited: z.looseObject({ user: z.string().optional(), ts: z.string().optional() }).optional(),
  user_profile: z
    .looseObject({
      real_name: z.string().optional(),
      display_name: z.string().optional(),
      name: z.string().optional(),
    })
    .optional(),
});

export type SlackMessage = z.infer<typeof messageSchema>;

const eventSchema = messageSchema.extend({
  type: z.string(),
  message: messageSchema.optional(),
  previous_message: messageSchema.optional(),
  deleted_ts: z.string().optional(),
});

export const envelopeSchema = z.looseObject({
  type: z.string(),
  challenge: z.string().optional(),
  team_id: z.string().optional(),
  api_app_id: z.string().optional(),
  event_id: z.string().optional(),
  event: eventSchema.optional(),
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
 * `bot_id` (chat.postMessage), has the `bot_message` subtype, comes from our bot user (file
 * uploads carry the user, not always a bot id) or from our app.
 */
export function isBotMessage(message: SlackMessage, own: OwnIdentity): boolean {
  return (
    message.bot_id !== undefined ||
    message.subtype === 'bot_message' ||
    (own.botUserId !== null && message.user === own.botUserId) ||
    (own.appId !== null && message.app_id === own.appId)
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
  const verdict = classifyAgentText(text, mentionsSomeone(text.trimStart()), config);
  return verdict.mode === 'send' ? { mode: 'send', text: slackToWhatsApp(verdict.text).trim() } : verdict;
}

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
    case 'thread_broadcast': {
      if (isBotMessage(event, own) || !isThreadReply(event)) return [];
      const reply = classifyReply(event.text ?? '', config);
      const attachments: Attachment[] = (event.files ?? [])
        .filter((f) => f.mode !== 'tombstone' && f.mode !== 'external')
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
      // Slack also sends message_changed when it adds link previews; only a person's edit has `edited`.
      if (!message?.edited || isBotMessage(message, own) || !isThreadReply(message)) return [];
      return [
        {
          type: 'agent.edit',
          idempotencyKey: key,
          threadId: `${channel}:${message.thread_ts}`,
          messageId: `${channel}:${message.ts}`,
          agent: agentOf(message),
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
