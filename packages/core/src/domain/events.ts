import type {
  ConsentEntry,
  ConsentSnapshot,
  Contact,
  Conversation,
  Lease,
  Message,
  MessageStatus,
  TemplateDefinition,
  WindowState,
  Workspace,
} from './types.ts';

/**
 * What a connector is asked to mirror. Every event carries the conversation it belongs to with a
 * fresh view of the contact, consent and window, read when the job runs (not when it was queued),
 * so a mirror never shows stale or erased data.
 */
export type DomainEvent =
  | InboundMessageEvent
  | OutboundMessageEvent
  | StatusChangedEvent
  | ConsentChangedEvent
  | ConversationUpdatedEvent
  | ConversationErasedEvent
  | NoticeEvent;

export type DomainEventType = DomainEvent['type'];

export const DOMAIN_EVENT_TYPES = [
  'message.inbound',
  'message.outbound',
  'message.status',
  'consent.changed',
  'conversation.updated',
  'conversation.erased',
  'notice',
] as const satisfies readonly DomainEventType[];

export interface EventBase {
  /** Stable id of this event; the same on every delivery attempt. */
  id: string;
  workspace: Pick<Workspace, 'id' | 'name' | 'policies'>;
  conversation: Conversation;
  contact: Contact;
  consent: ConsentSnapshot;
  window: WindowState;
}

export interface InboundMessageEvent extends EventBase {
  type: 'message.inbound';
  message: Message;
  /** The message this one replies to or reacts to, when we have it. */
  related: Message | null;
}

export interface OutboundMessageEvent extends EventBase {
  type: 'message.outbound';
  message: Message;
  related: Message | null;
}

export interface StatusChangedEvent extends EventBase {
  type: 'message.status';
  message: Message;
  status: MessageStatus;
}

export interface ConsentChangedEvent extends EventBase {
  type: 'consent.changed';
  change: ConsentEntry;
}

/** The conversation's card should be refreshed (a link appeared, the window closed, …). */
export interface ConversationUpdatedEvent extends EventBase {
  type: 'conversation.updated';
  reason: string;
}

/** The conversation was erased (GDPR): remove or redact everything mirrored for it. */
export interface ConversationErasedEvent extends EventBase {
  type: 'conversation.erased';
  erasure: { requestedBy: string | null; reason: string | null; at: number };
}

export type NoticeKind =
  | 'opted_out'
  | 'window_closed'
  | 'send_failed'
  | 'sent'
  | 'edit_unsupported'
  | 'delete_unsupported'
  | 'template_invalid'
  /** A reply with nothing WhatsApp can carry (an Adaptive Card, a poll, …): not sent. */
  | 'content_unsupported'
  | 'info';

/**
 * A message for the agents of one connector only (never mirrored elsewhere): why a reply was not
 * sent, which templates can reopen the window, what a failure means.
 */
export interface NoticeEvent extends EventBase {
  type: 'notice';
  notice: {
    id: string;
    kind: NoticeKind;
    text: string;
    /** The platform message the notice answers (its external id on the target connector). */
    inReplyTo: string | null;
    /** Templates the agent can choose from when the window is closed. */
    templates: TemplateDefinition[];
    /** Our outbound message the notice is about, when there is one. */
    messageId: string | null;
  };
}

/**
 * What a `send` job stands for: one recorded outbound message, for the internal connector that
 * owns the `send` jobs (the WhatsApp sender). Not a `DomainEvent`: no connector mirrors it, and the
 * sender reads the message itself right before sending (consent and the window are checked then),
 * settling the message under the job's lease.
 */
export interface SendRequest {
  type: 'message.send';
  /** `send:<message id>`, like a domain event's id. */
  id: string;
  workspaceId: string;
  messageId: string;
  /** 1 on the first attempt. */
  attempts: number;
  lease: Lease;
}

/** What a job hands a connector: a domain event, or (internal connectors only) a `SendRequest`. */
export type JobEvent = DomainEvent | SendRequest;
