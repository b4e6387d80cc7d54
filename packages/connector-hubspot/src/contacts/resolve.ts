/**
 * Finds the HubSpot contact of each WhatsApp user in a batch, in bulk:
 *
 * 1. the mapping we keep (a `contact` ref: our contact id → HubSpot id) — no call at all;
 * 2. one CRM search for every unmapped user of the batch: `wabridge_bsuid IN (…)` OR the two
 *    normalised phone properties `IN (national numbers)` (https://developers.hubspot.com/docs/api-reference/2026-03/crm/search-the-crm), then matched here:
 *    BSUID first, then the same international number, then the same national number typed without
 *    a country code; the oldest contact wins a tie;
 * 3. one batch upsert for those still missing, keyed by `wabridge_contact_key` (our contact id, a
 *    unique property): a retry after a crash finds the contact it created instead of creating
 *    another, without waiting for the search index.
 *
 * Every mapping found or created is checkpointed at once, so later batches need no search.
 * Deleted contacts follow the `deletedContacts` policy; a contact deleted for privacy is never
 * recreated. Merges are followed: HubSpot keeps answering for a merged-away id with the surviving
 * contact, and `reresolve` moves the mapping there.
 */
import {
  type ConsentCategory,
  type ConsentSnapshot,
  type Contact,
  type DomainCommand,
  type ExternalRef,
  type LinkAccess,
  type Logger,
  type RefAccess,
  WabridgeError,
} from '@wabridge/core';
import type { CrmRecord, HubSpotApi } from '../api/client.ts';
import type { HubSpotConfig } from '../config.ts';
import { CONTACT, consentProperties, consentValue } from '../setup/properties.ts';
import { type PhoneKey, phoneKey, phoneMatch } from './phone.ts';

export interface ContactRequest {
  contact: Contact;
  consent: ConsentSnapshot;
  /** Ref access of one job of this contact, to read and checkpoint the mapping. */
  refs: RefAccess;
  /** The same job's links: the contact's HubSpot page, for the other mirrors to show. */
  links: LinkAccess;
}

export type Resolution =
  | { kind: 'linked'; hubspotId: string }
  /** Nothing is written to HubSpot for this contact (deleted there, by policy or for privacy). */
  | { kind: 'skipped'; reason: string }
  | { kind: 'failed'; error: WabridgeError };

const SEARCH_PROPERTIES = [
  'phone',
  'mobilephone',
  'hs_searchable_calculated_phone_number',
  'hs_searchable_calculated_mobile_number',
  CONTACT.bsuid,
  CONTACT.key,
  CONTACT.consent,
  'createdate',
];

/** HubSpot takes at most 100 values in one `IN` filter [V?]; the emulator enforces the same. */
const IN_LIMIT = 100;
const BATCH_LIMIT = 100;

/** How other mirrors label the contact's HubSpot page (the Slack card's button). */
const LINK_LABEL = 'HubSpot contact';

export class ContactResolver {
  readonly #api: HubSpotApi;
  readonly #config: HubSpotConfig;
  readonly #logger: Logger;

  readonly #emit: ((commands: DomainCommand[]) => Promise<void>) | undefined;
  readonly #now: () => number;

  constructor(
    api: HubSpotApi,
    config: HubSpotConfig,
    logger: Logger,
    now: () => number,
    emit?: (commands: DomainCommand[]) => Promise<void>,
  ) {
    this.#api = api;
    this.#config = config;
    this.#logger = logger;
    this.#now = now;
    this.#emit = emit;
  }

  /** Resolves every distinct contact of the requests; the map is keyed by our contact id. */
  async resolve(requests: readonly ContactRequest[]): Promise<Map<string, Resolution>> {
    const out = new Map<string, Resolution>();
    const byId = new Map<string, ContactRequest>();
    for (const request of requests) if (!byId.has(request.contact.id)) byId.set(request.contact.id, request);
    // Each contact's reads and writes are store round trips of its own job: made at once, so a
    // batch of 100 contacts waits for the store about once, not 100 times in a row.
    const known = await Promise.all(
      [...byId.values()].map(async (request) => {
        const ref = await request.refs.get('contact', request.contact.id);
        const resolution = this.#fromRef(ref);
        if (ref && resolution?.kind === 'linked') await this.#keepLink(request, ref);
        return { request, resolution };
      }),
    );
    const unknown: ContactRequest[] = [];
    for (const { request, resolution } of known) {
      if (resolution) out.set(request.contact.id, resolution);
      else unknown.push(request);
    }
    if (unknown.length > 0) await this.#findOrCreate(unknown, out);
    return out;
  }

