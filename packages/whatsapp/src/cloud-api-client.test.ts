import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type ErrorCode, isWabridgeError, type WabridgeError } from '@wabridge/core';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type CloudApiClient, createCloudApiClient, DEFAULT_USER_AGENT } from './cloud-api-client.ts';

// Real HTTP against local node:http servers: no fetch mocking. `graph` plays Meta's API and media
// host; `outside` is a host the client must never talk to unless explicitly allowed.

interface Recorded {
  method: string;
  path: string;
  headers: IncomingMessage['headers'];
  body: Buffer;
}

type Handler = (req: IncomingMessage, body: Buffer, res: ServerResponse) => void;

interface TestServer {
  origin: string;
  port: number;
  requests: Recorded[];
  close(): Promise<void>;
}

async function startServer(host: string, handler: Handler): Promise<TestServer> {
  const requests: Recorded[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      requests.push({ method: req.method ?? '', path: req.url ?? '', headers: req.headers, body });
      handler(req, body, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const { port } = server.address() as AddressInfo;
  return {
    origin: `http://${host}:${port}`,
    port,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}

const TOKEN = 'test-token-123';
const PNID = '106540352242922';
const FILE = Buffer.from('\x89PNG fake image bytes');

/** Error scenarios, addressed as phone-number ids `err-<name>`. */
const ERRORS: Record<string, { status: number; body: unknown; headers?: Record<string, string> }> = {};
function metaError(code: number, message: string, extra: Record<string, unknown> = {}) {
  return { error: { message, type: 'OAuthException', code, fbtrace_id: `trace-${code}`, ...extra } };
}

let graph: TestServer;
let outside: TestServer;
const bigStream = { closedEarly: undefined as boolean | undefined, sent: 0, done: Promise.resolve() };

beforeAll(async () => {
  // `outside` listens on "localhost": a host name (so only the allow-list can admit it), and a
  // reachable one (so a missing guard would really leak the token there).
  outside = await startServer('localhost', (_req, _body, res) => {
    res.writeHead(200, { 'content-type': 'application/octet-stream' });
    res.end('outside-bytes');
  });
  graph = await startServer('127.0.0.1', (req, body, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const parts = url.pathname.split('/').filter(Boolean);
    const origin = graph.origin;
    if (parts[0] === 'v23.0' && parts[2] === 'messages' && req.method === 'POST') {
      const scenario = ERRORS[parts[1]?.replace(/^err-/, '') ?? ''];
      if (parts[1]?.startsWith('err-') && scenario) {
        const raw = typeof scenario.body === 'string' ? scenario.body : JSON.stringify(scenario.body);
        res.writeHead(scenario.status, { 'content-type': 'application/json', ...scenario.headers });
        res.end(raw);
        return;
      }
      if (parts[1] === 'hang') return; // never answers
      if (parts[1] === 'redirect') {
        res.writeHead(307, { location: `${outside.origin}/v23.0/${PNID}/messages` });
        res.end();
        return;
      }
      if (parts[1] === 'garbage') {
        res.writeHead(200, { 'content-type': 'text/html' });
        res.end('<html>proxy login</html>');
        return;
      }
      const sent = JSON.parse(body.toString('utf8'));
      if (sent.status === 'read') return json(res, 200, { success: true });
      const contact = sent.recipient
        ? { input: sent.recipient, user_id: sent.recipient }
        : { input: sent.to, wa_id: String(sent.to).replace(/\D/g, '') };
      return json(res, 200, {
        messaging_product: 'whatsapp',
        contacts: [contact],
        messages: [{ id: 'wamid.SENT1', message_status: 'accepted' }],
      });
    }
    if (parts[0] === 'v23.0' && parts[2] === 'media' && req.method === 'POST')
      return json(res, 200, { id: '4490709327384033' });
    if (parts[0] === 'v23.0' && parts.length === 2 && req.method === 'GET') {
      const mediaUrls: Record<string, string> = {
        'm-ok': `${origin}/files/ok.bin`,
        'm-private': 'http://169.254.169.254/latest/meta-data/',
        'm-outside': `${outside.origin}/steal`,
        // Names no real DNS knows: only the client's own resolver (the tests') can answer them.
        'm-named': `http://media.pinned.test:${outside.port}/pinned`,
        'm-cdn-port': `http://scontent.xx.fbcdn.net:8443/x`,
        'm-redirect-out': `${origin}/redirect-out`,
        'm-redirect-3': `${origin}/hop/3`,
        'm-redirect-4': `${origin}/hop/4`,
        'm-big-stream': `${origin}/files/big-stream`,
        'm-big-declared': `${origin}/files/big-declared`,
        'm-big-info': `${origin}/files/ok.bin`,
        'm-gone': `${origin}/files/gone`,
      };
      const mediaUrl = mediaUrls[parts[1] ?? ''];
      if (!mediaUrl)
        return json(res, 404, metaError(100, 'Unsupported get request', { type: 'GraphMethodException' }));
      return json(res, 200, {
        messaging_product: 'whatsapp',
        url: mediaUrl,
        mime_type: 'image/png',
        sha256: 'abc',
        file_size: parts[1] === 'm-big-info' ? '99999999' : String(FILE.length),
        id: parts[1],
      });
    }
    if (url.pathname === '/files/ok.bin') {
      if (req.headers.authorization !== `Bearer ${TOKEN}`) return json(res, 401, { error: 'no token' });
      res.writeHead(200, { 'content-type': 'image/png', 'content-length': String(FILE.length) });
      res.end(FILE);
      return;
    }
    if (url.pathname === '/files/gone') return json(res, 404, { error: 'expired' });
    if (url.pathname === '/redirect-out') {
      res.writeHead(302, { location: `${outside.origin}/steal` });
      res.end();
      return;
    }
    if (parts[0] === 'hop') {
      const left = Number(parts[1]);
      if (left === 0) {
        res.writeHead(200, { 'content-type': 'image/png' });
        res.end(FILE);
        return;
      }
      res.writeHead(302, { location: `/hop/${left - 1}` });
      res.end();
      return;
    }
    if (url.pathname === '/files/big-declared') {
      res.writeHead(200, { 'content-type': 'image/png', 'content-length': String(50 * 1024 * 1024) });
      res.write(Buffer.alloc(1024));
      return; // never finishes; the client must give up on the declared size alone
    }
    if (url.pathname === '/files/big-stream') {
      // Chunked, no declared size: only counting while streaming can stop it.
      res.writeHead(200, { 'content-type': 'image/png' });
      const chunk = Buffer.alloc(64 * 1024, 1);
      const total = 20 * 1024 * 1024;
      bigStream.sent = 0;
      bigStream.closedEarly = undefined;
      bigStream.done = new Promise<void>((resolve) => {
        res.on('close', () => {
          bigStream.closedEarly = !res.writableFinished;
          resolve();
        });
      });
      const pump = () => {
        while (bigStream.sent < total) {
          bigStream.sent += chunk.length;
          if (!res.write(chunk)) return void res.once('drain', pump);
        }
        res.end();
      };
      pump();
      return;
    }
    json(res, 404, { error: `no route ${req.method} ${url.pathname}` });
  });
});

afterAll(async () => {
  await graph?.close();
  await outside?.close();
});

beforeEach(() => {
  graph.requests.length = 0;
  outside.requests.length = 0;
});

function client(overrides: Partial<Parameters<typeof createCloudApiClient>[0]> = {}): CloudApiClient {
  return createCloudApiClient({ accessToken: TOKEN, baseUrl: graph.origin, ...overrides });
}

async function rejection(promise: Promise<unknown>): Promise<WabridgeError> {
  try {
    await promise;
  } catch (error) {
    if (isWabridgeError(error)) return error;
    throw error;
  }
  throw new Error('expected a rejection');
}

const lastBody = () => JSON.parse(graph.requests.at(-1)?.body.toString('utf8') ?? 'null');

describe('request shape', () => {
  it('sendText posts the documented body with bearer token, User-Agent and JSON content type', async () => {
    const result = await client().sendText({
      phoneNumberId: PNID,
      to: '+1 650-555-1234',
      body: 'Hello',
      previewUrl: true,
      replyTo: 'wamid.IN',
      callbackData: 'outbound-1',
    });
    expect(result).toEqual({ wamid: 'wamid.SENT1', contactWaId: '16505551234', messageStatus: 'accepted' });
    const request = graph.requests.at(-1);
    expect(request?.method).toBe('POST');
    expect(request?.path).toBe(`/v23.0/${PNID}/messages`);
    expect(request?.headers.authorization).toBe(`Bearer ${TOKEN}`);
    expect(request?.headers['user-agent']).toBe(DEFAULT_USER_AGENT);
    expect(request?.headers['content-type']).toBe('application/json');
    expect(lastBody()).toEqual({
      messaging_product: 'whatsapp',
      recipient_type: 'individual',
      to: '+1 650-555-1234',
      type: 'text',
      text: { body: 'Hello', preview_url: true },
      context: { message_id: 'wamid.IN' },
      biz_opaque_callback_data: 'outbound-1',
    });
  });

  it('a BSUID recipient is addressed with `recipient`, not `to`, and the BSUID comes back', async () => {
    const result = await client({ userAgent: 'wabridge-test/1.2.3' }).sendText({
      phoneNumberId: PNID,
      to: 'US.13491208655302741918',
      body: 'Hi',
    });
    const body = lastBody();
    expect(body.recipient).toBe('US.13491208655302741918');
    expect(body).not.toHaveProperty('to');
    expect(result.contactUserId).toBe('US.13491208655302741918');
    expect(graph.requests.at(-1)?.headers['user-agent']).toBe('wabridge-test/1.2.3');
  });

  it('sendTemplate sends name, language object and components', async () => {
    const components = [{ type: 'body', parameters: [{ type: 'text', text: 'Ada' }] }];
    await client().sendTemplate({
      phoneNumberId: PNID,
      to: '16505551234',
      name: 'order_update',
      language: 'en_US',
      components,
    });
    expect(lastBody()).toMatchObject({
      type: 'template',
      template: { name: 'order_update', language: { code: 'en_US' }, components },
    });
  });

  it('sendMedia sends id or link with caption and filename where they apply, and refuses invalid combinations', async () => {
    const wa = client();
    await wa.sendMedia({ phoneNumberId: PNID, to: '1', kind: 'image', id: 'MEDIA1', caption: 'look' });
    expect(lastBody()).toMatchObject({ type: 'image', image: { id: 'MEDIA1', caption: 'look' } });
    await wa.sendMedia({
      phoneNumberId: PNID,
      to: '1',
      kind: 'document',
      link: 'https://x.test/a.pdf',
      filename: 'a.pdf',
    });
    expect(lastBody()).toMatchObject({
      type: 'document',
      document: { link: 'https://x.test/a.pdf', filename: 'a.pdf' },
    });

    const before = graph.requests.length;
    const both = { phoneNumberId: PNID, to: '1', kind: 'image', id: 'A', link: 'https://x' } as never;
    expect((await rejection(wa.sendMedia(both))).code).toBe('bad_request');
    expect(
      (await rejection(wa.sendMedia({ phoneNumberId: PNID, to: '1', kind: 'audio', id: 'A', caption: 'no' })))
        .code,
    ).toBe('bad_request');
    expect(graph.requests.length).toBe(before);
  });

  it('sendReaction with an empty emoji sends "" (which removes the reaction)', async () => {
    await client().sendReaction({ phoneNumberId: PNID, to: '16505551234', messageId: 'wamid.IN', emoji: '' });
    expect(lastBody()).toMatchObject({ type: 'reaction', reaction: { message_id: 'wamid.IN', emoji: '' } });
  });

  it('sendInteractive passes the interactive object through', async () => {
    const interactive = {
      type: 'button',
      body: { text: 'Pick one' },
      action: { buttons: [{ type: 'reply', reply: { id: 'y', title: 'Yes' } }] },
    };
    await client().sendInteractive({ phoneNumberId: PNID, to: '1', interactive });
    expect(lastBody()).toMatchObject({ type: 'interactive', interactive });
  });

  it('markAsRead sends status=read without `to`, with the typing indicator when asked', async () => {
    await client().markAsRead({ phoneNumberId: PNID, messageId: 'wamid.IN', typing: true });
    expect(lastBody()).toEqual({
      messaging_product: 'whatsapp',
      status: 'read',
      message_id: 'wamid.IN',
      typing_indicator: { type: 'text' },
    });
  });

  it('uploadMedia sends multipart form-data with file, type and messaging_product', async () => {
    const result = await client().uploadMedia({
      phoneNumberId: PNID,
      bytes: new Uint8Array(FILE),
      mimeType: 'image/png',
      filename: 'photo.png',
    });
    expect(result).toEqual({ id: '4490709327384033' });
    const request = graph.requests.at(-1);
    expect(request?.path).toBe(`/v23.0/${PNID}/media`);
    const contentType = String(request?.headers['content-type']);
    expect(contentType).toMatch(/^multipart\/form-data; boundary=/);
    const form = await new Response(new Uint8Array(request?.body ?? []), {
      headers: { 'content-type': contentType },
    }).formData();
    expect(form.get('messaging_product')).toBe('whatsapp');
    expect(form.get('type')).toBe('image/png');
    const file = form.get('file');
    if (!(file instanceof File)) throw new Error('file part missing');
    expect(file.name).toBe('photo.png');
    expect(Buffer.from(await file.arrayBuffer())).toEqual(FILE);
  });

  it('getMediaInfo reads the media object (file_size as a number) scoped to the phone number', async () => {
    const info = await client().getMediaInfo('m-ok', { phoneNumberId: PNID });
    expect(info).toEqual({
      id: 'm-ok',
      url: `${graph.origin}/files/ok.bin`,
      mime_type: 'image/png',
      sha256: 'abc',
      file_size: FILE.length,
    });
    expect(graph.requests.at(-1)?.path).toBe(`/v23.0/m-ok?phone_number_id=${PNID}`);
  });

  it('downloadMedia fetches the bytes with the bearer token and reports the MIME type', async () => {
    const media = await client().downloadMedia('m-ok', { maxBytes: 1024 });
    expect(Buffer.from(media.bytes)).toEqual(FILE);
    expect(media.mimeType).toBe('image/png');
    const download = graph.requests.at(-1);
    expect(download?.path).toBe('/files/ok.bin');
    expect(download?.headers.authorization).toBe(`Bearer ${TOKEN}`);
    expect(download?.headers['user-agent']).toBe(DEFAULT_USER_AGENT);
  });

  it('path segments are encoded, so an id cannot walk the API path', async () => {
    await client().sendText({ phoneNumberId: '../me', to: '1', body: 'x' });
    expect(graph.requests.at(-1)?.path).toBe('/v23.0/..%2Fme/messages');
  });

  it('invalid options fail at creation with config_invalid', () => {
    for (const options of [
      { accessToken: '' },
      { accessToken: 't', baseUrl: 'ftp://x' },
      { accessToken: 't', baseUrl: 'not a url' },
      { accessToken: 't', apiVersion: '23' },
      { accessToken: 't', timeoutMs: 0 },
    ]) {
      try {
        createCloudApiClient(options);
        expect.unreachable(JSON.stringify(options));
      } catch (error) {
        expect(isWabridgeError(error) && error.code).toBe('config_invalid');
      }
    }
  });
});

describe('error classification over HTTP', () => {
  interface Case {
    name: string;
    status: number;
    body: unknown;
    headers?: Record<string, string>;
    code: ErrorCode;
    retryable: boolean;
    retryAfterMs?: number;
    details?: Record<string, unknown>;
  }
  const cases: Case[] = [
    {
      name: '130429 throughput',
      status: 400,
      body: metaError(130429, '(#130429) Rate limit hit'),
      code: 'rate_limited',
      retryable: true,
      retryAfterMs: 1000,
    },
    {
      name: '130429 with Retry-After seconds',
      status: 429,
      body: metaError(130429, 'Rate limit hit'),
      headers: { 'retry-after': '7' },
      code: 'rate_limited',
      retryable: true,
      retryAfterMs: 7000,
    },
    {
      name: '80007 WABA limit',
      status: 400,
      body: metaError(80007, 'Rate limit issues'),
      code: 'rate_limited',
      retryable: true,
      retryAfterMs: 1000,
    },
    {
      name: '80007 with usage header',
      status: 400,
      body: metaError(80007, 'Rate limit issues'),
      headers: {
        'x-business-use-case-usage': JSON.stringify({
          '1': [{ type: 'whatsapp', call_count: 100, estimated_time_to_regain_access: 2 }],
        }),
      },
      code: 'rate_limited',
      retryable: true,
      retryAfterMs: 120_000,
    },
    {
      name: '131056 pair rate',
      status: 429,
      body: metaError(131056, '(#131056) (Business Account, Consumer Account) pair rate limit hit'),
      code: 'rate_limited',
      retryable: true,
      retryAfterMs: 6000,
      details: { scope: 'recipient' },
    },
    {
      name: '131047 window closed',
      status: 400,
      body: metaError(131047, 'Re-engagement message', {
        error_data: { messaging_product: 'whatsapp', details: 'More than 24 hours' },
      }),
      code: 'window_closed',
      retryable: false,
      details: { needsTemplate: true, metaDetails: 'More than 24 hours' },
    },
    {
      name: '131050 opted out',
      status: 400,
      body: metaError(131050, 'User stopped marketing messages'),
      code: 'opted_out',
      retryable: false,
    },
    {
      name: '131026 undeliverable',
      status: 400,
      body: metaError(131026, 'Message undeliverable'),
      code: 'undeliverable',
      retryable: false,
    },
    ...[131048, 131049, 368, 131031, 131042].map(
      (metaCode): Case => ({
        name: `${metaCode} ops problem`,
        status: 400,
        body: metaError(metaCode, 'restricted'),
        code: 'permanent',
        retryable: false,
        details: { action: expect.any(String) },
      }),
    ),
    ...[132000, 132001].map(
      (metaCode): Case => ({
        name: `${metaCode} template problem`,
        status: 400,
        body: metaError(metaCode, 'template'),
        code: 'permanent',
        retryable: false,
        details: { action: expect.stringMatching(/template/i) },
      }),
    ),
    {
      name: '0 auth exception',
      status: 401,
      body: metaError(0, 'Authentication failed'),
      code: 'auth_failed',
      retryable: false,
    },
    {
      name: '190 token expired (even on HTTP 400)',
      status: 400,
      body: metaError(190, 'Error validating access token', { error_subcode: 463 }),
      code: 'auth_failed',
      retryable: false,
      details: { metaSubcode: 463 },
    },
    { name: 'HTTP 401 without a body', status: 401, body: '', code: 'auth_failed', retryable: false },
    {
      name: '1 unknown',
      status: 500,
      body: metaError(1, 'An unknown error occurred', { type: 'GraphMethodException' }),
      code: 'transient',
      retryable: true,
    },
    {
      name: '2 service (on HTTP 400)',
      status: 400,
      body: metaError(2, 'Service temporarily unavailable'),
      code: 'transient',
      retryable: true,
    },
    {
      name: 'HTTP 503 with an HTML body',
      status: 503,
      body: '<html>down</html>',
      code: 'transient',
      retryable: true,
    },
    {
      name: 'is_transient from Meta',
      status: 400,
      body: metaError(100, 'flaky', { is_transient: true }),
      code: 'transient',
      retryable: true,
    },
    {
      name: 'HTTP 429 without a code honours Retry-After',
      status: 429,
      body: '',
      headers: { 'retry-after': '3' },
      code: 'rate_limited',
      retryable: true,
      retryAfterMs: 3000,
    },
    {
      name: '100 invalid parameter',
      status: 400,
      body: metaError(100, 'Invalid parameter', { type: 'OAuthException' }),
      code: 'permanent',
      retryable: false,
    },
    { name: 'HTTP 404 without a body', status: 404, body: '', code: 'permanent', retryable: false },
  ];
  for (const c of cases)
    ERRORS[c.name.replaceAll(' ', '_')] = {
      status: c.status,
      body: c.body,
      ...(c.headers ? { headers: c.headers } : {}),
    };

  it.each(cases)('$name → $code', async (c) => {
    const error = await rejection(
      client().sendText({
        phoneNumberId: `err-${c.name.replaceAll(' ', '_')}`,
        to: '16505551234',
        body: 'x',
      }),
    );
    expect(error.code).toBe(c.code);
    expect(error.retryable).toBe(c.retryable);
    expect(error.retryAfterMs).toBe(c.retryAfterMs);
    expect(error.details).toHaveProperty('httpStatus', c.status);
    for (const key of ['metaCode', 'metaSubcode', 'fbtraceId']) expect(error.details).toHaveProperty(key);
    const meta = (c.body as { error?: { code: number; message: string } }).error;
    if (meta) {
      expect(error.details?.metaCode).toBe(meta.code);
      expect(error.details?.fbtraceId).toBe(`trace-${meta.code}`);
      expect(error.message).toContain(meta.message);
    }
    if (c.details) expect(error.details).toMatchObject(c.details);
  });

  it('Retry-After as an HTTP date is converted to milliseconds from now', async () => {
    ERRORS.date = {
      status: 429,
      body: '',
      headers: { 'retry-after': new Date(Date.now() + 30_000).toUTCString() },
    };
    const error = await rejection(client().sendText({ phoneNumberId: 'err-date', to: '1', body: 'x' }));
    expect(error.code).toBe('rate_limited');
    expect(error.retryAfterMs).toBeGreaterThan(25_000);
    expect(error.retryAfterMs).toBeLessThanOrEqual(30_000);
  });

  it('an error body with HTTP 200 is still an error', async () => {
    ERRORS.ok_error = { status: 200, body: metaError(131047, 'Re-engagement message') };
    expect(
      (await rejection(client().sendText({ phoneNumberId: 'err-ok_error', to: '1', body: 'x' }))).code,
    ).toBe('window_closed');
  });

  it('a 2xx send answer without a message id is permanent (the message may have gone out)', async () => {
    const error = await rejection(client().sendText({ phoneNumberId: 'garbage', to: '1', body: 'x' }));
    expect(error.code).toBe('permanent');
    expect(error.details).toMatchObject({ mayHaveBeenSent: true });
  });

  it('an API redirect is not followed (the token stays home) and is permanent', async () => {
    const error = await rejection(client().sendText({ phoneNumberId: 'redirect', to: '1', body: 'x' }));
    expect(error.code).toBe('permanent');
    expect(outside.requests).toHaveLength(0);
  });

  it('a server that never answers is a transient timeout', async () => {
    const error = await rejection(
      client({ timeoutMs: 200 }).sendText({ phoneNumberId: 'hang', to: '1', body: 'x' }),
    );
    expect(error.code).toBe('transient');
    expect(error.details).toMatchObject({ timeoutMs: 200 });
  });

  it('a refused connection is a transient network error', async () => {
    const closed = await startServer('127.0.0.1', () => undefined);
    const origin = closed.origin;
    await closed.close();
    const error = await rejection(
      createCloudApiClient({ accessToken: TOKEN, baseUrl: origin }).sendText({
        phoneNumberId: PNID,
        to: '1',
        body: 'x',
      }),
    );
    expect(error.code).toBe('transient');
    expect(error.details).toMatchObject({ networkCode: 'ECONNREFUSED' });
  });

  it('a media URL that expired or vanished is permanent, not an auth failure', async () => {
    const error = await rejection(client().downloadMedia('m-gone', { maxBytes: 1024 }));
    expect(error.code).toBe('permanent');
    expect(error.details).toMatchObject({ httpStatus: 404 });
  });
});

describe('media download SSRF guard', () => {
  it('the outside host is reachable directly (so the refusals below are the guard at work)', async () => {
    const response = await fetch(`${outside.origin}/probe`);
    expect(await response.text()).toBe('outside-bytes');
    outside.requests.length = 0;
  });

  it('refuses a private IP media host even when allow-listed, before any request', async () => {
    const wa = client({ mediaHostAllowList: ['169.254.169.254'] });
    const error = await rejection(wa.downloadMedia('m-private', { maxBytes: 1024 }));
    expect(error.code).toBe('permanent');
    expect(error.message).toMatch(/private|loopback|link-local/);
    expect(error.details).toMatchObject({ reason: 'media_url_rejected' });
  });

  it('refuses a host outside the allow-list, and the token never reaches it', async () => {
    const error = await rejection(client().downloadMedia('m-outside', { maxBytes: 1024 }));
    expect(error.code).toBe('permanent');
    expect(error.message).toMatch(/allow-list/);
    expect(outside.requests).toHaveLength(0);
  });

  it('refuses a redirect to a host outside the allow-list, and the token never reaches it', async () => {
    const error = await rejection(client().downloadMedia('m-redirect-out', { maxBytes: 1024 }));
    expect(error.code).toBe('permanent');
    expect(error.message).toMatch(/redirect/);
    expect(graph.requests.at(-1)?.path).toBe('/redirect-out');
    expect(outside.requests).toHaveLength(0);
  });

  it('follows a redirect to an allow-listed host, sending the token only there', async () => {
    // The test's "outside" host is on loopback: allowed only with the explicit private-network option.
    const wa = client({ mediaHostAllowList: [`localhost:${outside.port}`], mediaAllowPrivateNetwork: true });
    const media = await wa.downloadMedia('m-redirect-out', { maxBytes: 1024 });
    expect(Buffer.from(media.bytes).toString()).toBe('outside-bytes');
    expect(outside.requests).toHaveLength(1);
    expect(outside.requests[0]?.headers.authorization).toBe(`Bearer ${TOKEN}`);
  });

  it('refuses an allow-listed name that resolves to loopback, and the token never reaches it', async () => {
    // "localhost" passes the name check; what it resolves to (127.0.0.1 / ::1) does not.
    const wa = client({ mediaHostAllowList: [`localhost:${outside.port}`] });
    const error = await rejection(wa.downloadMedia('m-outside', { maxBytes: 1024 }));
    expect(error.code).toBe('permanent');
    expect(error.message).toMatch(/resolves to .*private, loopback or link-local/);
    expect(error.details).toMatchObject({ reason: 'media_url_rejected' });
    const redirected = await rejection(wa.downloadMedia('m-redirect-out', { maxBytes: 1024 }));
    expect(redirected.message).toMatch(/refusing redirect: media host localhost resolves to/);
    expect(outside.requests).toHaveLength(0);
  });

  it.each([
    ['a private address among public ones', ['93.184.216.34', '10.0.0.7']],
    ['IPv4 inside IPv6', ['::ffff:127.0.0.1']],
    ['carrier-grade NAT', ['100.64.0.9']],
    ['IPv6 unique-local', ['fd12:3456::1']],
    ['IPv6 link-local', ['fe80::1']],
    ['cloud metadata (link-local)', ['169.254.169.254']],
    ['the unspecified address', ['0.0.0.0']],
  ])('refuses a name whose DNS answers include %s', async (_what, addresses) => {
    const wa = client({
      mediaHostAllowList: [`media.pinned.test:${outside.port}`],
      resolveHost: async () =>
        addresses.map((address) => ({ address, family: address.includes(':') ? 6 : 4 })),
    });
    const error = await rejection(wa.downloadMedia('m-named', { maxBytes: 1024 }));
    expect(error.code).toBe('permanent');
    expect(error.message).toMatch(/resolves to .*private, loopback or link-local/);
    expect(outside.requests).toHaveLength(0);
  });

  it('connects to the address it vetted, resolving each name once: a rebinding DNS cannot redirect it', async () => {
    // First answer loopback (allowed here by the explicit option), then a different address. The
    // name exists only in this resolver, so reaching the server proves the connection used the
    // vetted answer, and one call proves nothing resolved it again at connect time.
    const answers = ['127.0.0.1', '10.9.9.9'];
    const asked: string[] = [];
    const wa = client({
      mediaHostAllowList: [`media.pinned.test:${outside.port}`],
      mediaAllowPrivateNetwork: true,
      resolveHost: async (hostname) => {
        asked.push(hostname);
        return [{ address: answers[asked.length - 1] ?? '10.9.9.9', family: 4 }];
      },
    });
    const media = await wa.downloadMedia('m-named', { maxBytes: 1024 });
    expect(Buffer.from(media.bytes).toString()).toBe('outside-bytes');
    expect(asked).toEqual(['media.pinned.test']);
    expect(outside.requests).toHaveLength(1);
    // The name, not the address, is what the server was asked for (Host; SNI and certificate for https).
    expect(outside.requests[0]?.headers.host).toBe(`media.pinned.test:${outside.port}`);
    expect(outside.requests[0]?.headers.authorization).toBe(`Bearer ${TOKEN}`);
  });

  it('a wildcard entry allows only the default port', async () => {
    const error = await rejection(client().downloadMedia('m-cdn-port', { maxBytes: 1024 }));
    expect(error.code).toBe('permanent');
    expect(error.message).toMatch(/scontent\.xx\.fbcdn\.net:8443 is not in the allow-list/);
  });

  it('follows up to 3 redirects and refuses the 4th', async () => {
    const media = await client().downloadMedia('m-redirect-3', { maxBytes: 1024 });
    expect(Buffer.from(media.bytes)).toEqual(FILE);
    const error = await rejection(client().downloadMedia('m-redirect-4', { maxBytes: 1024 }));
    expect(error.code).toBe('permanent');
    expect(error.message).toMatch(/more than 3 redirects/);
  });

  it('aborts a body that streams past maxBytes and closes the connection early', async () => {
    const maxBytes = 256 * 1024;
    const error = await rejection(client().downloadMedia('m-big-stream', { maxBytes }));
    expect(error.code).toBe('payload_too_large');
    expect(error.retryable).toBe(false);
    await bigStream.done;
    expect(bigStream.closedEarly).toBe(true);
    expect(bigStream.sent).toBeLessThan(20 * 1024 * 1024);
  });

  it('refuses a declared Content-Length over maxBytes without reading the body', async () => {
    const error = await rejection(
      client({ mediaTimeoutMs: 5_000 }).downloadMedia('m-big-declared', { maxBytes: 1024 }),
    );
    expect(error.code).toBe('payload_too_large');
  });

  it('refuses media whose reported file_size is over maxBytes without downloading it', async () => {
    const error = await rejection(client().downloadMedia('m-big-info', { maxBytes: 1024 }));
    expect(error.code).toBe('payload_too_large');
    expect(graph.requests.map((r) => r.path)).toEqual(['/v23.0/m-big-info']);
  });
});
