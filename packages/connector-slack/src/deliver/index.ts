import { randomUUID } from 'node:crypto';
import {
  CHANGE_TYPES,
  type ConnectorDeps,
  type ConsentChangedEvent,
  type ConversationErasedEvent,
  type DeliveryContext,
  type DeliveryResult,
  type DomainEvent,
  type ExternalRef,
  type InboundMessageEvent,
  isBusinessAppMessage,
  isPendingRef,
  type Message,
  type NoticeEvent,
  type NoticeKind,
  type OutboundMessageEvent,
  PENDING_REF_PREFIX,
  type PendingPost,
  postOnce,
  type StatusChangedEvent,
  toWabridgeError,
  type WabridgeError,
} from '@wabridge/core';
import type { SlackApi } from '../api/client.ts';
import { slackErrorCode } from '../api/errors.ts';
import { formatRef, parseRef, postedRef, type SlackMessageRef } from '../api/refs.ts';
import type { SlackConfig } from '../config.ts';
import { METADATA_EVENT, TEMPLATE_ACTION, TEMPLATES_KEY } from '../constants.ts';
import {
  type Block,
  type CardInput,
  contactName,
  type RenderedCard,
  renderCard,
  renderErasedCard,
} from '../render/card.ts';
import { slackReactionName } from '../render/emoji.ts';
import {
  MEDIA_TYPES,
  renderInbound,
  renderOutbound,
  STATUS_REACTIONS,
  sections,
} from '../render/messages.ts';
import { escapeMrkdwn, quote, slackDate, truncate, truncateUnits } from '../render/text.ts';
import { chooseChannel } from './routing.ts';
import { WindowWatch } from './windows.ts';

/** Slack clocks and ours may differ a little: look back this much further when searching for a post. */
const CLOCK_SKEW_MS = 5 * 60_000;

interface PostInput {
  channel: string;
  threadTs?: string;
  text: string;
  blocks?: Block[];
  username?: string;
  iconEmoji?: string;
}

interface UploadInput {
  channel: string;
  threadTs: string;
  filename: string;
  bytes: Uint8Array;
  comment: string;
}

interface Target {
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

interface ListedMessage {
  ts: string;
  user?: string;
  bot_id?: string;
  files?: { id: string }[];
  metadata?: { event_type?: string; event_payload?: { nonce?: string } };
}

/** A ref is done when it names something on Slack (a message, or a file share whose message ts is unknown). */
const isDone = (ref: ExternalRef | null): boolean => !!ref && ref.externalId !== '' && !isPendingRef(ref);

const CONSENT_SOURCES: Record<string, string> = {
  keyword: 'by replying with an opt-out keyword',
  meta_preference: 'in WhatsApp',
  hubspot: 'in HubSpot',
  admin: 'by an administrator',
  api: 'through the API',
  platform_error: 'as reported by WhatsApp',
};

// Typed by kind: a new kind of notice does not compile until it has an icon.
const NOTICE_ICONS: Record<NoticeKind, string> = {
  opted_out: ':no_entry_sign:',
  window_closed: ':hourglass:',
  send_failed: ':x:',
  sent: ':white_check_mark:',
  edit_unsupported: ':pencil2:',
  delete_unsupported: ':wastebasket:',
  template_invalid: ':warning:',
  content_unsupported: ':no_entry_sign:',
  info: ':information_source:',
};

/** Notices that mean "your message did not go out": marked on the agent's message too. */
const NOT_SENT_NOTICES: Partial<Record<NoticeKind, string>> = {
  opted_out: 'no_entry_sign',
  window_closed: 'no_entry_sign',
  template_invalid: 'no_entry_sign',
  content_unsupported: 'no_entry_sign',
  send_failed: 'x',
};

/**
 * Mirrors domain events into Slack: one thread per conversation under a Block Kit card, every
 * message a reply in WhatsApp order, statuses on the messages, notices for the agents.
 *
 * Idempotence: each post first checkpoints a `pending:<nonce>` ref and carries the nonce in the
 * message's metadata; a retry that finds the marker searches the thread for the nonce before
 * posting again. File shares checkpoint the uploaded file's id instead and ask `files.info` whether
 * it was shared. Updates and reactions are idempotent on Slack's side.
 */
export class SlackMirror {
  readonly #config: SlackConfig;
  readonly #api: SlackApi;
  readonly #deps: ConnectorDeps;
  readonly windows: WindowWatch;

