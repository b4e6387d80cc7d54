/**
 * Microsoft Graph emulator over HTTPS: the identity platform (sign-in and consent page, authorization
 * code with PKCE, refresh tokens, client credentials, discovery for MSAL), several tenants with their
 * accounts and teams (a token sees its tenant only), Teams channel messages and replies,
 * change-notification subscriptions (validation handshake, renewal, lifecycle events, optional
 * encrypted resource data), throttling and a ledger. It can play human agents replying in threads.
 *
 *   const graph = await startGraphEmulator();          // https://localhost:<port>, throwaway cert
 *   trustCertificateInProcess(graph.certificate);       // so fetch / MSAL accept it (this process only)
 *   const refreshToken = graph.signIn();                // what the admin's sign-in would yield
 *   // point the connector at graph.authorityHost / graph.graphBaseUrl …
 *   graph.agentReply({ rootId, text: 'Hello from Teams' });   // → change notification to the gateway
 *   graph.agentReply({ rootId, images: [{ bytes: png }], files: [{ name: 'a.pdf', bytes: pdf }] });
 *   await graph.ledger.waitFor('message.created', { where: (e) => e.postedBy === 'bridge' });
 *   await graph.close();
 */
import { Hono } from 'hono';
import type { ChaosOptions } from '../shared/chaos.ts';
import type { Clock } from '../shared/clock.ts';
import { escapeHtml } from '../shared/html.ts';
import type { Ledger } from '../shared/ledger.ts';
import { startServer } from '../shared/server.ts';
import { createGraphApi } from './api.ts';
import { createDownloadApi, decodeShareId, SHAREPOINT_FOLDER } from './content.ts';
import {
  DEFAULT_APP,
  DEFAULT_SERVICE_ACCOUNT,
  DEFAULT_TEAMS,
  DEFAULT_TENANT_ID,
  type FailNext,
  GRAPH_NOTIFICATION_APP_ID,
  GraphCore,
  plainText,
} from './core.ts';
import { createOAuthApi, openIdConfiguration } from './oauth.ts';
import { createThrowawayCertificate, trustCertificateInProcess } from './tls.ts';
import type {
  ChatMessageRecord,
  GraphApp,
  GraphEmulatorOptions,
  GraphEvent,
  GraphTeamSeed,
  GraphUser,
  HostedImageInput,
  ItemBody,
  LifecycleEvent,
  SharedFileInput,
  SubscriptionRecord,
} from './types.ts';

export type * from './types.ts';
export type { FailNext };
export {
  createThrowawayCertificate,
  DEFAULT_APP,
  DEFAULT_SERVICE_ACCOUNT,
  DEFAULT_TEAMS,
  DEFAULT_TENANT_ID,
  decodeShareId,
  GRAPH_NOTIFICATION_APP_ID,
  plainText,
  SHAREPOINT_FOLDER,
  trustCertificateInProcess,
};

/** A human agent used by `agentReply` when none is given. */
export const DEFAULT_AGENT: GraphUser = {
  id: 'aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee',
  displayName: 'Grace Hopper',
  userPrincipalName: 'grace@contoso.example',
};

