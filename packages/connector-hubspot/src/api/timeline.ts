/**
 * Writes WhatsApp messages to the HubSpot timeline as Communications, in batches of up to 100,
 * exactly once per message whatever the retries.
 *
 * How "exactly once" holds: every entry carries `wabridge_message_key` = our message id, a
 * property with unique values, and is written with `batch/create` (associations inline, one call
 * per 100 messages) with `objectWriteTraceId` = the key, which makes HubSpot answer input by input
 * (207) instead of failing the whole batch. A retry after a crash — the entry exists, our ref does
 * not — is refused by HubSpot as a CONFLICT on the key, and one `batch/read` by that key returns
 * the existing entry. No pending marker is needed: the create is idempotent by the key, and a read
 * by a unique property does not wait for the search index. (`batch/upsert` by the key would be
 * idempotent too, but takes no associations: a second call per batch, and a crash between the two
 * leaves an entry on no timeline.)
 *
 * Where a portal refuses a unique key on communications, the writer falls back to the recipe of
 * docs/architecture.md ("Exactly-once effects"): a pending marker (ref `pending:<key>`) before the create, and on a retry
 * that finds one, a search by key — after waiting out the search index lag.
 */
import { type Message, type RefAccess, WabridgeError } from '@wabridge/core';
import { COMMUNICATION } from '../setup/properties.ts';
import type { BatchInputError, CreateInput, HubSpotApi } from './client.ts';

export interface TimelineEntry {
  message: Message;
  conversationId: string;
  hubspotContactId: string;
  /** Further objects to associate (open deal / ticket): HubSpot association type ids from communications. */
  also: { id: string; typeId: number }[];
  body: string;
  attachmentIds: string[];
  refs: RefAccess;
}

export type EntryOutcome =
  | { kind: 'written'; communicationId: string }
  /** HubSpot refused an association to the contact: its mapping is stale (deleted or merged). */
  | { kind: 'stale_contact' }
  | { kind: 'failed'; error: WabridgeError };

export interface WriterOptions {
  ownerId?: string;
  /** Whether `wabridge_message_key` is unique in the portal (see setup/). */
  uniqueKey: boolean;
  now: () => number;
}

const CHUNK = 100;
/** How long a write may take to show in CRM search (https://developers.hubspot.com/docs/api-reference/2026-03/crm/search-the-crm: "a few seconds"). */
export const SEARCH_INDEX_LAG_MS = 15_000;
const PENDING = 'pending:';

export class TimelineWriter {
  readonly #api: HubSpotApi;
  readonly #o: WriterOptions;

  constructor(api: HubSpotApi, options: WriterOptions) {
    this.#api = api;
    this.#o = options;
  }

