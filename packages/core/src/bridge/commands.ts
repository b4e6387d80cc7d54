import { LINK_REF_KIND } from '../connector/links.ts';
import type {
  AgentEditCommand,
  AgentIdentity,
  AgentReplyCommand,
  AgentTemplateCommand,
  ContactRemovedCommand,
  DomainCommand,
  SetConsentCommand,
} from '../domain/commands.ts';
import type { NoticeKind } from '../domain/events.ts';
import {
  type ConsentSource,
  type Contact,
  type Sender,
  type TemplateDefinition,
  windowState,
} from '../domain/types.ts';
import { newId } from '../ids/index.ts';
import type { Logger } from '../logger/index.ts';
import type { Metrics } from '../metrics/index.ts';
import type { Store } from '../store/types.ts';
import { checkSendable, noticeText, renderTemplate } from './policy.ts';

export type CommandOutcome =
  | { status: 'sent'; messageId: string }
  | { status: 'notice'; kind: NoticeKind; noticeId: string }
  | { status: 'consent_recorded'; entryId: string }
  /** An internal note (or an edit or deletion of one) kept in the archive, by the workspace's policy. */
  | { status: 'note_archived'; noteId: string }
  | { status: 'duplicate' }
  | { status: 'ignored'; reason: string };

export interface CommandProcessorOptions {
  store: Store;
  logger: Logger;
  metrics: Metrics;
  now?: () => number;
  /** Called after commands created jobs, to wake the local worker. */
  onQueued?: () => void;
  /** A connector's name for people (its manifest's `displayName`), for the words of notices. */
  platformName?: (connectorId: string) => string | undefined;
}

/**
 * Applies what agents and platforms ask for, the same way for every connector: resolve the thread
 * or contact through our refs, drop echoes and duplicates, enforce consent and the 24-hour window,
 * then record the outbound message (with its send job) or a notice for the agent, durably.
 */
export class CommandProcessor {
  private readonly o: CommandProcessorOptions;

  constructor(options: CommandProcessorOptions) {
    this.o = options;
  }

  /** Who wrote an outbound message, with the platform's name from its connector's manifest. */
  private sender(connectorId: string, agent: AgentIdentity): Sender {
    return {
      via: connectorId,
      viaName: this.o.platformName?.(connectorId) ?? null,
      agentId: agent.id,
      agentName: agent.name,
    };
  }

  private now(): number {
    return (this.o.now ?? Date.now)();
  }

  async accept(
    workspaceId: string,
    connectorId: string,
    commands: readonly DomainCommand[],
  ): Promise<CommandOutcome[]> {
    const outcomes: CommandOutcome[] = [];
    for (const command of commands) {
      const outcome = await this.apply(workspaceId, connectorId, command);
      outcomes.push(outcome);
      this.o.metrics.increment('commands_accepted_total', {
        connector: connectorId,
        type: command.type,
        outcome: outcome.status,
      });
      this.o.logger.info(
        { workspace: workspaceId, connector: connectorId, command: command.type, outcome: outcome.status },
        'command applied',
      );
    }
    if (
      outcomes.some((o) => o.status === 'sent' || o.status === 'notice' || o.status === 'consent_recorded')
    ) {
      this.o.onQueued?.();
    }
    return outcomes;
  }

  private apply(ws: string, connectorId: string, command: DomainCommand): Promise<CommandOutcome> {
    switch (command.type) {
      case 'agent.reply':
        return this.reply(ws, connectorId, command);
      case 'agent.template':
        return this.template(ws, connectorId, command);
      case 'agent.edit':
      case 'agent.delete':
        return this.edit(ws, connectorId, command);
      case 'consent.set':
        return this.consent(ws, connectorId, command);
      case 'contact.removed':
        return this.contactRemoved(ws, connectorId, command);
    }
  }

  private async thread(ws: string, connectorId: string, threadId: string) {
    const ref = await this.o.store.findRefByExternalId(ws, connectorId, 'conversation', threadId);
    if (!ref) return null;
    const conversation = await this.o.store.getConversation(ws, ref.entityId);
    if (!conversation || conversation.erasedAt !== null || conversation.restrictedAt !== null) return null;
    const [contact, consent] = await Promise.all([
      this.o.store.getContact(ws, conversation.contactId),
      this.o.store.consentSnapshot(ws, conversation.contactId),
    ]);
    return contact ? { conversation, contact, consent } : null;
  }

