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
import { commandsForEvent, envelopeSchema, type OwnIdentity } from './events.ts';
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
 * (template picker and its modal) and `/commands` (slash command). Every request is verified (v0
 * signature on the raw bytes, 5-minute window) before it is read; the answer is immediate (Slack
 * wants it within 3 s) and the commands go to the core, which records them before the answer leaves.
 *
 * Bolt is not used: its App/receiver model runs listeners around an `ack()` and keeps no durable
 * record, while a connector here only has to turn a verified callback into commands; the Web API
 * client is the only Slack SDK piece the connector needs.
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

  async function events(body: string): Promise<InboundResult> {
    let envelope: ReturnType<typeof envelopeSchema.parse>;
    try {
      envelope = envelopeSchema.parse(JSON.parse(body));
    } catch {
      return nothing(400, { ok: false, error: 'invalid_payload' }, { 'x-slack-no-retry': '1' });
    }
    if (envelope.type === 'url_verification') return nothing(200, { challenge: envelope.challenge ?? '' });
    if (envelope.type === 'app_rate_limited') {
      deps.logger.warn(
        { team: envelope.team_id },
        'Slack is dropping events: the app exceeded 30,000 events per hour',
      );
      return nothing();
    }
    if (envelope.type !== 'event_callback') return nothing();
    // In a Slack Connect channel another organisation created, `team_id` is that organisation's;
    // `authorizations` names the installation the event is delivered for (ours).
    const installed =
      envelope.team_id === config.teamId ||
      (envelope.authorizations ?? []).some(
        (a) => typeof a === 'object' && a !== null && (a as { team_id?: unknown }).team_id === config.teamId,
      );
    if (!installed || (config.appId && envelope.api_app_id !== config.appId)) {
      deps.logger.warn(
        { team: envelope.team_id, app: envelope.api_app_id },
        'ignored an event for another Slack team or app',
      );
      return nothing();
    }
    if (envelope.event?.type === 'app_uninstalled' || envelope.event?.type === 'tokens_revoked') {
      // Nothing to undo here, but every later Web API call will fail: say why once, loudly.
      deps.logger.error(
        { team: config.teamId, event: envelope.event.type },
        'the Slack app was uninstalled or its tokens revoked: reinstall it and update botToken',
      );
      return nothing();
    }
    return {
      response: new Response(null, { status: 200 }),
      commands: commandsForEvent(envelope, await own(), config),
    };
  }

  async function interactivity(body: string): Promise<InboundResult> {
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
    // A modal submitted by someone of another organisation in a Slack Connect channel carries their
    // team; the view says which installation opened it.
    if (payload.team?.id !== config.teamId && payload.view?.app_installed_team_id !== config.teamId) {
      return nothing();
    }
    if (payload.type === 'block_actions') {
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
    if (payload.type === 'view_submission' && payload.view?.callback_id === TEMPLATE_ACTION) {
      const metadata = parseModalMetadata(payload.view.private_metadata);
      if (!metadata || !payload.view.id) return nothing();
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
    return nothing();
  }

  async function slashCommand(body: string, request: Request, ctx: InboundContext): Promise<InboundResult> {
    const form = new URLSearchParams(body);
    if (form.get('team_id') !== config.teamId) return nothing();
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
          return events(body);
        case '/interactivity':
          return interactivity(body);
        case '/commands':
          return slashCommand(body, request, ctx);
        default:
          return nothing(404, { ok: false, error: 'unknown_route' });
      }
    },
  };
}