  /**
   * Creates the entries that do not exist yet, and rewrites those that do when `rewrite` is set
   * (a message WhatsApp reported as failed, or one its author edited or deleted). Outcomes are
   * keyed by our message id.
   */
  async write(
    entries: readonly TimelineEntry[],
    rewrite: ReadonlySet<string>,
  ): Promise<Map<string, EntryOutcome>> {
    const out = new Map<string, EntryOutcome>();
    const toCreate: TimelineEntry[] = [];
    const toUpdate: { entry: TimelineEntry; id: string }[] = [];
    const pending: TimelineEntry[] = [];
    // Every entry's ref read at once (each is a store round trip of its own job), then sorted in
    // the entries' order.
    const list = unique(entries);
    const refs = await Promise.all(list.map((entry) => entry.refs.get('message', entry.message.id)));
    list.forEach((entry, i) => {
      const ref = refs[i];
      if (ref && !ref.externalId.startsWith(PENDING)) {
        if (rewrite.has(entry.message.id)) toUpdate.push({ entry, id: ref.externalId });
        else out.set(entry.message.id, { kind: 'written', communicationId: ref.externalId });
      } else if (ref) {
        pending.push(entry);
      } else {
        toCreate.push(entry);
      }
    });
    if (pending.length > 0) {
      toCreate.push(...(await this.#settlePending(pending, out)));
      for (const entry of pending) {
        const found = out.get(entry.message.id);
        if (found?.kind === 'written' && rewrite.has(entry.message.id)) {
          toUpdate.push({ entry, id: found.communicationId });
        }
      }
    }
    await this.#create(toCreate, out);
    // Created just now with the failure in the body: nothing to rewrite.
    await this.#update(toUpdate, out);
    return out;
  }

  #properties(entry: TimelineEntry): Record<string, string> {
    const { message } = entry;
    const properties: Record<string, string> = {
      hs_communication_channel_type: 'WHATS_APP',
      hs_communication_logged_from: 'CRM',
      hs_communication_body: entry.body,
      hs_timestamp: String(message.timestamp),
      [COMMUNICATION.key]: message.id,
      [COMMUNICATION.conversation]: entry.conversationId,
      [COMMUNICATION.direction]: message.direction,
    };
    if (message.direction === 'outbound') {
      properties[COMMUNICATION.deliveryState] = message.state === 'failed' ? 'failed' : 'sent';
    }
    if (entry.attachmentIds.length > 0) properties.hs_attachment_ids = entry.attachmentIds.join(';');
    if (this.#o.ownerId) properties.hubspot_owner_id = this.#o.ownerId;
    return properties;
  }

  async #create(entries: TimelineEntry[], out: Map<string, EntryOutcome>): Promise<void> {
    const conflicts: TimelineEntry[] = [];
    for (let i = 0; i < entries.length; i += CHUNK) {
      const chunk = entries.slice(i, i + CHUNK);
      if (!this.#o.uniqueKey) {
        await Promise.all(
          chunk.map((entry) =>
            entry.refs.checkpoint({
              kind: 'message',
              entityId: entry.message.id,
              externalId: `${PENDING}${entry.message.id}`,
              data: { at: this.#o.now() },
            }),
          ),
        );
      }
      const inputs: CreateInput[] = chunk.map((entry) => ({
        properties: this.#properties(entry),
        objectWriteTraceId: entry.message.id,
        associations: [
          {
            to: { id: entry.hubspotContactId },
            types: [{ associationCategory: 'HUBSPOT_DEFINED', associationTypeId: 81 }],
          },
          ...entry.also.map((a) => ({
            to: { id: a.id },
            types: [{ associationCategory: 'HUBSPOT_DEFINED' as const, associationTypeId: a.typeId }],
          })),
        ],
      }));
      let result: Awaited<ReturnType<HubSpotApi['batchCreate']>>;
      try {
        result = await this.#api.batchCreate('communications', inputs);
      } catch (error) {
        // The call as a whole failed (429, 5xx, outage): nothing of this or later chunks is known
        // to exist, and retrying later chunks now would meet the same wall. Earlier chunks'
        // conflicts (entries a crashed attempt wrote) are still read below: returning here left
        // them with no outcome at all, retried as "outcome unknown" until a retry met no 429.
        const failure = asWabridgeError(error);
        for (const entry of entries.slice(i)) out.set(entry.message.id, { kind: 'failed', error: failure });
        break;
      }
      for (const record of result.results) {
        const key = record.objectWriteTraceId ?? record.properties[COMMUNICATION.key] ?? '';
        out.set(key, { kind: 'written', communicationId: record.id });
      }
      const byKey = new Map(chunk.map((e) => [e.message.id, e]));
      for (const error of result.errors) {
        for (const key of error.context.objectWriteTraceId ?? []) {
          const entry = byKey.get(key);
          if (!entry) continue;
          if (error.category === 'CONFLICT') conflicts.push(entry);
          else if (isAssociationError(error)) out.set(key, { kind: 'stale_contact' });
          else {
            out.set(key, {
              kind: 'failed',
              error: new WabridgeError('permanent', `HubSpot refused the timeline entry: ${error.message}`, {
                details: { category: error.category, errors: error.errors.map((e) => e.message).slice(0, 5) },
              }),
            });
          }
        }
      }
    }
    if (conflicts.length > 0) await this.#readExisting(conflicts, out);
  }

  /** Entries that already exist (a retry): their ids, read by the unique key. */
  async #readExisting(entries: TimelineEntry[], out: Map<string, EntryOutcome>): Promise<void> {
    for (let i = 0; i < entries.length; i += CHUNK) {
      const chunk = entries.slice(i, i + CHUNK);
      try {
        const read = await this.#api.batchRead(
          'communications',
          chunk.map((e) => e.message.id),
          [COMMUNICATION.key],
          COMMUNICATION.key,
        );
        for (const record of read.results) {
          const key = record.properties[COMMUNICATION.key];
          if (key) out.set(key, { kind: 'written', communicationId: record.id });
        }
      } catch (error) {
        const failure = asWabridgeError(error);
        for (const entry of chunk) out.set(entry.message.id, { kind: 'failed', error: failure });
        continue;
      }
      for (const entry of chunk) {
        if (!out.has(entry.message.id)) {
          out.set(entry.message.id, {
            kind: 'failed',
            error: new WabridgeError(
              'transient',
              'HubSpot reported the entry as existing but could not read it',
            ),
          });
        }
      }
    }
  }

