import type {
  Attachment,
  ConnectorHost,
  ConnectorManifest,
  JobEvent,
  Logger,
  NoticeKind,
  SendRequest,
  Store,
} from '@wabridge/core';
import {
  checkSendable,
  displayName,
  type Message,
  type MessageError,
  newId,
  noticeText,
  type PaceLedger,
  Pacer,
  WabridgeError,
  WHATSAPP_SENDER,
  windowState,
} from '@wabridge/core';
import { z } from 'zod';
import type { CloudApiClient, MediaKind, SendResult } from './cloud-api-client.ts';
import { toMessageError } from './ingest.ts';

export interface WhatsAppSenderOptions {
  store: Store;
  host: ConnectorHost;
  /** The Cloud API client for a workspace's business number (each number may have its own token). */
  client: (workspaceId: string, phoneNumberId: string) => CloudApiClient | Promise<CloudApiClient>;
  logger: Logger;
  /**
   * The pace ledger shared by the workers on the database (the Postgres store's), so the number's
   * throughput and each customer's pair rate hold for the deployment; else this process's.
   */
  pacing?: PaceLedger | undefined;
  now?: () => number;
  /** Per business number (Meta's default throughput is 80 messages/s). */
  numberRatePerSecond?: number;
  /** Per customer: WhatsApp allows about one message every 6 s, with short bursts. */
  recipientRatePerSecond?: number;
  recipientBurst?: number;
  /**
   * After a crash mid-send, how long to wait for the status webhook that proves the earlier attempt
   * went out before sending again.
   */
  statusGraceMs?: number;
}

const SEND_PART = 'send-part';

/** Sends one recorded outbound message (a `send` job's `SendRequest`). */
export interface SendHandler {
  send(job: SendRequest, signal: AbortSignal): Promise<void>;
}

/**
 * The WhatsApp sender as a connector: internal (on in every workspace, never listed to users),
 * owning the `send` jobs the store queues under `WHATSAPP_SENDER`, delivered by the same worker path
 * as every connector. Register it with `registry.withInternal([whatsappSenderConnector(sender)])`.
 */
export function whatsappSenderConnector(sender: SendHandler): ConnectorManifest<unknown, JobEvent> {
  return {
    id: WHATSAPP_SENDER,
    displayName: 'WhatsApp sender',
    internal: true,
    // No settings: what it needs (the Cloud API clients, the store) it was made with.
    configSchema: z.unknown(),
    secretFields: [],
    // It mirrors nothing: its only jobs are the sends the store queues for it.
    capabilities: { events: [], inbound: false },
    create: () => ({
      async deliver(event, ctx) {
        if (event.type !== 'message.send')
          throw new WabridgeError(
            'permanent',
            `the WhatsApp sender sends messages; it does not mirror ${event.type}`,
          );
        await sender.send(event, ctx.signal);
        return {};
      },
    }),
  };
}

/**
 * Sends recorded outbound messages to WhatsApp (`send` jobs).
 *
 * Consent and the window are checked again right before the send: an opt-out that arrived after
 * the agent wrote still stops the message. Each part of a message (text, then each attachment) is
 * checkpointed after WhatsApp accepts it, and every send carries our message id as
 * `biz_opaque_callback_data`, so a retry after a crash skips parts already sent, and a part whose
 * acceptance was not recorded is only re-sent after its status webhook failed to appear.
 */
export class WhatsAppSender implements SendHandler {
  private readonly o: WhatsAppSenderOptions;
  private readonly numberLimit: Pacer;
  private readonly recipientLimit: Pacer;

  constructor(options: WhatsAppSenderOptions) {
    this.o = options;
    const now = options.now ?? Date.now;
    // Sends never wait for a slot (tryTake): a paced job goes back to the queue at once.
    this.numberLimit = new Pacer({
      label: 'business number throughput',
      ratePerSecond: options.numberRatePerSecond ?? 80,
      burst: options.numberRatePerSecond ?? 80,
      maxWaitMs: 0,
      now,
      ledger: options.pacing,
      name: 'whatsapp/number',
    });
    this.recipientLimit = new Pacer({
      label: 'pair rate to this customer',
      ratePerSecond: options.recipientRatePerSecond ?? 1 / 6,
      burst: options.recipientBurst ?? 10,
      maxWaitMs: 0,
      now,
      ledger: options.pacing,
      name: 'whatsapp/pair',
    });
  }

  private now(): number {
    return (this.o.now ?? Date.now)();
  }

