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

export function parseMessageResource(resource: string): MessageResource | null {
  const path = resource.replace(/^\//, '');
  const odata =
    /^teams\('([^']+)'\)\/channels\('([^']+)'\)\/messages\('([^']+)'\)(?:\/replies\('([^']+)'\))?$/.exec(
      path,
    );
  if (odata?.[1] && odata[2] && odata[3]) {
    return { teamId: odata[1], channelId: odata[2], rootId: odata[3], replyId: odata[4] ?? null };
  }
  const slash = /^teams\/([^/]+)\/channels\/([^/]+)\/messages\/([^/]+)(?:\/replies\/([^/]+))?$/.exec(path);
  if (slash?.[1] && slash[2] && slash[3]) {
    const d = decodeURIComponent;
    return {
      teamId: d(slash[1]),
      channelId: d(slash[2]),
      rootId: d(slash[3]),
      replyId: slash[4] ? d(slash[4]) : null,
    };
  }
  return null;
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