  /** Fallback mode only: finds entries a crashed attempt may have created, before creating again. */
  async #settlePending(entries: TimelineEntry[], out: Map<string, EntryOutcome>): Promise<TimelineEntry[]> {
    const now = this.#o.now();
    const ready: TimelineEntry[] = [];
    const refs = await Promise.all(entries.map((entry) => entry.refs.get('message', entry.message.id)));
    for (const [i, entry] of entries.entries()) {
      const at = Number(refs[i]?.data.at ?? 0);
      if (now - at < SEARCH_INDEX_LAG_MS) {
        // Too fresh for search to show it: looking now could miss it and write it twice.
        out.set(entry.message.id, {
          kind: 'failed',
          error: new WabridgeError('rate_limited', 'waiting for HubSpot search to index a recent write', {
            retryAfterMs: SEARCH_INDEX_LAG_MS - (now - at),
          }),
        });
      } else {
        ready.push(entry);
      }
    }
    const missing: TimelineEntry[] = [];
    for (let i = 0; i < ready.length; i += CHUNK) {
      const chunk = ready.slice(i, i + CHUNK);
      const found = new Map<string, string>();
      try {
        const response = await this.#api.search('communications', {
          filterGroups: [
            {
              filters: [
                { propertyName: COMMUNICATION.key, operator: 'IN', values: chunk.map((e) => e.message.id) },
              ],
            },
          ],
          properties: [COMMUNICATION.key],
          limit: 200,
        });
        for (const record of response.results) {
          const key = record.properties[COMMUNICATION.key];
          if (key && !found.has(key)) found.set(key, record.id);
        }
      } catch (error) {
        const failure = asWabridgeError(error);
        for (const entry of chunk) out.set(entry.message.id, { kind: 'failed', error: failure });
        continue;
      }
      for (const entry of chunk) {
        const id = found.get(entry.message.id);
        if (id) out.set(entry.message.id, { kind: 'written', communicationId: id });
        else missing.push(entry);
      }
    }
    return missing;
  }

  async #update(
    items: { entry: TimelineEntry; id: string }[],
    out: Map<string, EntryOutcome>,
  ): Promise<void> {
    for (let i = 0; i < items.length; i += CHUNK) {
      const chunk = items.slice(i, i + CHUNK);
      try {
        const result = await this.#api.batchUpdate(
          'communications',
          chunk.map(({ entry, id }) => ({
            id,
            objectWriteTraceId: entry.message.id,
            // hs_timestamp stays: an edited or deleted message keeps its place on the timeline.
            properties: {
              hs_communication_body: entry.body,
              ...(entry.message.direction === 'outbound'
                ? { [COMMUNICATION.deliveryState]: entry.message.state === 'failed' ? 'failed' : 'sent' }
                : {}),
              // A message its author deleted keeps no attached copy of its file.
              ...(entry.message.revision?.revokedAt ? { hs_attachment_ids: '' } : {}),
            },
          })),
        );
        for (const record of result.results) {
          const key = record.objectWriteTraceId ?? '';
          const item = chunk.find((c) => c.entry.message.id === key || c.id === record.id);
          if (item) out.set(item.entry.message.id, { kind: 'written', communicationId: record.id });
        }
        for (const error of result.errors) {
          for (const key of error.context.objectWriteTraceId ?? []) {
            out.set(key, {
              kind: 'failed',
              error: new WabridgeError(
                'permanent',
                `HubSpot refused to update the timeline entry: ${error.message}`,
              ),
            });
          }
        }
      } catch (error) {
        const failure = asWabridgeError(error);
        for (const { entry } of chunk) out.set(entry.message.id, { kind: 'failed', error: failure });
      }
    }
  }
}

/** One entry per message: a message and its failure status may share a batch. */
function unique(entries: readonly TimelineEntry[]): TimelineEntry[] {
  const byId = new Map<string, TimelineEntry>();
  for (const entry of entries) byId.set(entry.message.id, entry);
  return [...byId.values()];
}

function isAssociationError(error: BatchInputError): boolean {
  return (
    error.context.toObjectId !== undefined ||
    error.errors.some((e) => e.code === 'INVALID_ASSOCIATION' || e.context?.toObjectId !== undefined) ||
    /association/i.test(error.message)
  );
}

function asWabridgeError(error: unknown): WabridgeError {
  return error instanceof WabridgeError
    ? error
    : new WabridgeError('transient', error instanceof Error ? error.message : String(error), {
        cause: error,
      });
}