  async send(job: SendRequest, signal: AbortSignal): Promise<void> {
    const { store } = this.o;
    const ws = job.workspaceId;
    const message = await store.getMessage(ws, job.messageId);
    if (message?.direction !== 'outbound' || message.state !== 'pending') return;
    const conversation = await store.getConversation(ws, message.conversationId);
    const contact = conversation ? await store.getContact(ws, conversation.contactId) : null;
    // A restricted conversation (GDPR art. 18) is kept, not processed: nothing is sent to it.
    if (!conversation || !contact || conversation.erasedAt !== null || conversation.restrictedAt !== null) {
      await store.markFailed(
        job.lease,
        message.id,
        localError('gone', 'Conversation erased', 'The conversation no longer exists.', 'Nothing to do.'),
      );
      return;
    }
    const consent = await store.consentSnapshot(ws, contact.id);
    const template =
      message.type === 'template'
        ? (message.content.template as { category?: string } | undefined)
        : undefined;
    const block = checkSendable({
      consent,
      window: windowState(conversation, this.now()),
      send: template
        ? {
            kind: 'template',
            category: (template.category as 'marketing' | 'utility' | 'authentication') ?? 'utility',
          }
        : { kind: 'free_form' },
    });
    if (block) {
      const notice = noticeText(
        block,
        displayName(contact),
        this.now(),
        (id) => this.o.host.registry.get(id)?.displayName,
      );
      await this.fail(
        job,
        message,
        localError(
          block.kind,
          block.kind === 'opted_out' ? 'Opted out' : 'Window closed',
          notice.text,
          'See the notice.',
        ),
        notice.kind,
        notice.text,
      );
      return;
    }
    const to = contact.waId ?? contact.bsuid;
    if (!to)
      throw new WabridgeError('permanent', `contact ${contact.id} has neither a WhatsApp id nor a BSUID`);
    const parts = this.parts(message);
    let client: CloudApiClient;
    try {
      client = await this.o.client(ws, conversation.phoneNumberId);
    } catch (error) {
      await this.handleSendError(job, message, error, `${message.id}:0`);
      return;
    }
    let firstWamid: string | null = null;
    for (const [index, part] of parts.entries()) {
      const partKey = `${message.id}:${index}`;
      const done = await store.getRef(ws, 'whatsapp', SEND_PART, partKey);
      if (done?.externalId && !done.externalId.startsWith('sending:')) {
        firstWamid ??= done.externalId;
        continue;
      }
      if (done?.externalId.startsWith('sending:')) {
        // An earlier attempt died between sending and recording. If WhatsApp got it, a status
        // webhook (carrying our id) links the wamid; give it time before sending again.
        const waited = this.now() - Number(done.data.at ?? 0);
        const grace = this.o.statusGraceMs ?? 60_000;
        const linked = await store.getMessage(ws, message.id);
        if (linked?.wamid && index === 0) {
          firstWamid = linked.wamid;
          await store.checkpointRef(job.lease, ws, {
            connectorId: 'whatsapp',
            kind: SEND_PART,
            entityId: partKey,
            externalId: linked.wamid,
            data: {},
          });
          continue;
        }
        if (waited < grace)
          throw new WabridgeError('rate_limited', 'waiting for proof of an earlier send attempt', {
            retryAfterMs: grace - waited,
          });
      }
      await this.pace(conversation.phoneNumberId, to);
      await store.checkpointRef(job.lease, ws, {
        connectorId: 'whatsapp',
        kind: SEND_PART,
        entityId: partKey,
        externalId: `sending:${job.attempts}`,
        data: { at: this.now() },
      });
      let result: SendResult;
      try {
        result = await part(client, {
          phoneNumberId: conversation.phoneNumberId,
          to,
          callbackData: message.id,
          signal,
        });
      } catch (error) {
        await this.handleSendError(job, message, error, partKey);
        return;
      }
      firstWamid ??= result.wamid;
      await store.checkpointRef(job.lease, ws, {
        connectorId: 'whatsapp',
        kind: SEND_PART,
        entityId: partKey,
        externalId: result.wamid,
        data: {},
      });
    }
    if (firstWamid) await store.markAccepted(job.lease, message.id, firstWamid);
  }

  private async pace(phoneNumberId: string, to: string): Promise<void> {
    for (const [limit, key, what] of [
      [this.numberLimit, phoneNumberId, 'business number throughput'],
      [this.recipientLimit, `${phoneNumberId}:${to}`, 'pair rate to this customer'],
    ] as const) {
      const waitMs = await limit.tryTake(key);
      if (waitMs > 0) throw new WabridgeError('rate_limited', `pacing: ${what}`, { retryAfterMs: waitMs });
    }
  }

