import { type ClientRequest, Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { createRequire } from 'node:module';
import { brotliDecompress, gunzip, inflate, inflateRaw } from 'node:zlib';
import type { Agent, Dispatcher } from 'undici';

type Undici = typeof import('undici');
let undici: Undici | null = null;
/** undici is loaded by the first call: a thread that never calls out (the HTTP edge's) does not carry it. */
function loadUndici(): Undici {
  undici ??= createRequire(import.meta.url)('undici') as Undici;
  return undici;
}

/**
 * A `fetch` for the connectors' SDKs that costs less CPU per call than the global one.
 *
 * Node's global `fetch` (undici's `fetch`) spends most of a small JSON call in WHATWG streams and
 * its spec-shaped request objects: a third of a delivered job's CPU in the gateway
 * (docs/performance.md, "the HTTP client is a third of a delivered job's CPU"). The common case
 * every SDK makes (an http(s) URL, a string or bytes body, a small answer read at once) goes here
 * through undici's `request()` (the same HTTP engine, without fetch's streams:
 * https://undici.nodejs.org/#/docs/api/Dispatcher?id=dispatcherrequestoptions-callback) on a
 * keep-alive pool of our own, and comes back as a real `Response`. Everything else (FormData, Blob
 * or stream bodies, `Request` objects, other schemes, undici's `dispatcher`) is handed to
 * `globalThis.fetch` unchanged.
 *
 * Differences from `fetch` a caller may notice:
 * - the promise settles once the whole body has arrived (it is buffered, then wrapped in the
 *   `Response`), not at the headers; an abort during the body rejects the call itself;
 * - no cookies, caches, CORS or `integrity`: none of them mean anything in a server's client;
 * - an idempotent request (GET, HEAD, PUT, DELETE, OPTIONS) whose connection closes before any
 *   answer is sent once more on a new one; a POST fails like any network error (the server may
 *   have acted on it). Idle sockets are dropped after `freeSocketTimeoutMs`, below the 5 s
 *   keep-alive most servers use, so the closed-while-writing race stays rare.
 *
 * @example new WebClient(token, { fetch: httpFetch })
 */
export type FetchFunction = (input: string | URL | Request, init?: RequestInit) => Promise<Response>;

export interface HttpFetchOptions {
  /** Connections per origin (default 128): a bound on what one slow platform can hold open. */
  maxSockets?: number;
  /** How long an idle kept-alive socket is kept (default 4,000 ms; a server hint of less wins). */
  freeSocketTimeoutMs?: number;
  /** Waiting this long for the headers, or between body chunks, fails the call (default 300 s, undici's). */
  idleTimeoutMs?: number;
  /** Where calls go that this client does not serve itself (default: `globalThis.fetch` at call time). */
  fallback?: FetchFunction;
  /**
   * Node sends outbound calls through a proxy: every call goes to the fallback (default:
   * `envProxyInUse()` when the client is made; Node reads the setting once, at start-up).
   */
  proxied?: boolean;
}

export interface HttpFetch extends FetchFunction {
  /**
   * Keep-alive `node:http`/`node:https` agents with the same bounds, for SDKs that take an agent
   * instead of a fetch (HubSpot's `httpAgent`).
   */
  readonly nodeAgents: { readonly http: HttpAgent; readonly https: HttpsAgent };
  /** Closes every kept-alive connection (calls in flight are cut). */
  close(): Promise<void>;
}

const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE', 'TRACE']);
/** Methods `fetch` upper-cases (https://fetch.spec.whatwg.org/#concept-method-normalize). */
const NORMALIZED = new Set(['DELETE', 'GET', 'HEAD', 'OPTIONS', 'POST', 'PUT']);
const NULL_BODY = new Set([101, 103, 204, 205, 304]);
const REDIRECT = new Set([301, 302, 303, 307, 308]);
const MAX_REDIRECTS = 20;
/** Init members this client honours; any other set member (`dispatcher`, `duplex`, …) means the global fetch. */
const SERVED_INIT = new Set([
  'method',
  'headers',
  'body',
  'signal',
  'redirect',
  'keepalive',
  'cache',
  'credentials',
  'mode',
  'referrer',
  'referrerPolicy',
  'priority',
  'window',
]);

interface Plan {
  url: URL;
  method: string;
  headers: Record<string, string>;
  body: Buffer | null;
  redirect: 'follow' | 'manual' | 'error';
  signal: AbortSignal | null;
}

/** Builds a fetch-shaped function with its own agents (most code wants the shared `httpFetch`). */
export function createHttpFetch(options: HttpFetchOptions = {}): HttpFetch {
  const maxSockets = options.maxSockets ?? 128;
  const freeSocketTimeoutMs = options.freeSocketTimeoutMs ?? 4000;
  let dispatcher: Agent | null = null;
  const pool = () => {
    dispatcher ??= new (loadUndici().Agent)({
      connections: maxSockets,
      keepAliveTimeout: freeSocketTimeoutMs,
      keepAliveMaxTimeout: freeSocketTimeoutMs,
    });
    return dispatcher;
  };
  const nodeOptions = {
    keepAlive: true,
    maxSockets,
    maxFreeSockets: maxSockets,
    timeout: freeSocketTimeoutMs,
    scheduling: 'lifo' as const,
  };
  const idleTimeoutMs = options.idleTimeoutMs ?? 300_000;
  const nodeAgents = {
    http: boundedWait(new HttpAgent(nodeOptions), idleTimeoutMs),
    https: boundedWait(new HttpsAgent(nodeOptions), idleTimeoutMs),
  };
  const fallback = options.fallback;
  const proxied = options.proxied ?? envProxyInUse();

  async function httpFetch(input: string | URL | Request, init?: RequestInit): Promise<Response> {
    const plan = proxied ? null : planOf(input, init);
    if (!plan) return (fallback ?? globalThis.fetch)(input, init);
    if (plan.signal?.aborted) throw plan.signal.reason;
    let redirects = 0;
    for (;;) {
      const answer = await send(plan, pool(), idleTimeoutMs);
      const location = REDIRECT.has(answer.status) ? answer.headers.get('location') : null;
      if (location === null || plan.redirect === 'manual') return respond(answer, plan, redirects > 0);
      if (plan.redirect === 'error') throw fetchFailed(new Error('unexpected redirect'));
      if (++redirects > MAX_REDIRECTS) throw fetchFailed(new Error('redirect count exceeded'));
      const next = new URL(location, plan.url);
      if (next.protocol !== 'http:' && next.protocol !== 'https:') {
        throw fetchFailed(new Error('URL scheme must be a HTTP(S) scheme'));
      }
      if (next.origin !== plan.url.origin) {
        // https://fetch.spec.whatwg.org/#http-redirect-fetch, step 13 (and undici: cookies too).
        delete plan.headers.authorization;
        delete plan.headers['proxy-authorization'];
        delete plan.headers.cookie;
      }
      if (
        ((answer.status === 301 || answer.status === 302) && plan.method === 'POST') ||
        (answer.status === 303 && plan.method !== 'GET' && plan.method !== 'HEAD')
      ) {
        plan.method = 'GET';
        plan.body = null;
        for (const name of [
          'content-type',
          'content-length',
          'content-encoding',
          'content-language',
          'content-location',
        ]) {
          delete plan.headers[name];
        }
      }
      plan.url = next;
    }
  }

  return Object.assign(httpFetch, {
    nodeAgents,
    async close() {
      nodeAgents.http.destroy();
      nodeAgents.https.destroy();
      await dispatcher?.destroy();
      dispatcher = null;
    },
  });
}

/**
 * An agent whose requests fail after `idleTimeoutMs` without a byte, as undici's do: a `node:http`
 * request only reports the silence ('timeout') and waits on, and an SDK that sends through the
 * agent (HubSpot's transport) listens for none, so a hung platform would hold the call forever.
 * `addRequest` is the hook agent libraries wrap (agentkeepalive, proxy agents); the request's own
 * timeout replaces the free-socket one while it runs and the agent restores that when it is freed.
 */
function boundedWait<T extends HttpAgent>(agent: T, idleTimeoutMs: number): T {
  // biome-ignore lint/suspicious/noExplicitAny: addRequest is not in @types/node's Agent.
  const target = agent as any;
  const addRequest = target.addRequest.bind(agent) as (req: ClientRequest, options: unknown) => void;
  target.addRequest = (req: ClientRequest, requestOptions: unknown) => {
    req.setTimeout(idleTimeoutMs, () => req.destroy(new Error(`no answer for ${idleTimeoutMs} ms`)));
    addRequest(req, requestOptions);
  };
  return agent;
}

/**
 * Whether Node sends outbound HTTP through the proxy named in `HTTP_PROXY`/`HTTPS_PROXY` (with
 * `NO_PROXY`): `NODE_USE_ENV_PROXY=1` or `--use-env-proxy`
 * (https://nodejs.org/api/cli.html#node_use_env_proxy1). The global fetch and `node:http`'s own
 * global agent honour it; our pool and agents would go around the proxy, so then every call is
 * handed to the global fetch, and HubSpot's client gets no agent of ours.
 */
export function envProxyInUse(env: NodeJS.ProcessEnv = process.env): boolean {
  return (
    env.NODE_USE_ENV_PROXY === '1' ||
    process.execArgv.includes('--use-env-proxy') ||
    (env.NODE_OPTIONS ?? '').split(/\s+/).includes('--use-env-proxy')
  );
}

/** The process's shared client: one pool of kept-alive sockets per origin for every connector. */
export const httpFetch: HttpFetch = createHttpFetch();

/** What this client serves itself, normalised; null hands the call to the global fetch. */
function planOf(input: string | URL | Request, init: RequestInit | undefined): Plan | null {
  let url: URL;
  if (typeof input === 'string') {
    if (!(input.startsWith('http://') || input.startsWith('https://'))) return null;
    try {
      url = new URL(input);
    } catch {
      return null;
    }
  } else if (input instanceof URL) {
    if (input.protocol !== 'http:' && input.protocol !== 'https:') return null;
    url = new URL(input.href);
  } else return null;
  if (url.username || url.password) return null;
  let method = 'GET';
  let body: Buffer | null = null;
  let contentType: string | null = null;
  const headers: Record<string, string> = {};
  let redirect: Plan['redirect'] = 'follow';
  let signal: AbortSignal | null = null;
  if (init) {
    for (const key in init) {
      if (!SERVED_INIT.has(key) && (init as Record<string, unknown>)[key] !== undefined) return null;
    }
    if (init.method) {
      const upper = init.method.toUpperCase();
      method = NORMALIZED.has(upper) ? upper : init.method;
    }
    const raw = init.body;
    if (raw === undefined || raw === null) body = null;
    else if (typeof raw === 'string') {
      body = Buffer.from(raw, 'utf8');
      contentType = 'text/plain;charset=UTF-8';
    } else if (raw instanceof Uint8Array) body = Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength);
    else if (raw instanceof ArrayBuffer) body = Buffer.from(raw);
    else if (raw instanceof URLSearchParams) {
      body = Buffer.from(raw.toString(), 'utf8');
      contentType = 'application/x-www-form-urlencoded;charset=UTF-8';
    } else return null;
    if (body !== null && (method === 'GET' || method === 'HEAD')) {
      throw new TypeError('Request with GET/HEAD method cannot have body.');
    }
    if (init.headers) copyHeaders(init.headers, headers);
    if (init.redirect) redirect = init.redirect;
    signal = init.signal ?? null;
  }
  if (contentType !== null && headers['content-type'] === undefined) headers['content-type'] = contentType;
  if (headers.accept === undefined) headers.accept = '*/*';
  if (headers['user-agent'] === undefined) headers['user-agent'] = 'node';
  if (headers['accept-encoding'] === undefined) headers['accept-encoding'] = 'gzip, deflate, br';
  return { url, method, headers, body, redirect, signal };
}