  private async reply(ws: string, connectorId: string, command: AgentReplyCommand): Promise<CommandOutcome> {
    if (command.mode === 'note') return this.note(ws, connectorId, command);
    // Our own posts come back as platform events: a message we mirrored has a ref already.
    if (await this.o.store.findRefByExternalId(ws, connectorId, 'message', command.messageId)) {
      return { status: 'ignored', reason: 'echo of a message wabridge posted' };
    }
    const thread = await this.thread(ws, connectorId, command.threadId);
    if (!thread) return { status: 'ignored', reason: 'not a mirrored conversation thread' };
    const key = { source: connectorId, key: command.idempotencyKey };
    // What the connector could not read as text or files (a card, a poll, a Loop component) would
    // vanish here without a word; the agent is told instead, as for any reply that is not sent.
    if (command.text.trim() === '' && command.attachments.length === 0) {
      return this.notice(ws, connectorId, key, {
        conversationId: thread.conversation.id,
        kind: 'content_unsupported',
        text: 'Not sent: WhatsApp carries text, images and files, and this reply has none that can go (cards, polls, external or hidden files and other embedded content cannot be sent). Write the answer as text.',
        inReplyTo: command.messageId,
      });
    }
    const now = this.now();
    const block = checkSendable({
      consent: thread.consent,
      window: windowState(thread.conversation, now),
      send: { kind: 'free_form' },
    });
    if (block) {
      const notice = noticeText(block, displayName(thread.contact), now, this.o.platformName);
      const templates = block.kind === 'window_closed' ? await this.templates(ws) : [];
      return this.notice(ws, connectorId, key, {
        conversationId: thread.conversation.id,
        kind: notice.kind,
        text: notice.text,
        inReplyTo: command.messageId,
        templates,
      });
    }
    const type = command.attachments.length > 0 && command.text.trim() === '' ? 'media' : 'text';
    const result = await this.o.store.recordOutbound({
      commandKey: key,
      workspaceId: ws,
      conversationId: thread.conversation.id,
      message: {
        id: newId('msg'),
        type,
        text: command.text.trim() === '' ? null : command.text,
        content: { text: command.text, attachments: command.attachments },
        sender: this.sender(connectorId, command.agent),
        relatesTo: null,
        timestamp: now,
      },
      originRef: { connectorId, externalId: command.messageId, data: { threadId: command.threadId } },
    });
    return result.duplicate ? { status: 'duplicate' } : { status: 'sent', messageId: result.messageId };
  }

  private async template(
    ws: string,
    connectorId: string,
    command: AgentTemplateCommand,
  ): Promise<CommandOutcome> {
    const thread = await this.thread(ws, connectorId, command.threadId);
    if (!thread) return { status: 'ignored', reason: 'not a mirrored conversation thread' };
    const key = { source: connectorId, key: command.idempotencyKey };
    const templates = await this.templates(ws);
    const template = templates.find(
      (t) => t.name === command.template.name && t.language === command.template.language,
    );
    if (!template || template.parameters !== command.template.parameters.length) {
      const text = template
        ? `Not sent: template ${template.name} (${template.language}) takes ${template.parameters} parameter(s), ${command.template.parameters.length} given.`
        : `Not sent: template ${command.template.name} (${command.template.language}) is not approved for this workspace.`;
      return this.notice(ws, connectorId, key, {
        conversationId: thread.conversation.id,
        kind: 'template_invalid',
        text,
        inReplyTo: command.messageId,
        templates,
      });
    }
    const now = this.now();
    const block = checkSendable({
      consent: thread.consent,
      window: windowState(thread.conversation, now),
      send: { kind: 'template', category: template.category },
    });
    if (block) {
      const notice = noticeText(block, displayName(thread.contact), now, this.o.platformName);
      return this.notice(ws, connectorId, key, {
        conversationId: thread.conversation.id,
        kind: notice.kind,
        text: notice.text,
        inReplyTo: command.messageId,
      });
    }
    const text = renderTemplate(template, command.template.parameters);
    const result = await this.o.store.recordOutbound({
      commandKey: key,
      workspaceId: ws,
      conversationId: thread.conversation.id,
      message: {
        id: newId('msg'),
        type: 'template',
        text,
        content: { template: { ...command.template, category: template.category } },
        sender: this.sender(connectorId, command.agent),
        relatesTo: null,
        timestamp: now,
      },
      // A template picked from a form has no platform message of its own until the mirror posts it.
      originRef: command.messageId
        ? { connectorId, externalId: command.messageId, data: { threadId: command.threadId } }
        : null,
    });
    return result.duplicate ? { status: 'duplicate' } : { status: 'sent', messageId: result.messageId };
  }

