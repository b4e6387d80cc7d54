/**
 * HubSpot → bridge: the webhook route `/hooks/hubspot/<workspace>/webhooks`.
 *
 * 1. Verify the v3 signature on the raw bytes (5-minute window, constant-time); refuse an exact
 *    replay of a request already accepted (same signature) within that window.
 * 2. Read the JSON array of events. For each: ignore other portals and changes our own app made
 *    (`sourceId` = our app id: the echo of a consent value the bridge wrote), then
 *    - `contact.propertyChange` of the consent property → `consent.set` command(s), actor
 *      `hubspot:portal/<id>[:user/<id>]`, idempotency key from `eventId` (HubSpot retries a
 *      delivery with the same event ids, so a retry records nothing twice);
 *    - `contact.deletion` / `contact.privacyDeletion` → `contact.removed` (`deleted` / `privacy`);
 *    - `contact.merge` → `contact.removed` (`merged`, into the surviving id).
 * 3. Answer 200; the gateway has recorded the commands durably before the answer leaves.
 *
 * A consent change on a contact we do not know may be a merge survivor whose merge webhook we
 * missed: its `hs_merged_object_ids` are read (one call) and a merge command for the id we do know
 * is put first, so the mapping follows the merge instead of orphaning the change.
 */
import type {
  ConsentCategory,
  ConsentState,
  DomainCommand,
  InboundContext,
  InboundHandler,
  InboundResult,
  Logger,
} from '@wabridge/core';
import { z } from 'zod';
import type { HubSpotApi } from '../api/client.ts';
import type { HubSpotConfig } from '../config.ts';
import { CONSENT_VALUES, CONTACT, type ConsentValue } from '../setup/properties.ts';
import { MAX_SKEW_MS, verifyV3 } from './verify.ts';

const eventSchema = z
  .object({
    eventId: z.union([z.number(), z.string()]).transform(String),
    subscriptionType: z.string(),
    portalId: z.union([z.number(), z.string()]).transform(String).optional(),
    objectId: z.union([z.number(), z.string()]).transform(String).optional(),
    objectTypeId: z.string().optional(),
    occurredAt: z.number().optional(),
    propertyName: z.string().optional(),
    propertyValue: z.string().nullable().optional(),
    changeSource: z.string().optional(),
    sourceId: z.string().nullable().optional(),
    primaryObjectId: z.union([z.number(), z.string()]).transform(String).optional(),
    mergedObjectIds: z.array(z.union([z.number(), z.string()]).transform(String)).optional(),
    newObjectId: z.union([z.number(), z.string()]).transform(String).optional(),
  })
  .loose();

type HubSpotEvent = z.infer<typeof eventSchema>;

/**
 * Consent property value → the ledger's state per category it decides. `opted_out` says nothing
 * about marketing on its own (everything is refused anyway), so it does not touch that category:
 * otherwise the echo of a STOP the bridge wrote would record a marketing opt-out nobody made.
 */
const CONSENT_STATES: Record<ConsentValue, Partial<Record<ConsentCategory, ConsentState>>> = {
  opted_in: { all: 'opted_in', marketing: 'opted_in' },
  marketing_opted_out: { all: 'opted_in', marketing: 'opted_out' },
  opted_out: { all: 'opted_out' },
};

export interface WebhookHandlerDeps {
  config: HubSpotConfig;
  workspaceId: string;
  publicUrl: string;
  logger: Logger;
  now: () => number;
  api: HubSpotApi;
}

export function createWebhookHandler(deps: WebhookHandlerDeps): InboundHandler {
  const accepted = new Map<string, number>();
  const json = (status: number, body: unknown): Response =>
    new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });
  const refuse = (status: number, error: string): InboundResult => ({
    response: json(status, { error }),
    commands: [],
  });

  return {
    async handle(request: Request, ctx: InboundContext): Promise<InboundResult> {
      // The contract gives the path after `/hooks/hubspot/<workspace>`; tolerate the full path too.
      const path = ctx.path.replace(/^\/hooks\/hubspot\/[^/]+/, '') || '/';
      if (path !== '/webhooks') return refuse(404, 'unknown HubSpot callback path');
      if (request.method !== 'POST') return refuse(405, 'HubSpot webhooks are POSTed');
      const now = deps.now();
      const url = new URL(request.url);
      const signature = request.headers.get('x-hubspot-signature-v3');
      const verdict = verifyV3({
        secret: deps.config.clientSecret,
        method: request.method,
        // HubSpot signs the URL it called. Behind a proxy that is the public URL, so PUBLIC_URL
        // must be exactly what the app's webhook target says.
        uris: [
          request.url,
          `${deps.publicUrl.replace(/\/$/, '')}/hooks/hubspot/${deps.workspaceId}${path}${url.search}`,
        ],
        body: ctx.rawBody,
        signature,
        timestamp: request.headers.get('x-hubspot-request-timestamp'),
        now,
      });
      if (verdict !== 'valid') {
        deps.logger.warn({ verdict }, 'HubSpot webhook refused');
        return refuse(401, `signature ${verdict}`);
      }
      for (const [seen, at] of accepted) if (now - at > MAX_SKEW_MS) accepted.delete(seen);
      if (signature && accepted.has(signature)) {
        deps.logger.warn({}, 'HubSpot webhook replayed; refused');
        return refuse(401, 'request already received');
      }
      let events: HubSpotEvent[];
      try {
        const parsed = z.array(z.unknown()).parse(JSON.parse(new TextDecoder().decode(ctx.rawBody)));
        events = parsed.flatMap((raw) => {
          const event = eventSchema.safeParse(raw);
          return event.success ? [event.data] : [];
        });
        // Events of a shape we do not know carry nothing we act on; say so rather than drop them unseen.
        if (events.length < parsed.length) {
          deps.logger.warn(
            { received: parsed.length, understood: events.length },
            'HubSpot webhook events not understood; ignored',
          );
        }
      } catch {
        return refuse(400, 'expected a JSON array of events');
      }
      let commands: DomainCommand[];
      try {
        commands = await toCommands(events, deps, ctx);
      } catch (error) {
        // The merge lookup failed: HubSpot will deliver again, and nothing was recorded.
        deps.logger.warn({ err: error }, 'HubSpot webhook could not be processed now');
        return refuse(503, 'temporarily unable to process; retry later');
      }
      if (signature) accepted.set(signature, now);
      return { response: json(200, { received: events.length, commands: commands.length }), commands };
    },
  };
}

