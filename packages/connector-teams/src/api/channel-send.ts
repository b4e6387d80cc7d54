import type { Context, Middleware } from '@microsoft/microsoft-graph-client';
import type { ChannelTarget } from '../config.ts';

/** Waits, right before a request on a channel leaves, for the channel to have room for it. */
export type BeforeChannelSend = (channel: ChannelTarget, signal?: AbortSignal) => Promise<void>;

/** `…/teams/{team-id}/channels/{channel-id}…`, as `channelPath` writes it (keys URI-encoded). */
const CHANNEL_IN_URL = /\/teams\/([^/?#]+)\/channels\/([^/?#]+)/;

/**
 * The link of Graph's middleware chain just before the HTTP handler: every request on a channel
 * (posts, edits, reads of its messages and replies) passes `beforeSend` for that channel there,
 * the latest moment our code sees it before it leaves. Graph counts a channel's requests by when
 * they arrive (https://learn.microsoft.com/en-us/graph/throttling-limits#microsoft-teams-service-limits),
 * and a slot reserved earlier can be used late; the wait at this link keeps what really leaves
 * within the limit. Requests not on a channel (`/me`, subscriptions) pass straight through.
 */
export class ChannelSendGuard implements Middleware {
  private next: Middleware | null = null;
  private readonly beforeSend: BeforeChannelSend;

  constructor(beforeSend: BeforeChannelSend) {
    this.beforeSend = beforeSend;
  }

  setNext(next: Middleware): void {
    this.next = next;
  }

  async execute(context: Context): Promise<void> {
    const channel = channelOfUrl(typeof context.request === 'string' ? context.request : context.request.url);
    if (channel) await this.beforeSend(channel, context.options?.signal ?? undefined);
    if (!this.next) throw new Error('ChannelSendGuard needs a next middleware to hand the request to');
    await this.next.execute(context);
  }
}

/** The channel a Graph request URL is on, or null. A malformed escape is no channel, not an error. */
export function channelOfUrl(url: string): ChannelTarget | null {
  const match = CHANNEL_IN_URL.exec(url);
  if (!match) return null;
  try {
    return {
      teamId: decodeURIComponent(match[1] as string),
      channelId: decodeURIComponent(match[2] as string),
    };
  } catch {
    return null;
  }
}
