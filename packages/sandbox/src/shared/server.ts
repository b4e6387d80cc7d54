/**
 * Starts a Hono app (or any `fetch` handler) on a real socket, for emulators and test receivers.
 *
 * - Binds 127.0.0.1 by default on an ephemeral port (`port: 0`), or the port you give.
 * - Optional TLS (`tls: { key, cert }`, PEM strings or buffers): the Microsoft Graph emulator needs
 *   HTTPS because Graph only calls HTTPS notification URLs.
 * - `close()` really frees the port: it stops listening, ends idle keep-alive sockets at once and
 *   destroys sockets still busy, then waits for the server's `close` event. It is idempotent.
 *   `await using server = await startServer(app)` closes it at scope exit.
 *
 * @example
 *   const server = await startServer(app);           // http://127.0.0.1:54321
 *   const secure = await startServer(app, { tls: { key, cert }, hostname: 'localhost' });
 *   await server.close();
 */
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { getRequestListener } from '@hono/node-server';

/** Anything with Hono's `fetch(request)` signature, e.g. a `Hono` app. */
export interface FetchApp {
  fetch: (request: Request) => Response | Promise<Response>;
}

export interface StartServerOptions {
  /** Interface to bind (default `127.0.0.1`). Use `localhost` with a certificate issued for it. */
  hostname?: string;
  /** Port to bind (default 0 = an ephemeral port chosen by the OS). */
  port?: number;
  /** Serve HTTPS with this key and certificate (PEM). */
  tls?: { key: string | Buffer; cert: string | Buffer };
}

export interface RunningServer {
  /** Base URL without a trailing slash, e.g. `http://127.0.0.1:54321`. */
  readonly url: string;
  readonly port: number;
  readonly hostname: string;
  /** Stops the server and frees the port; resolves when every socket is gone. */
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

/** Starts `app` on a real socket; see the file header for the behaviour of `close()`. */
export async function startServer(app: FetchApp, options: StartServerOptions = {}): Promise<RunningServer> {
  const hostname = options.hostname ?? '127.0.0.1';
  const listener = getRequestListener((request) => app.fetch(request), { hostname });
  const server: Server = options.tls
    ? createHttpsServer({ key: options.tls.key, cert: options.tls.cert }, listener)
    : createHttpServer(listener);

  // Track raw sockets ourselves: closeAllConnections() misses sockets of an HTTPS server that are
  // still in the TLS handshake, and we want close() to leave nothing behind.
  const sockets = new Set<Socket>();
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });

  await new Promise<void>((resolve, reject) => {
    const onError = (error: Error) => reject(error);
    server.once('error', onError);
    server.listen(options.port ?? 0, hostname, () => {
      server.off('error', onError);
      resolve();
    });
  });

  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' || hostname.includes(':') ? `[${hostname}]` : hostname;
  const url = `${options.tls ? 'https' : 'http'}://${host}:${address.port}`;

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeIdleConnections();
      for (const socket of sockets) socket.destroy();
    });
    return closing;
  };

  return {
    url,
    port: address.port,
    hostname,
    close,
    [Symbol.asyncDispose]: close,
  };
}
