/**
 * HubSpot → bridge: the webhook route `/hooks/hubspot/<workspace>/webhooks`.
 *
 * 1. Verify the v3 signature on the raw bytes (5-minute window, constant-time); refuse an exact
 *    replay of a request already accepted (same signature) while its timestamp is still in that
 *    window. Accepted signatures are kept in the store (`claimOnce`), so a replay is refused after
 *    a restart and by every gateway process, not only by the one that saw it first. The older v1/v2
 *    signatures are not accepted on their own: they cover no timestamp (v1 not even the URL), so a
 *    captured request would verify forever; HubSpot sends v3 with every webhook.
 * 2. Read the JSON array of events (a single event object too); events of types or shapes we do
 *    not know are acknowledged and ignored. For each: ignore other portals and changes our own app
 *    made (`sourceId` = our app id: the echo of a consent value the bridge wrote), then
 *    - `contact.propertyChange` (or `object.propertyChange` of `0-1`) of the consent property →
 *      `consent.set` command(s), actor `hubspot:portal/<id>[:user/<id>]`, in `occurredAt` order;
 *    - `contact.deletion` / `contact.privacyDeletion` → `contact.removed` (`deleted` / `privacy`);
 *    - `contact.merge` → `contact.removed` (`merged`, into the surviving id).
 *    Idempotency keys come from the event (see `keyOf`): HubSpot retries a delivery with the same
 *    events, so a retry records nothing twice.
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

/**
 * Fields are read liberally: HubSpot adds fields and event types over time and is loose about
 * types (ids as numbers or strings, `sourceId` or `changeSource` null or absent). A field of an
 * unexpected type reads as absent rather than dropping the event: an opt-out must not be lost to
 * an odd `changeSource`. Only `eventId` and `subscriptionType` are required.
 */
const id = z.union([z.number(), z.string()]).transform(String);
const optionalId = id.optional().catch(undefined);
const optionalText = z.string().optional().catch(undefined);