  /**
   * Re-checks mappings HubSpot refused (an association to a contact that no longer exists):
   * follows merges, applies the deletion policy, and resolves again.
   */
  async reresolve(
    requests: readonly ContactRequest[],
    stale: ReadonlySet<string>,
  ): Promise<Map<string, Resolution>> {
    const out = new Map<string, Resolution>();
    const targets = requests.filter((r) => stale.has(r.contact.id));
    const current = new Map<string, string>();
    await Promise.all(
      targets.map(async (request) => {
        const ref = await request.refs.get('contact', request.contact.id);
        if (ref && !ref.externalId.startsWith('removed:')) current.set(request.contact.id, ref.externalId);
      }),
    );
    const ids = [...new Set(current.values())];
    const alive = new Map<string, string>();
    for (let i = 0; i < ids.length; i += BATCH_LIMIT) {
      const chunk = ids.slice(i, i + BATCH_LIMIT);
      const read = await this.#api.batchRead('contacts', chunk, ['hs_merged_object_ids']);
      for (const record of read.results) {
        alive.set(record.id, record.id);
        for (const merged of (record.properties.hs_merged_object_ids ?? '').split(';').filter(Boolean)) {
          alive.set(merged, record.id);
        }
      }
    }
    const again: ContactRequest[] = [];
    for (const request of targets) {
      const was = current.get(request.contact.id);
      const now = was ? alive.get(was) : undefined;
      if (was && now && now !== was) {
        await this.#link(request, now, 'merged', { mergedFrom: was });
        out.set(request.contact.id, { kind: 'linked', hubspotId: now });
      } else if (was && now) {
        out.set(request.contact.id, { kind: 'linked', hubspotId: now });
      } else {
        this.#logger.info(
          { contact: request.contact.id, hubspotId: was },
          'HubSpot contact no longer exists',
        );
        if (this.#config.deletedContacts === 'skip') {
          await request.refs.checkpoint({
            kind: 'contact',
            entityId: request.contact.id,
            externalId: `removed:${was ?? 'unknown'}`,
            data: { removed: 'deleted' },
          });
          await request.links.withdraw(request.contact.id);
          out.set(request.contact.id, { kind: 'skipped', reason: 'contact deleted in HubSpot' });
        } else {
          again.push(request);
        }
      }
    }
    if (again.length > 0) await this.#findOrCreate(again, out);
    return out;
  }

  #fromRef(ref: ExternalRef | null): Resolution | null {
    if (!ref) return null;
    if (!ref.externalId.startsWith('removed:')) return { kind: 'linked', hubspotId: ref.externalId };
    if (ref.data.removed === 'privacy') {
      return { kind: 'skipped', reason: 'contact deleted in HubSpot for privacy: never recreated' };
    }
    if (this.#config.deletedContacts === 'skip')
      return { kind: 'skipped', reason: 'contact deleted in HubSpot' };
    return null;
  }

  async #findOrCreate(unknown: ContactRequest[], out: Map<string, Resolution>): Promise<void> {
    const candidates = await this.#search(unknown);
    const matched = unknown.map((request) => ({ request, match: bestMatch(request.contact, candidates) }));
    const missing = matched.filter(({ match }) => !match).map(({ request }) => request);
    await Promise.all(
      matched.map(async ({ request, match }) => {
        if (!match) return;
        await this.#link(request, match.record.id, match.via);
        out.set(request.contact.id, { kind: 'linked', hubspotId: match.record.id });
        await this.#adoptOptOut(request, match.record);
      }),
    );
    for (let i = 0; i < missing.length; i += BATCH_LIMIT) {
      await this.#create(missing.slice(i, i + BATCH_LIMIT), out);
    }
  }

  async #search(unknown: ContactRequest[]): Promise<CrmRecord[]> {
    const bsuids = [...new Set(unknown.map((r) => r.contact.bsuid).filter((b): b is string => Boolean(b)))];
    const nationals = [
      ...new Set(
        unknown.map((r) => phoneKey(r.contact.waId)?.national).filter((n): n is string => Boolean(n)),
      ),
    ];
    const found = new Map<string, CrmRecord>();
    const chunks = Math.max(Math.ceil(bsuids.length / IN_LIMIT), Math.ceil(nationals.length / IN_LIMIT));
    for (let c = 0; c < chunks; c++) {
      const b = bsuids.slice(c * IN_LIMIT, (c + 1) * IN_LIMIT);
      const n = nationals.slice(c * IN_LIMIT, (c + 1) * IN_LIMIT);
      const filterGroups = [
        ...(b.length > 0
          ? [{ filters: [{ propertyName: CONTACT.bsuid, operator: 'IN' as const, values: b }] }]
          : []),
        ...(n.length > 0
          ? [
              {
                filters: [
                  {
                    propertyName: 'hs_searchable_calculated_phone_number',
                    operator: 'IN' as const,
                    values: n,
                  },
                ],
              },
              {
                filters: [
                  {
                    propertyName: 'hs_searchable_calculated_mobile_number',
                    operator: 'IN' as const,
                    values: n,
                  },
                ],
              },
            ]
          : []),
      ];
      let after: string | undefined;
      // A handful of pages at most: a phone number shared by hundreds of contacts is not a person.
      for (let page = 0; page < 5; page++) {
        const response = await this.#api.search('contacts', {
          filterGroups,
          properties: SEARCH_PROPERTIES,
          limit: 200,
          ...(after ? { after } : {}),
        });
        for (const record of response.results) found.set(record.id, record);
        if (!response.after) break;
        after = response.after;
      }
    }
    return [...found.values()];
  }

  async #create(requests: ContactRequest[], out: Map<string, Resolution>): Promise<void> {
    const result = await this.#api.batchUpsert(
      'contacts',
      requests.map((r) => ({
        id: r.contact.id,
        idProperty: CONTACT.key,
        objectWriteTraceId: r.contact.id,
        properties: newContactProperties(r.contact, r.consent),
      })),
    );
    const byKey = new Map<string, string>();
    for (const record of result.results) {
      const key = record.objectWriteTraceId ?? record.properties[CONTACT.key] ?? '';
      byKey.set(key, record.id);
    }
    const errors = new Map<string, string>();
    for (const error of result.errors) {
      for (const key of error.context.objectWriteTraceId ?? []) errors.set(key, error.message);
    }
    await Promise.all(
      requests.map(async (request) => {
        const id = byKey.get(request.contact.id);
        if (id) {
          await this.#link(request, id, 'created');
          out.set(request.contact.id, { kind: 'linked', hubspotId: id });
          return;
        }
        out.set(request.contact.id, {
          kind: 'failed',
          error: new WabridgeError(
            'permanent',
            `HubSpot refused to create the contact: ${errors.get(request.contact.id) ?? 'no result for it'}`,
          ),
        });
      }),
    );
  }

  /**
   * A contact found in HubSpot may carry an opt-out someone recorded there before the customer
   * ever wrote on WhatsApp (no webhook told us: the contact was not linked). Linking adopts it into
   * the ledger (source HubSpot). Only restrictions are adopted: a HubSpot "opted in" never undoes
   * an opt-out the ledger holds, and nothing is written back over the HubSpot value.
   */
  async #adoptOptOut(request: ContactRequest, record: CrmRecord): Promise<void> {
    const theirs = record.properties[CONTACT.consent];
    const ours = consentValue(request.consent);
    if (!theirs || theirs === ours || theirs === 'opted_in' || ours === 'opted_out') return;
    const categories: ConsentCategory[] = theirs === 'opted_out' ? ['all'] : ['marketing'];
    if (!this.#emit) {
      this.#logger.warn(
        { contact: request.contact.id, hubspotId: record.id, hubspot: theirs, ledger: ours },
        'linked HubSpot contact is opted out there but not in the ledger, and this host cannot record it',
      );
      return;
    }
    await this.#emit(
      categories.map((category) => ({
        type: 'consent.set' as const,
        idempotencyKey: `link:${record.id}:${request.contact.id}:${category}`,
        contactId: record.id,
        category,
        state: 'opted_out' as const,
        actor: `hubspot:portal/${this.#config.portalId ?? 'unknown'}`,
        occurredAt: this.#now(),
        details: { adoptedAtLink: true, propertyValue: theirs },
      })),
    );
  }

  async #link(
    request: ContactRequest,
    hubspotId: string,
    via: string,
    data: Record<string, unknown> = {},
  ): Promise<void> {
    const url = this.#pageUrl(hubspotId);
    if (url) await request.links.publish({ contactId: request.contact.id, label: LINK_LABEL, url });
    await request.refs.checkpoint({
      kind: 'contact',
      entityId: request.contact.id,
      externalId: hubspotId,
      data: {
        via,
        ...(this.#config.portalId ? { portalId: this.#config.portalId } : {}),
        ...data,
        ...(url ? { linkUrl: url } : {}),
      },
    });
  }

  /**
   * Publishes the contact's page again when the link the mapping last published is not its page:
   * the mapping was made before links existed, the core followed a merge to another record (the
   * ref's id changed, its `linkUrl` did not), or the portal id was set since. Once per change.
   */
  async #keepLink(request: ContactRequest, ref: ExternalRef): Promise<void> {
    const url = this.#pageUrl(ref.externalId);
    if (!url || ref.data.linkUrl === url) return;
    await request.links.publish({ contactId: request.contact.id, label: LINK_LABEL, url });
    await request.refs.checkpoint({
      kind: 'contact',
      entityId: ref.entityId,
      externalId: ref.externalId,
      data: { ...ref.data, linkUrl: url },
    });
  }

  /** The contact's record in HubSpot's app; unknown without the portal id. */
  #pageUrl(hubspotId: string): string | null {
    const portal = this.#config.portalId;
    return portal ? `https://app.hubspot.com/contacts/${portal}/record/0-1/${hubspotId}` : null;
  }
}

