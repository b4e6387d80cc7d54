import { createHash } from 'node:crypto';
import {
  type ConnectorDeps,
  type DeliveryContext,
  displayName,
  type EventBase,
  type ExternalRef,
  type ExternalRefInput,
  isBusinessAppMessage,
  isPendingRef,
  isWabridgeError,
  type Message,
  postOnce,
  refusedBeforeActing,
  toWabridgeError,
} from '@wabridge/core';
import { parseTeamsMessageRef, type ThreadLocation, teamsMessageRef } from '../api/ids.ts';
import type { ChannelPacer } from '../api/pacing.ts';
import type { ChatMessage, MessagePayload, TeamsApi } from '../api/teams-api.ts';
import { routeFor, type TeamsConfig } from '../config.ts';
import { attachment, conversationCard } from '../render/cards.ts';
import { type Rendered, renderMessage, toPayloads } from '../render/messages.ts';
import type { ThreadIndex } from '../sync/threads.ts';

/** Data we keep on a conversation ref (`externalId` = `<channel>|<root id>`). */
export interface ThreadRefData extends ThreadLocation {
  nonce: string;
  pending?: boolean;
}

/** Data we keep on the ref of a post we made (`externalId` = `<channel>|<message id>`). */
export interface PostRefData extends ThreadLocation {
  mirror: true;
  messageId: string;
  nonce: string;
  parts?: number;
  /** WhatsApp no longer had the file when the message was posted (the post says so). */
  mediaUnavailable?: boolean;
}

/** Deterministic per post: a retry after a crash looks for the post carrying it before posting again. */
export function nonceOf(kind: string, entityId: string, part = 0): string {
  return createHash('sha256').update(`${kind}:${entityId}:${part}`).digest('hex').slice(0, 32);
}

const MAX_ROOT_PAGES = 4;

/** Message types whose file Teams links to (through the gateway's signed media links). */
export const MEDIA_KINDS: ReadonlySet<string> = new Set(['image', 'video', 'audio', 'document', 'sticker']);

/** Progress of an agent's reply, shown as the service account's reaction on it. */
export const STATUS_REACTIONS: Record<string, string> = {
  sent: '✔️',
  delivered: '✅',
  read: '👀',
  failed: '❌',
};
export const NOT_SENT: ReadonlySet<string> = new Set([
  'opted_out',
  'window_closed',
  'template_invalid',
  'content_unsupported',
  'send_failed',
]);

/**
 * The Teams effects every event type uses: the conversation's thread (its root card created once),
 * replies posted once, reactions, and the cosmetic updates that must not dead-letter a job.
 *
 * Every post is idempotent across crashes: a "pending" ref carrying a nonce is checkpointed before
 * the POST, the nonce is the id of the post's card attachment (stored by Graph), and a retry that
 * finds the pending ref looks for a post with that attachment id before posting again.
 */
export class TeamsThreads {
  readonly config: TeamsConfig;
  readonly deps: ConnectorDeps;
  readonly api: TeamsApi;
  readonly pacer: ChannelPacer;
  readonly threads: ThreadIndex;
  readonly selfId: () => Promise<string | null>;

  constructor(
    config: TeamsConfig,
    deps: ConnectorDeps,
    parts: { api: TeamsApi; pacer: ChannelPacer; threads: ThreadIndex; selfId: () => Promise<string | null> },
  ) {
    this.config = config;
    this.deps = deps;
    this.api = parts.api;
    this.pacer = parts.pacer;
    this.threads = parts.threads;
    this.selfId = parts.selfId;
  }

  // ------------------------------------------------------------------------------------- threads

  /** The conversation's thread; created (idempotently) when `create` and it does not exist yet. */
  async thread(event: EventBase, ctx: DeliveryContext, create: boolean): Promise<ThreadLocation | null> {
    const ref = await ctx.refs.get('conversation', event.conversation.id);
    // A ref with no external id is a cleared marker (a first post Graph refused): no thread yet.
    const data = ref?.externalId ? (ref.data as unknown as ThreadRefData) : undefined;
    if (data && !data.pending) return { teamId: data.teamId, channelId: data.channelId, rootId: data.rootId };
    if (!create && !data) return null;
    const channel = data ?? routeFor(this.config, event.conversation);
    const nonce = data?.nonce ?? nonceOf('conversation', event.conversation.id);
    const thread = await postOnce<ThreadLocation>(ctx.refs, {
      kind: 'conversation',
      entityId: event.conversation.id,
      existing: ref,
      posted: () => null, // a finished ref was returned above
      nonce,
      where: { teamId: channel.teamId, channelId: channel.channelId, rootId: '' },
      find: async (marker) => {
        const found = await this.findRoot(channel, marker.nonce, ctx.signal);
        return found?.id ? { teamId: channel.teamId, channelId: channel.channelId, rootId: found.id } : null;
      },
      send: async (nonce, mark) => {
        await this.pacer.beforeNewMessage(channel, ctx.signal, mark);
        const root = await this.api.postMessage(channel, null, this.rootPayload(event, nonce), ctx.signal);
        if (!root.id) throw new Error('Graph returned a message without an id');
        ctx.logger.info({ teamId: channel.teamId }, 'Teams thread created for a conversation');
        return { teamId: channel.teamId, channelId: channel.channelId, rootId: root.id };
      },
      // Graph answered and refused (a 429 creates nothing), or our pacer handed the job back:
      // the marker is cleared and the retry posts without spending requests on a search.
      surelyNotSent: refusedBeforeActing,
      record: (thread) => ({
        externalId: teamsMessageRef(thread.channelId, thread.rootId),
        data: { ...thread, nonce } satisfies ThreadRefData,
      }),
      now: () => this.deps.now(),
    });
    await this.threads.touch(thread, event.conversation.id);
    return thread;
  }

