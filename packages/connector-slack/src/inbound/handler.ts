import { App, type AuthorizeSourceData, ErrorCode as BoltErrorCode } from '@slack/bolt';
import type {
  ConnectorDeps,
  DomainCommand,
  InboundContext,
  InboundHandler,
  InboundResult,
  TemplateDefinition,
} from '@wabridge/core';
import type { SlackApi } from '../api/client.ts';
import type { SlackConfig } from '../config.ts';
import { IDENTITY_KEY, TEMPLATE_ACTION, TEMPLATES_KEY } from '../constants.ts';
import { boltLogger } from './bolt-logger.ts';
import { commandsForEvent, envelopeSchema, type OwnIdentity, type SlackEnvelope } from './events.ts';
import { type CallbackScope, HonoReceiver, SCOPE } from './receiver.ts';
import { markRevoked } from './revocation.ts';
import { servesSource } from './serves-source.ts';
import {
  COMMAND_USAGE,
  modalParameters,
  parseModalMetadata,
  parsePickedTemplate,
  parseTemplateCommand,
  templateModal,
} from './templates.ts';
import { verifySlackSignature } from './verify.ts';

/** How long an answer may wait for auth.test (our bot's ids) when they are not stored yet. */
const IDENTITY_BUDGET_MS = 1000;
/** Slack gives a modal's trigger 3 s; leave room for our own answer to reach Slack. */
const VIEWS_OPEN_BUDGET_MS = 2000;

const nothing = (status = 200, body?: unknown, headers: Record<string, string> = {}): InboundResult => ({
  response:
    body === undefined
      ? new Response(null, { status, headers })
      : Response.json(body, { status, headers: { ...headers } }),
  commands: [],
});

const ephemeral = (text: string): InboundResult => nothing(200, { response_type: 'ephemeral', text });

interface Payload {
  type?: string;
  team?: { id?: string };
  user?: { id?: string; name?: string; username?: string };
  trigger_id?: string;
  channel?: { id?: string };
  container?: { channel_id?: string; thread_ts?: string };
  message?: { ts?: string; thread_ts?: string };
  actions?: { action_id?: string; value?: string; selected_option?: { value?: string } }[];
  view?: {
    id?: string;
    app_installed_team_id?: string;
    callback_id?: string;
    private_metadata?: string;
    state?: { values?: Record<string, Record<string, { value?: string | null }>> };
  };
}

/**
 * The callback a path names; a Request URL configured without the suffix (the bare
 * `/hooks/slack/<workspace>`) is told apart by its content, as Slack sends each kind differently.
 */
function routeOf(path: string, contentType: string, body: string): string {
  const trimmed = path.replace(/\/+$/, '');
  if (trimmed !== '') return trimmed;
  if (!contentType.includes('x-www-form-urlencoded')) return '/events';
  return new URLSearchParams(body).has('payload') ? '/interactivity' : '/commands';
}

/**
 * Slack's callbacks at `/hooks/slack/<workspace>/…`: `/events` (Events API), `/interactivity`
 * (template picker and its modal) and `/commands` (slash command).
 *
 * The HTTP edge stays ours: every request is verified (v0 signature on the raw bytes, constant
 * time, 5-minute window) and its body read before Bolt sees it. Routing is Bolt's `App` (its
 * `authorize` decides whether a callback is for this installation, its listeners turn a callback
 * into commands) behind a receiver that answers only once the listeners are done
 * (`processBeforeResponse`), so the gateway records the commands before Slack gets its answer.
 * Retries (`X-Slack-Retry-Num`) reach Bolt's context; duplicates are dropped by the commands'
 * idempotency keys, which the core records once.
 */