export interface GraphEmulator {
  /** `https://localhost:<port>`: Graph (`/v1.0`) and the identity platform share it. */
  readonly url: string;
  /** For the Graph client's `baseUrl` (with a trailing slash, like `https://graph.microsoft.com/`). */
  readonly graphBaseUrl: string;
  /** Authority host for MSAL (the tenant is appended: `<authorityHost>/<tenantId>`). */
  readonly authorityHost: string;
  readonly tokenEndpoint: string;
  /** OpenID configuration of the tenant (MSAL `authorityMetadata`). */
  readonly openIdConfiguration: Record<string, unknown>;
  /** The default tenant. */
  readonly tenantId: string;
  readonly app: GraphApp;
  /** The default tenant's service account. */
  readonly serviceAccount: GraphUser;
  /** `/{tenant}/oauth2/v2.0/authorize` (default the default tenant; `organizations` lets the account pick). */
  authorizeUrl(tenant?: string): string;
  /** Every tenant, with its service account and teams. */
  tenants(): {
    tenantId: string;
    displayName: string;
    domain: string;
    serviceAccount: GraphUser;
    teams: { id: string; displayName: string; channels: { id: string; displayName: string }[] }[];
  }[];
  /** Adds a team (and its channels) to a tenant at run time. */
  addTeam(team: GraphTeamSeed, tenantId?: string): void;
  /** The default team and channel. */
  readonly teamId: string;
  readonly channelId: string;
  /** PEM of the throwaway certificate (trust it with `trustCertificateInProcess`). */
  readonly certificate: string;
  readonly ledger: Ledger<GraphEvent>;
  readonly clock: Clock;
  /** Issues a refresh token for the service account (what the admin's interactive sign-in yields). */
  signIn(userId?: string): string;
  revokeRefreshTokens(userId?: string): void;
  expireAccessTokens(): void;
  addChannel(teamId: string, channelId: string, displayName?: string): void;
  /**
   * A human agent replies in a thread (as Teams would store it), firing change notifications.
   * `images` are pasted into the body (hostedContents, `<img>` tags appended); `files` are
   * uploaded to SharePoint and shared as `reference` attachments (`<attachment>` markers appended).
   */
  agentReply(input: {
    rootId: string;
    text?: string;
    html?: string;
    images?: HostedImageInput[];
    files?: SharedFileInput[];
    agent?: GraphUser;
    teamId?: string;
    channelId?: string;
  }): ChatMessageRecord;
  /** A human agent starts a new thread in the channel. */
  agentPost(input: {
    text: string;
    agent?: GraphUser;
    teamId?: string;
    channelId?: string;
  }): ChatMessageRecord;
  agentEdit(input: {
    id: string;
    rootId: string | null;
    text: string;
    teamId?: string;
    channelId?: string;
  }): void;
  agentDelete(input: { id: string; rootId: string | null; teamId?: string; channelId?: string }): void;
  /** Deletes a shared file (by its `contentUrl`) from SharePoint; the message still refers to it. */
  deleteFile(contentUrl: string): void;
  /** Root messages of a channel, oldest first. */
  roots(teamId?: string, channelId?: string): ChatMessageRecord[];
  /** Replies of a thread, oldest first. */
  replies(rootId: string, teamId?: string, channelId?: string): ChatMessageRecord[];
  message(id: string, teamId?: string, channelId?: string): ChatMessageRecord | undefined;
  subscriptions(): SubscriptionRecord[];
  /**
   * The notification Graph would post about a change of a message (for tests that call the
   * receiver directly), optionally with a forged clientState or subscription id.
   */
  notificationPayload(input: {
    subscriptionId: string;
    messageId: string;
    changeType?: 'created' | 'updated' | 'deleted';
    clientState?: string | null;
    asSubscriptionId?: string;
    teamId?: string;
    channelId?: string;
  }): string;
  /** Sends a lifecycle notification; `subscriptionRemoved` also deletes the subscription. */
  lifecycle(subscriptionId: string, event: LifecycleEvent): Promise<boolean>;
  /** Lets a subscription lapse now, as if it had not been renewed in time. */
  expireSubscription(subscriptionId: string): void;
  /** Fails the next call(s) of the bridge: `{ status: 429, retryAfterSeconds: 2 }`, `{ status: 503 }`, … */
  /** Turns seeded throttling on (or off with null) from now on; see the `chaos` option. */
  setChaos(options: ChaosOptions | null): void;
  failNext(failure: FailNext): void;
  /** While on, every call answers 503 and change notifications are withheld; turning it off sends `missed`. */
  setOutage(on: boolean): void;
  advanceTime(ms: number): number;
  /** Resolves when no notification delivery or retry is pending. */
  idle(): Promise<void>;
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

/** Starts the Graph emulator on `localhost` over HTTPS with a throwaway certificate. */
export async function startGraphEmulator(options: GraphEmulatorOptions = {}): Promise<GraphEmulator> {
  const core = new GraphCore(options);
  const certificate = await createThrowawayCertificate(core.hostname);
  const app = new Hono();
  app.route('/', createOAuthApi(core));
  // Before the Graph routes: download URLs carry their own credential, no bearer token.
  app.route('/', createDownloadApi(core));
  app.route('/', createGraphApi(core));
  const server = await startServer(app, {
    hostname: core.hostname,
    ...(core.port === undefined ? {} : { port: core.port }),
    tls: { key: certificate.key, cert: certificate.cert },
  });
  core.baseUrl = server.url;

  const team = (options.teams ?? DEFAULT_TEAMS)[0];
  const channel = team?.channels[0];
  if (!team || !channel) throw new TypeError('the Graph emulator needs at least one team with one channel');
  const at = (teamId?: string, channelId?: string) => ({
    teamId: teamId ?? team.id,
    channelId: channelId ?? channel.id,
  });
  const agentOf = (agent: GraphUser | undefined, teamId: string) => {
    const user = agent ?? DEFAULT_AGENT;
    core.addUser(user, core.tenantOf(teamId));
    return user;
  };

  let closing: Promise<void> | undefined;
  const close = () => {
    closing ??= core.close().then(() => server.close());
    return closing;
  };
  const [firstApp] = core.apps.values();
  const emulator: GraphEmulator = {
    url: server.url,
    graphBaseUrl: `${server.url}/`,
    authorityHost: server.url,
    tokenEndpoint: `${server.url}/${core.tenantId}/oauth2/v2.0/token`,
    get openIdConfiguration() {
      return openIdConfiguration(core);
    },
    tenantId: core.tenantId,
    app: firstApp ?? DEFAULT_APP,
    serviceAccount: core.serviceAccount,
    authorizeUrl: (tenant = core.tenantId) =>
      `${server.url}/${encodeURIComponent(tenant)}/oauth2/v2.0/authorize`,
    tenants: () =>
      [...core.tenants.values()].map((t) => ({
        tenantId: t.tenantId,
        displayName: t.displayName,
        domain: t.domain,
        serviceAccount: t.serviceAccount,
        teams: [...core.teams.values()]
          .filter((team) => team.tenantId === t.tenantId)
          .map((team) => ({
            id: team.id,
            displayName: team.displayName,
            channels: core
              .channelsOf(team.id)
              .map((ch) => ({ id: ch.channelId, displayName: ch.displayName })),
          })),
      })),
    addTeam: (team, tenantId) => core.addTeam(team, tenantId),
    teamId: team.id,
    channelId: channel.id,
    certificate: certificate.cert,
    ledger: core.ledger,
    clock: core.clock,
    signIn: (userId) => core.signIn(userId),
    revokeRefreshTokens: (userId) => core.revokeRefreshTokens(userId),
    expireAccessTokens: () => core.expireAccessTokens(),
    addChannel: (teamId, channelId, displayName = channelId) =>
      core.addChannel(teamId, channelId, displayName),
    agentReply(input) {
      const where = at(input.teamId, input.channelId);
      const attachments = core.content.share(input.files ?? []);
      const rich = attachments.length > 0 || (input.images?.length ?? 0) > 0;
      const markers = attachments.map((a) => `<attachment id="${a.id}"></attachment>`).join('');
      let body: ItemBody = { contentType: 'text', content: input.text ?? '' };
      if (input.html !== undefined) body = { contentType: 'html', content: input.html + markers };
      else if (rich) {
        // Teams writes HTML as soon as a message holds more than text.
        const text = input.text ? `<p>${escapeHtml(input.text)}</p>` : '';
        body = { contentType: 'html', content: text + markers };
      }
      return core.createMessage({
        ...where,
        replyToId: input.rootId,
        body,
        attachments,
        images: input.images ?? [],
        user: agentOf(input.agent, where.teamId),
        by: 'human',
      });
    },
    agentPost(input) {
      const where = at(input.teamId, input.channelId);
      return core.createMessage({
        ...where,
        replyToId: null,
        body: { contentType: 'text', content: input.text },
        user: agentOf(input.agent, where.teamId),
        by: 'human',
      });
    },
    agentEdit(input) {
      const where = at(input.teamId, input.channelId);
      const message = core.getMessage(where.teamId, where.channelId, input.id, input.rootId);
      core.updateMessage(message, { body: { contentType: 'text', content: input.text } }, 'human');
    },
    agentDelete(input) {
      const where = at(input.teamId, input.channelId);
      core.softDelete(core.getMessage(where.teamId, where.channelId, input.id, input.rootId));
    },
    deleteFile: (contentUrl) => core.content.deleteFile(contentUrl),
    roots: (teamId, channelId) => {
      const where = at(teamId, channelId);
      return core.roots(where.teamId, where.channelId);
    },
    replies: (rootId, teamId, channelId) => {
      const where = at(teamId, channelId);
      return core.replies(where.teamId, where.channelId, rootId);
    },
    message: (id, teamId, channelId) => {
      const where = at(teamId, channelId);
      return core.messages.get(core.messageKey(where.teamId, where.channelId, id));
    },
    subscriptions: () => [...core.subscriptions.values()],
    notificationPayload(input) {
      const subscription = core.subscriptions.get(input.subscriptionId);
      if (!subscription) throw new TypeError(`no subscription ${input.subscriptionId}`);
      const where = at(input.teamId, input.channelId);
      const message = core.messages.get(core.messageKey(where.teamId, where.channelId, input.messageId));
      if (!message) throw new TypeError(`no message ${input.messageId}`);
      return JSON.stringify(
        core.changePayload(subscription, message, input.changeType ?? 'created', {
          ...(input.clientState !== undefined ? { clientState: input.clientState } : {}),
          ...(input.asSubscriptionId !== undefined ? { subscriptionId: input.asSubscriptionId } : {}),
        }),
      );
    },
    lifecycle: (id, event) => core.lifecycle(id, event),
    expireSubscription: (id) => core.expireSubscription(id),
    setChaos: (options) => core.setChaos(options),
    failNext: (failure) => core.failNext(failure),
    setOutage: (on) => core.setOutage(on),
    advanceTime: (ms) => core.clock.advance(ms),
    idle: () => core.idle(),
    close,
    [Symbol.asyncDispose]: close,
  };
  return emulator;
}
