import {
  createServer,
  request as httpRequest,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { Socket } from 'node:net';
import { brotliCompressSync, deflateRawSync, deflateSync, gzipSync } from 'node:zlib';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createHttpFetch, envProxyInUse, type FetchFunction, type HttpFetch } from './fetch.ts';

/**
 * Conformance: every case runs through the global fetch and through `httpFetch` against the same
 * local server, and what a caller can observe must match.
 */
type Handler = (req: IncomingMessage, res: ServerResponse, body: Buffer) => void;

const routes = new Map<string, Handler>();
let server: Server;
let base: string;
let cheap: HttpFetch;
/** Called by the server for each request before its route: lets a test act on the socket. */
let onRequest: ((req: IncomingMessage) => boolean) | null = null;
const seenSockets = new WeakSet<Socket>();
const requestsBySocket: { reused: boolean }[] = [];
/** Resolved by a handler that wants the test to act while the answer is half sent. */
let midBody: (() => void) | null = null;

function route(path: string, handler: Handler) {
  routes.set(path, handler);
}

beforeAll(async () => {
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const reused = seenSockets.has(req.socket);
      seenSockets.add(req.socket);
      requestsBySocket.push({ reused });
      if (onRequest?.(req)) return;
      const path = new URL(req.url ?? '/', 'http://x').pathname;
      const handler = routes.get(path);
      if (!handler) {
        res.writeHead(404).end();
        return;
      }
      handler(req, res, Buffer.concat(chunks));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  base = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  cheap = createHttpFetch();

  route('/echo', (req, res, body) => {
    res.setHeader('content-type', 'application/json');
    res.setHeader('set-cookie', ['a=1; Path=/', 'b=2; Path=/']);
    res.setHeader('x-multi', ['one', 'two']);
    res.end(
      JSON.stringify({
        method: req.method,
        headers: pick(req.headers, ['content-type', 'x-one', 'x-two', 'authorization', 'content-length']),
        body: body.toString('base64'),
      }),
    );
  });
  route('/binary', (_req, res) => {
    res.setHeader('content-type', 'application/octet-stream');
    res.end(Buffer.from([0, 1, 2, 255, 254]));
  });
  route('/no-content', (_req, res) => res.writeHead(204, 'No Content').end());
  route('/not-modified', (_req, res) => res.writeHead(304).end());
  route('/teapot', (_req, res) =>
    res.writeHead(418, 'I Am A Teapot', { 'content-type': 'text/plain' }).end('short'),
  );
  for (const [coding, encode] of [
    ['gzip', gzipSync],
    ['br', brotliCompressSync],
    ['deflate', deflateSync],
  ] as const) {
    route(`/${coding}`, (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': coding });
      res.end(encode(Buffer.from(JSON.stringify({ coding, pad: 'x'.repeat(2000) }))));
    });
  }
  route('/raw-deflate', (_req, res) => {
    res.writeHead(200, { 'content-encoding': 'deflate' });
    res.end(deflateRawSync(Buffer.from('raw deflate')));
  });
  for (const status of [301, 302, 303, 307, 308]) {
    route(`/redirect-${status}`, (_req, res) => res.writeHead(status, { location: '/echo' }).end());
  }
  route('/loop', (_req, res) => res.writeHead(302, { location: '/loop' }).end());
  route('/chain', (req, res) => {
    const n = Number(new URL(req.url ?? '/', 'http://x').searchParams.get('n') ?? 0);
    res.writeHead(302, { location: n >= 19 ? '/echo' : `/chain?n=${n + 1}` }).end();
  });
  route('/slow-body', (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.write('first half');
    midBody?.();
  });
  route('/never', () => {
    midBody?.();
  });
});

