/**
 * A simulated WhatsApp user writing to a business number: every method POSTs a signed webhook to
 * the gateway, exactly as Meta would, and returns the new message's `wamid` once the gateway has
 * answered the first delivery attempt (a non-2xx answer is retried in the background like Meta does;
 * see `webhook.attempt` / `webhook.outcome` in the ledger).
 *
 *   const alice = createCustomer(emulator, { waId: '16505551234', name: 'Alice' });
 *   const wamid = await alice.sendText('Hi!');
 *   await alice.sendImage({ caption: 'receipt' });                 // media bytes registered first
 *   await alice.replyWithButton(businessWamid, { id: 'yes', title: 'Yes' });
 *   await alice.sendText('dup', { deliveries: 3, concurrent: true }); // Meta's duplicate deliveries
 *   await alice.batch((m) => [m.text('one'), m.location({ latitude: 1, longitude: 2 })]); // one POST
 *   const bsuidOnly = createCustomer(emulator, { userId: 'US.13491208655302741918', username: 'al', name: 'Al' });
 *
 * Every inbound message refreshes the 24-hour customer service window (from its `timestamp`, so a
 * message dated 25 hours ago leaves the window closed) and can be marked read by the gateway.
 */
import { unixSeconds } from '../shared/clock.ts';
import type { WebhookOptions, WebhookSendResult, WhatsAppCore } from './core.ts';
import { webhookError } from './errors.ts';
import { coreOf } from './internal.ts';
import type { MediaKind } from './media.ts';
import {
  envelope,
  type InboundMessage,
  inboundValue,
  userPreferencesValue,
  type WebhookContact,
} from './payloads.ts';
import type { OutboundRecord, UserRecord } from './state.ts';
import type { WhatsAppPhoneNumber } from './types.ts';
import { digitsOnly, isBsuid, metaJson, newWamid } from './wire.ts';

export interface CustomerOptions {
  /** Phone number / WhatsApp id (digits; formatting is stripped). Omit for a BSUID-only user. */
  waId?: string;
  /** Business-scoped user id, e.g. `US.13491208655302741918`. */
  userId?: string;
  parentUserId?: string;
  username?: string;
  /** Profile name shown in `contacts[].profile.name`. */
  name: string;
  /** The business number the customer writes to (default: the emulator's first number). */
  phoneNumberId?: string;
  /** Whether business messages get an automatic `read` status (default true). */
  readsMessages?: boolean;
}

/** Options of every customer send. */
export interface InboundOptions extends WebhookOptions {
  /** Message time, epoch ms or Date (default: the emulator clock's now). */
  timestamp?: number | Date;
}

/** Bytes for a media message; defaults to a small sample of the right type. */
export interface MediaInput {
  bytes?: Uint8Array | string;
  mimeType?: string;
}

/** A Click-to-WhatsApp ad referral, in Meta's (snake_case) shape. */
export interface Referral {
  source_url: string;
  source_id: string;
  source_type: 'ad' | 'post';
  headline: string;
  body: string;
  media_type: 'image' | 'video';
  ctwa_clid: string;
  image_url?: string;
  video_url?: string;
  thumbnail_url?: string;
  welcome_message?: { text: string };
}

/** A shared contact card, in Meta's shape. */
export interface SharedContact {
  name: { formatted_name: string; first_name?: string; last_name?: string; middle_name?: string };
  phones?: Array<{ phone: string; wa_id?: string; type?: string }>;
  emails?: Array<{ email: string; type?: string }>;
  org?: { company?: string; department?: string; title?: string };
  urls?: Array<{ url: string; type?: string }>;
  addresses?: Array<Record<string, string>>;
  birthday?: string;
}

export interface TextExtras {
  /** wamid of the message this one quotes (`context: { from, id }`). */
  replyTo?: string;
  forwarded?: boolean;
  referral?: Referral;
}

export interface OrderInput {
  catalogId: string;
  text?: string;
  items: Array<{ productRetailerId: string; quantity: number; itemPrice: number; currency: string }>;
}

/** A message built but not yet sent; pass one or several to `customer.send()`. */
export interface PreparedMessage {
  readonly wamid: string;
  readonly message: InboundMessage;
  /** System messages travel without `contacts` and cannot share a POST with other messages. */
  readonly system: boolean;
  /** State changes applied when the message is sent (number / BSUID changes). */
  readonly apply?: () => void;
}

