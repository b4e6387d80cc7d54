/**
 * The gateway's HTTP helpers, shared by the app and its routes: the one error shape, and reading
 * bodies under the size limit and the gate for unauthenticated bodies.
 */
import type { IncomingMessage } from 'node:http';
import { Readable } from 'node:stream';
import { concatBytes, declaresMoreThan, readUpTo, type WabridgeError } from '@wabridge/core';
import type { BodyGate, BodyTicket } from './body-gate.ts';

/** Retry-After (whole seconds) for an error that says how long to wait. */
export function retryAfter(error: WabridgeError): Record<string, string> {
  return error.retryAfterMs === undefined
    ? {}
    : { 'retry-after': String(Math.max(1, Math.ceil(error.retryAfterMs / 1000))) };
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

/** The body gate had no room for this body (see body-gate.ts). */
export class GateFull extends Error {
  override readonly name = 'GateFull';
}

/**
 * The client closed the connection (or the server's request timeout closed it) before its body
 * was complete; nobody is left to answer. The app's error handler logs it as one debug line.
 */
export class ClientAborted extends Error {
  override readonly name = 'ClientAborted';
  readonly code = 'client_aborted';
}

/** Retry-After for a body refused because the gate is full: stalled bodies time out meanwhile. */
export const GATE_RETRY_AFTER_SECONDS = 5;

/**
 * The answer for a body the gate refused. It closes the connection: the unread body is not
 * drained, and the socket's buffers go with it.
 */
export function gateFullResponse(): Response {
  return errorResponse(503, 'overloaded', 'too many webhook bodies are being received at once; retry later', {
    'retry-after': String(GATE_RETRY_AFTER_SECONDS),
    connection: 'close',
  });
}

/**
 * Reads an unauthenticated body under the gate: admitted by its declared length (refused with
 * GateFull when there is no room), read with the size limit, and released by `release()`, which
 * the caller calls once the body is verified or refused. On any failure to read (too large,
 * aborted, gate full mid-stream) the ticket is released here and the error thrown.
 */
export async function readGated(
  gate: BodyGate,
  request: Request,
  limit: number,
  incoming?: unknown,
): Promise<{ raw: Uint8Array<ArrayBuffer>; release(): void }> {
  // Too large by its own declaration: refused before it takes a place in the gate.
  if (declaresMoreThan(request.headers, limit)) throw new BodyTooLarge();
  const length = request.headers.get('content-length');
  const declared = length !== null && /^\d+$/.test(length.trim()) ? Number(length) : null;
  const ticket = gate.admit(declared);
  if (!ticket) throw new GateFull();
  try {
    const raw = await readBody(request, limit, incoming, declared === null ? ticket : undefined);
    return { raw, release: ticket.release };
  } catch (error) {
    ticket.release();
    throw error;
  }
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
  ticket?: BodyTicket,
): Promise<Uint8Array<ArrayBuffer>> {
  if (isIncomingMessage(incoming)) {
    if (declaresMoreThan(request.headers, limit)) throw new BodyTooLarge();
    return readIncoming(incoming, limit, ticket);
  }
  let body: Uint8Array<ArrayBuffer> | null;
  try {
    body = await readUpTo(request, limit);
  } catch (error) {
    if (request.signal.aborted) throw new ClientAborted('the client closed the connection mid-body');
    throw error;
  }
  if (!body) throw new BodyTooLarge();
  if (ticket && !ticket.grow(body.byteLength)) throw new GateFull();
  return body;
}

function isIncomingMessage(value: unknown): value is IncomingMessage {
  return value instanceof Readable && typeof (value as IncomingMessage).httpVersion === 'string';
}

function readIncoming(
  incoming: IncomingMessage,
  limit: number,
  ticket?: BodyTicket,
): Promise<Uint8Array<ArrayBuffer>> {
  return new Promise((resolve, reject) => {
    const chunks: Uint8Array[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.byteLength;
      const refused =
        size > limit ? new BodyTooLarge() : ticket && !ticket.grow(chunk.byteLength) ? new GateFull() : null;
      if (refused) {
        cleanup();
        // Stop reading; the answer closes the connection rather than draining the body.
        incoming.pause();
        reject(refused);
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
    // Closed before its end: the client gave up, or the server's request timeout closed it.
    const onClose = () => {
      cleanup();
      reject(new ClientAborted('the connection closed before the whole body arrived'));
    };
    const cleanup = () => {
      incoming.off('data', onData);
      incoming.off('end', onEnd);
      incoming.off('error', onError);
      incoming.off('close', onClose);
    };
    if (incoming.readableEnded) {
      resolve(concatBytes(chunks, 0));
      return;
    }
    incoming.on('data', onData);
    incoming.on('end', onEnd);
    incoming.on('error', onError);
    incoming.on('close', onClose);
  });
}