afterAll(async () => {
  await cheap.close();
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

afterEach(() => {
  onRequest = null;
  midBody = null;
});

/**
 * Lets undici mark the finished connection idle (it does so a tick after the body ends; until then
 * a second call opens another connection, with the global fetch too).
 */
function fresh(): HttpFetch & AsyncDisposable {
  const client = createHttpFetch();
  return Object.assign(client, { [Symbol.asyncDispose]: () => client.close() });
}

function settled() {
  return new Promise((resolve) => setImmediate(resolve));
}

function pick(headers: IncomingMessage['headers'], names: string[]) {
  return Object.fromEntries(names.filter((n) => headers[n] !== undefined).map((n) => [n, headers[n]]));
}

/** What a caller sees of an answer (Date differs between calls; undici and we both pass the rest). */
async function observe(response: Response) {
  const headers = [...response.headers].filter(([name]) => name !== 'date' && name !== 'keep-alive');
  return {
    status: response.status,
    statusText: response.statusText,
    ok: response.ok,
    redirected: response.redirected,
    url: response.url,
    headers,
    setCookie: response.headers.getSetCookie(),
    body: Buffer.from(await response.arrayBuffer()).toString('base64'),
  };
}

async function both(path: string, init?: RequestInit) {
  const run = async (f: FetchFunction) => observe(await f(`${base}${path}`, init));
  const [expected, actual] = [await run(globalThis.fetch), await run(cheap)];
  return { expected, actual };
}

async function rejection(f: FetchFunction, input: string, init?: RequestInit): Promise<unknown> {
  try {
    await (await f(input, init)).arrayBuffer();
  } catch (error) {
    return error;
  }
  throw new Error('expected a rejection');
}

describe('httpFetch answers like the global fetch', () => {
  it.each(['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'post', 'delete'])(
    '%s: the same method, status, headers (multi-value, set-cookie) and body',
    async (method) => {
      const init: RequestInit = { method };
      if (!['GET', 'DELETE', 'OPTIONS', 'delete'].includes(method)) init.body = 'x';
      const { expected, actual } = await both('/echo', init);
      expect(actual).toEqual(expected);
    },
  );

  it('sends headers given as a record, a Headers object or pairs the same way (repeated names joined)', async () => {
    for (const headers of [
      { 'X-One': '1', 'x-two': 'two', Authorization: 'Bearer t' },
      new Headers([
        ['x-one', '1'],
        ['x-one', '2'],
      ]),
      [
        ['X-Two', 'a'],
        ['x-two', 'b'],
      ] as [string, string][],
    ]) {
      const { expected, actual } = await both('/echo', { headers });
      expect(actual).toEqual(expected);
    }
  });

  it.each([
    ['a string', 'héllo', undefined],
    ['a string with its own content-type', '{"a":1}', { 'content-type': 'application/json' }],
    ['bytes', new Uint8Array([1, 2, 3, 0, 255]), undefined],
    ['a Buffer slice', Buffer.from('__abc__').subarray(2, 5), undefined],
    ['an ArrayBuffer', new Uint8Array([9, 8, 7]).buffer, undefined],
    ['URLSearchParams', new URLSearchParams({ a: '1', b: 'two words' }), undefined],
  ])('sends %s as body with the same content-type and length', async (_name, body, headers) => {
    const { expected, actual } = await both('/echo', {
      method: 'POST',
      body: body as BodyInit,
      ...(headers ? { headers } : {}),
    });
    expect(actual).toEqual(expected);
  });

  it('returns JSON, binary and error answers the same', async () => {
    for (const path of ['/echo', '/binary', '/teapot', '/missing']) {
      const { expected, actual } = await both(path);
      expect(actual).toEqual(expected);
    }
    const json = await (await cheap(`${base}/echo`)).json();
    expect(json).toMatchObject({ method: 'GET' });
  });

  it('gives 204 and 304 a null body', async () => {
    for (const path of ['/no-content', '/not-modified']) {
      const { expected, actual } = await both(path);
      expect(actual).toEqual(expected);
      expect((await cheap(`${base}${path}`)).body).toBeNull();
    }
  });

  it('HEAD: the headers, no body', async () => {
    const { expected, actual } = await both('/echo', { method: 'HEAD' });
    expect(actual).toEqual(expected);
  });

  it.each(['gzip', 'br', 'deflate', 'raw-deflate'])('decodes a %s answer', async (coding) => {
    const { expected, actual } = await both(`/${coding}`);
    expect(actual).toEqual(expected);
  });

  it.each([301, 302, 303, 307, 308])(
    'follows a %i like fetch (method and body kept or turned into GET)',
    async (status) => {
      for (const method of ['GET', 'POST', 'PUT']) {
        const { expected, actual } = await both(`/redirect-${status}`, {
          method,
          ...(method === 'GET' ? {} : { body: 'payload', headers: { 'content-type': 'text/plain' } }),
        });
        expect(actual).toEqual(expected);
      }
    },
  );

  it('follows 20 redirects and refuses the 21st', async () => {
    const { expected, actual } = await both('/chain?n=0');
    expect(actual).toEqual(expected);
    const [a, b] = [
      await rejection(globalThis.fetch, `${base}/loop`),
      await rejection(cheap, `${base}/loop`),
    ];
    expect(b).toBeInstanceOf(TypeError);
    expect(a).toBeInstanceOf(TypeError);
  });

  it("hands a redirect back with redirect: 'manual' and fails with redirect: 'error'", async () => {
    const { expected, actual } = await both('/redirect-302', { redirect: 'manual' });
    expect(actual).toEqual(expected);
    expect(actual.status).toBe(302);
    const [a, b] = [
      await rejection(globalThis.fetch, `${base}/redirect-302`, { redirect: 'error' }),
      await rejection(cheap, `${base}/redirect-302`, { redirect: 'error' }),
    ];
    expect(b).toBeInstanceOf(TypeError);
    expect((b as Error).message).toBe((a as Error).message);
  });

  it('drops the authorization header on a redirect to another origin', async () => {
    const other = createServer((req, res) => res.end(JSON.stringify(pick(req.headers, ['authorization']))));
    await new Promise<void>((resolve) => other.listen(0, 'localhost', resolve));
    const address = other.address();
    const port = typeof address === 'object' && address ? address.port : 0;
    route('/away', (_req, res) => res.writeHead(302, { location: `http://localhost:${port}/` }).end());
    try {
      const { expected, actual } = await both('/away', { headers: { authorization: 'Bearer secret' } });
      expect(actual).toEqual(expected);
      expect(actual.body).toBe(Buffer.from('{}').toString('base64'));
    } finally {
      other.closeAllConnections();
      other.close();
    }
  });

  it('rejects with the signal’s reason when aborted before the call', async () => {
    for (const f of [globalThis.fetch, cheap]) {
      const controller = new AbortController();
      controller.abort();
      const error = await rejection(f, `${base}/echo`, { signal: controller.signal });
      expect(error).toBe(controller.signal.reason);
      const timeout = AbortSignal.abort(new DOMException('late', 'TimeoutError'));
      expect(await rejection(f, `${base}/echo`, { signal: timeout })).toBe(timeout.reason);
    }
  });

  it('rejects with the signal’s reason when aborted while waiting for the answer or its body', async () => {
    for (const path of ['/never', '/slow-body']) {
      for (const f of [globalThis.fetch, cheap]) {
        const controller = new AbortController();
        midBody = () => controller.abort();
        const error = await rejection(f, `${base}${path}`, { signal: controller.signal });
        expect(error).toBe(controller.signal.reason);
      }
    }
  });

  it('reuses a kept-alive connection, and a connection the server closed while idle costs no failure', async () => {
    // A client of its own: connections the abort tests cut would be dialled again here.
    await using cheap = fresh();
    await cheap(`${base}/echo`).then((r) => r.arrayBuffer());
    await settled();
    requestsBySocket.length = 0;
    await cheap(`${base}/echo`).then((r) => r.arrayBuffer());
    expect(requestsBySocket).toEqual([{ reused: true }]);
    // The server closes every idle connection (its keep-alive ran out); the next call still works.
    server.closeIdleConnections();
    for (const method of ['GET', 'POST']) {
      const response = await cheap(`${base}/echo`, { method });
      expect(response.status).toBe(200);
      await response.arrayBuffer();
    }
  });

  it('sends a GET again on a new connection when a kept-alive one is closed under it, but not a POST', async () => {
    await using cheap = fresh();
    // The server closes the kept-alive connection as the next request arrives on it (the race a
    // free-socket timeout shorter than the server's keep-alive makes rare).
    let dropped = 0;
    const dropOnce = () => {
      let done = false;
      return (req: IncomingMessage) => {
        if (done || !requestsBySocket.at(-1)?.reused) return false;
        done = true;
        dropped++;
        req.socket.destroy();
        return true;
      };
    };
    await cheap(`${base}/echo`).then((r) => r.arrayBuffer());
    await settled();
    onRequest = dropOnce();
    const response = await cheap(`${base}/echo`);
    expect(response.status).toBe(200);
    await response.arrayBuffer();
    expect(dropped).toBe(1);

    await settled();
    onRequest = dropOnce();
    const error = await rejection(cheap, `${base}/echo`, { method: 'POST', body: 'once' });
    expect(dropped).toBe(2);
    expect(error).toBeInstanceOf(TypeError);
    expect((error as Error).message).toBe('fetch failed');
  });

  it('fails like fetch when nothing listens (TypeError with a cause)', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const address = closed.address();
    const url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}/`;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    for (const f of [globalThis.fetch, cheap]) {
      const error = await rejection(f, url);
      expect(error).toBeInstanceOf(TypeError);
      expect((error as Error).message).toBe('fetch failed');
      expect((error as Error).cause).toBeDefined();
    }
  });

  it('refuses a GET with a body like fetch', async () => {
    const [a, b] = [
      await rejection(globalThis.fetch, `${base}/echo`, { body: 'x' }),
      await rejection(cheap, `${base}/echo`, { body: 'x' }),
    ];
    expect(b).toBeInstanceOf(TypeError);
    expect(a).toBeInstanceOf(TypeError);
  });
});

describe('the node:http agents (for SDKs that take an agent, as HubSpot does)', () => {
  it('keep a connection alive between requests', async () => {
    await using client = fresh();
    const get = () =>
      new Promise<void>((resolve, reject) => {
        httpRequest(`${base}/echo`, { agent: client.nodeAgents.http }, (res) => {
          res.resume();
          res.on('end', resolve);
        })
          .on('error', reject)
          .end();
      });
    await get();
    await settled();
    requestsBySocket.length = 0;
    await get();
    expect(requestsBySocket).toEqual([{ reused: true }]);
  });

  it('fail a request the server never answers, where plain node:http would wait forever', async () => {
    const client = createHttpFetch({ idleTimeoutMs: 20 });
    try {
      const error = await new Promise<Error>((resolve) => {
        httpRequest(`${base}/never`, { agent: client.nodeAgents.http }, () => resolve(new Error('answered')))
          .on('error', resolve)
          .end();
      });
      expect(error.message).toBe('no answer for 20 ms');
    } finally {
      await client.close();
    }
  });
});

describe('httpFetch hands what it does not serve to the fallback', () => {
  const calls: unknown[] = [];
  const fallback: FetchFunction = async (input, init) => {
    calls.push(init?.body ?? input);
    return globalThis.fetch(input, init);
  };
  let withFallback: HttpFetch;
  beforeAll(() => {
    withFallback = createHttpFetch({ fallback });
  });
  afterAll(() => withFallback.close());

  it('FormData, Blob and stream bodies, Request objects, data: URLs and undici options', async () => {
    const form = new FormData();
    form.append('file', new Blob(['bytes']), 'a.txt');
    const blob = new Blob(['blob']);
    const stream = new ReadableStream({
      start(controller) {
        controller.enqueue(new TextEncoder().encode('streamed'));
        controller.close();
      },
    });
    const request = new Request(`${base}/echo`);
    const cases: [string | Request, RequestInit | undefined][] = [
      [`${base}/echo`, { method: 'POST', body: form }],
      [`${base}/echo`, { method: 'POST', body: blob }],
      [`${base}/echo`, { method: 'POST', body: stream, duplex: 'half' } as RequestInit],
      [request, undefined],
      ['data:text/plain,hello', undefined],
    ];
    for (const [input, init] of cases) {
      calls.length = 0;
      const viaCheap = await withFallback(input, init);
      expect(viaCheap.status).toBe(200);
      await viaCheap.arrayBuffer();
      expect(calls).toHaveLength(1);
    }
  });

  it('hands everything to the global fetch when Node proxies outbound calls (NODE_USE_ENV_PROXY=1)', async () => {
    const proxied = createHttpFetch({ fallback, proxied: true });
    try {
      calls.length = 0;
      const response = await proxied(`${base}/echo`, { method: 'POST', body: 'x' });
      expect(response.status).toBe(200);
      await response.arrayBuffer();
      expect(calls).toEqual(['x']);
    } finally {
      await proxied.close();
    }
    expect(envProxyInUse({ NODE_USE_ENV_PROXY: '1' })).toBe(true);
    expect(envProxyInUse({ NODE_OPTIONS: '--max-old-space-size=100 --use-env-proxy' })).toBe(true);
    expect(envProxyInUse({ NODE_USE_ENV_PROXY: '0' })).toBe(false);
  });

  it('serves the common case itself', async () => {
    calls.length = 0;
    const response = await withFallback(new URL(`${base}/echo`), {
      method: 'POST',
      body: new URLSearchParams({ a: '1' }),
    });
    expect(await response.json()).toMatchObject({ method: 'POST' });
    expect(calls).toHaveLength(0);
  });
});