type At = { timestamp?: number | Date };

/** Builders for every inbound message type (no I/O; media bytes are registered at build time). */
export interface MessageBuilders {
  text(body: string, extras?: TextExtras & At): PreparedMessage;
  image(input?: MediaInput & { caption?: string } & At): PreparedMessage;
  video(input?: MediaInput & { caption?: string } & At): PreparedMessage;
  audio(input?: MediaInput & { voice?: boolean } & At): PreparedMessage;
  document(input?: MediaInput & { filename?: string; caption?: string } & At): PreparedMessage;
  sticker(input?: MediaInput & { animated?: boolean } & At): PreparedMessage;
  location(
    location: { latitude: number; longitude: number; name?: string; address?: string; url?: string } & At,
  ): PreparedMessage;
  contacts(contacts: SharedContact[], at?: At): PreparedMessage;
  buttonReply(messageId: string, reply: { id: string; title: string }, at?: At): PreparedMessage;
  listReply(
    messageId: string,
    reply: { id: string; title: string; description?: string },
    at?: At,
  ): PreparedMessage;
  templateButton(messageId: string, button: { payload: string; text: string }, at?: At): PreparedMessage;
  /** `emoji` undefined = the reaction is removed. */
  reaction(messageId: string, emoji: string | undefined, at?: At): PreparedMessage;
  order(order: OrderInput, at?: At): PreparedMessage;
  unsupported(options?: { type?: string } & At): PreparedMessage;
  requestWelcome(at?: At): PreparedMessage;
  changeNumber(newWaId: string, at?: At): PreparedMessage;
  changeUserId(newUserId: string, options?: { parentUserId?: string } & At): PreparedMessage;
  /** The user edits one of their messages (coexistence numbers: `type: "edit"`). */
  edit(messageId: string, body: string, at?: At): PreparedMessage;
  /** The user deletes one of their messages for everyone (coexistence numbers: `type: "revoke"`). */
  revoke(messageId: string, at?: At): PreparedMessage;
}

const SAMPLES: Record<MediaKind, { mimeType: string; bytes: Uint8Array; filename?: string }> = {
  image: {
    mimeType: 'image/jpeg',
    bytes: sample([0xff, 0xd8, 0xff, 0xe0], 'JFIF sample image', [0xff, 0xd9]),
  },
  video: { mimeType: 'video/mp4', bytes: sample([0, 0, 0, 0x18], 'ftypmp42 sample video', []) },
  audio: { mimeType: 'audio/ogg', bytes: sample([0x4f, 0x67, 0x67, 0x53], ' sample voice note (opus)', []) },
  document: {
    mimeType: 'application/pdf',
    bytes: sample([], '%PDF-1.4\n% sample document\n%%EOF\n', []),
    filename: 'document.pdf',
  },
  sticker: {
    mimeType: 'image/webp',
    bytes: sample([], 'RIFF\u0000\u0000\u0000\u0000WEBPVP8 sample sticker', []),
  },
};

