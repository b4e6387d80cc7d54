import { randomUUID } from 'node:crypto';
import {
  type ConnectorDeps,
  type DeliveryContext,
  type ExternalRef,
  isPendingRef,
  type Message,
  PENDING_REF_PREFIX,
  type PendingPost,
  postOnce,
  refusedBeforeActing,
  toWabridgeError,
} from '@wabridge/core';
import type { SlackApi } from '../api/client.ts';
import { slackErrorCode } from '../api/errors.ts';
import { formatRef, postedRef, type SlackMessageRef } from '../api/refs.ts';
import type { SlackConfig } from '../config.ts';
import { METADATA_EVENT } from '../constants.ts';
import type { Block } from '../render/card.ts';
import { truncate, truncateUnits } from '../render/text.ts';
import type { WindowWatch } from './windows.ts';

/** Slack clocks and ours may differ a little: look back this much further when searching for a post. */
const CLOCK_SKEW_MS = 5 * 60_000;

export interface PostInput {
  channel: string;
  threadTs?: string;
  text: string;
  blocks?: Block[];
  username?: string;
  iconEmoji?: string;
}

export interface UploadInput {
  channel: string;
  threadTs: string;
  filename: string;
  bytes: Uint8Array;
  comment: string;
}

export interface Target {
  kind: string;
  entityId: string;
}

interface SlackFile {
  id: string;
  name?: string;
  mimetype?: string;
  url_private?: string;
  url_private_download?: string;
  shares?: Record<string, Record<string, { ts: string; thread_ts?: string }[]>>;
}

export interface ListedMessage {
  ts: string;
  user?: string;
  bot_id?: string;
  files?: { id: string }[];
  metadata?: { event_type?: string; event_payload?: { nonce?: string } };
}

/** A ref is done when it names something on Slack (a message, or a file share whose message ts is unknown). */
export const isDone = (ref: ExternalRef | null): boolean =>
  !!ref && ref.externalId !== '' && !isPendingRef(ref);

function shareOf(file: SlackFile, channel: string): { ts: string } | null {
  for (const scope of Object.values(file.shares ?? {})) {
    const share = scope[channel]?.[0];
    if (share?.ts) return { ts: share.ts };
  }
  return null;
}

/** What every event's delivery works with: the settings, the Web API, the posting primitives. */
export interface SlackDelivery {
  config: SlackConfig;
  api: SlackApi;
  deps: ConnectorDeps;
  post: SlackPoster;
  windows: WindowWatch;
}

/**
 * The Slack effects every event type uses, each safe to repeat: a post made once (pending marker
 * and metadata nonce), a file re-hosted once, a reaction added or removed.
 */
export class SlackPoster {
  readonly #api: SlackApi;
  readonly #media: ConnectorDeps['media'];
  readonly #now: () => number;

  constructor(api: SlackApi, deps: Pick<ConnectorDeps, 'media' | 'now'>) {
    this.#api = api;
    this.#media = deps.media;
    this.#now = deps.now;
  }