function copyHeaders(from: HeadersInit, to: Record<string, string>): void {
  const add = (name: string, value: string) => {
    const key = name.toLowerCase();
    const text = String(value).trim();
    to[key] = to[key] === undefined ? text : `${to[key]}, ${text}`;
  };
  if (from instanceof Headers) {
    from.forEach((value, name) => {
      add(name, value);
    });
  } else if (Array.isArray(from)) {
    for (const pair of from) add(pair[0] as string, pair[1] as string);
  } else {
    for (const name of Object.keys(from)) {
      const value = (from as Record<string, string | undefined>)[name];
      if (value !== undefined) add(name, value);
    }
  }
}

interface Answer {
  status: number;
  statusText: string;
  headers: Headers;
  body: Buffer | null;
}

/**
 * One request and its whole answer. An idempotent request that meets a closed socket (most often
 * a kept-alive one the server closed as we wrote to it; undici does not say whether it was reused)
 * is sent once more: repeating it is harmless by definition.
 */
async function send(plan: Plan, dispatcher: Agent, idleTimeoutMs: number): Promise<Answer> {
  try {
    return await sendOnce(plan, dispatcher, idleTimeoutMs);
  } catch (error) {
    if (!(error instanceof ClosedSocket)) throw error;
    if (!IDEMPOTENT.has(plan.method)) throw fetchFailed(error.cause);
    try {
      return await sendOnce(plan, dispatcher, idleTimeoutMs);
    } catch (again) {
      throw again instanceof ClosedSocket ? fetchFailed(again.cause) : again;
    }
  }
}