/** Creates (or re-opens, for a known waId/userId) a simulated customer of `emulator`. */
export function createCustomer(emulator: object, options: CustomerOptions): Customer {
  const core = coreOf(emulator);
  if (options.waId === undefined && options.userId === undefined) {
    throw new TypeError('createCustomer needs a waId (phone number) or a userId (BSUID)');
  }
  if (options.waId !== undefined && digitsOnly(options.waId) === '')
    throw new TypeError(`waId '${options.waId}' has no digits`);
  if (options.userId !== undefined && !isBsuid(options.userId)) {
    throw new TypeError(`userId '${options.userId}' is not a BSUID like 'US.13491208655302741918'`);
  }
  const phoneNumberId = options.phoneNumberId ?? [...core.phoneNumbers.keys()][0] ?? '';
  const phone = core.phone(phoneNumberId);
  if (phone === undefined) throw new TypeError(`the emulator has no phone number ${phoneNumberId}`);

  const existing =
    (options.waId !== undefined ? core.directory.find(options.waId) : undefined) ??
    (options.userId !== undefined ? core.directory.find(options.userId) : undefined);
  let user: UserRecord;
  if (existing !== undefined) {
    user = existing;
    core.directory.update(user, {
      ...(options.waId === undefined ? {} : { waId: options.waId }),
      ...(options.userId === undefined ? {} : { userId: options.userId }),
      ...(options.parentUserId === undefined ? {} : { parentUserId: options.parentUserId }),
    });
    user.name = options.name;
    user.username = options.username ?? user.username;
    user.readsMessages = options.readsMessages ?? user.readsMessages;
    user.implicit = false;
  } else {
    user = core.directory.add({
      ...(options.waId === undefined ? {} : { waId: options.waId }),
      ...(options.userId === undefined ? {} : { userId: options.userId }),
      ...(options.parentUserId === undefined ? {} : { parentUserId: options.parentUserId }),
      ...(options.username === undefined ? {} : { username: options.username }),
      name: options.name,
      readsMessages: options.readsMessages ?? true,
    });
    core.record({
      kind: 'customer.created',
      key: user.key,
      waId: user.waId,
      userId: user.userId,
      name: user.name,
    });
  }
  return new Customer(core, user, phone);
}

/** A simulated user; create with `createCustomer(emulator, options)` or `emulator.customer(options)`. */
export class Customer {
  readonly #core: WhatsAppCore;
  readonly #user: UserRecord;
  readonly #phone: WhatsAppPhoneNumber;
  /** Build messages without sending them (for `send()` / `batch()`). */
  readonly build: MessageBuilders;

  /** @internal use `createCustomer`. */
  constructor(core: WhatsAppCore, user: UserRecord, phone: WhatsAppPhoneNumber) {
    this.#core = core;
    this.#user = user;
    this.#phone = phone;
    this.build = this.#builders();
  }

  /** Phone number / WhatsApp id, if the user shares it. */
  get waId(): string | undefined {
    return this.#user.waId;
  }

  get userId(): string | undefined {
    return this.#user.userId;
  }

  get parentUserId(): string | undefined {
    return this.#user.parentUserId;
  }

  get name(): string {
    return this.#user.name;
  }

  get username(): string | undefined {
    return this.#user.username;
  }

  /** What the business sends `to`: the phone number, or the BSUID when there is none. */
  get id(): string {
    return this.#user.waId ?? this.#user.userId ?? '';
  }

  get phoneNumberId(): string {
    return this.#phone.phoneNumberId;
  }

  /** Whether business messages to this user get an automatic `read` status. */
  get readsMessages(): boolean {
    return this.#user.readsMessages;
  }

  set readsMessages(value: boolean) {
    this.#user.readsMessages = value;
  }