  /**
   * Changes one of our posts in place (safe to repeat). 'gone' when the post was deleted meanwhile
   * or can no longer be changed: there is nothing left to show the change on.
   */
  async update(
    ctx: DeliveryContext,
    at: SlackMessageRef,
    content: { text: string; blocks?: Block[] },
  ): Promise<'updated' | 'gone'> {
    try {
      await this.#api.call(
        'chat.update',
        { channel: at.channel, ts: at.ts, ...content, text: truncateUnits(content.text, 39_000) },
        { pace: { tier: 'tier3' }, signal: ctx.signal },
      );
      return 'updated';
    } catch (error) {
      const code = slackErrorCode(error);
      if (code === 'message_not_found' || code === 'cant_update_message') return 'gone';
      throw error;
    }
  }

  /**
   * Posts once per target, even across crashes (see the class comment of `SlackMirror`). `data` is
   * kept on the ref; `shows`, what this rendering of the post shows (a status, a card's key), too,
   * but a post found from an earlier attempt is recorded with what that attempt's rendering showed.
   */
  once(
    ctx: DeliveryContext,
    target: Target,
    existing: ExternalRef | null,
    post: PostInput,
    data: Record<string, unknown>,
    shows?: Record<string, unknown>,
  ): Promise<SlackMessageRef> {
    return postOnce<SlackMessageRef>(ctx.refs, {
      ...target,
      existing,
      posted: postedRef,
      nonce: randomUUID(),
      where: { channel: post.channel, threadTs: post.threadTs ?? null },
      ...(shows ? { shows } : {}),
      find: (marker) => this.findPost(marker, ctx),
      send: async (nonce, mark) => {
        const result = await this.#api.call<{ ts: string; channel: string }>(
          'chat.postMessage',
          {
            channel: post.channel,
            thread_ts: post.threadTs,
            text: truncateUnits(post.text, 39_000),
            blocks: post.blocks,
            username: post.username,
            icon_emoji: post.username ? post.iconEmoji : undefined,
            unfurl_links: false,
            unfurl_media: false,
            metadata: { event_type: METADATA_EVENT, event_payload: { nonce } },
          },
          { pace: { post: post.channel }, signal: ctx.signal, before: mark },
        );
        return { channel: result.channel ?? post.channel, ts: result.ts };
      },
      record: (ref, shown) => ({
        externalId: formatRef(ref),
        data: { ...data, ...shown, channel: ref.channel },
      }),
      // Slack answered and said no: it certainly did not post.
      surelyNotSent: refusedBeforeActing,
      now: () => this.#now(),
    });
  }

  /** Looks for an earlier attempt's post by the nonce in its metadata. */
  private async findPost(marker: PendingPost, ctx: DeliveryContext): Promise<SlackMessageRef | null> {
    const channel = String(marker.data.channel);
    const threadTs = typeof marker.data.threadTs === 'string' ? marker.data.threadTs : null;
    const since = marker.at - CLOCK_SKEW_MS;
    const method = threadTs ? 'conversations.replies' : 'conversations.history';
    let cursor: string | undefined;
    do {
      let page: { messages?: ListedMessage[]; response_metadata?: { next_cursor?: string } };
      try {
        page = await this.#api.call(
          method,
          {
            channel,
            ts: threadTs ?? undefined,
            oldest: (Math.max(0, since) / 1000).toFixed(6),
            include_all_metadata: true,
            limit: 200,
            cursor,
          },
          { pace: { tier: 'tier3' }, signal: ctx.signal },
        );
      } catch (error) {
        if (slackErrorCode(error) === 'thread_not_found') return null;
        throw error;
      }
      const hit = page.messages?.find((m) => m.metadata?.event_payload?.nonce === marker.nonce);
      if (hit) return { channel, ts: hit.ts };
      cursor = page.response_metadata?.next_cursor || undefined;
    } while (cursor);
    return null;
  }

  /** Re-hosts a file in the thread (files v2: upload URL, bytes, complete), once. */
  async uploadOnce(
    ctx: DeliveryContext,
    target: Target,
    existing: ExternalRef | null,
    upload: UploadInput,
  ): Promise<void> {
    if (isDone(existing)) return;
    const pendingFile =
      isPendingRef(existing) && typeof existing.data.fileId === 'string' ? existing.data.fileId : null;
    if (pendingFile && existing?.data.completing !== true) {
      // Uploaded, and completion never went out (the channel's pace sent the job back): complete now.
      await this.complete(ctx, target, pendingFile, upload);
      return;
    }
    if (pendingFile) {
      // An earlier attempt may have completed (shared) this file before it died: ask Slack.
      const file = await this.fileInfo(pendingFile, ctx);
      if (file) {
        const share = shareOf(file, upload.channel);
        if (share) {
          await this.recordShare(ctx, target, upload.channel, share, pendingFile);
          return;
        }
        await this.complete(ctx, target, pendingFile, upload);
        return;
      }
    }
    const url = await this.#api.call<{ upload_url: string; file_id: string }>(
      'files.getUploadURLExternal',
      { filename: upload.filename, length: upload.bytes.byteLength },
      { pace: { tier: 'tier4' }, signal: ctx.signal },
    );
    await this.#api.upload(url.upload_url, upload.bytes, upload.filename, ctx.signal);
    await ctx.refs.checkpoint({
      ...target,
      externalId: `${PENDING_REF_PREFIX}${url.file_id}`,
      data: { fileId: url.file_id, channel: upload.channel, threadTs: upload.threadTs, at: this.#now() },
    });
    await this.complete(ctx, target, url.file_id, upload);
  }

  private async complete(
    ctx: DeliveryContext,
    target: Target,
    fileId: string,
    upload: UploadInput,
  ): Promise<void> {
    let file: SlackFile | null = null;
    try {
      const done = await this.#api.call<{ files: SlackFile[] }>(
        'files.completeUploadExternal',
        {
          files: [{ id: fileId, title: upload.filename }],
          channel_id: upload.channel,
          thread_ts: upload.threadTs,
          initial_comment: truncate(upload.comment, 3900),
        },
        {
          pace: { post: upload.channel, tier: 'tier4' },
          signal: ctx.signal,
          before: () =>
            ctx.refs.checkpoint({
              ...target,
              externalId: `${PENDING_REF_PREFIX}${fileId}`,
              data: {
                fileId,
                channel: upload.channel,
                threadTs: upload.threadTs,
                completing: true,
                at: this.#now(),
              },
            }),
        },
      );
      file = done.files[0] ?? null;
    } catch (error) {
      if (slackErrorCode(error) !== 'file_already_completed') throw error;
    }
    let share = file ? shareOf(file, upload.channel) : null;
    if (!share) {
      // Slack may fill `shares` in a moment; ask once more before settling for the file alone.
      const info = await this.fileInfo(fileId, ctx);
      share = info ? shareOf(info, upload.channel) : null;
    }
    await this.recordShare(ctx, target, upload.channel, share, fileId);
  }

  private async recordShare(
    ctx: DeliveryContext,
    target: Target,
    channel: string,
    share: { ts: string } | null,
    fileId: string,
  ) {
    await ctx.refs.checkpoint({
      ...target,
      // Without the share's ts the file is still mirrored; only reactions to it cannot be shown.
      externalId: share ? formatRef({ channel, ts: share.ts }) : `file:${fileId}`,
      data: { channel, fileId },
    });
  }

  async fileInfo(fileId: string, ctx: DeliveryContext): Promise<SlackFile | null> {
    try {
      const info = await this.#api.call<{ file: SlackFile }>(
        'files.info',
        { file: fileId },
        { pace: { tier: 'tier4' }, signal: ctx.signal },
      );
      return info.file;
    } catch (error) {
      if (slackErrorCode(error) === 'file_not_found' || slackErrorCode(error) === 'file_deleted') return null;
      throw error;
    }
  }

  async react(
    op: 'add' | 'remove',
    target: SlackMessageRef,
    name: string,
    ctx: DeliveryContext,
  ): Promise<void> {
    try {
      await this.#api.call(
        `reactions.${op}`,
        { channel: target.channel, timestamp: target.ts, name },
        { pace: { tier: 'tier3' }, signal: ctx.signal },
      );
    } catch (error) {
      const code = slackErrorCode(error);
      // Already in the wanted state, or the message is gone: nothing to do.
      if (code === 'already_reacted' || code === 'no_reaction' || code === 'message_not_found') return;
      throw error;
    }
  }

  /** The message's media, or null when WhatsApp no longer has it (expired, deleted, unknown). */
  async fetchMedia(message: Message, ctx: DeliveryContext) {
    try {
      return await this.#media.fetch(message.id);
    } catch (error) {
      const failure = toWabridgeError(error);
      if (failure.retryable) throw failure;
      ctx.logger.info({ code: failure.code }, 'WhatsApp media unavailable; mirroring a note instead');
      return null;
    }
  }
}
