import type {
  BatchItem,
  BatchOutcome,
  ConnectorDeps,
  DomainEvent,
  ExternalRefInput,
  Message,
} from '@wabridge/core';
import { CHANGE_TYPES, WabridgeError } from '@wabridge/core';
import type { HubSpotApi } from '../api/client.ts';
import type { EntryOutcome } from '../api/timeline.ts';
import type { HubSpotConfig } from '../config.ts';
import type { OpenRecords } from '../contacts/open-records.ts';
import type { ContactResolver } from '../contacts/resolve.ts';

/** What every event type's delivery works with. */
export interface HubSpotParts {
  api: HubSpotApi;
  config: HubSpotConfig;
  deps: ConnectorDeps;
  contacts: ContactResolver;
  open: OpenRecords;
}

export type Outcome = BatchOutcome;
export const ok = (refs: ExternalRefInput[] = []): Outcome => ({ ok: true, result: { refs } });
export const fail = (error: unknown): Outcome => ({ ok: false, error });

/** The message an item's timeline entry is for: an edit or a deletion is the message it changes. */
export function messageOf(item: BatchItem): Message {
  const event = item.event as Extract<DomainEvent, { message: Message }>;
  if ((event.type === 'message.inbound' || event.type === 'message.outbound') && event.related) {
    if (CHANGE_TYPES.has(event.message.type)) return event.related;
  }
  return event.message;
}

export function toOutcome(
  written: EntryOutcome | undefined,
  messageId: string,
  hubspotContactId: string,
): Outcome {
  if (!written) return fail(new WabridgeError('transient', 'timeline entry outcome unknown'));
  if (written.kind === 'failed') return fail(written.error);
  if (written.kind === 'stale_contact') {
    return fail(new WabridgeError('transient', 'HubSpot contact changed (deleted or merged) while writing'));
  }
  return ok([
    {
      kind: 'message',
      entityId: messageId,
      externalId: written.communicationId,
      data: { contact: hubspotContactId },
    },
  ]);
}