  constructor(config: SlackConfig, api: SlackApi, deps: ConnectorDeps) {
    this.#config = config;
    this.#api = api;
    this.#deps = deps;
    this.windows = new WindowWatch(deps.state, api, deps.logger);
  }

  async deliver(event: DomainEvent, ctx: DeliveryContext): Promise<DeliveryResult> {
    if (event.type === 'conversation.erased') return this.#erase(event, ctx);
    // An erased conversation keeps its row as a tombstone; nothing more is shown for it.
    if (event.conversation.erasedAt !== null) return {};
    // An edit or a deletion of a message never received changes nothing to show (no thread for it).
    if (
      (event.type === 'message.inbound' || event.type === 'message.outbound') &&
      CHANGE_TYPES.has(event.message.type)
    ) {
      if (!event.related) return {};
    }
    const cardMatters = event.type === 'consent.changed' || event.type === 'conversation.updated';
    const thread = await this.#thread(event, ctx, cardMatters);
    switch (event.type) {
      case 'message.inbound':
        return this.#inbound(event, thread, ctx);
      case 'message.outbound':
        return this.#outbound(event, thread, ctx);
      case 'message.status':
        return this.#status(event, thread, ctx);
      case 'consent.changed':
        return this.#consent(event, thread, ctx);
      case 'notice':
        return this.#notice(event, thread, ctx);
      case 'conversation.updated':
        return {};
    }
  }

  // --- The thread and its card ----------------------------------------------------------------

  async #card(event: DomainEvent, ctx: DeliveryContext): Promise<CardInput> {
    const links: { label: string; url: string }[] = [];
    const hubspot = await ctx.refs.get('contact', event.contact.id, 'hubspot');
    if (hubspot?.externalId && !hubspot.externalId.startsWith('removed:')) {
      const portal = (hubspot.data.portalId as string | number | undefined) ?? this.#config.hubspotPortalId;
      const url =
        typeof hubspot.data.url === 'string'
          ? hubspot.data.url
          : portal !== undefined
            ? `https://app.hubspot.com/contacts/${portal}/record/0-1/${hubspot.externalId}`
            : null;
      if (url) links.push({ label: 'HubSpot contact', url });
    }
    return {
      contact: event.contact,
      conversation: event.conversation,
      consent: event.consent,
      window: event.window,
      masking: event.workspace.policies.numberMasking,
      links,
      notePrefix: this.#config.notePrefix,
    };
  }

