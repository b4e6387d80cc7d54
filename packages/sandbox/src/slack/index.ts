/**
 * Slack emulator over real HTTP, for `@slack/web-api` pointed at it with `slackApiUrl`, and for
 * `@slack/oauth`'s `InstallProvider` pointed at it with `authorizationUrl` + `clientOptions`.
 *
 *   const slack = await startSlackEmulator({ signingSecret, botToken, channels: [{ id: 'C0SUPPORT01', name: 'support' }] });
 *   const web = new WebClient(botToken, { slackApiUrl: slack.apiUrl });
 *   slack.setCallbackUrls(`${gateway.url}/hooks/slack/<workspace>`);   // /events, /interactivity, /commands
 *   const grace = slack.agent({ id: 'U0GRACE', name: 'Grace' });
 *   await grace.reply({ channel, threadTs }, 'Hello!', { duplicates: 3 });   // signed event + 3 Slack retries
 *   slack.thread(channel, threadTs);   // what the channel shows
 *   slack.ledger.count('api.rate_limited');
 *
 * Web API: auth.test, users.info, conversations.info/history/replies, chat.postMessage/update/delete/
 * getPermalink, reactions.add/remove, files.getUploadURLExternal + upload URL +
 * files.completeUploadExternal, files.info/delete, views.open — with Slack's envelopes
 * (`{ ok, error }`), per-channel posting limits and method tiers (429 + Retry-After), and requests
 * checked against Slack's Web API spec where it covers the method (`vendor/slack`, MIT).
 *
 * Several workspaces (and Enterprise Grid organizations) live side by side; each installation of
 * the app has its own tokens, scopes and bot, and a token only sees its workspace(s):
 *
 *   const slack = await startSlackEmulator({ signingSecret, workspaces: [{ id: 'T0ACME', name: 'Acme' }],
 *     oauth: { clientId, clientSecret, redirectUris: [callback] } });
 *   // "Add to Slack": slack.authorizeUrl + consent page → callback?code= → oauth.v2.access
 *   const { botToken } = slack.install({ teamId: 'T0ACME', scopes: ['chat:write'] });   // or without the dance
 *   slack.uninstall({ teamId: 'T0ACME' });   // tokens_revoked + app_uninstalled, signed
 */
import { Hono } from 'hono';
import { type ChaosOptions, chaosFrom } from '../shared/chaos.ts';
import type { Ledger } from '../shared/ledger.ts';
import { startServer } from '../shared/server.ts';
import { SlackAgent } from './agent.ts';
import { createWebApi } from './api.ts';
import { SlackCore } from './core.ts';
import { METHOD_SCOPES } from './installs.ts';
import { createOAuthPages, uninstall as removeInstallation } from './oauth.ts';
import { sha256Hex } from './state.ts';
import type {
  InstallationRef,
  SlackChannel,
  SlackEmulatorOptions,
  SlackEnterpriseSeed,
  SlackEvent,
  SlackFailure,
  SlackRateLimits,
  SlackUser,
  SlackWorkspaceSeed,
} from './types.ts';

export type {
  AgentAction,
  AgentFile,
  EventOptions,
  FormAction,
  MessageRef,
  SlackAgent,
  ThreadRef,
} from './agent.ts';
export type { CallbackResult } from './core.ts';
export { DEFAULT_CHANNELS, DEFAULT_RATE_LIMITS } from './core.ts';
export { KNOWN_SCOPES, METHOD_SCOPES } from './installs.ts';
export type {
  InstallationRef,
  SlackChannel,
  SlackEmulatorOptions,
  SlackEnterpriseSeed,
  SlackEvent,
  SlackFailure,
  SlackOAuthOptions,
  SlackRateLimits,
  SlackUser,
  SlackWorkspaceSeed,
  TierLimits,
} from './types.ts';

/** A workspace as the emulator holds it. */
export interface SlackWorkspaceView {
  id: string;
  name: string;
  domain: string;
  enterpriseId: string | undefined;
  channels: SlackChannel[];
  /** The person who installs apps there. */
  admin: SlackUser;
  /** The app can act there (its own installation, or its organization's). */
  installed: boolean;
}