/** The connection was closed before any answer came: for the one retry of an idempotent request. */
class ClosedSocket extends Error {}
const CLOSED = new Set(['UND_ERR_SOCKET', 'ECONNRESET', 'EPIPE']);

async function sendOnce(plan: Plan, dispatcher: Agent, idleTimeoutMs: number): Promise<Answer> {
  const { signal } = plan;
  let answer: Dispatcher.ResponseData;
  try {
    answer = await loadUndici().request(plan.url, {
      dispatcher,
      method: plan.method as Dispatcher.HttpMethod,
      headers: plan.headers,
      body: plan.body,
      signal,
      headersTimeout: idleTimeoutMs,
      bodyTimeout: idleTimeoutMs,
    });
  } catch (error) {
    if (signal?.aborted) throw signal.reason;
    const code = (error as { code?: string }).code;
    throw code !== undefined && CLOSED.has(code)
      ? new ClosedSocket('the connection was closed before an answer', { cause: error })
      : fetchFailed(error);
  }
  const headers = new Headers();
  for (const name in answer.headers) {
    const value = answer.headers[name];
    if (typeof value === 'string') headers.append(name, value);
    else if (value !== undefined) for (const each of value) headers.append(name, each);
  }
  const status = answer.statusCode;
  let body: Buffer | null = null;
  try {
    if (NULL_BODY.has(status) || plan.method === 'HEAD') await answer.body.dump();
    else {
      const bytes = await answer.body.bytes();
      body = await decode(
        Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength),
        headers.get('content-encoding'),
      );
    }
  } catch (error) {
    if (signal?.aborted) throw signal.reason;
    throw fetchFailed(error);
  }
  return { status, statusText: answer.statusText, headers, body };
}

