import type { ChannelTarget } from '../config.ts';

/**
 * Teams message ids are creation times in milliseconds, unique within a channel only. The refs we
 * store (and the thread ids in commands) therefore carry the channel: `<channel id>|<message id>`.
 * Channel ids never contain `|` (`19:…@thread.tacv2`).
 */
export function teamsMessageRef(channelId: string, messageId: string): string {
  return `${channelId}|${messageId}`;
}

export function parseTeamsMessageRef(ref: string): { channelId: string; messageId: string } | null {
  const at = ref.lastIndexOf('|');
  if (at <= 0 || at === ref.length - 1) return null;
  return { channelId: ref.slice(0, at), messageId: ref.slice(at + 1) };
}

/** A conversation's thread in Teams. */
export interface ThreadLocation extends ChannelTarget {
  rootId: string;
}

/** The parts of a change notification's `resource`, e.g. `teams('t')/channels('c')/messages('m')/replies('r')`. */
export interface MessageResource extends ChannelTarget {
  /** The root of the thread (the message itself when `replyId` is null). */
  rootId: string;
  replyId: string | null;
}

/** One segment of a resource path: `name('key')`, `name(key)` or `name/key`, in any case. */
const resourcePart = (name: string) => `${name}(?:\\('([^']+)'\\)|\\(([^()'/]+)\\)|/([^/()']+))`;
const MESSAGE_RESOURCE = new RegExp(
  `^${resourcePart('teams')}/${resourcePart('channels')}/${resourcePart('messages')}(?:/${resourcePart('replies')})?$`,
  'i',
);

/**
 * Graph names the message of a notification in more than one way: OData keys, quoted or not
 * (`teams('t')/channels('19:c@thread.tacv2')/…`), with the keys escaped or not
 * (`channels('19%3Ac%40thread.tacv2')`), plain segments (`teams/t/channels/…`), with a leading
 * slash or as an absolute URL (`https://graph.microsoft.com/v1.0/teams(…)/…`). All of them are
 * read; keys are unescaped, and a malformed escape makes the resource unreadable (null), never
 * an exception.
 */
export function parseMessageResource(resource: string): MessageResource | null {
  const path = resource
    .trim()
    .replace(/^[a-z][a-z0-9+.-]*:\/\/[^/]+/i, '')
    .replace(/^\/+/, '')
    .replace(/^(?:v1\.0|beta)\//i, '');
  const match = MESSAGE_RESOURCE.exec(path);
  if (!match) return null;
  // Three alternatives per part: the first one that matched is the key.
  const key = (part: number) => match[part * 3 + 1] ?? match[part * 3 + 2] ?? match[part * 3 + 3];
  try {
    const [teamId, channelId, rootId, replyId] = [0, 1, 2, 3].map((part) => {
      const value = key(part);
      return value === undefined ? undefined : decodeURIComponent(value.trim());
    });
    if (!teamId || !channelId || !rootId) return null;
    return { teamId, channelId, rootId, replyId: replyId || null };
  } catch {
    return null; // a malformed escape
  }
}

/** The Graph path of a channel, with its segments escaped (channel ids contain `:` and `@`). */
export function channelPath(channel: ChannelTarget): string {
  return `/teams/${encodeURIComponent(channel.teamId)}/channels/${encodeURIComponent(channel.channelId)}`;
}

export function messagePath(channel: ChannelTarget, messageId: string, rootId: string | null): string {
  const base = `${channelPath(channel)}/messages`;
  return rootId === null || rootId === messageId
    ? `${base}/${encodeURIComponent(messageId)}`
    : `${base}/${encodeURIComponent(rootId)}/replies/${encodeURIComponent(messageId)}`;
}