export function createInboundHandler(
  config: SlackConfig,
  api: SlackApi,
  deps: ConnectorDeps,
): InboundHandler {
  let identity: OwnIdentity | null = null;

  /** Our bot's ids: remembered, else stored by the delivery side, else asked once (auth.test). */
  async function own(): Promise<OwnIdentity> {
    if (identity) return identity;
    const stored = await deps.state.get<{ botUserId: string; botId: string | null }>(IDENTITY_KEY);
    // Asked inline only until the first maintenance run stores it; bounded, as Slack waits for our answer.
    const known =
      stored ??
      (await Promise.race([
        api.identity().catch(() => null),
        new Promise<null>((resolve) => setTimeout(() => resolve(null), IDENTITY_BUDGET_MS).unref()),
      ]));
    const result = {
      botUserId: known?.botUserId ?? null,
      botId: known?.botId ?? null,
      appId: config.appId ?? null,
    };
    if (known) identity = result;
    return result;
  }

  const receiver = new HonoReceiver();
  const app = new App({
    receiver,
    // No token check at start-up (the gateway must start with Slack unreachable); the installation
    // is the connector's config, and a callback of any other team is refused here.
    async authorize(source: AuthorizeSourceData<boolean>) {
      if (!servesSource(config, source)) {
        throw new Error(`team ${source.teamId ?? '-'} / organization ${source.enterpriseId ?? '-'}`);
      }
      return {
        botToken: config.botToken,
        ...(config.botUserId ? { botUserId: config.botUserId } : {}),
        ...(config.teamId ? { teamId: config.teamId } : {}),
        ...(config.enterpriseId ? { enterpriseId: config.enterpriseId } : {}),
      };
    },
    // Our own posts and other apps' are recognised by `isBotMessage` (it knows more cases), and
    // nothing is kept in memory between callbacks.
    ignoreSelf: false,
    convoStore: false,
    processBeforeResponse: true,
    logger: boltLogger(deps.logger),
    extendedErrorHandler: true,
    clientOptions: { slackApiUrl: config.slackApiUrl },
  });
  app.error(async ({ error, body }: { error: { code?: string }; body?: unknown }) => {
    if (error.code === BoltErrorCode.AuthorizationError) {
      const b = body as { team_id?: unknown; api_app_id?: unknown } | undefined;
      deps.logger.warn(
        { team: b?.team_id, app: b?.api_app_id },
        'ignored a callback for another Slack team or organization',
      );
      return;
    }
    throw error;
  });

  /** Runs `answer` as a Bolt listener and leaves its result in the callback's scope. */
  const listen =
    <A extends { body: unknown; context: Record<string, unknown>; ack?: unknown }>(
      answer: (args: A) => Promise<InboundResult>,
    ) =>
    async (args: A) => {
      const scope = args.context[SCOPE] as CallbackScope;
      scope.listened = true;
      scope.result = await answer(args);
      if (typeof args.ack === 'function') await (args.ack as () => Promise<void>)();
    };

  app.event(
    /.*/,
    listen(async ({ body, context }) => {
      const envelope = body as unknown as SlackEnvelope;
      if (config.appId && envelope.api_app_id !== config.appId) {
        deps.logger.warn(
          { team: envelope.team_id, app: envelope.api_app_id },
          'ignored an event for another Slack app',
        );
        return nothing();
      }
      const type = envelope.event?.type;
      if (type === 'app_uninstalled' || type === 'tokens_revoked') {
        // Bolt does not authorize these two (the tokens are gone): check the installation here.
        const source = {
          teamId: context.teamId as string | undefined,
          enterpriseId: context.enterpriseId as string | undefined,
        };
        if (!servesSource(config, source)) return nothing();
        await markRevoked(config, deps, envelope);
        return nothing();
      }
      return {
        response: new Response(null, { status: 200 }),
        commands: commandsForEvent(envelope, await own(), config),
      };
    }),
  );
  app.action(
    /.*/,
    listen(async ({ body }) => blockActions(body as unknown as Payload)),
  );
  app.view(
    { callback_id: TEMPLATE_ACTION, type: 'view_submission' },
    listen(async ({ body }) => viewSubmission(body as unknown as Payload)),
  );
  app.command(
    /.*/,
    listen(async ({ context }) => {
      const scope = context[SCOPE] as CallbackScope;
      return slashCommand(scope.form ?? new URLSearchParams(), scope.request, scope.ctx);
    }),
  );

  /** Bolt's answer for a parsed body, or `fallback` when no listener answered. */
  async function dispatch(
    body: Record<string, unknown>,
    request: Request,
    ctx: InboundContext,
    form?: URLSearchParams,
  ): Promise<InboundResult> {
    const retryNum = request.headers.get('x-slack-retry-num');
    const reason = request.headers.get('x-slack-retry-reason') ?? undefined;
    const scope: CallbackScope = { request, ctx, ...(form ? { form } : {}), result: null, listened: false };
    try {
      await receiver.dispatch(
        body,
        { num: retryNum && /^\d+$/.test(retryNum) ? Number(retryNum) : undefined, reason },
        scope,
      );
    } catch (error) {
      // A body Bolt cannot read (a field of an unexpected shape) is answered like one nobody
      // listens to; an error of our own listeners (the store failing) goes up, and Slack retries.
      if (scope.listened) throw error;
      deps.logger.warn({ err: error }, 'Bolt could not read a Slack callback; ignored');
      return nothing();
    }
    return scope.result ?? nothing();
  }

  async function events(body: string, request: Request, ctx: InboundContext): Promise<InboundResult> {
    let envelope: SlackEnvelope;
    try {
      envelope = envelopeSchema.parse(JSON.parse(body));
    } catch {
      return nothing(400, { ok: false, error: 'invalid_payload' }, { 'x-slack-no-retry': '1' });
    }
    // The two envelopes that are not events are the receiver's to answer, as in Bolt's own receivers.
    if (envelope.type === 'url_verification') return nothing(200, { challenge: envelope.challenge ?? '' });
    if (envelope.type === 'app_rate_limited') {
      deps.logger.warn(
        { team: envelope.team_id },
        'Slack is dropping events: the app exceeded 30,000 events per hour',
      );
      return nothing();
    }
    if (envelope.type !== 'event_callback' || !envelope.event) return nothing();
    // Bolt reads `authorizations[0]` as an object: entries of another shape are left out.
    const authorizations = (envelope.authorizations ?? []).filter(
      (a) => typeof a === 'object' && a !== null && !Array.isArray(a),
    );
    return dispatch({ ...envelope, authorizations }, request, ctx);
  }

  async function interactivity(body: string, request: Request, ctx: InboundContext): Promise<InboundResult> {
    let payload: Payload;
    try {
      payload = JSON.parse(new URLSearchParams(body).get('payload') ?? '') as Payload;
    } catch {
      return nothing(400, { ok: false, error: 'invalid_payload' });
    }
    // Valid JSON that is not an object (`null`, a number) is as unusable as invalid JSON.
    if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) {
      return nothing(400, { ok: false, error: 'invalid_payload' });
    }
    return dispatch(payload as Record<string, unknown>, request, ctx);
  }

  async function blockActions(payload: Payload): Promise<InboundResult> {
    if (payload.type !== 'block_actions') return nothing();
    const actions = Array.isArray(payload.actions) ? payload.actions : [];
    const action = actions.find((a) => a?.action_id === TEMPLATE_ACTION);
    const picked = parsePickedTemplate(action?.selected_option?.value ?? action?.value);
    const channel = payload.channel?.id ?? payload.container?.channel_id;
    const threadTs = payload.message?.thread_ts ?? payload.container?.thread_ts;
    if (!picked || !channel || !threadTs || !payload.trigger_id) return nothing();
    const templates = (await deps.state.get<TemplateDefinition[]>(TEMPLATES_KEY)) ?? [];
    const definition = templates.find((t) => t.name === picked.name && t.language === picked.language);
    const view = templateModal({ threadId: `${channel}:${threadTs}`, ...picked }, definition);
    // The one Web API call made while answering: a trigger expires in 3 s, so the modal cannot wait
    // for the queue. It changes nothing durable (only the agent's screen); a failure is logged.
    const opening = api
      .call('views.open', { trigger_id: payload.trigger_id, view })
      .catch((error: unknown) => {
        deps.logger.warn({ err: error }, 'could not open the template modal');
      });
    await Promise.race([
      opening,
      new Promise((resolve) => setTimeout(resolve, VIEWS_OPEN_BUDGET_MS).unref()),
    ]);
    return nothing();
  }

  async function viewSubmission(payload: Payload): Promise<InboundResult> {
    const metadata = parseModalMetadata(payload.view?.private_metadata);
    if (!metadata || !payload.view?.id) return nothing();
    const { parameters, missing } = modalParameters(metadata, payload.view.state?.values ?? {});
    if (missing.length > 0) {
      return nothing(200, {
        response_action: 'errors',
        errors: Object.fromEntries(missing.map((id) => [id, 'Required by the template'])),
      });
    }
    const command: DomainCommand = {
      type: 'agent.template',
      idempotencyKey: `view:${payload.view.id}`,
      threadId: metadata.threadId,
      messageId: null,
      agent: {
        id: payload.user?.id ?? 'unknown',
        name: payload.user?.name ?? payload.user?.username ?? null,
      },
      template: { name: metadata.name, language: metadata.language, parameters },
    };
    // An empty 200 closes the modal; the outcome shows in the conversation thread.
    return { response: new Response(null, { status: 200 }), commands: [command] };
  }

  async function slashCommand(
    form: URLSearchParams,
    request: Request,
    ctx: InboundContext,
  ): Promise<InboundResult> {
    const command = form.get('command') ?? config.slashCommand;
    const text = (form.get('text') ?? '').trim();
    if (!/^template\b/i.test(text)) return ephemeral(COMMAND_USAGE(command));
    const templates = (await deps.state.get<TemplateDefinition[]>(TEMPLATES_KEY)) ?? [];
    const parsed = parseTemplateCommand(text, templates);
    if (!parsed.ok)
      return ephemeral(
        parsed.error === 'usage' ? COMMAND_USAGE(command) : `${parsed.error}\n\n${COMMAND_USAGE(command)}`,
      );
    if (!(await ctx.findRefByExternalId('conversation', parsed.threadId))) {
      return ephemeral(
        'That thread is not a WhatsApp conversation mirrored by wabridge: use the link of the conversation card.',
      );
    }
    const trigger =
      form.get('trigger_id') ??
      `${form.get('user_id')}:${request.headers.get('x-slack-request-timestamp')}:${text}`;
    const n = parsed.template.parameters.length;
    return {
      response: Response.json({
        response_type: 'ephemeral',
        text: `Sending template *${parsed.template.name}* (${parsed.template.language}) with ${n} parameter${n === 1 ? '' : 's'}; the outcome shows in the conversation thread.`,
      }),
      commands: [
        {
          type: 'agent.template',
          idempotencyKey: `command:${trigger}`,
          threadId: parsed.threadId,
          messageId: null,
          agent: { id: form.get('user_id') ?? 'unknown', name: form.get('user_name') },
          template: parsed.template,
        },
      ],
    };
  }

  /** A slash command as Bolt reads it: the form's fields (Bolt tells commands by `command`). */
  function commandBody(form: URLSearchParams): Record<string, unknown> {
    return { ...Object.fromEntries(form), command: form.get('command') ?? config.slashCommand };
  }

  return {
    async handle(request, ctx) {
      if (request.method !== 'POST') return nothing(405);
      const body = new TextDecoder().decode(ctx.rawBody);
      const type = request.headers.get('content-type') ?? '';
      if (type.includes('x-www-form-urlencoded')) {
        // Slack's certificate check: no signature, no payload, nothing to do.
        const form = new URLSearchParams(body);
        if (form.get('ssl_check') === '1' && !form.has('payload') && !form.has('command')) return nothing();
      }
      const check = verifySlackSignature(config.signingSecret, request.headers, ctx.rawBody, deps.now());
      if (!check.ok) {
        deps.logger.warn({ reason: check.reason, path: ctx.path }, 'refused a Slack callback: bad signature');
        return nothing(401, { ok: false, error: 'invalid_signature' });
      }
      const path = routeOf(ctx.path, type, body);
      if (request.headers.get('x-slack-retry-num')) {
        deps.logger.debug(
          {
            retry: request.headers.get('x-slack-retry-num'),
            reason: request.headers.get('x-slack-retry-reason'),
          },
          'Slack retried a callback',
        );
      }
      switch (path) {
        case '/events':
          return events(body, request, ctx);
        case '/interactivity':
          return interactivity(body, request, ctx);
        case '/commands': {
          const form = new URLSearchParams(body);
          return dispatch(commandBody(form), request, ctx, form);
        }
        default:
          return nothing(404, { ok: false, error: 'unknown_route' });
      }
    },
  };
}
