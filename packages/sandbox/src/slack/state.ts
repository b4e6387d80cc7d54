/**
 * What the emulated Slack workspaces hold: channels with their messages and threads, files, open
 * modals and interaction triggers, each belonging to one workspace (ids are unique across Slack, so
 * one store serves every workspace; `api.ts` checks that a token may see the workspace). Pure data
 * with Slack's rules on it; HTTP lives in `api.ts`.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { SlackChannel } from './types.ts';

export interface StoredMessage {
  channel: string;
  ts: string;
  /** Parent ts for a thread reply; undefined for a top-level message. */
  threadTs: string | undefined;
  user: string;
  botId: string | undefined;
  appId: string | undefined;
  username: string | undefined;
  text: string;
  blocks: unknown[] | undefined;
  metadata: { event_type: string; event_payload: Record<string, unknown> } | undefined;
  fileIds: string[];
  subtype: string | undefined;
  edited: { user: string; ts: string } | undefined;
  /** Emoji name → users who reacted, in order. */
  reactions: Map<string, string[]>;
  userProfile: { real_name: string; display_name: string; name: string } | undefined;
}

export interface StoredFile {
  id: string;
  teamId: string;
  filename: string;
  title: string;
  declaredLength: number;
  bytes: Uint8Array | undefined;
  mimetype: string;
  user: string;
  created: number;
  completed: boolean;
  deleted: boolean;
  shares: { channel: string; ts: string; threadTs: string | undefined }[];
}

export interface StoredView {
  id: string;
  teamId: string;
  hash: string;
  triggerId: string;
  user: string;
  view: Record<string, unknown>;
}

export class SlackApiError extends Error {
  readonly error: string;
  readonly extra: Record<string, unknown>;

  constructor(error: string, extra: Record<string, unknown> = {}) {
    super(error);
    this.error = error;
    this.extra = extra;
  }
}

const MIME_BY_EXTENSION: Record<string, string> = {
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  png: 'image/png',
  webp: 'image/webp',
  gif: 'image/gif',
  pdf: 'application/pdf',
  mp4: 'video/mp4',
  ogg: 'audio/ogg',
  mp3: 'audio/mpeg',
  aac: 'audio/aac',
  txt: 'text/plain',
};

export function mimeOf(filename: string): string {
  const extension = filename.split('.').pop()?.toLowerCase() ?? '';
  return MIME_BY_EXTENSION[extension] ?? 'application/octet-stream';
}

export interface StoredChannel {
  info: SlackChannel;
  teamId: string;
  created: number;
  /** Every message of the channel, top level and replies, oldest first. */
  messages: StoredMessage[];
  /**
   * The same messages by ts, and each thread's replies by the parent's ts (oldest first): an
   * update, a reply or a thread read finds its message without scanning the channel. A campaign
   * bench puts 60,000 messages in one channel; scanning it on every call made the emulator, not
   * the gateway, the slowest part (docs/performance.md, 2026-12-07).
   */
  byTs: Map<string, StoredMessage>;
  repliesByThread: Map<string, StoredMessage[]>;
}

export class SlackWorkspace {
  readonly channels = new Map<string, StoredChannel>();
  readonly files = new Map<string, StoredFile>();
  readonly views = new Map<string, StoredView>();
  readonly triggers = new Map<string, { issuedAt: number; user: string; teamId: string }>();
  readonly #now: () => number;
  #lastMicros = 0;
  #idCounter = 0;

  constructor(now: () => number) {
    this.#now = now;
  }

