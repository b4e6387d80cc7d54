import type { KeyObject } from 'node:crypto';
import {
  type DomainCommand,
  type InboundContext,
  type InboundHandler,
  type InboundResult,
  isWabridgeError,
  type Logger,
} from '@wabridge/core';
import { z } from 'zod';
import { graphStatus } from '../api/errors.ts';
import { parseMessageResource, teamsMessageRef } from '../api/ids.ts';
import type { ChannelPacer } from '../api/pacing.ts';
import type { ChatMessage, TeamsApi } from '../api/teams-api.ts';
import type { ChannelTarget, TeamsConfig } from '../config.ts';
import type { LifecycleEvent, SubscriptionManager } from '../sync/subscriptions.ts';
import { type ChangeType, type CommandOptions, commandsFor } from './commands.ts';
import { decryptResource, type ValidationTokenVerifier } from './encryption.ts';

/** Graph sends opaque tokens of about a hundred characters; anything much longer is not Graph. */
const MAX_VALIDATION_TOKEN = 1024;
const FETCH_CONCURRENCY = 8;

const encryptedContentSchema = z.looseObject({
  data: z.string(),
  dataKey: z.string(),
  dataSignature: z.string(),
  encryptionCertificateId: z.string(),
});

/**
 * One notification. Graph sends `null` for what does not apply (`resource`, `changeType` and
 * `resourceData` of lifecycle notifications, `encryptedContent` without resource data) and adds
 * properties over time, so everything but the subscription is optional and unknown keys are kept.
 */
const notificationSchema = z.looseObject({
  subscriptionId: z.string().min(1).max(200),
  clientState: z.string().max(256).nullish(),
  changeType: z.string().max(64).nullish(),
  resource: z.string().max(2048).nullish(),
  resourceData: z.unknown().optional(),
  lifecycleEvent: z.string().max(64).nullish(),
  encryptedContent: z.unknown().optional(),
});

/** The collection; its items are read one by one, so one malformed item does not lose the others. */
const collectionSchema = z.object({
  value: z.array(z.unknown()).min(1).max(1000),
  validationTokens: z.array(z.string()).nullish(),
});

type Notification = z.infer<typeof notificationSchema>;
type EncryptedContent = z.infer<typeof encryptedContentSchema>;

const LIFECYCLE_EVENTS: ReadonlySet<string> = new Set([
  'reauthorizationRequired',
  'subscriptionRemoved',
  'missed',
]);

export interface HandlerParts {
  config: TeamsConfig;
  api: TeamsApi;
  pacer: ChannelPacer;
  subscriptions: SubscriptionManager;
  commandOptions: () => Promise<CommandOptions>;
  logger: Logger;
  now: () => number;
  encryption: { privateKey: KeyObject; verifier: ValidationTokenVerifier } | null;
}

/**
 * Graph's callbacks at `/hooks/teams/<workspace>/notifications` and `/lifecycle`.
 *
 * - The validation handshake (`?validationToken=`) is answered at once with the decoded token as
 *   `text/plain` (nosniff, no scripts): an echo that can never be rendered as HTML.
 * - Every notification must name one of our subscriptions and carry its `clientState` (compared
 *   in constant time); a request with none that do is refused with 403 and changes nothing.
 * - Items are read one by one and liberally (nulls, unknown properties, every resource form
 *   `parseMessageResource` knows, `resourceData.@odata.id` when `resource` is missing); a
 *   malformed item is skipped, not the collection, and repeated items are handled once.
 * - Change notifications become commands. The message is taken from the encrypted resource data
 *   when configured (after the validation tokens are verified), otherwise — or when it cannot be
 *   decrypted, or the tokens cannot be checked right now — fetched by its resource path within
 *   `inboundFetchTimeoutMs` so the answer stays inside Graph's 3 s. Replies outside a mapped
 *   thread and our own posts are skipped before any fetch. If a fetch fails transiently, the
 *   answer is 503: Graph delivers the notification again later (commands already returned are
 *   recorded and deduplicated by idempotency key), and if Graph gives up it sends `missed`, which
 *   resyncs. A message Graph refuses for good (400) is skipped: a retry would fail the same way.
 * - Lifecycle notifications, at either URL, are recorded as repairs for the subscription upkeep,
 *   which starts right away in the background (and runs again from `maintain()` if this process
 *   stops).
 */
