/**
 * The workspace rule "also put WhatsApp messages on the contact's open deal / ticket": finds, per
 * HubSpot contact, the most recent associated deal that is not closed (won or lost) and ticket
 * not in a closed stage. Two or three calls for all contacts of a batch, remembered for a while,
 * so the rule costs nothing per message.
 */
import type { HubSpotApi } from '../api/client.ts';

const CLOSED_DEAL_STAGES = new Set(['closedwon', 'closedlost']);
/** Stage 4 is "Closed" in HubSpot's default support pipeline. */
const CLOSED_TICKET_STAGES = new Set(['4']);
const TTL_MS = 10 * 60 * 1000;

/** Association type ids from a communication (https://developers.hubspot.com/docs/api-reference/2026-03/crm/objects/communications/guide). */
export const TO_DEAL = 85;
export const TO_TICKET = 83;

export class OpenRecords {
  readonly #api: HubSpotApi;
  readonly #now: () => number;
  readonly #cache = new Map<string, { at: number; deal: string | null; ticket: string | null }>();

  constructor(api: HubSpotApi, now: () => number) {
    this.#api = api;
    this.#now = now;
  }

  /** Open deal and ticket per HubSpot contact id (null when there is none). */
  async find(
    contactIds: readonly string[],
    want: { deal: boolean; ticket: boolean },
  ): Promise<Map<string, { deal: string | null; ticket: string | null }>> {
    const now = this.#now();
    if (this.#cache.size > 10_000) {
      for (const [id, entry] of this.#cache) if (now - entry.at >= TTL_MS) this.#cache.delete(id);
    }
    const out = new Map<string, { deal: string | null; ticket: string | null }>();
    const stale = [...new Set(contactIds)].filter((id) => {
      const cached = this.#cache.get(id);
      if (cached && now - cached.at < TTL_MS) {
        out.set(id, cached);
        return false;
      }
      return true;
    });
    for (let i = 0; i < stale.length; i += 100) {
      const chunk = stale.slice(i, i + 100);
      const deals = want.deal ? await this.#open(chunk, 'deals') : new Map<string, string>();
      const tickets = want.ticket ? await this.#open(chunk, 'tickets') : new Map<string, string>();
      for (const id of chunk) {
        const entry = { at: now, deal: deals.get(id) ?? null, ticket: tickets.get(id) ?? null };
        this.#cache.set(id, entry);
        out.set(id, entry);
      }
    }
    return out;
  }

  async #open(contactIds: string[], type: 'deals' | 'tickets'): Promise<Map<string, string>> {
    const associated = await this.#api.associations('contacts', type, contactIds);
    const ids = [...new Set([...associated.values()].flat())];
    const open = new Set<string>();
    const stageProperty = type === 'deals' ? 'dealstage' : 'hs_pipeline_stage';
    const closed = type === 'deals' ? CLOSED_DEAL_STAGES : CLOSED_TICKET_STAGES;
    for (let i = 0; i < ids.length; i += 100) {
      const read = await this.#api.batchRead(type, ids.slice(i, i + 100), [stageProperty, 'hs_is_closed']);
      for (const record of read.results) {
        const stage = record.properties[stageProperty] ?? '';
        if (record.properties.hs_is_closed !== 'true' && !closed.has(stage)) open.add(record.id);
      }
    }
    const out = new Map<string, string>();
    for (const [contact, targets] of associated) {
      // Ids grow with creation time: the highest open one is the most recent.
      const newest = targets.filter((t) => open.has(t)).sort((a, b) => Number(b) - Number(a))[0];
      if (newest) out.set(contact, newest);
    }
    return out;
  }
}
