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
import type {
  BatchItem,
  BatchOutcome,
  ConnectorDeps,
  DomainEvent,
  ExternalRefInput,
  Message,
  RefAccess,
} from '@wabridge/core';
import {
  CHANGE_TYPES,
  displayName,
  isBusinessAppMessage,
  toWabridgeError,
  WabridgeError,
} from '@wabridge/core';
import type { HubSpotApi } from '../api/client.ts';
import { type EntryOutcome, type TimelineEntry, TimelineWriter } from '../api/timeline.ts';
import type { HubSpotConfig } from '../config.ts';
import { OpenRecords, TO_DEAL, TO_TICKET } from '../contacts/open-records.ts';
import { type ContactRequest, ContactResolver, type Resolution } from '../contacts/resolve.ts';
import { communicationBody, isMedia } from '../render/timeline.ts';
import type { Setup } from '../setup/index.ts';
import { COMMUNICATION, consentProperties } from '../setup/properties.ts';

const DAY_MS = 24 * 60 * 60 * 1000;

type Outcome = BatchOutcome;
/** How a message's media shows on the timeline: a link, an attached HubSpot file, or neither. */
type MediaPart = {
  link: { url: string; expiresAt: number } | null;
  fileId: string | null;
  /** WhatsApp no longer has the file: the entry says so rather than link to nothing. */
  unavailable: boolean;
};
const ok = (refs: ExternalRefInput[] = []): Outcome => ({ ok: true, result: { refs } });
const fail = (error: unknown): Outcome => ({ ok: false, error });

export class HubSpotDelivery {
  readonly #api: HubSpotApi;
  readonly #config: HubSpotConfig;
  readonly #deps: ConnectorDeps;
  readonly #setup: Setup;
  readonly #contacts: ContactResolver;
  readonly #open: OpenRecords;

