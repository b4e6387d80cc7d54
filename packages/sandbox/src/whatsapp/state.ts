/**
 * What the emulated WhatsApp knows: users (by phone number and BSUID), conversations per
 * (business number, user) with the time of the user's last message, and every message in and out.
 */
import type { StatusValue } from './payloads.ts';
import type { RenderedTemplate } from './templates.ts';
import { digitsOnly, isBsuid } from './wire.ts';

export interface UserRecord {
  /** Internal key, stable across number and BSUID changes. */
  key: string;
  waId: string | undefined;
  userId: string | undefined;
  parentUserId: string | undefined;
  username: string | undefined;
  name: string;
  /** Whether the user reads business messages (drives automatic `read` statuses). */
  readsMessages: boolean;
  /** Stopped marketing messages (user_preferences "stop"). */
  marketingStopped: boolean;
  /** Created because the business messaged an unknown number, not by `createCustomer`. */
  implicit: boolean;
}

export type OutboundStatus = 'accepted' | StatusValue;

export interface OutboundRecord {
  wamid: string;
  phoneNumberId: string;
  userKey: string;
  to: string;
  type: string;
  /** Pricing category: `service` for free-form, else the template category in lower case. */
  category: string;
  /** Free within the customer service window. */
  inWindow: boolean;
  template: RenderedTemplate | undefined;
  acceptedAt: number;
  status: OutboundStatus;
  statuses: Array<{ status: StatusValue; at: number }>;
  /** Set when the message will be reported `failed`. */
  failure: { code: number; details?: string } | undefined;
  /** Pricing conversation the message belongs to (`statuses[].conversation`). */
  conversation: { id: string; expiresAt: number };
  body: unknown;
}

export interface InboundRecord {
  wamid: string;
  phoneNumberId: string;
  userKey: string;
  type: string;
  sentAt: number;
  message: unknown;
  readAt: number | undefined;
}

export interface ConversationRecord {
  phoneNumberId: string;
  userKey: string;
  lastInboundAt: number | undefined;
  /** wamids in and out, in order. */
  messages: Array<{ direction: 'in' | 'out'; wamid: string }>;
  /** Pricing conversations by category: id and expiry. */
  pricing: Map<string, { id: string; expiresAt: number }>;
}

const STATUS_RANK: Record<OutboundStatus, number> = {
  accepted: 0,
  sent: 1,
  delivered: 2,
  read: 3,
  failed: 4,
};

/** True when moving from `current` to `next` is progress (statuses never go backwards). */
export const isStatusProgress = (current: OutboundStatus, next: StatusValue): boolean =>
  current !== 'failed' && STATUS_RANK[next] > STATUS_RANK[current];

export class Directory {
  readonly users = new Map<string, UserRecord>();
  readonly outbound = new Map<string, OutboundRecord>();
  readonly inbound = new Map<string, InboundRecord>();
  readonly #byWaId = new Map<string, string>();
  readonly #byUserId = new Map<string, string>();
  readonly #conversations = new Map<string, ConversationRecord>();
  #nextKey = 1;

  /** The user a recipient string designates (phone number in any format, or BSUID). */
  find(recipient: string): UserRecord | undefined {
    const key = isBsuid(recipient) ? this.#byUserId.get(recipient) : this.#byWaId.get(digitsOnly(recipient));
    return key === undefined ? undefined : this.users.get(key);
  }

  /** The user for a send's `to`; unknown recipients are created on the fly (`implicit`). */
  resolveRecipient(to: string): { user: UserRecord; created: boolean } {
    const existing = this.find(to);
    if (existing !== undefined) return { user: existing, created: false };
    const user = this.add(
      isBsuid(to)
        ? { userId: to, name: to, implicit: true }
        : { waId: digitsOnly(to), name: digitsOnly(to), implicit: true },
    );
    return { user, created: true };
  }

  add(profile: {
    waId?: string;
    userId?: string;
    parentUserId?: string;
    username?: string;
    name: string;
    readsMessages?: boolean;
    implicit?: boolean;
  }): UserRecord {
    const user: UserRecord = {
      key: `u${this.#nextKey++}`,
      waId: profile.waId === undefined ? undefined : digitsOnly(profile.waId),
      userId: profile.userId,
      parentUserId: profile.parentUserId,
      username: profile.username,
      name: profile.name,
      readsMessages: profile.readsMessages ?? true,
      marketingStopped: false,
      implicit: profile.implicit ?? false,
    };
    this.users.set(user.key, user);
    this.#index(user);
    return user;
  }

  /** Re-keys a user after a number or BSUID change. */
  update(user: UserRecord, change: { waId?: string; userId?: string; parentUserId?: string }): void {
    if (user.waId !== undefined) this.#byWaId.delete(user.waId);
    if (user.userId !== undefined) this.#byUserId.delete(user.userId);
    if (change.waId !== undefined) user.waId = digitsOnly(change.waId);
    if (change.userId !== undefined) user.userId = change.userId;
    if (change.parentUserId !== undefined) user.parentUserId = change.parentUserId;
    this.#index(user);
  }

  conversation(phoneNumberId: string, userKey: string): ConversationRecord {
    const id = `${phoneNumberId}|${userKey}`;
    let conversation = this.#conversations.get(id);
    if (conversation === undefined) {
      conversation = { phoneNumberId, userKey, lastInboundAt: undefined, messages: [], pricing: new Map() };
      this.#conversations.set(id, conversation);
    }
    return conversation;
  }

  conversations(): ConversationRecord[] {
    return [...this.#conversations.values()];
  }

  #index(user: UserRecord): void {
    if (user.waId !== undefined) this.#byWaId.set(user.waId, user.key);
    if (user.userId !== undefined) this.#byUserId.set(user.userId, user.key);
    if (user.parentUserId !== undefined && !this.#byUserId.has(user.parentUserId)) {
      this.#byUserId.set(user.parentUserId, user.key);
    }
  }
}
