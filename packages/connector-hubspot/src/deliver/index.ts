/**
 * Bridge → HubSpot: mirrors a batch of events of one workspace in as few calls as HubSpot allows.
 *
 * For a batch: setup (first time only) → contacts of every event, in bulk (contacts/) → open
 * deals/tickets if the workspace wants them → timeline entries, 100 per call (api/timeline.ts) →
 * consent properties, 100 contacts per call → erasures. Each event gets its own outcome: a failure
 * of one call fails only the events that needed it, and the queue retries or dead-letters each.
 *
 * Events and what they do here:
 * - `message.inbound` / `message.outbound`: one timeline entry (Communication, channel WhatsApp);
 * - `message.status` `failed`: the entry is rewritten to say the message was not delivered;
 *   other statuses change nothing in HubSpot;
 * - `consent.changed`: the contact's consent properties take the ledger's current state;
 * - `conversation.erased`: the conversation's entries are archived.
 */
import type { BatchItem, BatchOutcome, ConnectorDeps } from '@wabridge/core';
import { CHANGE_TYPES, WabridgeError } from '@wabridge/core';
import type { HubSpotApi } from '../api/client.ts';
import type { HubSpotConfig } from '../config.ts';
import { OpenRecords } from '../contacts/open-records.ts';
import { type ContactRequest, ContactResolver, type Resolution } from '../contacts/resolve.ts';
import type { Setup } from '../setup/index.ts';
import { writeConsent } from './consent.ts';
import { erase } from './erased.ts';
import { fail, type HubSpotParts, ok } from './outcome.ts';
import { writeTimeline } from './timeline.ts';

const _DAY_MS = 24 * 60 * 60 * 1000;

type Outcome = BatchOutcome;
export class HubSpotDelivery {
  readonly #h: HubSpotParts;
  readonly #setup: Setup;

  constructor(api: HubSpotApi, config: HubSpotConfig, deps: ConnectorDeps, setup: Setup) {
    this.#setup = setup;
    this.#h = {
      api,
      config,
      deps,
      contacts: new ContactResolver(api, config, deps.logger, deps.now, deps.emit),
      open: new OpenRecords(api, deps.now),
    };
  }

  async deliverBatch(items: readonly BatchItem[]): Promise<Outcome[]> {
    const outcomes: (Outcome | undefined)[] = new Array(items.length);
    let setup: Awaited<ReturnType<Setup['ensure']>>;
    try {
      setup = await this.#setup.ensure();
    } catch (error) {
      return items.map(() => fail(error));
    }

    // Which events need the HubSpot contact, and what each will do.
    const timeline: number[] = [];
    const consent: number[] = [];
    const erasures: number[] = [];
    const rewrite = new Set<string>();
    items.forEach(({ event }, index) => {
      switch (event.type) {
        case 'message.inbound':
        case 'message.outbound':
          if (event.conversation.erasedAt !== null) outcomes[index] = ok();
          else if (CHANGE_TYPES.has(event.message.type)) {
            // An edit or a deletion rewrites the entry of the message it changes (created as it
            // now stands if it is not on the timeline yet); one of a message never received
            // has nothing to change.
            if (event.related) {
              rewrite.add(event.related.id);
              timeline.push(index);
            } else outcomes[index] = ok();
          } else timeline.push(index);
          break;
        case 'message.status':
          if (event.status.status === 'failed' && event.conversation.erasedAt === null) {
            rewrite.add(event.message.id);
            timeline.push(index);
          } else {
            outcomes[index] = ok();
          }
          break;
        case 'consent.changed':
          consent.push(index);
          break;
        case 'conversation.erased':
          erasures.push(index);
          break;
        default:
          outcomes[index] = ok();
      }
    });

    const requests: ContactRequest[] = [...timeline, ...consent].map((i) => {
      const { event, ctx } = items[i] as BatchItem;
      return { contact: event.contact, consent: event.consent, refs: ctx.refs, links: ctx.links };
    });
    let contacts = new Map<string, Resolution>();
    if (requests.length > 0) {
      try {
        contacts = await this.#h.contacts.resolve(requests);
      } catch (error) {
        for (const i of [...timeline, ...consent]) outcomes[i] = fail(error);
      }
    }
    const linked = (i: number): string | null => {
      if (outcomes[i]) return null;
      const resolution = contacts.get((items[i] as BatchItem).event.contact.id);
      if (!resolution) outcomes[i] = fail(new WabridgeError('transient', 'contact was not resolved'));
      else if (resolution.kind === 'failed') outcomes[i] = fail(resolution.error);
      else if (resolution.kind === 'skipped') outcomes[i] = ok();
      else return resolution.hubspotId;
      return null;
    };

    await writeTimeline(
      this.#h,
      items,
      timeline,
      linked,
      rewrite,
      requests,
      setup.messageKeyUnique,
      outcomes,
    );
    await writeConsent(this.#h, items, consent, linked, requests, outcomes);
    for (const i of erasures) outcomes[i] = await erase(this.#h, items[i] as BatchItem);
    return outcomes.map((o) => o ?? fail(new WabridgeError('internal', 'no outcome for this event')));
  }
}