  addChannel(teamId: string, info: SlackChannel): StoredChannel {
    if (this.channels.has(info.id)) throw new TypeError(`channel ${info.id} is declared twice`);
    const channel: StoredChannel = {
      info,
      teamId,
      created: Math.floor(this.#now() / 1000),
      messages: [],
      byTs: new Map(),
      repliesByThread: new Map(),
    };
    this.channels.set(info.id, channel);
    return channel;
  }

  channelsOf(teamId: string): StoredChannel[] {
    return [...this.channels.values()].filter((c) => c.teamId === teamId);
  }

  /** A new message ts (`<seconds>.<micros>`), strictly increasing across the workspace. */
  nextTs(): string {
    const micros = Math.max(this.#lastMicros + 1, Math.floor(this.#now() * 1000));
    this.#lastMicros = micros;
    return `${Math.floor(micros / 1_000_000)}.${String(micros % 1_000_000).padStart(6, '0')}`;
  }

  /** An id shaped like Slack's (`F0…`, `V0…`, `Ev0…`). */
  newId(prefix: string): string {
    this.#idCounter += 1;
    return `${prefix}${this.#idCounter.toString(36).toUpperCase().padStart(4, '0')}${randomBytes(4).toString('hex').toUpperCase()}`;
  }

  /** The channel, if it exists and (with `visible`) its workspace may be seen; else `channel_not_found`. */
  channel(id: unknown, visible?: (teamId: string) => boolean): StoredChannel {
    const channel = typeof id === 'string' ? this.channels.get(id) : undefined;
    if (!channel || (visible && !visible(channel.teamId))) throw new SlackApiError('channel_not_found');
    return channel;
  }

  message(channelId: unknown, ts: unknown, visible?: (teamId: string) => boolean): StoredMessage {
    const channel = this.channel(channelId, visible);
    const message = channel.byTs.get(String(ts));
    if (!message) throw new SlackApiError('message_not_found');
    return message;
  }

  /** Adds a message (top level or in a thread). Slack puts a reply to a reply in the parent's thread. */
  addMessage(input: Omit<StoredMessage, 'ts' | 'reactions' | 'edited'> & { ts?: string }): StoredMessage {
    const channel = this.channel(input.channel);
    let threadTs = input.threadTs;
    if (threadTs !== undefined) {
      const parent = channel.byTs.get(threadTs);
      if (!parent) throw new SlackApiError('thread_not_found');
      threadTs = parent.threadTs ?? parent.ts;
    }
    const message: StoredMessage = {
      ...input,
      threadTs,
      ts: input.ts ?? this.nextTs(),
      reactions: new Map(),
      edited: undefined,
    };
    channel.messages.push(message);
    // A ts given twice (an import) finds the first, as a scan of the channel would.
    if (!channel.byTs.has(message.ts)) channel.byTs.set(message.ts, message);
    if (message.threadTs !== undefined) {
      const replies = channel.repliesByThread.get(message.threadTs);
      if (replies) replies.push(message);
      else channel.repliesByThread.set(message.threadTs, [message]);
    }
    return message;
  }

  removeMessage(message: StoredMessage): void {
    const channel = this.channel(message.channel);
    channel.messages = channel.messages.filter((m) => m !== message);
    if (channel.byTs.get(message.ts) === message) {
      const same = channel.messages.find((m) => m.ts === message.ts);
      if (same) channel.byTs.set(message.ts, same);
      else channel.byTs.delete(message.ts);
    }
    if (message.threadTs !== undefined) {
      const replies = channel.repliesByThread.get(message.threadTs)?.filter((m) => m !== message) ?? [];
      if (replies.length > 0) channel.repliesByThread.set(message.threadTs, replies);
      else channel.repliesByThread.delete(message.threadTs);
    }
  }

  /** A message of the channel by its ts, if there is one. */
  find(channelId: string, ts: string): StoredMessage | undefined {
    return this.channels.get(channelId)?.byTs.get(ts);
  }

  /** Top-level messages of a channel, oldest first. */
  history(channelId: string): StoredMessage[] {
    return this.channel(channelId).messages.filter((m) => m.threadTs === undefined);
  }

  /** The parent and its replies, oldest first. */
  thread(channelId: string, ts: string): StoredMessage[] {
    const channel = this.channel(channelId);
    const parent = channel.byTs.get(ts);
    if (!parent || parent.threadTs !== undefined) throw new SlackApiError('thread_not_found');
    return [parent, ...(channel.repliesByThread.get(ts) ?? [])];
  }

  replies(channelId: string, ts: string): StoredMessage[] {
    return [...(this.channel(channelId).repliesByThread.get(ts) ?? [])];
  }

  addFile(input: {
    filename: string;
    length: number;
    user: string;
    teamId: string;
    title?: string;
  }): StoredFile {
    const file: StoredFile = {
      id: this.newId('F0'),
      teamId: input.teamId,
      filename: input.filename,
      title: input.title ?? input.filename,
      declaredLength: input.length,
      bytes: undefined,
      mimetype: mimeOf(input.filename),
      user: input.user,
      created: Math.floor(this.#now() / 1000),
      completed: false,
      deleted: false,
      shares: [],
    };
    this.files.set(file.id, file);
    return file;
  }

  file(id: unknown, visible?: (teamId: string) => boolean): StoredFile {
    const file = typeof id === 'string' ? this.files.get(id) : undefined;
    if (!file || file.deleted || (visible && !visible(file.teamId)))
      throw new SlackApiError('file_not_found');
    return file;
  }

  issueTrigger(user: string, teamId: string): string {
    const id = `${Math.floor(this.#now() / 1000)}.${randomBytes(6).readUIntBE(0, 6)}.${randomBytes(16).toString('hex')}`;
    this.triggers.set(id, { issuedAt: this.#now(), user, teamId });
    return id;
  }
}

export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}
