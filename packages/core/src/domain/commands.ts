import type { ConsentCategory, ConsentState } from './types.ts';

/**
 * What a connector's inbound side (a Slack event, a Graph notification, a HubSpot webhook) asks the
 * core to do. Connectors only describe intent with their own external ids; the core resolves those
 * ids through the refs it keeps, checks consent and the window, and records the outcome durably.
 * `idempotencyKey` makes a platform's retry of the same callback a no-op.
 */
export type DomainCommand =
  | AgentReplyCommand
  | AgentTemplateCommand
  | AgentEditCommand
  | SetConsentCommand
  | ContactRemovedCommand;

export interface AgentIdentity {
  /** The agent's id on the platform. */
  id: string;
  name: string | null;
}

export interface Attachment {
  /** Connector-specific reference the connector can fetch later (`fetchAttachment`). */
  ref: string;
  filename: string;
  mimeType: string;
  size: number | null;
}

interface CommandBase {
  idempotencyKey: string;
}

/** A human wrote in a mirrored thread. */
export interface AgentReplyCommand extends CommandBase {
  type: 'agent.reply';
  /** External id of the thread (the conversation ref the connector created). */
  threadId: string;
  /** External id of the agent's own message, so we can answer on it and recognise echoes. */
  messageId: string;
  agent: AgentIdentity;
  text: string;
  attachments: Attachment[];
  /** `note` keeps the message inside the platform (never sent to the customer). */
  mode: 'send' | 'note';
}

/** An agent chose a template (picker or slash command) for a conversation. */
export interface AgentTemplateCommand extends CommandBase {
  type: 'agent.template';
  threadId: string;
  messageId: string | null;
  agent: AgentIdentity;
  template: { name: string; language: string; parameters: string[] };
}

/** An agent edited or deleted a message; WhatsApp cannot apply either, so the agent is told. */
export interface AgentEditCommand extends CommandBase {
  type: 'agent.edit' | 'agent.delete';
  threadId: string;
  messageId: string;
  agent: AgentIdentity;
  /**
   * The message's text after an edit, as the platform sent it (markup as written), when it did:
   * an edit of an internal note the archive keeps is kept as a new version with it.
   */
  text?: string;
}

/** Consent changed on the platform (HubSpot property, admin action). */
export interface SetConsentCommand extends CommandBase {
  type: 'consent.set';
  /** External id of the contact on the connector (e.g. the HubSpot contact id). */
  contactId: string;
  category: ConsentCategory;
  state: ConsentState;
  actor: string | null;
  occurredAt: number;
  details: Record<string, unknown>;
}

/** The contact was deleted on the platform (HubSpot deletion / privacy deletion). */
export interface ContactRemovedCommand extends CommandBase {
  type: 'contact.removed';
  contactId: string;
  /** `privacy` asks for erasure per the workspace policy; `deleted` only unlinks. */
  reason: 'deleted' | 'privacy' | 'merged';
  /** For merges: the contact id that survives. */
  mergedInto: string | null;
  occurredAt: number;
}
