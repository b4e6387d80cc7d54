import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type HubSpotEmulator, startHubSpotEmulator } from '@wabridge/sandbox/hubspot';
import { afterEach, describe, expect, it } from 'vitest';
import { type Server, startServer } from '../cli/serve.ts';
import { defaultRegistry } from '../connectors.ts';
import { loadEnv } from '../env.ts';
import { TEST_ACCESS_TOKEN, TEST_APP_SECRET, TEST_VERIFY_TOKEN } from '../testing/harness.ts';

// HubSpot signs the URL it calls: the public URL, the same before and after the restart, while
// each start listens on a port of its own.
const PUBLIC_URL = 'http://gateway.test';
const WORKSPACE = 'acme';
const CLIENT_SECRET = 'replay-test-client-secret';

let cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const close of cleanup.reverse()) await close();
  cleanup = [];
});

/** A real gateway process on `dir` (HTTP, no worker), stopped by the test. */
async function boot(dir: string): Promise<Server> {
  const env = loadEnv({
    NODE_ENV: 'test',
    PORT: '0',
    HOST: '127.0.0.1',
    PUBLIC_URL,
    LOG_LEVEL: process.env.WABRIDGE_TEST_LOG ?? 'silent',
    WABRIDGE_DATA_DIR: dir,
    WABRIDGE_MASTER_KEY: Buffer.alloc(32, 3).toString('base64'),
    WHATSAPP_APP_SECRET: TEST_APP_SECRET,
    WHATSAPP_VERIFY_TOKEN: TEST_VERIFY_TOKEN,
    WHATSAPP_ACCESS_TOKEN: TEST_ACCESS_TOKEN,
  });
  return startServer(env, { worker: false, http: true, registry: defaultRegistry() });
}

/** The request again, to the gateway listening at `base` (the signed URL stays the public one). */
async function post(base: string, request: Request): Promise<number> {
  const path = new URL(request.url).pathname;
  const response = await fetch(`${base}${path}`, {
    method: 'POST',
    headers: request.headers,
    body: await request.clone().arrayBuffer(),
  });
  await response.arrayBuffer();
  return response.status;
}

describe('HubSpot webhook replay protection', () => {
  it('refuses a signed request replayed after a gateway restart', async () => {
    const hs: HubSpotEmulator = await startHubSpotEmulator({
      accessToken: 'pat-replay-test',
      clientSecret: CLIENT_SECRET,
      portalId: 4_242_424,
      appId: 777_001,
    });
    cleanup.push(() => hs.close());
    const dir = mkdtempSync(join(tmpdir(), 'wabridge-replay-'));
    cleanup.push(async () => rmSync(dir, { recursive: true, force: true }));

    let gateway = await boot(dir);
    // Whichever gateway is running when the test ends is stopped.
    cleanup.push(() => gateway.close());
    await gateway.runtime.admin.createWorkspace('test', { id: WORKSPACE, name: 'Acme' });
    await gateway.runtime.admin.setConnector('test', WORKSPACE, 'hubspot', {
      enabled: true,
      config: {
        accessToken: 'pat-replay-test',
        clientSecret: CLIENT_SECRET,
        basePath: hs.url,
        portalId: '4242424',
        appId: '777001',
      },
    });
    const url = `${PUBLIC_URL}/hooks/hubspot/${WORKSPACE}/webhooks`;
    const contact = hs.seedContact({ firstname: 'Ada', phone: '+15550100001' });
    const genuine = hs.webhookRequest([hs.propertyChangeEvent(contact, 'firstname', 'Ada')], { url });

    expect(await post(gateway.url, genuine)).toBe(200);
    // The same process refuses it, as before.
    expect(await post(gateway.url, genuine)).toBe(401);

    await gateway.close();
    gateway = await boot(dir);

    // A new process has no memory of its own: the store remembers.
    expect(await post(gateway.url, genuine)).toBe(401);
    // Not a gateway that refuses everything: a fresh signed request still goes through.
    const fresh = hs.webhookRequest([hs.propertyChangeEvent(contact, 'firstname', 'Ada L.')], { url });
    expect(await post(gateway.url, fresh)).toBe(200);
  }, 180_000);
});