function bestMatch(contact: Contact, candidates: CrmRecord[]): { record: CrmRecord; via: string } | null {
  const key: PhoneKey | null = phoneKey(contact.waId);
  let best: { record: CrmRecord; via: string; score: number } | null = null;
  for (const record of candidates) {
    const p = record.properties;
    let score = 0;
    let via = '';
    if (contact.bsuid && p[CONTACT.bsuid] === contact.bsuid) {
      score = 3;
      via = 'bsuid';
    } else if (key) {
      score = Math.max(
        phoneMatch(p.phone, p.hs_searchable_calculated_phone_number, key),
        phoneMatch(p.mobilephone, p.hs_searchable_calculated_mobile_number, key),
      );
      via = 'phone';
    }
    if (score === 0) continue;
    if (!best || score > best.score || (score === best.score && Number(record.id) < Number(best.record.id))) {
      best = { record, via, score };
    }
  }
  return best ? { record: best.record, via: best.via } : null;
}

/** A new contact from the WhatsApp profile: name, number (E.164), BSUID, consent as we know it. */
export function newContactProperties(contact: Contact, consent: ConsentSnapshot): Record<string, string> {
  const name = (contact.profileName ?? contact.username ?? '').trim();
  const space = name.indexOf(' ');
  const properties: Record<string, string> = {
    firstname: space > 0 ? name.slice(0, space) : name,
    lastname: space > 0 ? name.slice(space + 1) : '',
    ...consentProperties(consent),
  };
  if (contact.waId) properties.phone = `+${contact.waId.replace(/\D/g, '')}`;
  if (contact.bsuid) properties[CONTACT.bsuid] = contact.bsuid;
  if (!properties.firstname && !contact.waId) properties.firstname = 'WhatsApp user';
  for (const [name, value] of Object.entries(properties)) if (value === '') delete properties[name];
  return properties;
}
