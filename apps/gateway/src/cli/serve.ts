import { readFileSync } from 'node:fs';
import { serve as serveHttp } from '@hono/node-server';
import { type ConnectorRegistry, configFileSchema, interpolateEnv, WabridgeError } from '@wabridge/core';
import { parse as parseYaml } from 'yaml';
import { createApp } from '../app.ts';
import type { Env } from '../env.ts';
import { createLogger } from '../logger.ts';
import { createMetrics } from '../metrics.ts';
import { createRuntime, type Runtime } from '../runtime.ts';

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
  const logger = createLogger(env.LOG_LEVEL);
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
    const app = createApp(runtime, { metricsRegistry: metrics.registry });
    await new Promise<void>((resolve) => {
      httpServer = serveHttp({ fetch: app.fetch, port: env.PORT, hostname: env.HOST }, (info) => {
        url = `http://${env.HOST === '0.0.0.0' ? 'localhost' : env.HOST}:${info.port}`;
        resolve();
      });
    });
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

/** Reads a YAML or JSON config file, fills `${VAR}` from the environment and validates it. */
export function loadConfigFile(path: string) {
  let raw: unknown;
  try {
    const text = readFileSync(path, 'utf8');
    raw = path.endsWith('.json') ? JSON.parse(text) : parseYaml(text);
  } catch (error) {
    const reason =
      (error as NodeJS.ErrnoException).code === 'ENOENT'
        ? 'no such file'
        : error instanceof Error
          ? error.message
          : String(error);
    throw new WabridgeError('config_invalid', `cannot read the config file ${path}: ${reason}`);
  }
  return configFileSchema.parse(interpolateEnv(raw, process.env));
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