  constructor(api: HubSpotApi, config: HubSpotConfig, deps: ConnectorDeps, setup: Setup) {
    this.#api = api;
    this.#config = config;
    this.#deps = deps;
    this.#setup = setup;
    this.#contacts = new ContactResolver(api, config, deps.logger, deps.now, deps.emit);
    this.#open = new OpenRecords(api, deps.now);
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
      return { contact: event.contact, consent: event.consent, refs: ctx.refs };
    });
    let contacts = new Map<string, Resolution>();
    if (requests.length > 0) {
      try {
        contacts = await this.#contacts.resolve(requests);
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

    await this.#writeTimeline(items, timeline, linked, rewrite, requests, setup.messageKeyUnique, outcomes);
    await this.#writeConsent(items, consent, linked, requests, outcomes);
    for (const i of erasures) outcomes[i] = await this.#erase(items[i] as BatchItem);
    return outcomes.map((o) => o ?? fail(new WabridgeError('internal', 'no outcome for this event')));
  }

  async #writeTimeline(
    items: readonly BatchItem[],
    indexes: number[],
    linked: (i: number) => string | null,
    rewrite: ReadonlySet<string>,
    requests: ContactRequest[],
    uniqueKey: boolean,
    outcomes: (Outcome | undefined)[],
  ): Promise<void> {
    const live = indexes.filter((i) => linked(i) !== null);
    if (live.length === 0) return;
    const { openDeal, openTicket } = this.#config.associate;
    const writer = new TimelineWriter(this.#api, {
      uniqueKey,
      now: this.#deps.now,
      ...(this.#config.ownerId ? { ownerId: this.#config.ownerId } : {}),
    });
    const build = async (
      i: number,
      hubspotId: string,
      open: Map<string, { deal: string | null; ticket: string | null }>,
    ) => {
      const { event, ctx } = items[i] as BatchItem;
      const message = messageOf(items[i] as BatchItem);
      const records = open.get(hubspotId);
      const also = [
        ...(records?.deal ? [{ id: records.deal, typeId: TO_DEAL }] : []),
        ...(records?.ticket ? [{ id: records.ticket, typeId: TO_TICKET }] : []),
      ];
      let media: MediaPart;
      try {
        media = await this.#media(message, ctx.refs);
      } catch (error) {
        outcomes[i] = fail(error); // this message waits for its upload; the others go ahead
        return null;
      }
      const entry: TimelineEntry = {
        message,
        conversationId: event.conversation.id,
        hubspotContactId: hubspotId,
        also,
        body: communicationBody({
          message,
          contactName: displayName(event.contact),
          mediaLink: media.link,
          attachedFile: media.fileId !== null,
          mediaUnavailable: media.unavailable,
          masking: event.workspace.policies.numberMasking,
          related:
            (event.type === 'message.inbound' || event.type === 'message.outbound') &&
            message === event.message
              ? event.related
              : null,
        }),
        attachmentIds: media.fileId ? [media.fileId] : [],
        refs: ctx.refs,
      };
      return entry;
    };
    const openFor = async (ids: string[]) => {
      if (!openDeal && !openTicket) return new Map<string, { deal: string | null; ticket: string | null }>();
      try {
        return await this.#open.find(ids, { deal: openDeal, ticket: openTicket });
      } catch (error) {
        // The optional rule must not hold back the timeline: write without it this time.
        this.#deps.logger.warn({ err: error }, 'could not look up open deals/tickets; writing without them');
        return new Map<string, { deal: string | null; ticket: string | null }>();
      }
    };

    const hubspotIds = new Map(live.map((i) => [i, linked(i) as string]));
    let open = await openFor([...hubspotIds.values()]);
    const present = (list: (TimelineEntry | null)[]) => list.filter((e): e is TimelineEntry => e !== null);
    let entries = present(await Promise.all(live.map((i) => build(i, hubspotIds.get(i) as string, open))));
    let written = await writer.write(entries, rewrite);

    // A contact deleted or merged in HubSpot since we mapped it: re-resolve those and try once more.
    const stale = live.filter(
      (i) => written.get(messageOf(items[i] as BatchItem).id)?.kind === 'stale_contact',
    );
    if (stale.length > 0) {
      const staleContacts = new Set(stale.map((i) => (items[i] as BatchItem).event.contact.id));
      try {
        const again = await this.#contacts.reresolve(requests, staleContacts);
        for (const [id, resolution] of again)
          this.#setResolution(id, resolution, items, stale, hubspotIds, outcomes);
        const retry = stale.filter((i) => !outcomes[i]);
        open = await openFor(retry.map((i) => hubspotIds.get(i) as string));
        entries = present(await Promise.all(retry.map((i) => build(i, hubspotIds.get(i) as string, open))));
        const second = await writer.write(entries, rewrite);
        written = new Map([...written, ...second]);
      } catch (error) {
        for (const i of stale) outcomes[i] ??= fail(error);
      }
    }

    for (const i of live) {
      if (outcomes[i]) continue;
      const item = items[i] as BatchItem;
      const message = messageOf(item);
      outcomes[i] = toOutcome(written.get(message.id), message.id, hubspotIds.get(i) as string);
    }
  }

  #setResolution(
    contactId: string,
    resolution: Resolution,
    items: readonly BatchItem[],
    indexes: number[],
    hubspotIds: Map<number, string>,
    outcomes: (Outcome | undefined)[],
  ): void {
    for (const i of indexes) {
      if ((items[i] as BatchItem).event.contact.id !== contactId) continue;
      if (resolution.kind === 'linked') hubspotIds.set(i, resolution.hubspotId);
      else if (resolution.kind === 'skipped') outcomes[i] = ok();
      else outcomes[i] = fail(resolution.error);
    }
  }

  /**
   * A link to the media (inbound), or the file uploaded to HubSpot when the workspace wants that.
   * An upload HubSpot may still accept (rate limit, 5xx) fails the message so it is retried; media
   * that cannot be had at all (expired at Meta, refused by HubSpot) is described as unavailable.
   */
  async #media(message: Message, refs: RefAccess): Promise<MediaPart> {
    const none: MediaPart = { link: null, fileId: null, unavailable: false };
    const carries = message.direction === 'inbound' || isBusinessAppMessage(message);
    if (!isMedia(message) || !carries) return none;
    const { media } = this.#config;
    const uploaded = media.upload ? await refs.get('file', message.id) : null;
    if (message.revision?.revokedAt) {
      // Deleted by its author: the copy in HubSpot Files goes too (the archive keeps the message).
      if (uploaded) await this.#api.deleteFile(uploaded.externalId);
      return none;
    }
    if (uploaded) return { link: null, fileId: uploaded.externalId, unavailable: false };
    // Fetched now (and kept by the gateway), so the link keeps working after WhatsApp lets the
    // file expire, and a file WhatsApp no longer has is said so instead of a link that fails.
    let file: Awaited<ReturnType<ConnectorDeps['media']['fetch']>>;
    try {
      file = await this.#deps.media.fetch(message.id);
    } catch (error) {
      const failure = toWabridgeError(error);
      if (failure.retryable) throw failure;
      this.#deps.logger.info({ code: failure.code, message: message.id }, 'WhatsApp media unavailable');
      return { ...none, unavailable: true };
    }
    if (media.upload) {
      try {
        // The name carries the message id, so a repeated upload finds the first one (see uploadFile).
        const filename = `${message.id}-${file.filename}`;
        const { id } = await this.#api.uploadFile({ bytes: file.bytes, filename }, media.folderPath);
        await refs.checkpoint({
          kind: 'file',
          entityId: message.id,
          externalId: id,
          data: { sha256: file.sha256 },
        });
        return { link: null, fileId: id, unavailable: false };
      } catch (error) {
        if (error instanceof WabridgeError && error.retryable) throw error;
        this.#deps.logger.warn(
          { err: error, message: message.id },
          'HubSpot refused the media upload; linking instead',
        );
      }
    }
    const ttl = media.linkTtlDays * DAY_MS;
    return {
      link: { url: this.#deps.media.url(message.id, ttl), expiresAt: this.#deps.now() + ttl },
      fileId: null,
      unavailable: false,
    };
  }

  async #writeConsent(
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
          const result = await this.#api.batchUpdate(
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
        const again = await this.#contacts.reresolve(requests, stale);
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

  /** Archives every timeline entry of an erased conversation. */
  async #erase(item: BatchItem): Promise<Outcome> {
    try {
      const ids: string[] = [];
      let after: string | undefined;
      for (let page = 0; page < 50; page++) {
        const response = await this.#api.search('communications', {
          filterGroups: [
            {
              filters: [
                {
                  propertyName: COMMUNICATION.conversation,
                  operator: 'EQ',
                  value: item.event.conversation.id,
                },
              ],
            },
          ],
          properties: [COMMUNICATION.key],
          limit: 200,
          ...(after ? { after } : {}),
        });
        ids.push(...response.results.map((r) => r.id));
        if (!response.after) break;
        after = response.after;
      }
      for (let i = 0; i < ids.length; i += 100)
        await this.#api.batchArchive('communications', ids.slice(i, i + 100));
      item.ctx.logger.info({ archived: ids.length }, 'erased conversation removed from the HubSpot timeline');
      return ok();
    } catch (error) {
      return fail(error);
    }
  }
}

/** The message an item's timeline entry is for: an edit or a deletion is the message it changes. */
function messageOf(item: BatchItem): Message {
  const event = item.event as Extract<DomainEvent, { message: Message }>;
  if ((event.type === 'message.inbound' || event.type === 'message.outbound') && event.related) {
    if (CHANGE_TYPES.has(event.message.type)) return event.related;
  }
  return event.message;
}

function toOutcome(written: EntryOutcome | undefined, messageId: string, hubspotContactId: string): Outcome {
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