  /** Sends prepared messages in one webhook POST; returns their wamids. */
  async send(
    messages: PreparedMessage | readonly PreparedMessage[],
    options: InboundOptions = {},
  ): Promise<string[]> {
    const list = Array.isArray(messages) ? messages : [messages as PreparedMessage];
    if (list.length === 0) throw new TypeError('send() needs at least one message');
    const system = list.some((m) => m.system);
    if (system && list.length > 1)
      throw new TypeError('a system message must be sent on its own (its webhook has no contacts)');
    for (const prepared of list) {
      this.#core.registerInbound(this.#phone.phoneNumberId, this.#user, prepared.message);
    }
    // The webhook describes the user as they were when writing; a change applies after it.
    const contacts = system ? undefined : [this.#contact()];
    const payload = envelope(
      this.#phone.wabaId,
      'messages',
      inboundValue(
        this.#core.metadata(this.#phone),
        contacts,
        list.map((m) => m.message),
      ),
    );
    for (const prepared of list) prepared.apply?.();
    await this.#core.sendWebhook('message', metaJson(payload), { ...options, wabaId: this.#phone.wabaId });
    return list.map((m) => m.wamid);
  }

  /** Builds several messages and sends them in one POST. */
  batch(build: (m: MessageBuilders) => PreparedMessage[], options: InboundOptions = {}): Promise<string[]> {
    return this.send(build(this.build), options);
  }

  sendText(body: string, options: InboundOptions & TextExtras = {}): Promise<string> {
    return this.#one(this.build.text(body, options), options);
  }

  sendImage(input: MediaInput & { caption?: string } = {}, options: InboundOptions = {}): Promise<string> {
    return this.#one(this.build.image({ ...input, ...at(options) }), options);
  }

  sendVideo(input: MediaInput & { caption?: string } = {}, options: InboundOptions = {}): Promise<string> {
    return this.#one(this.build.video({ ...input, ...at(options) }), options);
  }

  /** `voice: true` for a voice note recorded in WhatsApp (default true). */
  sendAudio(input: MediaInput & { voice?: boolean } = {}, options: InboundOptions = {}): Promise<string> {
    return this.#one(this.build.audio({ ...input, ...at(options) }), options);
  }

  sendDocument(
    input: MediaInput & { filename?: string; caption?: string } = {},
    options: InboundOptions = {},
  ): Promise<string> {
    return this.#one(this.build.document({ ...input, ...at(options) }), options);
  }

  sendSticker(
    input: MediaInput & { animated?: boolean } = {},
    options: InboundOptions = {},
  ): Promise<string> {
    return this.#one(this.build.sticker({ ...input, ...at(options) }), options);
  }

  sendLocation(
    location: { latitude: number; longitude: number; name?: string; address?: string; url?: string },
    options: InboundOptions = {},
  ): Promise<string> {
    return this.#one(this.build.location({ ...location, ...at(options) }), options);
  }

  sendContacts(contacts: SharedContact[], options: InboundOptions = {}): Promise<string> {
    return this.#one(this.build.contacts(contacts, at(options)), options);
  }

  /** Taps a reply button of an interactive business message. */
  replyWithButton(
    messageId: string,
    reply: { id: string; title: string },
    options: InboundOptions = {},
  ): Promise<string> {
    return this.#one(this.build.buttonReply(messageId, reply, at(options)), options);
  }

  /** Picks a row of an interactive list message. */
  replyWithListItem(
    messageId: string,
    reply: { id: string; title: string; description?: string },
    options: InboundOptions = {},
  ): Promise<string> {
    return this.#one(this.build.listReply(messageId, reply, at(options)), options);
  }

  /** Taps a quick-reply button of a template message (`type: "button"`). */
  tapTemplateButton(
    messageId: string,
    button: { payload: string; text: string },
    options: InboundOptions = {},
  ): Promise<string> {
    return this.#one(this.build.templateButton(messageId, button, at(options)), options);
  }

  react(messageId: string, emoji: string, options: InboundOptions = {}): Promise<string> {
    return this.#one(this.build.reaction(messageId, emoji, at(options)), options);
  }

  /** Removes this user's reaction (webhook without `emoji`). */
  removeReaction(messageId: string, options: InboundOptions = {}): Promise<string> {
    return this.#one(this.build.reaction(messageId, undefined, at(options)), options);
  }

  sendOrder(order: OrderInput, options: InboundOptions = {}): Promise<string> {
    return this.#one(this.build.order(order, at(options)), options);
  }

  /** A message type the Cloud API cannot relay (`type: "unsupported"`, error 131051). */
  sendUnsupported(options: InboundOptions & { type?: string } = {}): Promise<string> {
    return this.#one(this.build.unsupported(options), options);
  }

  /** The user opened the chat for the first time (`type: "request_welcome"`). */
  requestWelcome(options: InboundOptions = {}): Promise<string> {
    return this.#one(this.build.requestWelcome(at(options)), options);
  }

  /** `system` message `user_changed_number`; afterwards the customer has the new number. */
  changeNumber(newWaId: string, options: InboundOptions = {}): Promise<string> {
    return this.#one(this.build.changeNumber(newWaId, at(options)), options);
  }

  /** `system` message `user_changed_user_id`; afterwards the customer has the new BSUID. */
  changeUserId(newUserId: string, options: InboundOptions & { parentUserId?: string } = {}): Promise<string> {
    return this.#one(this.build.changeUserId(newUserId, options), options);
  }

  /**
   * The user edits a message they sent (within 15 minutes, on WhatsApp): the new text arrives as a
   * message of type `edit` naming the original. Meta sends these to coexistence numbers only.
   */
  editMessage(messageId: string, body: string, options: InboundOptions = {}): Promise<string> {
    return this.#one(this.build.edit(messageId, body, at(options)), options);
  }

  /** The user deletes a message for everyone: a message of type `revoke` naming the original. */
  revokeMessage(messageId: string, options: InboundOptions = {}): Promise<string> {
    return this.#one(this.build.revoke(messageId, at(options)), options);
  }

  /**
   * The business writes to this user from the WhatsApp Business app (coexistence): Meta sends the
   * `smb_message_echoes` webhook. `message` is an echo's content (`{ type: 'text', text: { body } }`,
   * an edit or a revoke of an earlier echo…); returns the echo's wamid.
   */
  async echoFromBusinessApp(
    message: { type: string; [content: string]: unknown },
    options: InboundOptions = {},
  ): Promise<string> {
    const user = this.#user;
    const echo = {
      from: this.#phone.displayPhoneNumber,
      ...(user.waId === undefined ? {} : { to: user.waId }),
      ...(user.userId === undefined ? {} : { to_user_id: user.userId }),
      id: newWamid(),
      timestamp: unixSeconds(this.#time(options.timestamp)),
      ...message,
    };
    const payload = envelope(this.#phone.wabaId, 'smb_message_echoes', {
      messaging_product: 'whatsapp',
      metadata: this.#core.metadata(this.#phone),
      message_echoes: [echo],
    });
    this.#core.record({
      kind: 'inbound.echo',
      phoneNumberId: this.#phone.phoneNumberId,
      waId: user.waId,
      userId: user.userId,
      wamid: echo.id,
      type: message.type,
    });
    await this.#core.sendWebhook('raw', metaJson(payload), options);
    return echo.id;
  }

  /** `user_preferences` webhook: the user stops marketing messages (later MARKETING templates get 131050). */
  stopMarketing(options: InboundOptions = {}): Promise<WebhookSendResult> {
    return this.#preference('stop', options);
  }

  resumeMarketing(options: InboundOptions = {}): Promise<WebhookSendResult> {
    return this.#preference('resume', options);
  }

  /** The user reads a business message now: emits its `read` status webhook. */
  read(wamid: string): Promise<void> {
    return this.#core.readByUser(wamid);
  }

  /** Business messages accepted for this user, oldest first. */
  received(): OutboundRecord[] {
    return [...this.#core.directory.outbound.values()].filter((m) => m.userKey === this.#user.key);
  }

  async #one(prepared: PreparedMessage, options: InboundOptions): Promise<string> {
    const [wamid] = await this.send(prepared, options);
    return wamid ?? prepared.wamid;
  }

  #contact(): WebhookContact {
    const user = this.#user;
    return {
      profile: { name: user.name, ...(user.username === undefined ? {} : { username: user.username }) },
      ...(user.waId === undefined ? {} : { wa_id: user.waId }),
      ...(user.userId === undefined ? {} : { user_id: user.userId }),
      ...(user.parentUserId === undefined ? {} : { parent_user_id: user.parentUserId }),
    };
  }

  async #preference(value: 'stop' | 'resume', options: InboundOptions): Promise<WebhookSendResult> {
    const user = this.#user;
    user.marketingStopped = value === 'stop';
    const timestamp = Math.floor(this.#time(options.timestamp) / 1000);
    const payload = envelope(
      this.#phone.wabaId,
      'user_preferences',
      userPreferencesValue(
        this.#core.metadata(this.#phone),
        [this.#contact()],
        [
          {
            ...(user.waId === undefined ? {} : { wa_id: user.waId }),
            ...(user.userId === undefined ? {} : { user_id: user.userId }),
            detail:
              value === 'stop'
                ? 'User requested to stop marketing messages'
                : 'User requested to resume marketing messages',
            category: 'marketing_messages',
            value,
            timestamp,
          },
        ],
      ),
    );
    this.#core.record({
      kind: 'inbound.user_preferences',
      phoneNumberId: this.#phone.phoneNumberId,
      waId: user.waId,
      userId: user.userId,
      value,
    });
    return this.#core.sendWebhook('user_preferences', metaJson(payload), {
      ...options,
      wabaId: this.#phone.wabaId,
    });
  }

  #time(timestamp: number | Date | undefined): number {
    if (timestamp === undefined) return this.#core.clock.now();
    return timestamp instanceof Date ? timestamp.getTime() : timestamp;
  }

  #builders(): MessageBuilders {
    const base = (type: string, timestamp: number | Date | undefined): InboundMessage => {
      const user = this.#user;
      return {
        ...(user.waId === undefined ? {} : { from: user.waId }),
        ...(user.userId === undefined ? {} : { from_user_id: user.userId }),
        ...(user.parentUserId === undefined ? {} : { from_parent_user_id: user.parentUserId }),
        id: newWamid(),
        timestamp: unixSeconds(this.#time(timestamp)),
        type,
      };
    };
    const prepared = (message: InboundMessage, extra: Partial<PreparedMessage> = {}): PreparedMessage => ({
      wamid: message.id,
      message,
      system: false,
      ...extra,
    });
    const businessContext = (messageId: string) => ({ from: this.#phone.displayPhoneNumber, id: messageId });
    const media = (kind: MediaKind, input: MediaInput & { filename?: string }) => {
      const sample = SAMPLES[kind];
      const bytes =
        input.bytes === undefined
          ? sample.bytes
          : typeof input.bytes === 'string'
            ? new TextEncoder().encode(input.bytes)
            : input.bytes;
      const record = this.#core.media.add({
        bytes,
        mimeType: input.mimeType ?? sample.mimeType,
        phoneNumberId: this.#phone.phoneNumberId,
        source: 'customer',
        ...(input.filename === undefined ? {} : { filename: input.filename }),
      });
      this.#core.record({
        kind: 'media.uploaded',
        mediaId: record.id,
        phoneNumberId: record.phoneNumberId,
        mimeType: record.mimeType,
        fileSize: record.fileSize,
        source: 'customer',
      });
      return { id: record.id, mime_type: record.mimeType, sha256: record.sha256Base64 };
    };

    return {
      text: (body, extras = {}) => {
        const message = base('text', extras.timestamp);
        const context: Record<string, unknown> = {};
        if (extras.replyTo !== undefined) Object.assign(context, businessContext(extras.replyTo));
        if (extras.forwarded === true) context.forwarded = true;
        if (Object.keys(context).length > 0) message.context = context;
        if (extras.referral !== undefined) message.referral = extras.referral;
        message.text = { body };
        return prepared(message);
      },
      image: (input = {}) => {
        const message = base('image', input.timestamp);
        message.image = {
          ...(input.caption === undefined ? {} : { caption: input.caption }),
          ...media('image', input),
        };
        return prepared(message);
      },
      video: (input = {}) => {
        const message = base('video', input.timestamp);
        message.video = {
          ...(input.caption === undefined ? {} : { caption: input.caption }),
          ...media('video', input),
        };
        return prepared(message);
      },
      audio: (input = {}) => {
        const message = base('audio', input.timestamp);
        message.audio = { ...media('audio', input), voice: input.voice ?? true };
        return prepared(message);
      },
      document: (input = {}) => {
        const message = base('document', input.timestamp);
        const filename = input.filename ?? SAMPLES.document.filename ?? 'document.pdf';
        message.document = {
          ...(input.caption === undefined ? {} : { caption: input.caption }),
          filename,
          ...media('document', { ...input, filename }),
        };
        return prepared(message);
      },
      sticker: (input = {}) => {
        const message = base('sticker', input.timestamp);
        message.sticker = { ...media('sticker', input), animated: input.animated ?? false };
        return prepared(message);
      },
      location: ({ timestamp, latitude, longitude, name, address, url }) => {
        const message = base('location', timestamp);
        message.location = {
          latitude,
          longitude,
          ...(name === undefined ? {} : { name }),
          ...(address === undefined ? {} : { address }),
          ...(url === undefined ? {} : { url }),
        };
        return prepared(message);
      },
      contacts: (contacts, when = {}) => {
        const message = base('contacts', when.timestamp);
        message.contacts = contacts;
        return prepared(message);
      },
      buttonReply: (messageId, reply, when = {}) => {
        const message = base('interactive', when.timestamp);
        message.context = businessContext(messageId);
        message.interactive = { type: 'button_reply', button_reply: { id: reply.id, title: reply.title } };
        return prepared(message);
      },
      listReply: (messageId, reply, when = {}) => {
        const message = base('interactive', when.timestamp);
        message.context = businessContext(messageId);
        message.interactive = {
          type: 'list_reply',
          list_reply: { id: reply.id, title: reply.title, description: reply.description ?? '' },
        };
        return prepared(message);
      },
      templateButton: (messageId, button, when = {}) => {
        const message = base('button', when.timestamp);
        message.context = businessContext(messageId);
        message.button = { payload: button.payload, text: button.text };
        return prepared(message);
      },
      reaction: (messageId, emoji, when = {}) => {
        const message = base('reaction', when.timestamp);
        message.reaction = emoji === undefined ? { message_id: messageId } : { message_id: messageId, emoji };
        return prepared(message);
      },
      order: (order, when = {}) => {
        const message = base('order', when.timestamp);
        message.order = {
          catalog_id: order.catalogId,
          text: order.text ?? '',
          product_items: order.items.map((item) => ({
            product_retailer_id: item.productRetailerId,
            quantity: item.quantity,
            item_price: item.itemPrice,
            currency: item.currency,
          })),
        };
        return prepared(message);
      },
      unsupported: (options = {}) => {
        const message = base('unsupported', options.timestamp);
        message.errors = [webhookError(131051)];
        if (options.type !== undefined) message.unsupported = { type: options.type };
        return prepared(message);
      },
      requestWelcome: (when = {}) => prepared(base('request_welcome', when.timestamp)),
      edit: (messageId, body, when = {}) => {
        const message = base('edit', when.timestamp);
        message.edit = { original_message_id: messageId, message: { type: 'text', text: { body } } };
        return prepared(message);
      },
      revoke: (messageId, when = {}) => {
        const message = base('revoke', when.timestamp);
        message.revoke = { original_message_id: messageId };
        return prepared(message);
      },
      changeNumber: (newWaId, when = {}) => {
        const user = this.#user;
        const next = digitsOnly(newWaId);
        const message = base('system', when.timestamp);
        // A number change also gives the user a new BSUID; since August 2026 Meta names the
        // previous ones beside it (changelog of the WhatsApp Business Platform).
        message.system = {
          body: `User ${user.name} changed from ${user.waId ?? user.userId ?? 'unknown'} to ${next}`,
          wa_id: next,
          type: 'user_changed_number',
          ...(user.userId === undefined ? {} : { previous_user_id: user.userId }),
          ...(user.parentUserId === undefined ? {} : { previous_parent_user_id: user.parentUserId }),
        };
        return prepared(message, {
          system: true,
          apply: () => {
            const from = user.waId;
            this.#core.directory.update(user, { waId: next });
            this.#core.record({ kind: 'customer.changed', key: user.key, change: 'number', from, to: next });
          },
        });
      },
      changeUserId: (newUserId, options = {}) => {
        if (!isBsuid(newUserId)) throw new TypeError(`'${newUserId}' is not a BSUID`);
        const user = this.#user;
        // "The notification reports only the BSUID change; no phone number is included."
        const { from: _phone, ...message } = base('system', options.timestamp);
        message.system = {
          body: `User ${user.name} changed their business-scoped user ID`,
          type: 'user_changed_user_id',
          user_id: newUserId,
          ...(options.parentUserId === undefined ? {} : { parent_user_id: options.parentUserId }),
          ...(user.userId === undefined ? {} : { previous_user_id: user.userId }),
          ...(user.parentUserId === undefined ? {} : { previous_parent_user_id: user.parentUserId }),
        };
        return prepared(message, {
          system: true,
          apply: () => {
            const from = user.userId;
            this.#core.directory.update(user, {
              userId: newUserId,
              ...(options.parentUserId === undefined ? {} : { parentUserId: options.parentUserId }),
            });
            this.#core.record({
              kind: 'customer.changed',
              key: user.key,
              change: 'user_id',
              from,
              to: newUserId,
            });
          },
        });
      },
    };
  }
}

const at = (options: InboundOptions): At =>
  options.timestamp === undefined ? {} : { timestamp: options.timestamp };

function sample(prefix: number[], text: string, suffix: number[]): Uint8Array {
  return new Uint8Array([...prefix, ...new TextEncoder().encode(text), ...suffix]);
}
