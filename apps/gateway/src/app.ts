import type { IncomingMessage } from 'node:http';
import { Readable } from 'node:stream';
import { concatBytes, declaresMoreThan, isWabridgeError, readUpTo, type WabridgeError } from '@wabridge/core';
import { Hono } from 'hono';
import { HTTPException } from 'hono/http-exception';
import { health } from './routes/health.ts';
import { connectorHooks } from './routes/hooks.ts';
import { mediaRoutes } from './routes/media.ts';
import { whatsappWebhook } from './routes/whatsapp.ts';
import type { Runtime } from './runtime.ts';

const STATUS_BY_CODE: Partial<Record<WabridgeError['code'], number>> = {
  bad_request: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  payload_too_large: 413,
  config_invalid: 400,
};

/** The HTTP surface of the gateway. Tests call `app.request()` without opening a port. */
export function createApp(
  runtime: Runtime,
  options: { metricsRegistry?: { metrics(): Promise<string>; contentType: string } } = {},
) {
  const app = new Hono();
  app.route('/', health(runtime, options.metricsRegistry));
  app.route('/webhooks/whatsapp', whatsappWebhook(runtime));
  app.route('/hooks', connectorHooks(runtime));
  app.route('/media', mediaRoutes(runtime));

  app.notFound((c) =>
    c.json({ error: { code: 'not_found', message: `no route for ${c.req.method} ${c.req.path}` } }, 404),
  );
  app.onError((error, c) => {
    if (error instanceof HTTPException) return error.getResponse();
    if (error instanceof ClientAborted) {
      // Nothing failed here: the client went away (a timeout, a closed tab, a proxy giving up).
      // One quiet line, no stack: at error level, a flood of these would bury real failures.
      runtime.logger.debug(
        { path: c.req.path, code: 'client_aborted' },
        'client closed the connection before its request body arrived',
      );
      return c.json({ error: { code: 'client_aborted', message: error.message } }, 400);
    }
    if (isWabridgeError(error)) {
      const status = error.status ?? STATUS_BY_CODE[error.code] ?? 500;
      if (status >= 500) runtime.logger.error({ err: error, path: c.req.path }, 'request failed');
      return c.json({ error: { code: error.code, message: error.message } }, status as 500);
    }
    runtime.logger.error({ err: error, path: c.req.path }, 'request failed');
    return c.json({ error: { code: 'internal', message: 'internal error; see the gateway log' } }, 500);
  });
  return app;
}

/** JSON error response in the gateway's one error shape. */
export function errorResponse(
  status: number,
  code: string,
  message: string,
  headers: Record<string, string> = {},
): Response {
  return new Response(JSON.stringify({ error: { code, message } }), {
    status,
    headers: { 'content-type': 'application/json; charset=utf-8', ...headers },
  });
}

export class BodyTooLarge extends Error {
  override readonly name = 'BodyTooLarge';
}

/** The client closed the connection before its body was complete; nobody is left to answer. */
export class ClientAborted extends Error {
  override readonly name = 'ClientAborted';
  readonly code = 'client_aborted';
}

/**
 * Reads a request body into memory, refusing it as soon as it passes `limit` bytes: the declared
 * Content-Length is checked before a byte is read, and a chunked body is cut off mid-stream.
 * Under @hono/node-server the bytes are read from Node's IncomingMessage directly, which skips the
 * web-stream adapter (about a tenth of the edge's CPU under load); elsewhere (tests calling
 * `app.request()`, other runtimes) the web stream is read.
 */
export async function readBody(
  request: Request,
  limit: number,
  incoming?: unknown,
): Promise<Uint8Array<ArrayBuffer>> {
  if (isIncomingMessage(incoming)) {
    if (declaresMoreThan(request.headers, limit)) throw new BodyTooLarge();
    return readIncoming(incoming, limit);
  }
  let body: Uint8Array<ArrayBuffer> | null;
  try {
    body = await readUpTo(request, limit);
  } catch (error) {
    if (request.signal.aborted) throw new ClientAborted('the client closed the connection mid-body');
    throw error;
  }
  if (!body) throw new BodyTooLarge();
  return body;
}

function isIncomingMessage(value: unknown): value is IncomingMessage {
  return value instanceof Readable && typeof (value as IncomingMessage).httpVersion === 'string';
}

function readIncoming(incoming: IncomingMessage, limit: number): Promise<Uint8Array<ArrayBuffer>> {
  return new Promise((resolve, reject) => {
    const chunks: Uint8Array[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.byteLength;
      if (size > limit) {
        cleanup();
        // Stop reading; the 413 answer closes the connection rather than draining a huge body.
        incoming.pause();
        reject(new BodyTooLarge());
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => {
      cleanup();
      resolve(concatBytes(chunks, size));
    };
    const onError = (error: Error) => {
      cleanup();
      // Node reports a connection closed mid-body as an ECONNRESET "aborted" error on the request;
      // any error that leaves the request destroyed (a reset, a server timeout) is the same story.
      const aborted = (error as NodeJS.ErrnoException).code === 'ECONNRESET' || incoming.destroyed;
      reject(aborted ? new ClientAborted('the client closed the connection mid-body') : error);
    };
    // Should a close come without that error, the read must still end rather than wait forever.
    const onClose = () => {
      cleanup();
      reject(new ClientAborted('the client closed the connection mid-body'));
    };
    const cleanup = () => {
      incoming.off('data', onData);
      incoming.off('end', onEnd);
      incoming.off('error', onError);
      incoming.off('close', onClose);
    };
    incoming.on('data', onData);
    incoming.on('end', onEnd);
    incoming.on('error', onError);
    incoming.on('close', onClose);
  });
}