const eventSchema = z
  .object({
    eventId: id,
    subscriptionType: z.string(),
    portalId: optionalId,
    objectId: optionalId,
    objectTypeId: optionalText,
    occurredAt: z
      .union([z.number(), z.string().regex(/^\d+$/).transform(Number)])
      .optional()
      .catch(undefined),
    propertyName: optionalText,
    // Other properties' values may be numbers or booleans; none of those is a consent value.
    propertyValue: z
      .union([z.string(), z.number(), z.boolean()])
      .transform(String)
      .optional()
      .catch(undefined),
    changeSource: optionalText,
    sourceId: optionalId,
    primaryObjectId: optionalId,
    mergedObjectIds: z
      .array(z.unknown())
      .transform((ids) =>
        ids.flatMap((v) => (typeof v === 'number' || typeof v === 'string' ? [String(v)] : [])),
      )
      .optional()
      .catch(undefined),
    newObjectId: optionalId,
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

/**
 * How long an accepted signature is remembered. A timestamp passes verification from 5 minutes
 * before it to 5 minutes after, so a request accepted at the start of that span can be replayed
 * until its end: 10 minutes.
 */
const REPLAY_MEMORY_MS = 2 * MAX_SKEW_MS;

export function createWebhookHandler(deps: WebhookHandlerDeps): InboundHandler {
  const accepted = new Map<string, number>();
  const json = (status: number, body: unknown): Response =>
    new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });
  const refuse = (status: number, error: string): InboundResult => ({
    response: json(status, { error }),
    commands: [],
  });
  const replayed = (): InboundResult => {
    deps.logger.warn({}, 'HubSpot webhook replayed; refused');
    return refuse(401, 'request already received');
  };

  return {
    async handle(request: Request, ctx: InboundContext): Promise<InboundResult> {
      // The contract gives the path after `/hooks/hubspot/<workspace>`; tolerate the full path too.
      const path = ctx.path.replace(/^\/hooks\/hubspot\/[^/]+/, '') || '/';
      // A target URL saved with a trailing slash is the same route (HubSpot does not retry a 404).
      if (path.replace(/\/+$/, '') !== '/webhooks') return refuse(404, 'unknown HubSpot callback path');
      if (request.method !== 'POST') return refuse(405, 'HubSpot webhooks are POSTed');
      const now = deps.now();
      // The query exactly as requested: `URL.search` drops a bare `?`, which HubSpot signs.
      const query = request.url.includes('?') ? request.url.slice(request.url.indexOf('?')) : '';
      const signature = request.headers.get('x-hubspot-signature-v3');
      const verdict = verifyV3({
        secret: deps.config.clientSecret,
        method: request.method,
        // HubSpot signs the URL it called. Behind a proxy that is the public URL, so PUBLIC_URL
        // must be exactly what the app's webhook target says.
        uris: [
          request.url,
          `${deps.publicUrl.replace(/\/$/, '')}/hooks/hubspot/${deps.workspaceId}${path}${query}`,
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
      // This process's memory answers a replay it saw without a store round trip; the store
      // (below) is what makes the refusal hold across restarts and processes.
      for (const [seen, at] of accepted) if (now - at > REPLAY_MEMORY_MS) accepted.delete(seen);
      if (signature && accepted.has(signature)) return replayed();
      let events: HubSpotEvent[];
      try {
        const body: unknown = JSON.parse(new TextDecoder().decode(ctx.rawBody));
        // HubSpot sends an array; a single event as an object is read as a batch of one (a 400
        // would tell HubSpot never to deliver it again).
        const parsed = z
          .union([z.array(z.unknown()), z.record(z.string(), z.unknown()).transform((event) => [event])])
          .parse(body);
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
      if (signature) {
        // Claimed only now, once the request was understood: a 503 above leaves HubSpot free to
        // retry. The claim is atomic, so of two copies racing here only one gets through.
        if (ctx.claimOnce && !(await ctx.claimOnce(signature, REPLAY_MEMORY_MS))) return replayed();
        accepted.set(signature, now);
      }
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
          idempotencyKey: `${keyOf(event)}:${category}`,
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
        idempotencyKey: keyOf(event),
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
          idempotencyKey: `${keyOf(event)}:${id}`,
          contactId: id,
          reason: 'merged',
          mergedInto: survivor,
          occurredAt,
        });
      }
    }
  }
  if (unlinked.size > 0) {
    try {
      commands.unshift(...(await missedMerges([...unlinked], deps, ctx)));
    } catch (error) {
      // Only a missed merge is at stake; a 503 would hold back every other change of the batch,
      // opt-outs of linked contacts included, for as long as the lookup fails (a spent daily API
      // limit lasts until midnight, longer than HubSpot keeps retrying). Ask for a retry only
      // when nothing else in the batch concerns a contact we know.
      if (!(await concernsLinked(commands, unlinked, ctx))) throw error;
      deps.logger.warn(
        { err: error, contacts: [...unlinked] },
        'HubSpot merge lookup failed; consent changes of unlinked contacts ignored',
      );
    }
  }
  return commands;
}

/**
 * The key of an event's commands. HubSpot does not promise unique `eventId`s, so the key also
 * names the portal, the object and the time; all of them are the same in every retry.
 */
function keyOf(event: HubSpotEvent): string {
  return `${event.portalId ?? ''}:${event.eventId}:${event.objectId ?? ''}:${event.occurredAt ?? ''}`;
}

async function concernsLinked(
  commands: DomainCommand[],
  unlinked: Set<string>,
  ctx: InboundContext,
): Promise<boolean> {
  for (const command of commands) {
    if (!('contactId' in command) || unlinked.has(command.contactId)) continue;
    if (await ctx.findRefByExternalId('contact', command.contactId)) return true;
  }
  return false;
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

/**
 * Our own write coming back: HubSpot names the app that made an API change as `sourceId` (bare, or
 * as `app…:<id>`). Other prefixes name other things whose ids may read the same (`userId:<id>` is
 * a person), and dropping their change would lose it.
 */
function isOwnChange(event: HubSpotEvent, appId: string | undefined): boolean {
  if (!appId || !event.sourceId) return false;
  const colon = event.sourceId.lastIndexOf(':');
  const kind = colon < 0 ? '' : event.sourceId.slice(0, colon);
  return event.sourceId.slice(colon + 1) === appId && (kind === '' || /app/i.test(kind));
}

function actorOf(event: HubSpotEvent): string {
  const user = event.sourceId?.startsWith('userId:') ? `:user/${event.sourceId.slice('userId:'.length)}` : '';
  return `hubspot:portal/${event.portalId ?? 'unknown'}${user}`;
}
