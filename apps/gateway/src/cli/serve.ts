import { readFileSync } from 'node:fs';
import { serve as serveHttp } from '@hono/node-server';
import {
  type ConnectorRegistry,
  configFileSchema,
  describeIssues,
  interpolateEnv,
  WabridgeError,
} from '@wabridge/core';
import { createApp } from '../app.ts';
import { type Env, environmentVariables } from '../env.ts';
import { createLogger } from '../logger.ts';
import { createMetrics } from '../metrics.ts';
import { createRuntime, type Runtime } from '../runtime.ts';
import { parseYaml } from './yaml.ts';

export interface Server {
  runtime: Runtime;
  url: string;
  close(): Promise<void>;
}

/**
 * Starts the HTTP gateway (and, unless disabled, the delivery worker in the same process).
 * Applies WABRIDGE_CONFIG first when it is set, so a declarative deployment needs no CLI steps.
 */
export async function startServer(
  env: Env,
  options: { worker: boolean; http: boolean; registry: ConnectorRegistry },
): Promise<Server> {
  // Readable lines on a terminal in development; JSON lines everywhere else (collectors read them).
  const logger = createLogger(env.LOG_LEVEL, undefined, {
    pretty: env.devMode && process.stdout.isTTY === true,
  });
  let runtime: Runtime | null = null;
  const metrics = createMetrics(() => runtime?.store ?? null);
  runtime = await createRuntime({
    env,
    registry: options.registry,
    logger,
    metrics,
    worker: options.worker,
  });
  if (env.WABRIDGE_CONFIG) {
    const file = loadConfigFile(env.WABRIDGE_CONFIG);
    const counts = await runtime.admin.apply('config-file', file);
    logger.info({ path: env.WABRIDGE_CONFIG, ...counts }, 'configuration file applied');
  }
  let url = '';
  let httpServer: ReturnType<typeof serveHttp> | null = null;
  if (options.http) {
    if (!env.WHATSAPP_VERIFY_TOKEN) {
      logger.warn(
        {},
        "WHATSAPP_VERIFY_TOKEN is not set: Meta's webhook verification (GET /webhooks/whatsapp) will fail; set it to the verify token you give Meta",
      );
    }
    const app = createApp(runtime, { metricsRegistry: metrics.registry });
    try {
      await new Promise<void>((resolve, reject) => {
        httpServer = serveHttp(
          { fetch: app.fetch, port: env.PORT, hostname: env.HOST, serverOptions: httpServerOptions(env) },
          (info) => {
            url = `http://${env.HOST === '0.0.0.0' ? 'localhost' : env.HOST}:${info.port}`;
            resolve();
          },
        );
        // A port in use is an operator's mistake to name in one line, not a crash with a stack.
        (httpServer as unknown as NodeJS.EventEmitter).once('error', (error: NodeJS.ErrnoException) =>
          reject(listenError(error, env)),
        );
      });
    } catch (error) {
      await runtime.close();
      throw error;
    }
    logger.info({ url, publicUrl: env.publicUrl, worker: options.worker }, 'wabridge gateway listening');
  }
  runtime.worker?.start();
  const current = runtime;
  return {
    runtime: current,
    url,
    async close() {
      const server = httpServer as { close(cb: () => void): void; closeAllConnections?: () => void } | null;
      if (server) {
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeAllConnections?.();
        });
      }
      await current.close();
    },
  };
}

/**
 * Timeouts for slow or stalled clients. Node's defaults let a request take 300 s to arrive and
 * look for overdue ones every 30 s: a connection that sends most of a body and stalls would pin
 * its buffers for minutes. Here a request (headers and body) must arrive within
 * HTTP_REQUEST_TIMEOUT_MS, its headers within HTTP_HEADERS_TIMEOUT_MS, and overdue connections
 * are looked for every second (the check walks the open connections: cheap). Overdue ones get a
 * 408 and are closed, which ends the read of their body (see readGated in app.ts).
 */
export function httpServerOptions(env: Env) {
  return {
    headersTimeout: env.HTTP_HEADERS_TIMEOUT_MS,
    requestTimeout: env.HTTP_REQUEST_TIMEOUT_MS,
    keepAliveTimeout: env.HTTP_KEEP_ALIVE_TIMEOUT_MS,
    connectionsCheckingInterval: 1000,
  };
}

/** Why the gateway could not listen, as one line saying what to do. */
function listenError(error: NodeJS.ErrnoException, env: Env): WabridgeError {
  const where = `${env.HOST}:${env.PORT}`;
  if (error.code === 'EADDRINUSE')
    return new WabridgeError(
      'conflict',
      `cannot listen on ${where}: the port is in use (another wabridge?); stop that process or set PORT to a free port`,
      { cause: error },
    );
  if (error.code === 'EACCES')
    return new WabridgeError(
      'forbidden',
      `cannot listen on ${where}: permission denied (ports below 1024 need privileges); set PORT to 1024 or above`,
      { cause: error },
    );
  if (error.code === 'EADDRNOTAVAIL')
    return new WabridgeError(
      'config_invalid',
      `cannot listen on ${where}: no such address here; check HOST`,
      {
        cause: error,
      },
    );
  return new WabridgeError('internal', `cannot listen on ${where}: ${error.message}`, { cause: error });
}

/**
 * Reads a YAML or JSON config file, fills `${VAR}` from the environment and validates it; every
 * problem is named in one line (a misspelled key with the nearest valid one).
 */
export function loadConfigFile(path: string) {
  let raw: unknown;
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT')
      throw new WabridgeError('not_found', `the config file ${path} does not exist`);
    throw new WabridgeError(
      'config_invalid',
      `cannot read the config file ${path}: ${error instanceof Error ? error.message : String(error)}`,
    );
  }
  try {
    raw = path.endsWith('.json') ? JSON.parse(text) : parseYaml(text);
  } catch (error) {
    throw new WabridgeError(
      'config_invalid',
      `${path} is not valid ${path.endsWith('.json') ? 'JSON' : 'YAML'}: ${(error as Error).message.split('\n')[0]}`,
    );
  }
  const parsed = configFileSchema.safeParse(interpolateEnv(raw, environmentVariables()));
  if (!parsed.success)
    throw new WabridgeError(
      'config_invalid',
      `${path}: ${describeIssues(configFileSchema, parsed.error.issues)}`,
    );
  return parsed.data;
}

/** Stops gracefully on Ctrl-C / SIGTERM: finish in-flight requests and jobs, then exit. */
export function closeOnSignals(server: { close(): Promise<void> }, log: (msg: string) => void): void {
  let closing = false;
  const stop = (signal: string) => {
    if (closing) process.exit(1);
    closing = true;
    log(`received ${signal}, shutting down`);
    server.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGINT', () => stop('SIGINT'));
  process.once('SIGTERM', () => stop('SIGTERM'));
}