  private rootPayload(event: EventBase, nonce: string): MessagePayload {
    const card = conversationCard({
      conversation: event.conversation,
      contact: event.contact,
      consent: event.consent,
      window: event.window,
      masking: event.workspace.policies.numberMasking,
      notePrefix: this.config.notePrefix,
    });
    const erased = event.conversation.erasedAt !== null;
    return {
      subject: erased ? 'WhatsApp conversation (erased)' : `WhatsApp · ${displayName(event.contact)}`,
      body: { contentType: 'html', content: `<attachment id="${nonce}"></attachment>` },
      attachments: [attachment(nonce, card)],
    };
  }

  async updateRoot(thread: ThreadLocation, event: EventBase, ctx: DeliveryContext): Promise<void> {
    const ref = await ctx.refs.get('conversation', event.conversation.id);
    const nonce =
      (ref?.data as ThreadRefData | undefined)?.nonce ?? nonceOf('conversation', event.conversation.id);
    await this.pacer.request(thread, ctx.signal);
    await this.bestEffort('update the conversation card', ctx, () =>
      this.api.updateMessage(thread, thread.rootId, null, this.rootPayload(event, nonce), ctx.signal),
    );
  }

  /** Looks for a root we posted (by its card's attachment id) among the channel's recent roots. */
  private async findRoot(
    channel: ThreadLocation | { teamId: string; channelId: string },
    nonce: string,
    signal: AbortSignal,
  ) {
    let pages = 0;
    // Every page is a request against the channel's limit, the first one too.
    await this.pacer.request(channel, signal);
    for await (const page of this.api.listRoots(channel, signal)) {
      const found = page.find((m) => carries(m, nonce));
      if (found) return found;
      if (++pages >= MAX_ROOT_PAGES) break;
      await this.pacer.request(channel, signal);
    }
    return null;
  }

  private async findReply(
    thread: ThreadLocation,
    nonce: string,
    signal: AbortSignal,
  ): Promise<ChatMessage | null> {
    await this.pacer.request(thread, signal);
    for await (const page of this.api.listReplies(thread, thread.rootId, signal)) {
      const found = page.find((m) => carries(m, nonce));
      if (found) return found;
      await this.pacer.request(thread, signal);
    }
    return null;
  }

  // ------------------------------------------------------------------------------------- posts

  async postMessage(
    thread: ThreadLocation,
    event: EventBase,
    message: Message,
    related: Message | null,
    ctx: DeliveryContext,
  ): Promise<ExternalRefInput[]> {
    const done = await ctx.refs.get('message', message.id);
    const mediaUnavailable =
      done && isPost(done)
        ? (done.data as Partial<PostRefData>).mediaUnavailable === true
        : !(await this.mediaAvailable(message, ctx));
    const rendered = renderMessage(message, {
      related,
      contactName: displayName(event.contact),
      masking: event.workspace.policies.numberMasking,
      mediaUrl: (id) => this.deps.media.url(id, this.config.mediaLinkTtlDays * 24 * 3600_000),
      mediaUnavailable,
    });
    return this.post(
      thread,
      rendered,
      'message',
      message.id,
      ctx,
      mediaUnavailable ? { mediaUnavailable } : {},
    );
  }

  /**
   * Whether the link in a post will work: the file is fetched (and kept) now, so the gateway's
   * media link serves it later even after WhatsApp lets it expire, and a file WhatsApp no longer
   * has is said so in the post instead of a link that fails.
   */
  async mediaAvailable(message: Message, ctx: DeliveryContext): Promise<boolean> {
    const kind = message.type;
    if (!MEDIA_KINDS.has(kind) || message.revision?.revokedAt) return true;
    const carriesMedia = message.direction === 'inbound' || isBusinessAppMessage(message);
    if (!carriesMedia) return true;
    try {
      await this.deps.media.fetch(message.id);
      return true;
    } catch (error) {
      const failure = toWabridgeError(error);
      if (failure.retryable) throw failure;
      ctx.logger.info({ code: failure.code }, 'WhatsApp media unavailable; the post says so');
      return false;
    }
  }

