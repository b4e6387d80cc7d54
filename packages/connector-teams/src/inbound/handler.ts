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
import type { ChannelTarget, TeamsConfig } from '../config.ts';
import { graphStatus } from '../graph/errors.ts';
import { parseMessageResource, teamsMessageRef } from '../graph/ids.ts';
import type { ChannelPacer } from '../graph/pacing.ts';
import type { ChatMessage, TeamsApi } from '../graph/teams-api.ts';
import type { LifecycleEvent, SubscriptionManager } from '../sync/subscriptions.ts';
import { type ChangeType, type CommandOptions, commandsFor } from './commands.ts';
import { decryptResource, type ValidationTokenVerifier } from './encryption.ts';

/** Graph sends opaque tokens of about a hundred characters; anything much longer is not Graph. */
const MAX_VALIDATION_TOKEN = 1024;
const FETCH_CONCURRENCY = 8;

const notificationsSchema = z.object({
  value: z
    .array(
      z.looseObject({
        subscriptionId: z.string().min(1).max(200),
        clientState: z.string().max(256).nullish(),
        changeType: z.string().max(64).optional(),
        resource: z.string().max(2048).optional(),
        lifecycleEvent: z.string().max(64).optional(),
        encryptedContent: z
          .looseObject({
            data: z.string(),
            dataKey: z.string(),
            dataSignature: z.string(),
            encryptionCertificateId: z.string(),
          })
          .nullish(),
      }),
    )
    .min(1)
    .max(1000),
  validationTokens: z.array(z.string()).optional(),
});

type Notification = z.infer<typeof notificationsSchema>['value'][number];

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
 * - Change notifications become commands. The message is taken from the encrypted resource data
 *   when configured (after the validation tokens are verified), otherwise fetched by its resource
 *   path within `inboundFetchTimeoutMs` so the answer stays inside Graph's 3 s. Replies outside a
 *   mapped thread and our own posts are skipped before any fetch. If a fetch fails, the answer is
 *   503: Graph delivers the notification again later (commands already returned are recorded and
 *   deduplicated by idempotency key), and if Graph gives up it sends `missed`, which resyncs.
 * - Lifecycle notifications are recorded as repairs for the subscription upkeep, which starts
 *   right away in the background (and runs again from `maintain()` if this process stops).
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

      let body: z.infer<typeof notificationsSchema>;
      try {
        const parsed = notificationsSchema.safeParse(JSON.parse(new TextDecoder().decode(ctx.rawBody)));
        if (!parsed.success)
          return reply(400, {
            error: { code: 'bad_request', message: 'not a Graph notification collection' },
          });
        body = parsed.data;
      } catch {
        return reply(400, { error: { code: 'bad_request', message: 'invalid JSON' } });
      }

      const verified: Array<{ item: Notification; channel: ChannelTarget }> = [];
      for (const item of body.value) {
        const channel = await parts.subscriptions.verify(item.subscriptionId, item.clientState);
        if (channel) verified.push({ item, channel });
      }
      const refused = body.value.length - verified.length;
      if (refused > 0)
        parts.logger.warn(
          { refused, route },
          'Teams notifications with an unknown subscription or a wrong clientState refused',
        );
      if (verified.length === 0)
        return reply(403, { error: { code: 'forbidden', message: 'unknown subscription or clientState' } });

      if (route === 'lifecycle') {
        for (const { item, channel } of verified) {
          const event = item.lifecycleEvent ?? '';
          if (!LIFECYCLE_EVENTS.has(event)) continue;
          parts.logger.info({ event, teamId: channel.teamId }, 'Teams subscription lifecycle notification');
          await parts.subscriptions.request(channel, event as LifecycleEvent);
        }
        parts.subscriptions.repairSoon();
        return reply(202, null);
      }

      if (verified.some((v) => v.item.encryptedContent)) {
        const ok = parts.encryption
          ? await parts.encryption.verifier.verifyAll(body.validationTokens ?? [])
          : false;
        if (!ok) {
          parts.logger.warn(
            {},
            'Teams notification with resource data and invalid validation tokens refused',
          );
          return reply(403, { error: { code: 'forbidden', message: 'invalid validation tokens' } });
        }
      }

      const options = await parts.commandOptions();
      const deadline = parts.now() + parts.config.inboundFetchTimeoutMs;
      const found: Array<{ at: number; index: number; commands: DomainCommand[] }> = [];
      let failed = 0;
      const work = verified.map(({ item, channel }, index) => async () => {
        try {
          const result = await commandsOf(item, channel, ctx, options, deadline);
          found.push({ ...result, index });
        } catch (error) {
          failed++;
          parts.logger.warn(
            {
              code: isWabridgeError(error) ? error.code : undefined,
              err: error instanceof Error ? error.message : String(error),
            },
            'could not read a Teams reply for a notification; Graph will deliver it again',
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
  ): Promise<{ at: number; commands: DomainCommand[] }> {
    const none = { at: 0, commands: [] };
    const resource = item.resource ? parseMessageResource(item.resource) : null;
    // A subscription only speaks for its own channel; roots (new threads, our cards) are no replies.
    if (!resource || resource.channelId !== channel.channelId || resource.teamId !== channel.teamId)
      return none;
    if (resource.replyId === null) return none;
    const thread = { teamId: channel.teamId, channelId: channel.channelId, rootId: resource.rootId };
    if (!(await ctx.findRefByExternalId('conversation', teamsMessageRef(channel.channelId, resource.rootId))))
      return none;
    const ref = teamsMessageRef(channel.channelId, resource.replyId);
    for (const kind of ['message', 'post']) {
      const own = await ctx.findRefByExternalId(kind, ref);
      if (own && (own.data as { mirror?: unknown }).mirror === true) return none;
    }
    const change = (
      ['created', 'updated', 'deleted'].includes(item.changeType ?? '') ? item.changeType : 'created'
    ) as ChangeType;
    if (change === 'deleted') {
      const gone: ChatMessage = {
        id: resource.replyId,
        from: { user: { id: 'unknown', displayName: null } },
      } as ChatMessage;
      return { at: parts.now(), commands: commandsFor(gone, thread, 'deleted', options) };
    }
    let message: ChatMessage | null = null;
    if (item.encryptedContent && parts.encryption) {
      message = decryptResource(item.encryptedContent, parts.encryption.privateKey) as ChatMessage;
    } else {
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
