import {
  AuthenticationHandler,
  Client,
  type Context,
  GraphError,
  type Middleware,
  ResponseType,
  TelemetryHandler,
} from '@microsoft/microsoft-graph-client';
import type { ChatMessage, Subscription } from '@microsoft/microsoft-graph-types';
import { httpFetch } from '@wabridge/core';
import type { TokenSource } from '../auth/tokens.ts';
import type { ChannelTarget } from '../config.ts';
import { type BeforeChannelSend, ChannelSendGuard } from './channel-send.ts';
import { graphStatus, toConnectorError } from './errors.ts';
import { type HostedContentLocation, shareIdOf } from './files.ts';
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
 * The last link of the Graph client's middleware chain, in place of its `HTTPMessageHandler` (which
 * calls the global fetch): the same contract, `context.response` set from the request and its
 * options, sent through core's cheaper `httpFetch` (packages/core/src/http/fetch.ts).
 */
class CoreHttpHandler implements Middleware {
  async execute(context: Context): Promise<void> {
    context.response = await httpFetch(context.request, context.options);
  }
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

  constructor(options: {
    baseUrl: string;
    version: string;
    tokens: TokenSource;
    /** Called for every request on a channel as it leaves (see `ChannelSendGuard`). */
    beforeChannelSend?: BeforeChannelSend;
  }) {
    this.tokens = options.tokens;
    const host = new URL(options.baseUrl).hostname;
    const build = (token: () => Promise<string>) => {
      const auth = new AuthenticationHandler({ getAccessToken: token });
      const telemetry = new TelemetryHandler();
      auth.setNext(telemetry);
      const http = new CoreHttpHandler();
      if (options.beforeChannelSend) {
        const guard = new ChannelSendGuard(options.beforeChannelSend);
        telemetry.setNext(guard);
        guard.setNext(http);
      } else {
        telemetry.setNext(http);
      }
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

  /** The user the delegated token is for (the service account): `GET /me`. */
  me(signal?: AbortSignal) {
    return this.call<{ id: string; displayName?: string | null; userPrincipalName?: string | null }>(
      'user',
      'read the signed-in user',
      () => this.user.api('/me').option('signal', signal).get(),
    );
  }

  /** Reads the newest root message of a channel: the channel exists and the app may read it. */
  probeChannel(channel: ChannelTarget, signal?: AbortSignal) {
    return this.call<{ value?: ChatMessage[] }>('app', 'read the channel', () =>
      this.app
        .api(`${channelPath(channel)}/messages?$top=1`)
        .option('signal', signal)
        .get(),
    );
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

  /**
   * The bytes of an image pasted into a message (`hostedContents/{id}/$value`), as the raw response
   * for the caller to read within its size cap. Graph: ChannelMessage.Read.All (or the RSC
   * ChannelMessage.Read.Group).
   */
  hostedContent(location: HostedContentLocation, signal?: AbortSignal): Promise<Response> {
    const path = `${messagePath(location, location.messageId, location.rootId)}/hostedContents/${encodeURIComponent(location.hostedContentId)}/$value`;
    return this.call('app', 'read pasted image', () => this.raw(path, 'follow', signal));
  }

  /**
   * The bytes of a file shared into a message, through the shares API (Files.Read.All): Graph
   * answers 302 to a pre-authenticated download URL, which is fetched without our token (it is
   * not Graph's, and needs none). The file's own URL is never fetched.
   */
  async sharedFile(contentUrl: string, signal?: AbortSignal): Promise<Response> {
    const path = `/shares/${shareIdOf(contentUrl)}/driveItem/content`;
    const answer = await this.call('app', 'read shared file', () => this.raw(path, 'manual', signal));
    if (answer.status < 300 || answer.status >= 400) return answer;
    await answer.body?.cancel().catch(() => {});
    const location = answer.headers.get('location');
    const target = location ? new URL(location, answer.url || undefined) : null;
    if (target?.protocol !== 'https:') {
      throw toConnectorError(
        { statusCode: 502, code: 'badRedirect', message: 'no https download URL in the answer' },
        'read shared file',
      );
    }
    let download: Response;
    try {
      download = await fetch(target, { signal, redirect: 'follow' });
    } catch (error) {
      throw toConnectorError(error, 'download shared file');
    }
    if (!download.ok) {
      await download.body?.cancel().catch(() => {});
      throw toConnectorError(
        { statusCode: download.status, code: 'downloadFailed', headers: download.headers },
        'download shared file',
      );
    }
    return download;
  }

  /**
   * A GET whose body is bytes, not JSON: the client hands the raw response back whatever its
   * status, so errors are turned into the GraphError the JSON calls would have thrown.
   */
  private async raw(path: string, redirect: RequestRedirect, signal?: AbortSignal): Promise<Response> {
    const response: Response = await this.app
      .api(path)
      .option('signal', signal)
      .option('redirect', redirect)
      .responseType(ResponseType.RAW)
      .get();
    if (response.status < 400) return response;
    const text = await response.text().catch(() => '');
    let body: { error?: { code?: string; message?: string } } = {};
    try {
      body = JSON.parse(text) as typeof body;
    } catch {
      // not Graph's JSON error (a proxy's page): the status says enough
    }
    const error = new GraphError(response.status, body.error?.message ?? response.statusText);
    error.code = body.error?.code ?? null;
    error.headers = response.headers;
    throw error;
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