async function toCommands(
  events: HubSpotEvent[],
  deps: WebhookHandlerDeps,
  ctx: InboundContext,
): Promise<DomainCommand[]> {
  const { config } = deps;
  const ordered = [...events].sort((a, b) => (a.occurredAt ?? 0) - (b.occurredAt ?? 0));
  const commands: DomainCommand[] = [];
  const unlinked = new Set<string>();
  for (const event of ordered) {
    if (config.portalId && event.portalId && event.portalId !== config.portalId) continue;
    const occurredAt = event.occurredAt ?? deps.now();
    const type = event.subscriptionType;
    const contactEvent = type.startsWith('contact.') || event.objectTypeId === '0-1';
    if (!contactEvent || !event.objectId) continue;
    if (type.endsWith('propertyChange')) {
      if (event.propertyName !== CONTACT.consent || isOwnChange(event, config.appId)) continue;
      const value = event.propertyValue ?? '';
      if (!(CONSENT_VALUES as readonly string[]).includes(value)) {
        deps.logger.warn(
          { value, eventId: event.eventId },
          'unknown WhatsApp consent value set in HubSpot; ignored',
        );
        continue;
      }
      if (!(await ctx.findRefByExternalId('contact', event.objectId))) unlinked.add(event.objectId);
      const states = CONSENT_STATES[value as ConsentValue];
      for (const category of ['all', 'marketing'] as const) {
        const state = states[category];
        if (!state) continue;
        commands.push({
          type: 'consent.set',
          idempotencyKey: `${event.eventId}:${category}`,
          contactId: event.objectId,
          category,
          state,
          actor: actorOf(event),
          occurredAt,
          details: {
            eventId: event.eventId,
            portalId: event.portalId ?? null,
            propertyValue: value,
            changeSource: event.changeSource ?? null,
            sourceId: event.sourceId ?? null,
          },
        });
      }
    } else if (type.endsWith('.deletion') || type.endsWith('.privacyDeletion')) {
      commands.push({
        type: 'contact.removed',
        idempotencyKey: String(event.eventId),
        contactId: event.objectId,
        reason: type.endsWith('privacyDeletion') ? 'privacy' : 'deleted',
        mergedInto: null,
        occurredAt,
      });
    } else if (type.endsWith('.merge')) {
      const survivor = event.newObjectId ?? event.primaryObjectId ?? event.objectId;
      const gone = new Set([...(event.mergedObjectIds ?? []), event.primaryObjectId ?? survivor]);
      for (const id of gone) {
        if (id === survivor) continue;
        commands.push({
          type: 'contact.removed',
          idempotencyKey: `${event.eventId}:${id}`,
          contactId: id,
          reason: 'merged',
          mergedInto: survivor,
          occurredAt,
        });
      }
    }
  }
  if (unlinked.size > 0) commands.unshift(...(await missedMerges([...unlinked], deps, ctx)));
  return commands;
}

/** Merge commands for linked contacts that were merged into these (unlinked) survivors. */
async function missedMerges(
  ids: string[],
  deps: WebhookHandlerDeps,
  ctx: InboundContext,
): Promise<DomainCommand[]> {
  const commands: DomainCommand[] = [];
  for (let i = 0; i < ids.length; i += 100) {
    const read = await deps.api.batchRead('contacts', ids.slice(i, i + 100), ['hs_merged_object_ids']);
    for (const record of read.results) {
      for (const merged of (record.properties.hs_merged_object_ids ?? '').split(';').filter(Boolean)) {
        if (!(await ctx.findRefByExternalId('contact', merged))) continue;
        deps.logger.info(
          { merged, into: record.id },
          'following a HubSpot merge seen through a consent change',
        );
        commands.push({
          type: 'contact.removed',
          idempotencyKey: `merge:${merged}:${record.id}`,
          contactId: merged,
          reason: 'merged',
          mergedInto: record.id,
          occurredAt: deps.now(),
        });
      }
    }
  }
  return commands;
}

/** Our own write coming back: HubSpot names the app that made an API change as `sourceId`. */
function isOwnChange(event: HubSpotEvent, appId: string | undefined): boolean {
  if (!appId || !event.sourceId) return false;
  return event.sourceId === appId || event.sourceId.endsWith(`:${appId}`);
}

function actorOf(event: HubSpotEvent): string {
  const user = event.sourceId?.startsWith('userId:') ? `:user/${event.sourceId.slice('userId:'.length)}` : '';
  return `hubspot:portal/${event.portalId ?? 'unknown'}${user}`;
}