  private async edit(ws: string, connectorId: string, command: AgentEditCommand): Promise<CommandOutcome> {
    const ref = await this.o.store.findRefByExternalId(ws, connectorId, 'message', command.messageId);
    const message = ref ? await this.o.store.getMessage(ws, ref.entityId) : null;
    // Only agent replies that went to the customer matter; edits of mirrors stay local, and so do
    // edits of notes unless the archive keeps the note.
    if (!ref) return this.noteRevision(ws, connectorId, command);
    if (message?.direction !== 'outbound' || message.sender?.via !== connectorId) {
      return { status: 'ignored', reason: 'not a message sent to the customer' };
    }
    const kind = command.type === 'agent.edit' ? 'edit_unsupported' : 'delete_unsupported';
    const text =
      command.type === 'agent.edit'
        ? 'WhatsApp cannot edit a message already sent: the customer still sees the original. Send a correction as a new reply.'
        : 'WhatsApp cannot delete a message for the customer: they still see it. Send a follow-up reply if needed.';
    return this.notice(
      ws,
      connectorId,
      { source: connectorId, key: command.idempotencyKey },
      {
        conversationId: message.conversationId,
        kind,
        text,
        inReplyTo: command.messageId,
        messageId: message.id,
      },
    );
  }

  /**
   * An internal note: it never goes to WhatsApp nor to another mirror. With the workspace's policy
   * `archiveInternalNotes` on it is kept in the archive, marked internal, with the agent and the
   * connector, durably before the platform's callback is answered; off (the default), nothing.
   */
  private async note(ws: string, connectorId: string, command: AgentReplyCommand): Promise<CommandOutcome> {
    if (!(await this.archivesNotes(ws))) return { status: 'ignored', reason: 'internal note' };
    const thread = await this.thread(ws, connectorId, command.threadId);
    if (!thread) return { status: 'ignored', reason: 'internal note outside a mirrored conversation thread' };
    return this.recordNote(ws, connectorId, {
      command,
      action: 'note',
      conversationId: thread.conversation.id,
      text: command.text,
      attachments: command.attachments,
    });
  }

  /** An edit or a deletion of a message we hold no ref of: a new version of an archived note, if it is one. */
  private async noteRevision(
    ws: string,
    connectorId: string,
    command: AgentEditCommand,
  ): Promise<CommandOutcome> {
    if (!(await this.archivesNotes(ws)))
      return { status: 'ignored', reason: 'not a message sent to the customer' };
    // An edit whose new text the platform did not send would be a version without content.
    if (command.type === 'agent.edit' && command.text === undefined) {
      return { status: 'ignored', reason: 'edit without its text' };
    }
    return this.recordNote(ws, connectorId, {
      command,
      action: command.type === 'agent.edit' ? 'edit' : 'revoke',
      conversationId: null,
      text: command.type === 'agent.edit' ? (command.text ?? null) : null,
      attachments: [],
    });
  }

  private async recordNote(
    ws: string,
    connectorId: string,
    note: {
      command: AgentReplyCommand | AgentEditCommand;
      action: 'note' | 'edit' | 'revoke';
      conversationId: string | null;
      text: string | null;
      attachments: AgentReplyCommand['attachments'];
    },
  ): Promise<CommandOutcome> {
    const { command } = note;
    const result = await this.o.store.recordNote({
      commandKey: { source: connectorId, key: command.idempotencyKey },
      workspaceId: ws,
      connectorId,
      externalId: command.messageId,
      threadId: command.threadId,
      action: note.action,
      conversationId: note.conversationId,
      agent: command.agent,
      text: note.text,
      attachments: note.attachments,
      at: this.now(),
    });
    if (result.duplicate) return { status: 'duplicate' };
    if (result.noteId === null) return { status: 'ignored', reason: 'not an archived internal note' };
    return { status: 'note_archived', noteId: result.noteId };
  }