  /**
   * An edit or a deletion of a message already in the thread: its post (every part of it) now
   * shows the message as it stands, edited or deleted; the post stays where it is. A message not
   * posted yet is shown as it stands when its turn comes; an agent's own reply is theirs to edit.
   */

  /** Posts a rendered message as one or more replies; parts posted by an earlier attempt are skipped. */
  async post(
    thread: ThreadLocation,
    rendered: Rendered,
    kind: string,
    entityId: string,
    ctx: DeliveryContext,
    extra: Partial<PostRefData> = {},
  ): Promise<ExternalRefInput[]> {
    const payloads = toPayloads(rendered, (i) => nonceOf(kind, entityId, i), this.config.maxMessageBytes);
    const refs: ExternalRefInput[] = [];
    for (const [i, payload] of payloads.entries()) {
      // Part 0 of a message is its `message` ref (the core finds edits and echoes through it);
      // every other post of ours is a `post` ref, so the inbound side can tell them apart too.
      const refKind = i === 0 && kind === 'message' ? 'message' : 'post';
      const refEntity = `${kind === 'message' ? '' : `${kind}:`}${entityId}${i === 0 ? '' : `#${i}`}`;
      const nonce = nonceOf(kind, entityId, i);
      const existing = await ctx.refs.get(refKind, refEntity);
      if (existing && (existing.data as Partial<PostRefData>).mirror) {
        refs.push(existing);
        continue;
      }
      const record = (posted: ChatMessage) => ({
        externalId: teamsMessageRef(thread.channelId, posted.id as string),
        data: {
          ...thread,
          mirror: true,
          messageId: posted.id as string,
          nonce,
          parts: payloads.length,
          ...extra,
        } satisfies PostRefData,
      });
      const posted = await postOnce<ChatMessage>(ctx.refs, {
        kind: refKind,
        entityId: refEntity,
        existing,
        posted: () => null, // a finished ref was returned above
        nonce,
        where: {},
        find: (marker) => this.findReply(thread, marker.nonce, ctx.signal),
        send: async (_nonce, mark) => {
          // The payload carries the nonce already (toPayloads above).
          await this.pacer.beforeNewMessage(thread, ctx.signal, mark);
          const posted = await this.api.postMessage(thread, thread.rootId, payload, ctx.signal);
          if (!posted.id) throw new Error('Graph returned a message without an id');
          return posted;
        },
        surelyNotSent: refusedBeforeActing,
        record,
        now: () => this.deps.now(),
      });
      refs.push({ kind: refKind, entityId: refEntity, ...record(posted) });
    }
    return refs;
  }

  /** A reaction by the service account on an agent's message (`<channel>|<id>`) in the thread. */
  async react(
    thread: ThreadLocation,
    messageRef: string,
    reaction: string,
    ctx: DeliveryContext,
  ): Promise<void> {
    const parsed = parseTeamsMessageRef(messageRef);
    if (!parsed || parsed.channelId !== thread.channelId) return;
    await this.pacer.request(thread, ctx.signal);
    await this.bestEffort('react to the agent reply', ctx, () =>
      this.api.setReaction(thread, parsed.messageId, thread.rootId, reaction, ctx.signal),
    );
  }

  /**
   * Cosmetic updates (cards, reactions, deletions of our own posts) must not dead-letter the job
   * when Graph refuses them for good (e.g. ChannelMessage.ReadWrite not consented): logged, skipped.
   * Throttling and outages are still retried.
   */
  async bestEffort(what: string, ctx: DeliveryContext, run: () => Promise<unknown>): Promise<void> {
    try {
      await run();
    } catch (error) {
      if (isWabridgeError(error) && (error.code === 'permanent' || error.code === 'auth_failed')) {
        ctx.logger.warn({ code: error.code, err: error.message }, `could not ${what} in Teams; skipped`);
        return;
      }
      throw error;
    }
  }
}

export function isPost(ref: ExternalRef | ExternalRefInput): boolean {
  return (ref.data as { mirror?: unknown }).mirror === true;
}

/**
 * A message ref that names a message an agent wrote in the thread (recorded by the inbound side),
 * not our post: neither a finished mirror nor the marker of a post of ours in flight, which a retry
 * must finish rather than take for a message the thread already shows.
 */
export function isAgentReply(ref: ExternalRef | null): ref is ExternalRef {
  return !!ref && ref.externalId !== '' && !isPendingRef(ref) && !isPost(ref);
}

function carries(message: ChatMessage, nonce: string): boolean {
  return (message.attachments ?? []).some((a) => a.id === nonce);
}