  /** A message becomes one send per part: its text, then each attachment as media. */
  private parts(message: Message): ((client: CloudApiClient, common: PartCommon) => Promise<SendResult>)[] {
    const content = message.content as {
      text?: string;
      attachments?: Attachment[];
      template?: TemplateContent;
    };
    if (message.type === 'template' && content.template) {
      const t = content.template;
      return [
        (client, common) =>
          client.sendTemplate({
            ...common,
            name: t.name,
            language: t.language,
            components: t.parameters.length
              ? [{ type: 'body', parameters: t.parameters.map((text) => ({ type: 'text', text })) }]
              : [],
          }),
      ];
    }
    const parts: ((client: CloudApiClient, common: PartCommon) => Promise<SendResult>)[] = [];
    if (message.text) {
      const body = message.text;
      parts.push((client, common) =>
        client.sendText({ ...common, body, ...(message.relatesTo ? { replyTo: message.relatesTo } : {}) }),
      );
    }
    for (const attachment of content.attachments ?? []) {
      parts.push(async (client, common) => {
        const via = message.sender?.via ?? '';
        const instance = await this.o.host.instance(message.workspaceId, via);
        if (!instance?.fetchAttachment)
          throw new WabridgeError('permanent', `connector ${via} cannot provide attachments`);
        const file = await instance.fetchAttachment(attachment.ref);
        const { id } = await client.uploadMedia({
          phoneNumberId: common.phoneNumberId,
          bytes: file.bytes,
          mimeType: file.mimeType,
          filename: file.filename,
          signal: common.signal,
        });
        const kind = mediaKindOf(file.mimeType);
        return client.sendMedia({
          ...common,
          kind,
          id,
          ...(kind === 'document' ? { filename: file.filename } : {}),
        });
      });
    }
    return parts;
  }

  private async handleSendError(
    job: SendRequest,
    message: Message,
    error: unknown,
    partKey: string,
  ): Promise<void> {
    const err =
      error instanceof WabridgeError
        ? error
        : new WabridgeError('transient', String(error), { cause: error });
    // Throttling, transient faults and revoked tokens are the queue's business: retry, or
    // dead-letter for an admin to replay once the token is fixed.
    if (err.retryable || err.code === 'auth_failed') {
      // The part was not sent: clear its in-flight marker so the retry does not wait for a status.
      await this.o.store.checkpointRef(job.lease, job.workspaceId, {
        connectorId: 'whatsapp',
        kind: SEND_PART,
        entityId: partKey,
        externalId: '',
        data: {},
      });
      throw err;
    }
    const metaCode = err.details?.metaCode;
    const described =
      typeof metaCode === 'number'
        ? toMessageError({ code: metaCode, message: err.message, title: err.message })
        : localError(
            err.code,
            err.message,
            err.message,
            'Check the connector logs and retry with `wabridge replay` if needed.',
          );
    let kind: NoticeKind = 'send_failed';
    if (err.code === 'window_closed') kind = 'window_closed';
    if (err.code === 'opted_out') kind = 'opted_out';
    const text = `Not delivered: ${described.meaning} ${described.action}`;
    await this.fail(job, message, described, kind, text);
  }

  /** Marks the message failed (every mirror shows it) and tells the agent who wrote it why. */
  private async fail(
    job: SendRequest,
    message: Message,
    error: MessageError,
    kind: NoticeKind,
    text: string,
  ): Promise<void> {
    const { store } = this.o;
    await store.markFailed(job.lease, message.id, error);
    const via = message.sender?.via;
    if (!via || !this.o.host.registry.get(via)) return;
    const origin = await store.getRef(message.workspaceId, via, 'message', message.id);
    const workspace = await store.getWorkspace(message.workspaceId);
    await store.recordNotice({
      commandKey: null,
      workspaceId: message.workspaceId,
      conversationId: message.conversationId,
      connectorId: via,
      notice: {
        id: newId('ntc'),
        kind,
        text,
        inReplyTo: origin?.externalId ?? null,
        templates: kind === 'window_closed' ? (workspace?.policies.templates ?? []) : [],
        messageId: message.id,
        createdAt: this.now(),
      },
    });
  }
}

interface PartCommon {
  phoneNumberId: string;
  to: string;
  callbackData: string;
  signal: AbortSignal;
}

interface TemplateContent {
  name: string;
  language: string;
  parameters: string[];
}

function localError(code: string, title: string, meaning: string, action: string): MessageError {
  return { code, title, meaning, action };
}

function mediaKindOf(mimeType: string): MediaKind {
  if (mimeType === 'image/jpeg' || mimeType === 'image/png') return 'image';
  if (mimeType === 'image/webp') return 'sticker';
  if (mimeType.startsWith('video/')) return 'video';
  if (mimeType.startsWith('audio/')) return 'audio';
  return 'document';
}