  private async archivesNotes(ws: string): Promise<boolean> {
    return (await this.o.store.getWorkspace(ws))?.policies.archiveInternalNotes === true;
  }

  private async consent(
    ws: string,
    connectorId: string,
    command: SetConsentCommand,
  ): Promise<CommandOutcome> {
    const ref = await this.o.store.findRefByExternalId(ws, connectorId, 'contact', command.contactId);
    if (!ref) return { status: 'ignored', reason: 'contact not linked to a WhatsApp contact' };
    const current = await this.o.store.consentSnapshot(ws, ref.entityId);
    if (current[command.category].state === command.state) {
      // Usually the echo of our own update of the platform; recording it again would add noise.
      await this.o.store.claimCommandKey(ws, connectorId, command.idempotencyKey);
      return { status: 'ignored', reason: 'consent already in that state' };
    }
    // Consent set through a connector is recorded as that connector's (its platform holds the record).
    const source: ConsentSource = connectorId;
    const result = await this.o.store.recordConsent({
      commandKey: { source: connectorId, key: command.idempotencyKey },
      workspaceId: ws,
      contactId: ref.entityId,
      category: command.category,
      state: command.state,
      source,
      actor: command.actor,
      evidenceMessageId: null,
      occurredAt: command.occurredAt,
      details: { ...command.details, via: connectorId },
    });
    if (result.duplicate || !result.entry) return { status: 'duplicate' };
    return { status: 'consent_recorded', entryId: result.entry.id };
  }

  private async contactRemoved(
    ws: string,
    connectorId: string,
    command: ContactRemovedCommand,
  ): Promise<CommandOutcome> {
    const ref = await this.o.store.findRefByExternalId(ws, connectorId, 'contact', command.contactId);
    if (!ref) return { status: 'ignored', reason: 'contact not linked' };
    if (!(await this.o.store.claimCommandKey(ws, connectorId, command.idempotencyKey)))
      return { status: 'duplicate' };
    if (command.reason === 'merged' && command.mergedInto) {
      await this.o.store.putRef(ws, {
        ...ref,
        externalId: command.mergedInto,
        data: { ...ref.data, mergedFrom: command.contactId },
      });
    } else {
      // Unlinked: the connector finds or creates the contact again on the next message.
      await this.o.store.putRef(ws, {
        ...ref,
        externalId: `removed:${command.contactId}`,
        data: { ...ref.data, removed: command.reason },
      });
      // Its link (ctx.links) pointed at the record that is gone: other mirrors stop showing it.
      await this.o.store.putRef(ws, {
        connectorId,
        kind: LINK_REF_KIND,
        entityId: ref.entityId,
        externalId: '',
        data: {},
      });
    }
    await this.o.store.appendAudit({
      actor: `${connectorId}`,
      action: `contact.${command.reason}`,
      workspaceId: ws,
      details: { contactId: ref.entityId, externalId: command.contactId, mergedInto: command.mergedInto },
    });
    return { status: 'ignored', reason: `contact ${command.reason}: link updated` };
  }

  /**
   * Tells the agent, in their thread, why their command did nothing (or what it could not do).
   * `inReplyTo` is the agent's own message; `messageId` the outbound message the notice is about.
   */
  private async notice(
    ws: string,
    connectorId: string,
    commandKey: { source: string; key: string },
    notice: {
      conversationId: string;
      kind: NoticeKind;
      text: string;
      inReplyTo: string | null;
      templates?: TemplateDefinition[];
      messageId?: string | null;
    },
  ): Promise<CommandOutcome> {
    const { conversationId, kind, text, inReplyTo, templates = [], messageId = null } = notice;
    const result = await this.o.store.recordNotice({
      commandKey,
      workspaceId: ws,
      conversationId,
      connectorId,
      notice: { id: newId('ntc'), kind, text, inReplyTo, templates, messageId, createdAt: this.now() },
    });
    return result.duplicate ? { status: 'duplicate' } : { status: 'notice', kind, noticeId: result.noticeId };
  }

  private async templates(ws: string): Promise<TemplateDefinition[]> {
    return (await this.o.store.getWorkspace(ws))?.policies.templates ?? [];
  }
}

export function displayName(contact: Contact): string {
  return contact.profileName ?? contact.username ?? 'The customer';
}