export function createInboundHandler(parts: HandlerParts): InboundHandler {
  return {
    async handle(request: Request, ctx: InboundContext): Promise<InboundResult> {
      const route = /\/notifications\/?$/.test(ctx.path)
        ? 'notifications'
        : /\/lifecycle\/?$/.test(ctx.path)
          ? 'lifecycle'
          : null;
      if (!route)
        return reply(404, { error: { code: 'not_found', message: 'expected /notifications or /lifecycle' } });
      const token = new URL(request.url).searchParams.get('validationToken');
      if (token !== null) return validation(token);
      if (request.method !== 'POST')
        return reply(405, { error: { code: 'method_not_allowed', message: 'POST only' } });

      let body: z.infer<typeof collectionSchema>;
      try {
        const parsed = collectionSchema.safeParse(JSON.parse(new TextDecoder().decode(ctx.rawBody)));
        if (!parsed.success)
          return reply(400, {
            error: { code: 'bad_request', message: 'not a Graph notification collection' },
          });
        body = parsed.data;
      } catch {
        return reply(400, { error: { code: 'bad_request', message: 'invalid JSON' } });
      }
      const items: Notification[] = [];
      for (const raw of body.value) {
        const parsed = notificationSchema.safeParse(raw);
        if (parsed.success) items.push(parsed.data);
      }
      if (items.length < body.value.length)
        parts.logger.warn(
          { skipped: body.value.length - items.length, route },
          'malformed Teams notifications skipped',
        );
      if (items.length === 0)
        return reply(400, {
          error: { code: 'bad_request', message: 'no Graph notification in the collection' },
        });

      const verified: Array<{ item: Notification; channel: ChannelTarget }> = [];
      // Graph can repeat a notification within one collection: one read, one command.
      const seen = new Set<string>();
      let refused = 0;
      for (const item of items) {
        const channel = await parts.subscriptions.verify(item.subscriptionId, item.clientState);
        if (!channel) {
          refused++;
          continue;
        }
        const key = JSON.stringify([
          item.subscriptionId,
          item.lifecycleEvent ?? null,
          item.changeType ?? null,
          resourceOf(item),
        ]);
        if (seen.has(key)) continue;
        seen.add(key);
        verified.push({ item, channel });
      }
      if (refused > 0)
        parts.logger.warn(
          { refused, route },
          'Teams notifications with an unknown subscription or a wrong clientState refused',
        );
      if (verified.length === 0)
        return reply(403, { error: { code: 'forbidden', message: 'unknown subscription or clientState' } });

      // Lifecycle notifications go to the lifecycle URL, but Graph sends them to the notification
      // URL of a subscription without one, and a collection may mix both kinds: each item is
      // read by what it is, wherever it arrived.
      const changes: typeof verified = [];
      let lifecycle = false;
      for (const v of verified) {
        if (!v.item.lifecycleEvent) {
          changes.push(v);
          continue;
        }
        lifecycle = true;
        const event = v.item.lifecycleEvent;
        if (!LIFECYCLE_EVENTS.has(event)) continue;
        parts.logger.info({ event, teamId: v.channel.teamId }, 'Teams subscription lifecycle notification');
        await parts.subscriptions.request(v.channel, event as LifecycleEvent);
      }
      if (lifecycle) parts.subscriptions.repairSoon();

      // Resource data is used only after its validation tokens are verified. Without a key, or
      // when the signing keys cannot be read right now, the message is read from Graph instead
      // (the clientState already matched); tokens that fail verification refuse the request.
      let decrypt = false;
      if (changes.some((v) => encryptedOf(v.item))) {
        if (parts.encryption) {
          let ok: boolean | null;
          try {
            ok = await parts.encryption.verifier.verifyAll(body.validationTokens ?? []);
          } catch (error) {
            ok = null;
            parts.logger.warn(
              { err: error instanceof Error ? error.message : String(error) },
              'could not verify the validation tokens of Teams notifications; reading the messages from Graph',
            );
          }
          if (ok === false) {
            parts.logger.warn(
              {},
              'Teams notification with resource data and invalid validation tokens refused',
            );
            return reply(403, { error: { code: 'forbidden', message: 'invalid validation tokens' } });
          }
          decrypt = ok === true;
        }
      }
      if (changes.length === 0) return reply(202, null);

      const options = await parts.commandOptions();
      const deadline = parts.now() + parts.config.inboundFetchTimeoutMs;
      const found: Array<{ at: number; index: number; commands: DomainCommand[] }> = [];
      let failed = 0;
      const work = changes.map(({ item, channel }, index) => async () => {
        try {
          const result = await commandsOf(item, channel, ctx, options, deadline, decrypt);
          found.push({ ...result, index });
        } catch (error) {
          // Graph redelivering does not help with what Graph refuses for good (a 400): skipped.
          const permanent = isWabridgeError(error) && error.code === 'permanent';
          if (!permanent) failed++;
          parts.logger.warn(
            {
              code: isWabridgeError(error) ? error.code : undefined,
              err: error instanceof Error ? error.message : String(error),
            },
            permanent
              ? 'could not read a Teams reply for a notification; skipped'
              : 'could not read a Teams reply for a notification; Graph will deliver it again',
          );
        }
      });
      await runLimited(work, FETCH_CONCURRENCY);
      // Notifications of one batch come in no particular order: replies go out in the order agents wrote them.
      found.sort((a, b) => a.at - b.at || a.index - b.index);
      const commands = found.flatMap((f) => f.commands);
      if (failed > 0) {
        return {
          response: new Response(null, { status: 503, headers: { 'retry-after': '10' } }),
          commands,
        };
      }
      return { response: new Response(null, { status: 202 }), commands };
    },
  };

  async function commandsOf(
    item: Notification,
    channel: ChannelTarget,
    ctx: InboundContext,
    options: CommandOptions,
    deadline: number,
    decrypt: boolean,
  ): Promise<{ at: number; commands: DomainCommand[] }> {
    const none = { at: 0, commands: [] };
    const path = resourceOf(item);
    const resource = path ? parseMessageResource(path) : null;
    // A subscription only speaks for its own channel (team ids are GUIDs, in any case); roots
    // (new threads, our cards) are no replies, even when Graph names one `messages('m')/replies('m')`.
    if (
      !resource ||
      resource.channelId !== channel.channelId ||
      resource.teamId.toLowerCase() !== channel.teamId.toLowerCase()
    )
      return none;
    if (resource.replyId === null || resource.replyId === resource.rootId) return none;
    const thread = { teamId: channel.teamId, channelId: channel.channelId, rootId: resource.rootId };
    if (!(await ctx.findRefByExternalId('conversation', teamsMessageRef(channel.channelId, resource.rootId))))
      return none;
    const ref = teamsMessageRef(channel.channelId, resource.replyId);
    for (const kind of ['message', 'post']) {
      const own = await ctx.findRefByExternalId(kind, ref);
      if (own && (own.data as { mirror?: unknown }).mirror === true) return none;
    }
    const changeType = (item.changeType ?? '').toLowerCase();
    const change = (
      ['created', 'updated', 'deleted'].includes(changeType) ? changeType : 'created'
    ) as ChangeType;
    if (change === 'deleted') {
      const gone: ChatMessage = {
        id: resource.replyId,
        from: { user: { id: 'unknown', displayName: null } },
      } as ChatMessage;
      return { at: parts.now(), commands: commandsFor(gone, thread, 'deleted', options) };
    }
    let message: ChatMessage | null = null;
    const encrypted = encryptedOf(item);
    if (encrypted && decrypt && parts.encryption) {
      try {
        message = decryptResource(encrypted, parts.encryption.privateKey) as ChatMessage;
      } catch (error) {
        // E.g. encrypted for a certificate we no longer hold: Graph's copy is as good, and
        // failing would only make Graph send the same undecryptable content again for hours.
        parts.logger.warn(
          { err: error instanceof Error ? error.message : String(error) },
          'could not decrypt a Teams notification; reading the message from Graph',
        );
      }
    }
    if (!message) {
      // Reads count against the channel's 4 requests/s too: take a slot if one comes within the budget.
      await parts.pacer.request(channel, undefined, Math.max(0, deadline - parts.now() - 500));
      const remaining = Math.max(100, deadline - parts.now());
      try {
        message = await parts.api.getMessage(
          channel,
          resource.replyId,
          resource.rootId,
          AbortSignal.timeout(remaining),
        );
      } catch (error) {
        if (graphStatus(error) === 404) return none; // deleted before we could read it
        throw error;
      }
    }
    const at = Date.parse(message.lastEditedDateTime ?? message.createdDateTime ?? '') || parts.now();
    return { at, commands: commandsFor(message, thread, change, options) };
  }
}

