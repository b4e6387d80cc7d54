import type { DomainEvent, EventBase, JobEvent } from '../domain/events.ts';
import { CHANGE_TYPES, deriveRevision, type Message, windowState } from '../domain/types.ts';
import type { ConfigStore, Job, JobStore, ReadStore } from '../store/types.ts';

/**
 * What a job hands its connector. A `send` job becomes a `SendRequest` without reading anything:
 * its sender reads the message right before sending, and settles a message that can no longer be
 * sent itself. Every other job is its domain event, built by the store where it can
 * (`Store.hydrateEvent`) and from the store's reads otherwise.
 */
export function hydrateJob(
  store: ReadStore & Pick<ConfigStore, 'getWorkspace'> & Pick<JobStore, 'hydrateEvent'>,
  job: Job,
  now: number,
): Promise<JobEvent | null> {
  if (job.eventType === 'send') {
    return Promise.resolve({
      type: 'message.send',
      id: `send:${job.entityId}`,
      workspaceId: job.workspaceId,
      messageId: job.entityId,
      attempts: job.attempts,
      lease: job.lease,
    });
  }
  return store.hydrateEvent ? store.hydrateEvent(job, now) : hydrateEvent(store, job, now);
}

/** The reads `hydrateEvent` makes. */
export type HydrateReads = ReadStore & Pick<ConfigStore, 'getWorkspace'>;

/**
 * The store, with some of `hydrateEvent`'s reads answered from rows a store read beforehand (in
 * one statement): a store hydrates a job in one round trip and still builds its event with
 * `hydrateEvent`, as every other store does. Reads not answered go to the store.
 */
export function answeringReads(store: HydrateReads, answered: Partial<HydrateReads>): HydrateReads {
  return new Proxy(store, {
    get(target, property, receiver) {
      if (Object.hasOwn(answered, property)) return answered[property as keyof HydrateReads];
      const value = Reflect.get(target, property, receiver);
      // The store's own methods run on the store (its private fields are not on the proxy).
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

/**
 * Builds the event a job stands for from the store as it is now. Returns null when the entity is
 * gone (erased, workspace deleted): such a job completes without delivering anything.
 */
export async function hydrateEvent(
  store: ReadStore & Pick<ConfigStore, 'getWorkspace'>,
  job: Job,
  now: number,
): Promise<DomainEvent | null> {
  const ws = job.workspaceId;
  const [workspace, conversation] = await Promise.all([
    store.getWorkspace(ws),
    store.getConversation(ws, job.conversationId),
  ]);
  if (!workspace || !conversation) return null;
  // A restricted conversation (GDPR art. 18) is kept but no longer processed: only the request
  // to remove the mirrors' copies goes out.
  if (conversation.restrictedAt !== null && job.eventType !== 'conversation.erased') return null;
  const [contact, consent] = await Promise.all([
    store.getContact(ws, conversation.contactId),
    store.consentSnapshot(ws, conversation.contactId),
  ]);
  if (!contact) return null;
  const base: EventBase = {
    id: `${job.eventType}:${job.entityId}`,
    workspace: { id: workspace.id, name: workspace.name, policies: workspace.policies },
    conversation,
    contact,
    consent,
    window: windowState(conversation, now),
  };
  switch (job.eventType) {
    case 'message.inbound':
    case 'message.outbound': {
      const message = await store.getMessage(ws, job.entityId);
      if (!message) return null;
      const related = message.relatesTo ? await store.getMessageByWamid(ws, message.relatesTo) : null;
      // An edit or a deletion is shown as the message it changes, as that message now stands.
      if (CHANGE_TYPES.has(message.type)) {
        if (related) related.revision = await revisionOf(store, ws, related);
      } else {
        message.revision = await revisionOf(store, ws, message);
      }
      return { ...base, type: job.eventType, message, related };
    }
    case 'message.status': {
      const status = await store.getStatus(ws, job.entityId);
      const message = status?.messageId ? await store.getMessage(ws, status.messageId) : null;
      if (!status || !message) return null;
      message.revision = await revisionOf(store, ws, message);
      return { ...base, type: 'message.status', message, status };
    }
    case 'consent.changed': {
      const change = await store.getConsentEntry(ws, job.entityId);
      return change ? { ...base, type: 'consent.changed', change } : null;
    }
    case 'notice': {
      const notice = await store.getNotice(ws, job.entityId);
      return notice ? { ...base, type: 'notice', notice: { ...notice, kind: notice.kind as never } } : null;
    }
    case 'conversation.updated':
      return { ...base, type: 'conversation.updated', reason: job.entityId };
    case 'conversation.erased':
      return {
        ...base,
        type: 'conversation.erased',
        erasure: { requestedBy: null, reason: null, at: conversation.erasedAt ?? now },
      };
    default:
      return null;
  }
}

/** What the message shows after its edits and deletion (one seek in a small partial index). */
async function revisionOf(store: ReadStore, ws: string, message: Message) {
  return message.wamid ? deriveRevision(await store.listRevisions(ws, message.wamid)) : null;
}
