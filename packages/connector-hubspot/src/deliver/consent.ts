import type { BatchItem } from '@wabridge/core';
import { WabridgeError } from '@wabridge/core';
import type { ContactRequest } from '../contacts/resolve.ts';
import { consentProperties } from '../setup/properties.ts';
import { fail, type HubSpotParts, type Outcome, ok } from './outcome.ts';

/** Consent changes: the contacts' consent properties take the ledger's current state. */
export async function writeConsent(
  h: HubSpotParts,
  items: readonly BatchItem[],
  indexes: number[],
  linked: (i: number) => string | null,
  requests: ContactRequest[],
  outcomes: (Outcome | undefined)[],
): Promise<void> {
  // One update per HubSpot contact: every event carries the ledger's state as of now.
  const byContact = new Map<
    string,
    { indexes: number[]; properties: Record<string, string>; contactId: string }
  >();
  for (const i of indexes) {
    const hubspotId = linked(i);
    if (hubspotId === null) continue;
    const { event } = items[i] as BatchItem;
    const entry = byContact.get(hubspotId) ?? { indexes: [], properties: {}, contactId: event.contact.id };
    entry.indexes.push(i);
    entry.properties = consentProperties(event.consent);
    byContact.set(hubspotId, entry);
  }
  const pending = [...byContact];
  for (let attempt = 0; attempt < 2 && pending.length > 0; attempt++) {
    const missing: string[] = [];
    for (let c = 0; c < pending.length; c += 100) {
      const chunk = pending.slice(c, c + 100);
      try {
        const result = await h.api.batchUpdate(
          'contacts',
          chunk.map(([id, { properties }]) => ({ id, properties, objectWriteTraceId: id })),
        );
        const done = new Map<string, string>();
        for (const record of result.results) done.set(record.objectWriteTraceId ?? record.id, record.id);
        for (const error of result.errors) {
          for (const id of error.context.objectWriteTraceId ?? []) {
            if (error.category === 'OBJECT_NOT_FOUND') missing.push(id);
            else {
              for (const i of byContact.get(id)?.indexes ?? []) {
                outcomes[i] = fail(
                  new WabridgeError('permanent', `HubSpot refused the consent update: ${error.message}`),
                );
              }
            }
          }
        }
        for (const [id, entry] of chunk) {
          const now = done.get(id);
          if (!now) continue;
          for (const i of entry.indexes) outcomes[i] = ok();
          if (now !== id) {
            // HubSpot answered for the surviving contact of a merge: follow it.
            const first = items[entry.indexes[0] as number] as BatchItem;
            await first.ctx.refs.checkpoint({
              kind: 'contact',
              entityId: entry.contactId,
              externalId: now,
              data: { via: 'merged', mergedFrom: id },
            });
          }
        }
      } catch (error) {
        for (const [, entry] of chunk) for (const i of entry.indexes) outcomes[i] = fail(error);
      }
    }
    if (missing.length === 0) break;
    // Deleted in HubSpot since we linked it: apply the policy (recreating writes consent too).
    const stale = new Set(missing.map((id) => byContact.get(id)?.contactId ?? ''));
    pending.length = 0;
    try {
      const again = await h.contacts.reresolve(requests, stale);
      for (const id of missing) {
        const entry = byContact.get(id);
        if (!entry) continue;
        const resolution = again.get(entry.contactId);
        if (resolution?.kind === 'linked') pending.push([resolution.hubspotId, entry]);
        else
          for (const i of entry.indexes)
            outcomes[i] = resolution?.kind === 'failed' ? fail(resolution.error) : ok();
      }
    } catch (error) {
      for (const id of missing) for (const i of byContact.get(id)?.indexes ?? []) outcomes[i] = fail(error);
    }
  }
}