/** The resource a notification is about: `resource`, else the `@odata.id` of its resource data. */
function resourceOf(item: Notification): string | null {
  if (item.resource) return item.resource;
  const data = item.resourceData;
  const id =
    data !== null && typeof data === 'object' ? (data as Record<string, unknown>)['@odata.id'] : null;
  return typeof id === 'string' && id !== '' ? id : null;
}

function encryptedOf(item: Notification): EncryptedContent | null {
  if (item.encryptedContent === undefined || item.encryptedContent === null) return null;
  const parsed = encryptedContentSchema.safeParse(item.encryptedContent);
  return parsed.success ? parsed.data : null;
}

function validation(token: string): InboundResult {
  if (token.length === 0 || token.length > MAX_VALIDATION_TOKEN) {
    return reply(400, { error: { code: 'bad_request', message: 'validation token missing or too long' } });
  }
  return {
    response: new Response(token, {
      status: 200,
      headers: {
        'content-type': 'text/plain; charset=utf-8',
        'x-content-type-options': 'nosniff',
        'content-security-policy': "default-src 'none'; sandbox",
        'cache-control': 'no-store',
      },
    }),
    commands: [],
  };
}

function reply(status: number, body: unknown): InboundResult {
  return {
    response:
      body === null
        ? new Response(null, { status })
        : new Response(JSON.stringify(body), {
            status,
            headers: { 'content-type': 'application/json; charset=utf-8' },
          }),
    commands: [],
  };
}

async function runLimited(tasks: Array<() => Promise<void>>, limit: number): Promise<void> {
  let next = 0;
  const lane = async () => {
    while (next < tasks.length) {
      const task = tasks[next++];
      if (task) await task();
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, tasks.length) }, lane));
}
