import {
  AuthenticationHandler,
  Client,
  HTTPMessageHandler,
  TelemetryHandler,
} from '@microsoft/microsoft-graph-client';
import type { ChatMessage, Subscription } from '@microsoft/microsoft-graph-types';
import type { TokenSource } from '../auth/tokens.ts';
import type { ChannelTarget } from '../config.ts';
import { graphStatus, toConnectorError } from './errors.ts';
import { channelPath, messagePath } from './ids.ts';

export type { ChatMessage, Subscription };

/** What we post: an HTML body, optionally Adaptive Card attachments referenced in it, a subject for roots. */
export interface MessagePayload {
  body: { contentType: 'html'; content: string };
  attachments?: Array<{ id: string; contentType: string; content: string }>;
  subject?: string | null;
}

export interface SubscriptionInput {
  changeType: string;
  notificationUrl: string;
  lifecycleNotificationUrl: string;
  resource: string;
  expirationDateTime: string;
  clientState: string;
  includeResourceData?: boolean;
  encryptionCertificate?: string;
  encryptionCertificateId?: string;
  latestSupportedTlsVersion?: string;
}

/**
 * The Graph calls the connector makes, through the official client. Two clients: one with the
 * service account's delegated token (posting and changing its own messages: Graph allows
 * application tokens to post only in migration mode), one with the app-only token (reading
 * messages, subscriptions).
 *
 * Retries: the middleware chain deliberately has no RetryHandler. A POST that Graph answered with
 * 503/504 may have created the message anyway; a blind in-client retry would post it twice,
 * while the queue retries through the checkpoint and nonce lookup that make a repeat safe. So
 * every failure is translated once (`toConnectorError`) and the job queue owns the retry and the
 * `Retry-After` wait (without holding a worker), and maintenance paths retry on their own.
 */
export class TeamsApi {
  private readonly user: Client;
  private readonly app: Client;
  private readonly tokens: TokenSource;

  constructor(options: { baseUrl: string; version: string; tokens: TokenSource }) {
    this.tokens = options.tokens;
    const host = new URL(options.baseUrl).hostname;
    const build = (token: () => Promise<string>) => {
      const auth = new AuthenticationHandler({ getAccessToken: token });
      const telemetry = new TelemetryHandler();
      auth.setNext(telemetry);
      telemetry.setNext(new HTTPMessageHandler());
      return Client.initWithMiddleware({
        middleware: auth,
        baseUrl: options.baseUrl.endsWith('/') ? options.baseUrl : `${options.baseUrl}/`,
        defaultVersion: options.version,
        // The AuthenticationHandler only sends the bearer to Graph's own hosts or these (https only).
        customHosts: new Set([host]),
      });
    };
    this.user = build(() => options.tokens.userToken());
    this.app = build(() => options.tokens.appToken());
  }

  /**
   * Runs one call; a 401 (token expired or revoked early) is retried once with a fresh token: Graph
   * did not process the request, so the retry cannot duplicate anything.
   */
  private async call<T>(identity: 'user' | 'app', operation: string, run: () => Promise<T>): Promise<T> {
    // The token first: the client would wrap a token failure into a status-less GraphError and
    // lose its verdict (re-consent needed vs. network trouble). Memoized, so this is cheap.
    const token = () => (identity === 'user' ? this.tokens.userToken() : this.tokens.appToken());
    await token();
    try {
      return await run();
    } catch (error) {
      if (graphStatus(error) !== 401) throw toConnectorError(error, operation);
      this.tokens.invalidate();
    }
    await token();
    try {
      return await run();
    } catch (error) {
      if (graphStatus(error) === 401) this.tokens.invalidate();
      throw toConnectorError(error, operation);
    }
  }

  postMessage(channel: ChannelTarget, rootId: string | null, payload: MessagePayload, signal?: AbortSignal) {
    const path =
      rootId === null ? `${channelPath(channel)}/messages` : `${messagePath(channel, rootId, null)}/replies`;
    return this.call<ChatMessage>('user', rootId === null ? 'post thread' : 'post reply', () =>
      this.user.api(path).option('signal', signal).post(payload),
    );
  }

  updateMessage(
    channel: ChannelTarget,
    messageId: string,
    rootId: string | null,
    payload: Partial<MessagePayload>,
    signal?: AbortSignal,
  ) {
    return this.call<void>('user', 'update message', () =>
      this.user
        .api(messagePath(channel, messageId, rootId))
        .option('signal', signal)
        .patch(payload),
    );
  }

  softDelete(channel: ChannelTarget, messageId: string, rootId: string | null, signal?: AbortSignal) {
    return this.call<void>('user', 'delete message', () =>
      this.user
        .api(`${messagePath(channel, messageId, rootId)}/softDelete`)
        .option('signal', signal)
        .post({}),
    );
  }

  setReaction(
    channel: ChannelTarget,
    messageId: string,
    rootId: string | null,
    reactionType: string,
    signal?: AbortSignal,
  ) {
    return this.call<void>('user', 'set reaction', () =>
      this.user
        .api(`${messagePath(channel, messageId, rootId)}/setReaction`)
        .option('signal', signal)
        .post({ reactionType }),
    );
  }

  getMessage(channel: ChannelTarget, messageId: string, rootId: string | null, signal?: AbortSignal) {
    return this.call<ChatMessage>('app', 'get message', () =>
      this.app
        .api(messagePath(channel, messageId, rootId))
        .option('signal', signal)
        .get(),
    );
  }

  /** Every reply of a thread, one page (≤ 50) at a time, in whatever order Graph returns them. */
  async *listReplies(
    channel: ChannelTarget,
    rootId: string,
    signal?: AbortSignal,
  ): AsyncGenerator<ChatMessage[]> {
    yield* this.pages('list replies', `${messagePath(channel, rootId, null)}/replies?$top=50`, signal);
  }

  /** Root messages of a channel, one page at a time. */
  async *listRoots(channel: ChannelTarget, signal?: AbortSignal): AsyncGenerator<ChatMessage[]> {
    yield* this.pages('list messages', `${channelPath(channel)}/messages?$top=50`, signal);
  }

  private async *pages(
    operation: string,
    first: string,
    signal?: AbortSignal,
  ): AsyncGenerator<ChatMessage[]> {
    let next: string | undefined = first;
    while (next) {
      const path: string = next;
      const page = await this.call<{ value?: ChatMessage[]; '@odata.nextLink'?: string }>(
        'app',
        operation,
        () => this.app.api(path).option('signal', signal).get(),
      );
      yield page.value ?? [];
      next = page['@odata.nextLink'];
    }
  }

  createSubscription(input: SubscriptionInput) {
    return this.call<Subscription>('app', 'create subscription', () =>
      this.app.api('/subscriptions').post(input),
    );
  }

  getSubscription(id: string) {
    return this.call<Subscription>('app', 'read subscription', () =>
      this.app.api(`/subscriptions/${encodeURIComponent(id)}`).get(),
    );
  }

  renewSubscription(id: string, expirationDateTime: string) {
    return this.call<Subscription>('app', 'renew subscription', () =>
      this.app.api(`/subscriptions/${encodeURIComponent(id)}`).patch({ expirationDateTime }),
    );
  }

  reauthorizeSubscription(id: string) {
    return this.call<void>('app', 'reauthorize subscription', () =>
      this.app.api(`/subscriptions/${encodeURIComponent(id)}/reauthorize`).post({}),
    );
  }

  deleteSubscription(id: string) {
    return this.call<void>('app', 'delete subscription', () =>
      this.app.api(`/subscriptions/${encodeURIComponent(id)}`).delete(),
    );
  }
}