function decode(bytes: Buffer, coding: string | null): Promise<Buffer> {
  if (coding === null || bytes.length === 0) return Promise.resolve(bytes);
  const run = (codec: typeof gunzip) =>
    new Promise<Buffer>((resolve, reject) =>
      codec(bytes, (error, out) => (error ? reject(error) : resolve(out))),
    );
  switch (coding.trim().toLowerCase()) {
    case 'gzip':
    case 'x-gzip':
      return run(gunzip);
    case 'br':
      return run(brotliDecompress);
    case 'deflate':
      // Servers send both zlib-wrapped and raw deflate under this name (undici tells them apart the same way).
      return run(((bytes[0] ?? 0) & 0x0f) === 0x08 ? inflate : inflateRaw);
    default:
      return Promise.resolve(bytes);
  }
}

function respond(answer: Answer, plan: Plan, redirected: boolean): Response {
  if (answer.status < 200 || answer.status > 599) {
    throw fetchFailed(new Error(`status ${answer.status} outside what a Response may carry`));
  }
  // A Buffer is a Uint8Array; TypeScript's BodyInit names only the ArrayBuffer-backed kind.
  const response = new Response(answer.body as Uint8Array<ArrayBuffer> | null, {
    status: answer.status,
    statusText: answer.statusText,
    headers: answer.headers,
  });
  // SDKs read `url` (Slack's admin.analytics.getFile check); Response's own getter is empty here.
  Object.defineProperty(response, 'url', { value: plan.url.href });
  if (redirected) Object.defineProperty(response, 'redirected', { value: true });
  return response;
}

/** The error `fetch` rejects with for anything but an abort: TypeError('fetch failed', { cause }). */
function fetchFailed(cause: unknown): TypeError {
  return new TypeError('fetch failed', { cause });
}