  /** The conversation's thread: created with its card on first use; the card refreshed when it changed. */
  async #thread(event: DomainEvent, ctx: DeliveryContext, cardMatters: boolean): Promise<SlackMessageRef> {
    const target = { kind: 'conversation', entityId: event.conversation.id };
    const ref = await ctx.refs.get(target.kind, target.entityId);
    const input = await this.#card(event, ctx);
    const card = renderCard(input);
    let root = postedRef(ref);
    if (ref && root) {
      if (ref.data.card !== card.key) await this.#updateCard(ref, root, card, ctx, cardMatters);
    } else {
      const channel =
        isPendingRef(ref) && typeof ref.data.channel === 'string'
          ? ref.data.channel
          : chooseChannel(this.#config, event.conversation, event.contact);
      root = await this.#postOnce(
        ctx,
        target,
        ref,
        { channel, text: card.text, blocks: card.blocks },
        { card: card.key },
      );
    }
    const { closesAt } = event.window;
    if (event.window.open && closesAt !== null) {
      const closed = renderCard({ ...input, window: { open: false, closesAt } });
      await this.windows.track(event.conversation.id, {
        ...root,
        closesAt,
        text: closed.text,
        blocks: closed.blocks,
      });
    }
    return root;
  }

  async #updateCard(
    ref: ExternalRef,
    root: SlackMessageRef,
    card: RenderedCard,
    ctx: DeliveryContext,
    required: boolean,
  ): Promise<void> {
    try {
      await this.#api.call(
        'chat.update',
        { channel: root.channel, ts: root.ts, text: card.text, blocks: card.blocks },
        { pace: { tier: 'tier3' }, signal: ctx.signal },
      );
    } catch (error) {
      const code = slackErrorCode(error);
      // Someone deleted the card: the thread lives on, there is nothing left to update.
      if (code === 'message_not_found' || code === 'cant_update_message') {
        ctx.logger.warn({ slackError: code }, 'conversation card is gone; not updating it');
      } else if (required) {
        throw error;
      } else {
        // A message must not wait for its card: the next event of the conversation tries again.
        ctx.logger.debug({ code: toWabridgeError(error).code }, 'card refresh postponed');
        return;
      }
    }
    await ctx.refs.checkpoint({
      kind: ref.kind,
      entityId: ref.entityId,
      externalId: ref.externalId,
      data: { ...ref.data, card: card.key },
    });
  }

  // --- Idempotent posting ---------------------------------------------------------------------

  /** Posts once per target, even across crashes (see the class comment). */
  #postOnce(
    ctx: DeliveryContext,
    target: Target,
    existing: ExternalRef | null,
    post: PostInput,
    data: Record<string, unknown>,
  ): Promise<SlackMessageRef> {
    return postOnce<SlackMessageRef>(ctx.refs, {
      ...target,
      existing,
      posted: postedRef,
      nonce: randomUUID(),
      where: { channel: post.channel, threadTs: post.threadTs ?? null },
      find: (marker) => this.#findPost(marker, ctx),
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
      record: (ref) => ({ externalId: formatRef(ref), data: { ...data, channel: ref.channel } }),
      surelyNotSent: surelyNotDone,
      now: () => this.#deps.now(),
    });
  }

  /** Looks for an earlier attempt's post by the nonce in its metadata. */
  async #findPost(marker: PendingPost, ctx: DeliveryContext): Promise<SlackMessageRef | null> {
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
  async #uploadOnce(
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
      await this.#complete(ctx, target, pendingFile, upload);
      return;
    }
    if (pendingFile) {
      // An earlier attempt may have completed (shared) this file before it died: ask Slack.
      const file = await this.#fileInfo(pendingFile, ctx);
      if (file) {
        const share = shareOf(file, upload.channel);
        if (share) {
          await this.#recordShare(ctx, target, upload.channel, share, pendingFile);
          return;
        }
        await this.#complete(ctx, target, pendingFile, upload);
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
      data: { fileId: url.file_id, channel: upload.channel, threadTs: upload.threadTs, at: this.#deps.now() },
    });
    await this.#complete(ctx, target, url.file_id, upload);
  }

  async #complete(ctx: DeliveryContext, target: Target, fileId: string, upload: UploadInput): Promise<void> {
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
                at: this.#deps.now(),
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
      const info = await this.#fileInfo(fileId, ctx);
      share = info ? shareOf(info, upload.channel) : null;
    }
    await this.#recordShare(ctx, target, upload.channel, share, fileId);
  }

  async #recordShare(
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

  async #fileInfo(fileId: string, ctx: DeliveryContext): Promise<SlackFile | null> {
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

  async #react(
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

  // --- Events ---------------------------------------------------------------------------------

  async #inbound(
    event: InboundMessageEvent,
    thread: SlackMessageRef,
    ctx: DeliveryContext,
  ): Promise<DeliveryResult> {
    const { message } = event;
    if (CHANGE_TYPES.has(message.type)) return this.#change(event, ctx);
    const target = { kind: 'message', entityId: message.id };
    const existing = await ctx.refs.get(target.kind, target.entityId);
    if (isDone(existing)) return {};
    const name = contactName(event.contact);
    const masking = event.workspace.policies.numberMasking;
    const asCustomer = this.#config.customizeAuthor;
    const author = asCustomer
      ? { username: truncate(`${name} (WhatsApp)`, 80), iconEmoji: ':speech_balloon:' }
      : {};
    const textPost = async (mediaUnavailable: boolean) => {
      const rendered = renderInbound(message, event.related, {
        masking,
        author: asCustomer ? null : name,
        mediaUnavailable,
      });
      if (rendered.kind !== 'text') throw new Error('a text rendering was expected');
      await this.#postOnce(
        ctx,
        target,
        existing,
        {
          channel: thread.channel,
          threadTs: thread.ts,
          text: rendered.text,
          blocks: rendered.blocks,
          ...author,
        },
        mediaUnavailable ? { mediaUnavailable: true } : {},
      );
      return {};
    };
    // File shares carry no custom author, so a media comment always names the customer.
    const rendered = renderInbound(message, event.related, { masking, author: name });
    if (rendered.kind === 'reaction') return this.#reaction(event, thread, ctx, rendered.emoji);
    if (rendered.kind === 'text') return textPost(false);
    const file = await this.#fetchMedia(message, ctx);
    if (!file) return textPost(true);
    await this.#uploadOnce(ctx, target, existing, {
      channel: thread.channel,
      threadTs: thread.ts,
      filename: file.filename,
      bytes: file.bytes,
      comment: rendered.comment,
    });
    return {};
  }

  /** The message's media, or null when WhatsApp no longer has it (expired, deleted, unknown). */
  async #fetchMedia(message: Message, ctx: DeliveryContext) {
    try {
      return await this.#deps.media.fetch(message.id);
    } catch (error) {
      const failure = toWabridgeError(error);
      if (failure.retryable) throw failure;
      ctx.logger.info({ code: failure.code }, 'WhatsApp media unavailable; mirroring a note instead');
      return null;
    }
  }

  /**
   * An edit or a deletion of a message already mirrored: its post now shows the message as it
   * stands (the newest text and "edited", or the deletion note, the file removed). A message not
   * mirrored yet needs nothing: it is shown as it stands when its own turn comes.
   */
  async #change(
    event: InboundMessageEvent | OutboundMessageEvent,
    ctx: DeliveryContext,
  ): Promise<DeliveryResult> {
    const original = event.related;
    if (!original) return {};
    const ref = await ctx.refs.get('message', original.id);
    if (!ref || !isDone(ref)) return {};
    // An agent's own Slack message (not our post) can only be changed by its author.
    if (original.direction === 'outbound' && ref.data.mirror !== true) return {};
    const fileId = typeof ref.data.fileId === 'string' ? ref.data.fileId : null;
    const revoked = typeof original.revision?.revokedAt === 'number';
    if (revoked && fileId) {
      try {
        await this.#api.call(
          'files.delete',
          { file: fileId },
          { pace: { tier: 'tier3' }, signal: ctx.signal },
        );
      } catch (error) {
        const code = slackErrorCode(error);
        if (code !== 'file_not_found' && code !== 'file_deleted') throw error;
      }
    }
    const target = postedRef(ref);
    if (!target) return {};
    const masking = event.workspace.policies.numberMasking;
    const mediaUnavailable = ref.data.mediaUnavailable === true;
    let update: { text: string; blocks?: Block[] };
    if (original.direction === 'inbound') {
      const name = contactName(event.contact);
      const rendered = renderInbound(original, null, {
        masking,
        author: this.#config.customizeAuthor && !fileId ? null : name,
        mediaUnavailable,
      });
      if (rendered.kind === 'reaction') return {};
      update = rendered.kind === 'media' ? { text: rendered.comment } : rendered;
    } else {
      const who = original.sender?.agentName ?? original.sender?.agentId ?? 'wabridge';
      update = renderOutbound(original, {
        author: this.#config.customizeAuthor ? null : who,
        masking,
        mediaUnavailable,
      });
      if (fileId && !revoked) update = { text: update.text };
    }
    try {
      await this.#api.call(
        'chat.update',
        { channel: target.channel, ts: target.ts, ...update, text: truncateUnits(update.text, 39_000) },
        { pace: { tier: 'tier3' }, signal: ctx.signal },
      );
    } catch (error) {
      const code = slackErrorCode(error);
      // Someone deleted our post meanwhile: there is nothing left to show the change on.
      if (code !== 'message_not_found' && code !== 'cant_update_message') throw error;
    }
    return {};
  }

  /** A customer's reaction becomes a reaction on the mirrored message, or a note when that cannot be. */
  async #reaction(
    event: InboundMessageEvent,
    thread: SlackMessageRef,
    ctx: DeliveryContext,
    emoji: string | null,
  ) {
    const { message, related } = event;
    const reacted = related ? postedRef(await ctx.refs.get('message', related.id)) : null;
    const key = `reaction:${related?.id ?? message.relatesTo ?? 'unknown'}`;
    const previous = await this.#deps.state.get<string>(key);
    const name = contactName(event.contact);
    if (emoji) {
      const reaction = slackReactionName(emoji);
      if (reaction && reacted) {
        if (previous && previous !== reaction) await this.#react('remove', reacted, previous, ctx);
        await this.#react('add', reacted, reaction, ctx);
        await this.#deps.state.set(key, reaction);
        return {};
      }
    } else if (previous && reacted) {
      await this.#react('remove', reacted, previous, ctx);
      await this.#deps.state.set(key, null);
      return {};
    }
    const about = related?.text ? `:\n${quote(escapeMrkdwn(related.text))}` : '';
    const text = emoji
      ? `*${escapeMrkdwn(name)}* reacted ${emoji}${about ? ` to${about}` : ''}`
      : `*${escapeMrkdwn(name)}* removed their reaction${about ? ` from${about}` : ''}`;
    const target = { kind: 'message', entityId: message.id };
    await this.#postOnce(
      ctx,
      target,
      await ctx.refs.get(target.kind, target.entityId),
      { channel: thread.channel, threadTs: thread.ts, text },
      {},
    );
    return {};
  }

  async #outbound(
    event: OutboundMessageEvent,
    thread: SlackMessageRef,
    ctx: DeliveryContext,
  ): Promise<DeliveryResult> {
    const { message } = event;
    if (CHANGE_TYPES.has(message.type)) return this.#change(event, ctx);
    const target = { kind: 'message', entityId: message.id };
    const existing = await ctx.refs.get(target.kind, target.entityId);
    if (isDone(existing)) return {};
    const who = message.sender?.agentName ?? message.sender?.agentId ?? 'wabridge';
    const asAgent = this.#config.customizeAuthor;
    const masking = event.workspace.policies.numberMasking;
    // `mirror` tells statuses this is our post (a status line to update), not an agent's own message.
    const data: Record<string, unknown> = { mirror: true, shown: message.state ?? 'pending' };
    // What the business sent from the WhatsApp Business app may carry media, like a customer's message.
    if (isBusinessAppMessage(message) && MEDIA_TYPES.has(message.type) && !message.revision?.revokedAt) {
      const file = await this.#fetchMedia(message, ctx);
      if (file) {
        await this.#uploadOnce(ctx, target, existing, {
          channel: thread.channel,
          threadTs: thread.ts,
          filename: file.filename,
          bytes: file.bytes,
          comment: renderOutbound(message, { author: who, masking, related: event.related }).text,
        });
        return {};
      }
      data.mediaUnavailable = true;
    }
    const rendered = renderOutbound(message, {
      author: asAgent ? null : who,
      masking,
      mediaUnavailable: data.mediaUnavailable === true,
      related: event.related,
    });
    await this.#postOnce(
      ctx,
      target,
      existing,
      {
        channel: thread.channel,
        threadTs: thread.ts,
        ...rendered,
        ...(asAgent
          ? {
              username: truncate(`${who} (via ${message.sender?.via ?? 'wabridge'})`, 80),
              iconEmoji: ':outbox_tray:',
            }
          : {}),
      },
      data,
    );
    return {};
  }

  /**
   * An outbound message's progress. On a message an agent wrote in Slack (which only its author can
   * edit) it is one reaction that moves along ✔️ sent → ✅ delivered → 👀 read, or ❌; on a message
   * we mirrored from elsewhere the status line under it is updated. Statuses are read from the
   * message's current state, so a late `sent` after `read` changes nothing.
   */
  async #status(
    event: StatusChangedEvent,
    thread: SlackMessageRef,
    ctx: DeliveryContext,
  ): Promise<DeliveryResult> {
    const { message } = event;
    const ref = await ctx.refs.get('message', message.id);
    const target = postedRef(ref);
    if (!ref || !target) return {};
    const state = message.state ?? 'pending';
    if (ref.data.shown === state) return {};
    const keep = (data: Record<string, unknown>): DeliveryResult => ({
      refs: [
        {
          kind: 'message',
          entityId: message.id,
          externalId: ref.externalId,
          data: { ...ref.data, ...data, shown: state },
        },
      ],
    });
    if (ref.data.mirror !== true) {
      // The agent's own message in Slack (the core recorded it as this message's ref): only its
      // author may edit it, so the progress is a reaction.
      const want = STATUS_REACTIONS[state] ?? null;
      const had = typeof ref.data.reaction === 'string' ? ref.data.reaction : null;
      if (want && want !== had) {
        await this.#react('add', target, want, ctx);
        if (had) await this.#react('remove', target, had, ctx);
      }
      // A failure reported by WhatsApp's status webhook (it carries the raw status) gets no notice
      // from the core, unlike a refused send: explain it in the thread.
      if (state === 'failed' && Object.keys(event.status.raw).length > 0 && message.error) {
        const statusTarget = { kind: 'status', entityId: event.status.id };
        const agent = message.sender?.agentId ? `<@${message.sender.agentId}> ` : '';
        const text = `:x: ${agent}your reply was not delivered: ${escapeMrkdwn(message.error.meaning)} ${escapeMrkdwn(message.error.action)}`;
        await this.#postOnce(
          ctx,
          statusTarget,
          await ctx.refs.get(statusTarget.kind, statusTarget.entityId),
          { channel: thread.channel, threadTs: thread.ts, text },
          {},
        );
      }
      return keep({ reaction: want ?? had });
    }
    const who = message.sender?.agentName ?? message.sender?.agentId ?? 'wabridge';
    const rendered = renderOutbound(message, {
      author: this.#config.customizeAuthor ? null : who,
      masking: event.workspace.policies.numberMasking,
      mediaUnavailable: ref.data.mediaUnavailable === true,
    });
    // A file share keeps its file; only its comment can change.
    const update = typeof ref.data.fileId === 'string' ? { text: rendered.text } : rendered;
    try {
      await this.#api.call(
        'chat.update',
        { channel: target.channel, ts: target.ts, ...update, text: truncateUnits(update.text, 39_000) },
        { pace: { tier: 'tier3' }, signal: ctx.signal },
      );
    } catch (error) {
      if (slackErrorCode(error) !== 'message_not_found') throw error;
    }
    return keep({});
  }

  async #consent(
    event: ConsentChangedEvent,
    thread: SlackMessageRef,
    ctx: DeliveryContext,
  ): Promise<DeliveryResult> {
    const { change } = event;
    const target = { kind: 'consent', entityId: change.id };
    const existing = await ctx.refs.get(target.kind, target.entityId);
    if (isDone(existing)) return {};
    const name = escapeMrkdwn(contactName(event.contact));
    const what = change.category === 'all' ? 'all WhatsApp messages' : 'marketing messages';
    const how = CONSENT_SOURCES[change.source] ?? `(${escapeMrkdwn(change.source)})`;
    const text =
      change.state === 'opted_out'
        ? `:no_entry_sign: ${name} opted out of ${what} ${how} · ${slackDate(change.occurredAt)}${change.category === 'all' ? '. Replies from here will not be sent.' : '.'}`
        : `:white_check_mark: ${name} opted back in to ${what} ${how} · ${slackDate(change.occurredAt)}.`;
    await this.#postOnce(ctx, target, existing, { channel: thread.channel, threadTs: thread.ts, text }, {});
    return {};
  }

  async #notice(event: NoticeEvent, thread: SlackMessageRef, ctx: DeliveryContext): Promise<DeliveryResult> {
    const { notice } = event;
    const target = { kind: 'notice', entityId: notice.id };
    const existing = await ctx.refs.get(target.kind, target.entityId);
    if (!isDone(existing)) {
      const text = `${NOTICE_ICONS[notice.kind] ?? ':information_source:'} ${escapeMrkdwn(notice.text)}`;
      const blocks: Block[] = [...sections(text)];
      if (notice.templates.length > 0) {
        // The modal of the picker needs the templates' bodies; they are workspace policy, not personal data.
        await this.#deps.state.set(TEMPLATES_KEY, notice.templates);
        blocks.push(
          {
            type: 'section',
            block_id: 'wabridge_templates',
            text: { type: 'mrkdwn', text: '*Send an approved template instead:*' },
            accessory: {
              type: 'static_select',
              action_id: TEMPLATE_ACTION,
              placeholder: { type: 'plain_text', text: 'Choose a template' },
              options: notice.templates.slice(0, 100).map((t) => ({
                text: { type: 'plain_text', text: truncate(`${t.name} (${t.language})`, 75) },
                description: {
                  type: 'plain_text',
                  text: truncate(t.body.replace(/\s+/g, ' ') || t.category, 75),
                },
                value: truncate(`${t.name}|${t.language}|${t.parameters}`, 150),
              })),
            },
          },
          {
            type: 'context',
            elements: [
              {
                type: 'mrkdwn',
                text: `Or type \`${this.#config.slashCommand} template ${formatRef(thread)} <name> <language> | parameter 1 | parameter 2\``,
              },
            ],
          },
        );
      }
      await this.#postOnce(
        ctx,
        target,
        existing,
        { channel: thread.channel, threadTs: thread.ts, text, blocks },
        {},
      );
    }
    const marker = NOT_SENT_NOTICES[notice.kind];
    const agentMessage = parseRef(notice.inReplyTo);
    if (marker && agentMessage) await this.#react('add', agentMessage, marker, ctx);
    return {};
  }

  /**
   * GDPR erasure: every message and file the bot posted in the thread is deleted, and the card says
   * the conversation was erased. Replies written by people cannot be deleted with a bot token; the
   * card says how many remain, for a workspace admin to remove.
   */
  async #erase(event: ConversationErasedEvent, ctx: DeliveryContext): Promise<DeliveryResult> {
    const ref = await ctx.refs.get('conversation', event.conversation.id);
    const root = postedRef(ref);
    if (!ref || !root || ref.data.erased === true) return {};
    const identity = await this.#api.identity();
    const mine: ListedMessage[] = [];
    let people = 0;
    let cursor: string | undefined;
    do {
      let page: { messages?: ListedMessage[]; response_metadata?: { next_cursor?: string } };
      try {
        page = await this.#api.call(
          'conversations.replies',
          { channel: root.channel, ts: root.ts, limit: 200, cursor },
          { pace: { tier: 'tier3' }, signal: ctx.signal },
        );
      } catch (error) {
        if (slackErrorCode(error) !== 'thread_not_found') throw error;
        page = {};
      }
      for (const m of page.messages ?? []) {
        if (m.ts === root.ts) continue;
        if (m.bot_id === identity.botId || m.user === identity.botUserId) mine.push(m);
        else people += 1;
      }
      cursor = page.response_metadata?.next_cursor || undefined;
    } while (cursor);
    for (const m of mine) {
      for (const file of m.files ?? []) {
        try {
          await this.#api.call(
            'files.delete',
            { file: file.id },
            { pace: { tier: 'tier3' }, signal: ctx.signal },
          );
        } catch (error) {
          if (slackErrorCode(error) !== 'file_not_found' && slackErrorCode(error) !== 'file_deleted')
            throw error;
        }
      }
      try {
        await this.#api.call(
          'chat.delete',
          { channel: root.channel, ts: m.ts },
          { pace: { tier: 'tier3' }, signal: ctx.signal },
        );
      } catch (error) {
        if (slackErrorCode(error) !== 'message_not_found') throw error;
      }
    }
    const card = renderErasedCard(event.erasure.at, people);
    try {
      await this.#api.call(
        'chat.update',
        { channel: root.channel, ts: root.ts, text: card.text, blocks: card.blocks },
        { pace: { tier: 'tier3' }, signal: ctx.signal },
      );
    } catch (error) {
      if (slackErrorCode(error) !== 'message_not_found') throw error;
    }
    await ctx.refs.checkpoint({
      kind: ref.kind,
      entityId: ref.entityId,
      externalId: ref.externalId,
      data: { channel: root.channel, erased: true, card: card.key },
    });
    await this.windows.forget(event.conversation.id);
    return {};
  }
}

/** Errors after which Slack certainly did not post: it answered, and said no. */
function surelyNotDone(error: unknown): boolean {
  const code = (error as WabridgeError | undefined)?.code;
  return (
    code === 'rate_limited' || code === 'permanent' || code === 'auth_failed' || code === 'config_invalid'
  );
}

function shareOf(file: SlackFile, channel: string): { ts: string } | null {
  for (const scope of Object.values(file.shares ?? {})) {
    const share = scope[channel]?.[0];
    if (share?.ts) return { ts: share.ts };
  }
  return null;
}