/** An installation of the app. */
export interface SlackInstallationView extends InstallationRef {
  botUserId: string;
  botId: string;
  scopes: string[];
  userScopes: string[];
  installerUserId: string;
  active: boolean;
  /** Workspaces its tokens act in. */
  teamIds: string[];
}

/** A message as the channel shows it. */
export interface SlackMessageView {
  channel: string;
  ts: string;
  threadTs: string | undefined;
  user: string;
  /** Posted by the app's bot (chat.postMessage or a file upload). */
  bot: boolean;
  username: string | undefined;
  text: string;
  subtype: string | undefined;
  blocks: unknown[] | undefined;
  metadata: { event_type: string; event_payload: Record<string, unknown> } | undefined;
  files: {
    id: string;
    name: string;
    title: string;
    mimetype: string;
    size: number;
    sha256: string | undefined;
  }[];
  reactions: { name: string; users: string[] }[];
  edited: boolean;
}

export interface SlackEmulator {
  /** Root URL, e.g. `http://127.0.0.1:54321`. */
  readonly url: string;
  /** The `slackApiUrl` for `@slack/web-api` (`url` + `/api/`). */
  readonly apiUrl: string;
  /** `authorizationUrl` for `@slack/oauth` (in place of `https://slack.com/oauth/v2/authorize`). */
  readonly authorizeUrl: string;
  readonly ledger: Ledger<SlackEvent>;
  readonly clock: SlackCore['clock'];
  /** The default workspace. */
  readonly teamId: string;
  readonly appId: string;
  /** Bot of the default workspace's installation. */
  readonly botId: string;
  readonly botUserId: string;
  /** The default workspace's live bot token ('' while the app is not installed there). */
  readonly botToken: string;
  readonly signingSecret: string;
  /** Channels of the default workspace. */
  readonly channels: readonly SlackChannel[];
  /** Every workspace, with whether the app is installed there. */
  workspaces(): SlackWorkspaceView[];
  /** Installations of the app, active or removed. */
  installations(): SlackInstallationView[];
  /**
   * Installs the app without the browser dance (as if someone had clicked "Allow"), into a workspace
   * or, with `enterpriseId` and `orgWide`, a whole organization. Returns the new bot token.
   */
  install(input: { teamId?: string; enterpriseId?: string; scopes?: string[]; userScopes?: string[] }): {
    botToken: string;
    botUserId: string;
    botId: string;
    refreshToken: string | undefined;
  };
  /** An admin removes the app (Slack's app management page): tokens revoked, then signed events. */
  uninstall(where: { teamId: string } | { enterpriseId: string }): void;
  /** Adds a workspace (optionally in an organization) at run time. */
  addWorkspace(seed: SlackWorkspaceSeed): void;
  addEnterprise(seed: SlackEnterpriseSeed): void;
  /** Where callbacks go: a base (`…/hooks/slack/<ws>` → `/events`, `/interactivity`, `/commands`) or each URL. */
  setCallbackUrls(urls: string | { events?: string; interactivity?: string; commands?: string }): void;
  /** A simulated human in the workspace. */
  agent(user: SlackUser): SlackAgent;
  /** The parent and its replies, oldest first. */
  thread(channel: string, ts: string): SlackMessageView[];
  /** Top-level messages of a channel, oldest first. */
  history(channel: string): SlackMessageView[];
  message(channel: string, ts: string): SlackMessageView | undefined;
  /** The bytes of an uploaded file. */
  fileBytes(id: string): Uint8Array | undefined;
  /** Fails the next Web API call(s). */
  /** Turns seeded throttling on (or off with null) from now on; see the `chaos` option. */
  setChaos(options: ChaosOptions | null): void;
  failNext(failure: SlackFailure, count?: number): void;
  /** Slack is down (503 on every Web API call) for `durationMs` of the emulator's clock. */
  outage(durationMs: number): void;
  /** Ends an outage now. */
  restore(): void;
  configureRateLimits(limits: Partial<SlackRateLimits>): void;
  readonly rateLimits: SlackRateLimits;
  /** Whether the bot's own posts come back as `message` events (default true). */
  setEchoBotMessages(enabled: boolean): void;
  /** The signed `message` event Slack sends about one of the bot's own posts (not delivered). */
  botEventRequest(url: string, channel: string, ts: string): Request;
  /** A callback request signed like Slack's (optionally with another secret or timestamp). */
  signedRequest(
    url: string,
    body: string,
    options?: { contentType?: string; secret?: string; timestamp?: string },
  ): Request;
  /** Resolves when no callback delivery or retry is pending. */
  idle(): Promise<void>;
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

/** Starts the Slack emulator on 127.0.0.1 (ephemeral port unless `port` is given). */
export async function startSlackEmulator(options: SlackEmulatorOptions): Promise<SlackEmulator> {
  const core = new SlackCore(options);
  const app = new Hono();
  app.route('/', createOAuthPages(core));
  app.route('/', createWebApi(core));
  const server = await startServer(app, {
    ...(options.port === undefined ? {} : { port: options.port }),
    ...(options.hostname === undefined ? {} : { hostname: options.hostname }),
  });
  core.baseUrl = server.url;
  const view =
    (channel: string) =>
    (m: ReturnType<SlackCore['workspace']['thread']>[number]): SlackMessageView => ({
      channel,
      ts: m.ts,
      threadTs: m.threadTs,
      user: m.user,
      bot: core.isBotUser(m.user),
      username: m.username,
      text: m.text,
      subtype: m.subtype,
      blocks: m.blocks,
      metadata: m.metadata,
      files: m.fileIds.flatMap((id) => {
        const file = core.workspace.files.get(id);
        return file && !file.deleted
          ? [
              {
                id,
                name: file.filename,
                title: file.title,
                mimetype: file.mimetype,
                size: file.bytes?.byteLength ?? 0,
                sha256: file.bytes ? sha256Hex(file.bytes) : undefined,
              },
            ]
          : [];
      }),
      reactions: [...m.reactions].map(([name, users]) => ({ name, users: [...users] })),
      edited: m.edited !== undefined,
    });
  let closing: Promise<void> | undefined;
  const close = () => {
    closing ??= core.close().then(() => server.close());
    return closing;
  };
  const installationView = (key: string): SlackInstallationView => {
    const i = core.installs.installations.get(key);
    if (!i) throw new TypeError(`no installation ${key}`);
    return {
      teamId: i.teamId,
      enterpriseId: i.enterpriseId,
      isEnterpriseInstall: i.isEnterpriseInstall,
      botUserId: i.botUserId,
      botId: i.botId,
      scopes: [...i.scopes],
      userScopes: [...i.userScopes],
      installerUserId: i.installerUserId,
      active: i.active,
      teamIds: [...core.installs.teamIdsOf(i)],
    };
  };
  return {
    url: server.url,
    apiUrl: `${server.url}/api/`,
    authorizeUrl: `${server.url}/oauth/v2/authorize`,
    ledger: core.ledger,
    clock: core.clock,
    teamId: core.teamId,
    appId: core.appId,
    botId: core.botId,
    botUserId: core.botUserId,
    get botToken() {
      return core.botToken;
    },
    signingSecret: core.signingSecret,
    channels: core.workspace.channelsOf(core.teamId).map((c) => c.info),
    workspaces: () =>
      [...core.installs.teams.values()].map((t) => ({
        id: t.id,
        name: t.name,
        domain: t.domain,
        enterpriseId: t.enterpriseId,
        channels: core.workspace.channelsOf(t.id).map((c) => c.info),
        admin: t.admin,
        installed: core.installs.installationFor(t.id) !== undefined,
      })),
    installations: () => [...core.installs.installations.keys()].map(installationView),
    install(input) {
      const orgWide = input.teamId === undefined;
      const team = input.teamId === undefined ? undefined : core.installs.team(input.teamId);
      const enterpriseId = input.enterpriseId ?? team?.enterpriseId ?? null;
      if (orgWide && (!enterpriseId || !core.installs.enterprises.has(enterpriseId))) {
        throw new TypeError('install() needs a teamId, or the enterpriseId of a declared organization');
      }
      const installer = team?.admin ?? core.installs.enterprises.get(enterpriseId ?? '')?.admin;
      const { installation, reinstall } = core.installs.install({
        teamId: team?.id ?? null,
        enterpriseId,
        isEnterpriseInstall: orgWide,
        scopes: input.scopes ?? Object.values(METHOD_SCOPES),
        userScopes: input.userScopes ?? [],
        installerUserId: installer?.id ?? 'U0UNKNOWN',
      });
      const ref = core.installs.ref(installation);
      core.record({
        kind: 'install.created',
        ...ref,
        botUserId: installation.botUserId,
        botId: installation.botId,
        scopes: installation.scopes,
        installerUserId: installation.installerUserId,
        reinstall,
      });
      const rotation = core.oauth?.rotation ?? null;
      const { token, refreshToken } = core.installs.issueToken(
        installation,
        'bot',
        installation.botUserId,
        rotation,
      );
      core.record({
        kind: 'token.issued',
        ...ref,
        tokenType: 'bot',
        rotating: rotation !== null,
        grant: 'install',
      });
      return {
        botToken: token.token,
        botUserId: installation.botUserId,
        botId: installation.botId,
        refreshToken,
      };
    },
    uninstall(where) {
      const key = 'teamId' in where ? where.teamId : where.enterpriseId;
      const installation = core.installs.installations.get(key);
      if (!installation?.active) throw new TypeError(`the app is not installed for ${key}`);
      removeInstallation(core, installation, 'admin');
    },
    addWorkspace(seed) {
      const team = core.installs.addTeam(seed);
      for (const channel of seed.channels ?? []) core.workspace.addChannel(team.id, channel);
      core.users.set(team.admin.id, { ...team.admin, teamId: team.id });
    },
    addEnterprise(seed) {
      const enterprise = core.installs.addEnterprise(seed);
      core.users.set(enterprise.admin.id, enterprise.admin);
    },
    setCallbackUrls(urls) {
      if (typeof urls === 'string') {
        const base = urls.replace(/\/$/, '');
        core.eventsUrl = `${base}/events`;
        core.interactivityUrl = `${base}/interactivity`;
        core.commandsUrl = `${base}/commands`;
      } else {
        if (urls.events !== undefined) core.eventsUrl = urls.events;
        if (urls.interactivity !== undefined) core.interactivityUrl = urls.interactivity;
        if (urls.commands !== undefined) core.commandsUrl = urls.commands;
      }
    },
    agent: (user) => new SlackAgent(core, user),
    thread: (channel, ts) => core.workspace.thread(channel, ts).map(view(channel)),
    history: (channel) => core.workspace.history(channel).map(view(channel)),
    message(channel, ts) {
      const found = core.workspace.find(channel, ts);
      return found ? view(channel)(found) : undefined;
    },
    fileBytes: (id) => core.workspace.files.get(id)?.bytes,
    setChaos: (options) => {
      core.chaos = chaosFrom(options ?? undefined);
    },
    failNext: (failure, count = 1) => core.failNext(failure, count),
    outage: (durationMs) => core.setOutage(core.clock.now() + durationMs),
    restore: () => core.setOutage(0),
    configureRateLimits: (limits) => core.configureRateLimits(limits),
    get rateLimits() {
      return core.rateLimits;
    },
    setEchoBotMessages(enabled) {
      core.echoBotMessages = enabled;
    },
    botEventRequest(url, channel, ts) {
      const message = core.workspace.message(channel, ts);
      const body = JSON.stringify(
        core.envelope(
          {
            ...core.serializeMessage(message),
            channel,
            channel_type: 'channel',
            event_ts: message.ts,
          },
          core.teamOf(channel).id,
        ),
      );
      return new Request(url, {
        method: 'POST',
        headers: core.signedHeaders(body, 'application/json'),
        body,
      });
    },
    signedRequest(url, body, requestOptions = {}) {
      const headers = core.signedHeaders(body, requestOptions.contentType ?? 'application/json', {
        ...(requestOptions.secret === undefined ? {} : { secret: requestOptions.secret }),
        ...(requestOptions.timestamp === undefined ? {} : { timestamp: requestOptions.timestamp }),
      });
      return new Request(url, { method: 'POST', headers, body });
    },
    idle: () => core.idle(),
    close,
    [Symbol.asyncDispose]: close,
  };
}
