import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ConnectorManifest } from '@wabridge/core';
import { freePort } from '@wabridge/core/testing';
import { startServer } from '../cli/serve.ts';
import { defaultRegistry } from '../connectors.ts';
import { loadEnv } from '../env.ts';
import type { RuntimeOptions } from '../runtime.ts';

export const TEST_APP_SECRET = 'test-app-secret';
export const TEST_VERIFY_TOKEN = 'test-verify-token';
export const TEST_ACCESS_TOKEN = 'test-access-token';

export interface TestGatewayOptions {
  /** Extra environment (e.g. WHATSAPP_API_BASE_URL of the WhatsApp emulator). */
  env?: Record<string, string>;
  // biome-ignore lint/suspicious/noExplicitAny: manifests are generic in their config type.
  connectors?: ConnectorManifest<any>[];
  worker?: boolean;
}

/**
 * A real gateway on an ephemeral port with a throwaway data directory, for end-to-end tests.
 * Uses the built-in connectors plus any given ones.
 *
 * @example await using gw = await startTestGateway({ env: { WHATSAPP_API_BASE_URL: wa.url } });
 */
export async function startTestGateway(options: TestGatewayOptions = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'wabridge-gw-'));
  // The public URL must be known before start-up (signed media links, webhook registration).
  const port = await freePort();
  const env = loadEnv({
    NODE_ENV: 'test',
    PORT: String(port),
    PUBLIC_URL: `http://127.0.0.1:${port}`,
    HOST: '127.0.0.1',
    LOG_LEVEL: process.env.WABRIDGE_TEST_LOG ?? 'silent',
    WABRIDGE_DATA_DIR: dir,
    WABRIDGE_MASTER_KEY: Buffer.alloc(32, 3).toString('base64'),
    WHATSAPP_APP_SECRET: TEST_APP_SECRET,
    WHATSAPP_VERIFY_TOKEN: TEST_VERIFY_TOKEN,
    WHATSAPP_ACCESS_TOKEN: TEST_ACCESS_TOKEN,
    ...options.env,
  });
  const server = await startServer(env, {
    worker: options.worker ?? true,
    http: true,
    registry: defaultRegistry(options.connectors ?? []),
  });
  const gateway = {
    ...server,
    dir,
    /** The URL Meta would be configured with. */
    webhookUrl: `${server.url}/webhooks/whatsapp`,
    hookUrl: (connectorId: string, workspaceId: string) =>
      `${server.url}/hooks/${connectorId}/${workspaceId}`,
    async close() {
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    },
    async [Symbol.asyncDispose]() {
      await gateway.close();
    },
  };
  return gateway;
}

/**
 * A gateway runtime and its Hono app without a port (tests call `app.request()`), on a throwaway
 * data directory, with a workspace owning the test number and the given connectors enabled.
 */
export async function createTestApp(
  options: {
    // biome-ignore lint/suspicious/noExplicitAny: manifests are generic in their config type.
    connectors?: { manifest: ConnectorManifest<any>; config: Record<string, unknown> }[];
    /** Connectors registered but not set up (e.g. for an install flow to set up). */
    // biome-ignore lint/suspicious/noExplicitAny: manifests are generic in their config type.
    registered?: ConnectorManifest<any>[];
    phoneNumberIds?: string[];
    env?: Record<string, string>;
    /** Where the JSON log goes (default stdout, at WABRIDGE_TEST_LOG or silent). */
    log?: { level: string; stream: NodeJS.WritableStream };
    /** The clock of the runtime (sessions, login throttling, the store). */
    now?: () => number;
    /** Admin access overrides (e.g. a cheaper scrypt: see admin/testing.ts). */
    access?: RuntimeOptions['access'];
  } = {},
) {
  const { createApp } = await import('../app.ts');
  const { createRuntime } = await import('../runtime.ts');
  const { createMetrics } = await import('../metrics.ts');
  const { createLogger } = await import('../logger.ts');
  const { createRegistry } = await import('@wabridge/core');
  const dir = mkdtempSync(join(tmpdir(), 'wabridge-app-'));
  const env = loadEnv({
    NODE_ENV: 'test',
    LOG_LEVEL: process.env.WABRIDGE_TEST_LOG ?? 'silent',
    WABRIDGE_DATA_DIR: dir,
    WABRIDGE_MASTER_KEY: Buffer.alloc(32, 3).toString('base64'),
    WHATSAPP_APP_SECRET: TEST_APP_SECRET,
    WHATSAPP_VERIFY_TOKEN: TEST_VERIFY_TOKEN,
    WHATSAPP_ACCESS_TOKEN: TEST_ACCESS_TOKEN,
    ...options.env,
  });
  let current: Awaited<ReturnType<typeof createRuntime>> | null = null;
  const metrics = createMetrics(() => current?.store ?? null);
  const registry = createRegistry([
    ...(options.connectors ?? []).map((c) => c.manifest),
    ...(options.registered ?? []),
  ]);
  // In-thread store: these tests read tables directly to prove that nothing was stored.
  const runtime = await createRuntime({
    env,
    registry,
    logger: options.log ? createLogger(options.log.level, options.log.stream) : createLogger(env.LOG_LEVEL),
    metrics,
    worker: false,
    threadedStore: false,
    ...(options.now ? { now: options.now } : {}),
    ...(options.access ? { access: options.access } : {}),
  });
  current = runtime;
  const workspace = await runtime.admin.createWorkspace('test', { id: 'acme', name: 'Acme' });
  for (const phoneNumberId of options.phoneNumberIds ?? ['106540352242922']) {
    await runtime.admin.addPhoneNumber('test', workspace.id, { phoneNumberId });
  }
  for (const { manifest, config } of options.connectors ?? []) {
    await runtime.admin.setConnector('test', workspace.id, manifest.id, { enabled: true, config });
  }
  const app = createApp(runtime, { metricsRegistry: metrics.registry });
  return {
    app,
    runtime,
    metrics,
    workspaceId: workspace.id,
    async close() {
      await runtime.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
