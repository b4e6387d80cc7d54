import type { ConnectorState } from '@wabridge/core';
import { startServer } from '@wabridge/sandbox';
import {
  type HubSpotEmulator,
  type HubSpotEmulatorOptions,
  startHubSpotEmulator,
} from '@wabridge/sandbox/hubspot';
import {
  createTestBridge,
  TEST_DISPLAY_NUMBER,
  TEST_PHONE_NUMBER_ID,
  type TestBridge,
} from '@wabridge/whatsapp/testing';
import type { HubSpotConfig } from '../src/config.ts';
import { hubspotConnector } from '../src/index.ts';

export const ACCESS_TOKEN = 'pat-na1-test-token';
export const CLIENT_SECRET = 'hubspot-client-secret';
export const PORTAL_ID = 62515;
export const APP_ID = 1160452;

/** Starts the HubSpot emulator and returns the connector config that points at it. */
export async function startHubSpot(options: Partial<HubSpotEmulatorOptions> = {}) {
  const hubspot = await startHubSpotEmulator({
    accessToken: ACCESS_TOKEN,
    clientSecret: CLIENT_SECRET,
    portalId: PORTAL_ID,
    appId: APP_ID,
    subscriptions: [
      { eventType: 'contact.propertyChange', propertyName: 'wabridge_whatsapp_consent' },
      { eventType: 'contact.deletion' },
      { eventType: 'contact.privacyDeletion' },
      { eventType: 'contact.merge' },
    ],
    webhookRetryDelaysMs: [],
    ...options,
  });
  const config = {
    accessToken: ACCESS_TOKEN,
    clientSecret: CLIENT_SECRET,
    basePath: hubspot.url,
    portalId: String(PORTAL_ID),
    appId: String(APP_ID),
  } satisfies Partial<HubSpotConfig> & Record<string, unknown>;
  return { hubspot, config };
}

/**
 * The emulator and a bridge with the HubSpot connector enabled against it (without its app id when
 * `appId` is false, so echoes cannot be told by `sourceId`). Both are closed through `cleanup`.
 */
export async function startBridge(
  cleanup: (() => Promise<void>)[],
  options: { appId?: boolean; publicUrl?: string } = {},
) {
  const { hubspot, config } = await startHubSpot();
  cleanup.push(() => hubspot.close());
  const { appId: _appId, ...withoutApp } = config;
  const bridge = await createTestBridge({
    manifests: [hubspotConnector],
    connectors: { hubspot: options.appId === false ? withoutApp : config },
    ...(options.publicUrl === undefined ? {} : { publicUrl: options.publicUrl }),
  });
  cleanup.push(() => bridge.close());
  return { hubspot, bridge };
}

/** The HubSpot contact id wabridge linked a conversation's contact to. */
export async function hubspotContactOf(bridge: TestBridge, conversationId: string): Promise<string | null> {
  const conversation = await bridge.store.getConversation(bridge.workspaceId, conversationId);
  if (!conversation) return null;
  const ref = await bridge.store.getRef(bridge.workspaceId, 'hubspot', 'contact', conversation.contactId);
  return ref?.externalId ?? null;
}

/** The bodies of the timeline entries of a conversation's contact, in timeline order. */
export async function timelineOf(bridge: TestBridge, hubspot: HubSpotEmulator, conversationId: string) {
  const contactId = await hubspotContactOf(bridge, conversationId);
  if (!contactId) return [];
  return hubspot
    .timeline(contactId)
    .filter((c) => c.properties.wabridge_conversation_id === conversationId)
    .map((c) => c.properties.hs_communication_body ?? '');
}

/** The webhook URL of the test bridge's workspace (createTestBridge's public URL). */
export const hookUrl = (bridge: TestBridge, publicUrl = 'http://gateway.test') =>
  `${publicUrl}/hooks/hubspot/${bridge.workspaceId}/webhooks`;

/** Runs a webhook request through the connector's inbound handler, then the core, as the gateway does. */
export async function deliverHook(bridge: TestBridge, request: Request) {
  const instance = await bridge.host.instance(bridge.workspaceId, 'hubspot');
  if (!instance?.inbound) throw new Error('hubspot connector has no inbound handler');
  const rawBody = new Uint8Array(await request.clone().arrayBuffer());
  const result = await instance.inbound.handle(request, {
    path: new URL(request.url).pathname.replace(`/hooks/hubspot/${bridge.workspaceId}`, '') || '/',
    rawBody,
    findRefByExternalId: (kind, id) =>
      bridge.store.findRefByExternalId(bridge.workspaceId, 'hubspot', kind, id),
    claimOnce: (key, ttlMs) =>
      bridge.store.claimExpiringKey(bridge.workspaceId, 'replay:hubspot', key, ttlMs),
  });
  const outcomes =
    result.commands.length > 0
      ? await bridge.commands.accept(bridge.workspaceId, 'hubspot', result.commands)
      : [];
  return { status: result.response.status, commands: result.commands, outcomes };
}

/**
 * A stand-in for the gateway's hook route: an HTTP server that hands HubSpot's webhooks to the
 * connector and records the commands, so the emulator's real signed deliveries reach the core.
 */
export async function startHookReceiver(bridge: TestBridge) {
  const server = await startServer({
    fetch: async (request: Request) => {
      const { status } = await deliverHook(bridge, request);
      return new Response(null, { status });
    },
  });
  return { url: `${server.url}/hooks/hubspot/${bridge.workspaceId}/webhooks`, close: () => server.close() };
}

/** A Meta-shaped webhook for a message from a user who hides their number (BSUID only). */
export function bsuidMessage(
  wamid: string,
  text: string,
  bsuid: string,
  name: string,
  timestamp = Date.now(),
) {
  return {
    object: 'whatsapp_business_account',
    entry: [
      {
        id: '102290129340398',
        changes: [
          {
            field: 'messages',
            value: {
              messaging_product: 'whatsapp',
              metadata: { display_phone_number: TEST_DISPLAY_NUMBER, phone_number_id: TEST_PHONE_NUMBER_ID },
              contacts: [{ profile: { name }, user_id: bsuid }],
              messages: [
                {
                  from_user_id: bsuid,
                  id: wamid,
                  timestamp: String(Math.floor(timestamp / 1000)),
                  type: 'text',
                  text: { body: text },
                },
              ],
            },
          },
        ],
      },
    ],
  };
}

/** API calls the emulator saw since `mark`, by path suffix. */
export function callsSince(hubspot: HubSpotEmulator, mark: number, pathPart?: string) {
  return hubspot.ledger.filter(
    'api.call',
    (e) => e.seq > mark && (pathPart === undefined || e.path.includes(pathPart)),
  );
}

/** A connector state in memory, secrets kept apart so a test can see they are not in the plain keys. */
export function memoryState() {
  const plain = new Map<string, unknown>();
  const secrets = new Map<string, string>();
  const state: ConnectorState = {
    get: async <T>(key: string) => (plain.has(key) ? (plain.get(key) as T) : null),
    set: async (key, value) => void plain.set(key, value),
    count: async (key, limit) => {
      const count = Number(plain.get(key) ?? 0);
      if (count >= limit) return null;
      plain.set(key, count + 1);
      return count + 1;
    },
    setSecret: async (key, value) => void secrets.set(key, value),
    getSecret: async (key) => secrets.get(key) ?? null,
  };
  return { state, plain, secrets };
}
