/**
 * The sandbox console: one web page showing, side by side and live, the customer's WhatsApp chat,
 * the Slack channel, the Teams channel and the HubSpot contact, rendered from the emulators' own
 * state; and from it, a person plays the customer, the Slack and Teams agents and the HubSpot user.
 *
 *   const console = await startSandboxConsole({ whatsapp, slack, hubspot, graph, customer: { waId, name } });
 *   console.url;              // http://127.0.0.1:<port>/ — open it in a browser
 *   await console.close();
 *
 * The page is plain HTML, CSS and JavaScript (no framework, no build step, nothing from the
 * internet). It gets the state as JSON from `GET /api/state` and then live over Server-Sent Events
 * (`GET /api/events`, pushed whenever one of the emulators' ledgers records something). Text is sent
 * as segments (see `rich-text.ts`) and put in the page with `textContent`, under a strict CSP.
 */
import { readFileSync } from 'node:fs';
import { Hono } from 'hono';
import { streamSSE } from 'hono/streaming';
import { z } from 'zod';
import type { GraphEmulator, GraphUser } from '../graph/index.ts';
import type { HubSpotEmulator } from '../hubspot/index.ts';
import { LedgerTimeoutError } from '../shared/ledger.ts';
import { startServer } from '../shared/server.ts';
import type { SlackEmulator } from '../slack/index.ts';
import type { SlackUser } from '../slack/types.ts';
import type { WhatsAppEmulator } from '../whatsapp/index.ts';
import { coreOf } from '../whatsapp/internal.ts';
import { parcelPhoto } from './sample-image.ts';
import {
  type ConsoleActionView,
  type ConsoleState,
  hubspotPane,
  type SnapshotSources,
  slackPane,
  teamsPane,
  whatsappPane,
} from './snapshot.ts';

export { emojiFor, fromHtml, fromSlackText, type Segment, textOf } from './rich-text.ts';
export { encodePng, parcelPhoto } from './sample-image.ts';
export type * from './snapshot.ts';

/** A button on the console that runs something of the host's (e.g. the demo's scripted conversation). */
export interface ConsoleAction {
  id: string;
  label: string;
  /** Tooltip. */
  title?: string;
  run(): Promise<void>;
}

export interface SandboxConsoleOptions {
  whatsapp: WhatsAppEmulator;
  slack?: SlackEmulator;
  hubspot?: HubSpotEmulator;
  graph?: GraphEmulator;
  /** The customer the console plays (and whose chat it shows). */
  customer: { waId: string; name: string; phoneNumberId?: string };
  /** Slack channel shown (default the emulator's first channel). */
  slackChannel?: string;
  /** Who replies from the Slack pane. */
  slackAgent?: SlackUser;
  /** Teams channel shown (default the emulator's default team and channel). */
  teams?: { teamId: string; channelId: string };
  /** Who replies from the Teams pane. */
  teamsAgent?: GraphUser;
  /** The HubSpot user who changes consent in the CRM (`sourceId: userId:<id>` in webhooks). */
  hubspotUserId?: number;
  /** Contact property holding WhatsApp consent, and its values (wabridge's by default). */
  consentProperty?: string;
  consentOptions?: string[];
  title?: string;
  /** Links shown in the header (e.g. the gateway). */
  links?: Record<string, string>;
  actions?: ConsoleAction[];
  /** Clock shown in the header (default the WhatsApp emulator's). */
  now?: () => number;
  /** Default 0 (any free port). */
  port?: number;
  hostname?: string;
}

export interface SandboxConsole {
  /** `http://127.0.0.1:<port>` — the page is at `/`. */
  readonly url: string;
  /** What the page shows right now. */
  state(): ConsoleState;
  /** Pushes the state to open pages now (ledger changes do it by themselves). */
  refresh(): void;
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

const DEFAULT_SLACK_AGENT: SlackUser = { id: 'U0CONSOLE1', name: 'Support Agent' };
const DEFAULT_TEAMS_AGENT: GraphUser = {
  id: '0c0c0c0c-1111-4222-8333-444455556666',
  displayName: 'Support Agent',
  userPrincipalName: 'agent@contoso.example',
};
const DEFAULT_LOCATION = {
  latitude: 51.5246,
  longitude: -0.0987,
  name: 'Home',
  address: '12 Babbage Row, London EC1',
};

const PAGE_DIR = new URL('./page/', import.meta.url);
const ASSETS: Record<string, { file: string; type: string }> = {
  '/': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/console.css': { file: 'console.css', type: 'text/css; charset=utf-8' },
  '/console.js': { file: 'console.js', type: 'text/javascript; charset=utf-8' },
};
const SECURITY_HEADERS = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-store',
};

const customerMessageSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('text'), text: z.string().min(1).max(4096) }),
  z.object({ type: z.literal('image'), caption: z.string().max(1024).optional() }),
  z.object({
    type: z.literal('location'),
    latitude: z.number().min(-90).max(90).optional(),
    longitude: z.number().min(-180).max(180).optional(),
    name: z.string().max(200).optional(),
    address: z.string().max(400).optional(),
  }),
  z.object({ type: z.literal('button'), messageId: z.string().min(1), text: z.string().min(1).max(100) }),
  z.object({ type: z.literal('reaction'), messageId: z.string().min(1), emoji: z.string().max(16) }),
]);

/** Starts the console on 127.0.0.1 (any free port unless `port` is given). */
export async function startSandboxConsole(options: SandboxConsoleOptions): Promise<SandboxConsole> {
  const { whatsapp, slack, graph, hubspot } = options;
  const core = coreOf(whatsapp);
  const phoneNumberId = options.customer.phoneNumberId ?? [...core.phoneNumbers.keys()][0] ?? '';
  const slackAgent = options.slackAgent ?? DEFAULT_SLACK_AGENT;
  const teamsAgent = options.teamsAgent ?? DEFAULT_TEAMS_AGENT;
  const people = new Map<string, string>([
    [slackAgent.id, slackAgent.name],
    [teamsAgent.id, teamsAgent.displayName],
  ]);
  const sources: SnapshotSources = {
    whatsapp,
    slack,
    graph,
    hubspot,
    customer: { waId: options.customer.waId, name: options.customer.name, phoneNumberId },
    slackChannel: options.slackChannel ?? slack?.channels[0]?.id ?? '',
    slackAgent: { id: slackAgent.id, name: slackAgent.name },
    teams: options.teams ?? { teamId: graph?.teamId ?? '', channelId: graph?.channelId ?? '' },
    teamsAgent: { id: teamsAgent.id, name: teamsAgent.displayName },
    consentProperty: options.consentProperty ?? 'wabridge_whatsapp_consent',
    consentOptions: options.consentOptions ?? ['opted_in', 'marketing_opted_out', 'opted_out'],
    people,
  };
  const actions = new Map(
    (options.actions ?? []).map((a) => {
      const view: ConsoleActionView = {
        id: a.id,
        label: a.label,
        title: a.title ?? null,
        running: false,
        error: null,
      };
      return [a.id, { action: a, view }] as const;
    }),
  );
  const now = options.now ?? (() => whatsapp.clock.now());
  const baseNow = Date.now;
  const state = (): ConsoleState => ({
    title: options.title ?? 'wabridge sandbox',
    now: now(),
    clockOffsetMs: now() - baseNow(),
    links: options.links ?? {},
    actions: [...actions.values()].map((a) => ({ ...a.view }) satisfies ConsoleActionView),
    whatsapp: whatsappPane(sources),
    slack: slackPane(sources),
    teams: teamsPane(sources),
    hubspot: hubspotPane(sources),
  });

  // Live updates: any ledger entry of any emulator schedules one push (coalesced) to every page.
  const listeners = new Set<() => void>();
  let scheduled: NodeJS.Timeout | null = null;
  const refresh = () => {
    if (scheduled) return;
    scheduled = setTimeout(() => {
      scheduled = null;
      for (const listener of listeners) listener();
    }, 40);
  };
  const unsubscribes = [whatsapp.ledger, slack?.ledger, graph?.ledger, hubspot?.ledger]
    .filter((l) => l !== undefined)
    .map((ledger) =>
      ledger.subscribe((entry) => {
        // Ignore the noise that changes nothing on screen.
        if (entry.kind === 'api.request' || entry.kind === 'api.call' || entry.kind === 'token.issued')
          return;
        refresh();
      }),
    );
  const closeStreams = new Set<() => void>();

  const customer = () =>
    whatsapp.customer({ waId: options.customer.waId, name: options.customer.name, phoneNumberId });
  const photo = parcelPhoto();

  const app = new Hono();
  app.onError((error, c) => {
    const status = error instanceof z.ZodError || error instanceof TypeError ? 400 : 500;
    const message = error instanceof z.ZodError ? z.prettifyError(error) : error.message;
    return c.json({ error: { message } }, status);
  });
  // The console binds the loopback interface and has no login: refuse requests a web page of another
  // origin could make (a cross-site form post or fetch) — JSON only, same origin only.
  app.use('/api/*', async (c, next) => {
    if (c.req.method !== 'GET') {
      const origin = c.req.header('origin');
      const host = c.req.header('host');
      if (origin !== undefined && (host === undefined || new URL(origin).host !== host)) {
        return c.json({ error: { message: 'cross-origin requests are refused' } }, 403);
      }
      if (!(c.req.header('content-type') ?? '').startsWith('application/json')) {
        return c.json({ error: { message: 'send JSON' } }, 415);
      }
    }
    await next();
    for (const [name, value] of Object.entries(SECURITY_HEADERS)) c.header(name, value);
  });

  const assets = new Map(
    Object.entries(ASSETS).map(([path, asset]) => [
      path,
      { body: readFileSync(new URL(asset.file, PAGE_DIR), 'utf8'), type: asset.type },
    ]),
  );
  for (const [path, asset] of assets) {
    app.get(path, (c) => c.body(asset.body, 200, { 'content-type': asset.type, ...SECURITY_HEADERS }));
  }

  // No icon: answered so that browsers do not log a 404 on every load.
  app.get('/favicon.ico', (c) => c.body(null, 204));

  app.get('/api/state', (c) => c.json(state()));

  app.get('/api/events', (c) => {
    for (const [name, value] of Object.entries(SECURITY_HEADERS)) c.header(name, value);
    return streamSSE(c, async (stream) => {
      let writing = Promise.resolve();
      const push = () => {
        writing = writing
          .then(() => stream.writeSSE({ event: 'state', data: JSON.stringify(state()) }))
          .catch(() => undefined);
      };
      push();
      listeners.add(push);
      const heartbeat = setInterval(() => {
        writing = writing
          .then(() => stream.write(': keep-alive\n\n'))
          .then(
            () => undefined,
            () => undefined,
          );
      }, 15_000);
      await new Promise<void>((resolve) => {
        stream.onAbort(resolve);
        closeStreams.add(resolve);
      });
      clearInterval(heartbeat);
      listeners.delete(push);
      await writing;
    });
  });

  app.post('/api/whatsapp/messages', async (c) => {
    const input = customerMessageSchema.parse(await c.req.json());
    const who = customer();
    let wamid: string;
    switch (input.type) {
      case 'text':
        wamid = await who.sendText(input.text);
        break;
      case 'image':
        wamid = await who.sendImage({
          bytes: photo,
          mimeType: 'image/png',
          ...(input.caption ? { caption: input.caption } : {}),
        });
        break;
      case 'location':
        wamid = await who.sendLocation({
          latitude: input.latitude ?? DEFAULT_LOCATION.latitude,
          longitude: input.longitude ?? DEFAULT_LOCATION.longitude,
          name: input.name ?? DEFAULT_LOCATION.name,
          address: input.address ?? DEFAULT_LOCATION.address,
        });
        break;
      case 'button':
        wamid = await who.tapTemplateButton(input.messageId, { payload: input.text, text: input.text });
        break;
      case 'reaction':
        wamid =
          input.emoji === ''
            ? await who.removeReaction(input.messageId)
            : await who.react(input.messageId, input.emoji);
        break;
    }
    return c.json({ wamid });
  });

  app.post('/api/slack/replies', async (c) => {
    if (!slack) throw new TypeError('no Slack emulator in this console');
    const input = z
      .object({ threadTs: z.string().min(1), text: z.string().min(1).max(4000) })
      .parse(await c.req.json());
    const action = await slack
      .agent(slackAgent)
      .reply({ channel: sources.slackChannel, threadTs: input.threadTs }, input.text);
    return c.json({ ts: action.ts, status: action.callback.first.status ?? null });
  });

  app.post('/api/slack/templates', async (c) => {
    if (!slack) throw new TypeError('no Slack emulator in this console');
    const input = z
      .object({
        ts: z.string().min(1),
        actionId: z.string().min(1),
        value: z.string().min(1),
        parameters: z.array(z.string().max(1000)).max(20),
      })
      .parse(await c.req.json());
    const agent = slack.agent(slackAgent);
    const mark = slack.ledger.mark();
    // What a person does in Slack: pick the option in the notice, then fill and submit the modal the
    // app opens (its inputs are `param_1…param_n`, as the wabridge Slack connector builds them).
    const picked = await agent.chooseOption(
      { channel: sources.slackChannel, ts: input.ts },
      input.actionId,
      input.value,
    );
    let viewId: string;
    try {
      const [opened] = await slack.ledger.waitFor('view.opened', {
        since: mark,
        timeoutMs: 5000,
        where: (e) => e.triggerId === picked.triggerId,
      });
      viewId = opened?.viewId ?? '';
    } catch (error) {
      if (error instanceof LedgerTimeoutError) throw new TypeError('the app did not open the template form');
      throw error;
    }
    const values = Object.fromEntries(input.parameters.map((p, i) => [`param_${i + 1}`, p]));
    const submitted = await agent.submitView(viewId, values);
    return c.json({ status: submitted.status ?? null, body: submitted.body ?? null });
  });

  app.post('/api/teams/replies', async (c) => {
    if (!graph) throw new TypeError('no Graph emulator in this console');
    const input = z
      .object({ rootId: z.string().min(1), text: z.string().min(1).max(4000) })
      .parse(await c.req.json());
    const message = graph.agentReply({
      rootId: input.rootId,
      text: input.text,
      agent: teamsAgent,
      teamId: sources.teams.teamId,
      channelId: sources.teams.channelId,
    });
    return c.json({ id: message.id });
  });

  app.post('/api/hubspot/consent', async (c) => {
    if (!hubspot) throw new TypeError('no HubSpot emulator in this console');
    const input = z
      .object({
        contactId: z.string().min(1),
        value: z.enum(sources.consentOptions as [string, ...string[]]),
      })
      .parse(await c.req.json());
    hubspot.updateContact(
      input.contactId,
      { [sources.consentProperty]: input.value },
      options.hubspotUserId === undefined ? {} : { userId: options.hubspotUserId },
    );
    return c.json({ ok: true });
  });

  app.post('/api/actions/:id', (c) => {
    const entry = actions.get(c.req.param('id'));
    if (!entry) return c.json({ error: { message: 'no such action' } }, 404);
    if (entry.view.running)
      return c.json({ error: { message: `${entry.action.label} is already running` } }, 409);
    entry.view.running = true;
    entry.view.error = null;
    refresh();
    void entry.action.run().then(
      () => {
        entry.view.running = false;
        refresh();
      },
      (error: unknown) => {
        entry.view.running = false;
        entry.view.error = error instanceof Error ? error.message : String(error);
        refresh();
      },
    );
    return c.json({ started: true }, 202);
  });

  app.get('/media/whatsapp/:id', (c) => {
    const record = core.media.get(c.req.param('id'));
    if (!record || record.deletedAt !== undefined) return c.text('not found', 404);
    return c.body(new Uint8Array(record.bytes), 200, {
      'content-type': record.mimeType.startsWith('image/') ? record.mimeType : 'application/octet-stream',
      ...SECURITY_HEADERS,
    });
  });

  app.get('/media/slack/:id', (c) => {
    const id = c.req.param('id');
    // Only files shared in the console's channel are served.
    const mime = slackMime(slack, sources.slackChannel, id);
    const bytes = mime === undefined ? undefined : slack?.fileBytes(id);
    if (!bytes) return c.text('not found', 404);
    return c.body(new Uint8Array(bytes), 200, {
      'content-type': mime?.startsWith('image/') ? mime : 'application/octet-stream',
      ...SECURITY_HEADERS,
    });
  });

  const server = await startServer(app, {
    ...(options.port === undefined ? {} : { port: options.port }),
    ...(options.hostname === undefined ? {} : { hostname: options.hostname }),
  });
  let closing: Promise<void> | undefined;
  const close = () => {
    closing ??= (async () => {
      for (const unsubscribe of unsubscribes) unsubscribe();
      if (scheduled) clearTimeout(scheduled);
      for (const end of closeStreams) end();
      await server.close();
    })();
    return closing;
  };
  return {
    url: server.url,
    state,
    refresh,
    close,
    [Symbol.asyncDispose]: close,
  };
}

/** The MIME type Slack knows for a file shared in the channel. */
function slackMime(slack: SlackEmulator | undefined, channel: string, fileId: string): string | undefined {
  if (!slack) return undefined;
  for (const root of slack.history(channel)) {
    for (const message of slack.thread(channel, root.ts)) {
      const file = message.files.find((f) => f.id === fileId);
      if (file) return file.mimetype;
    }
  }
  return undefined;
}
