import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type {
  BackoffPolicy,
  ConnectorManifest,
  MediaAccess,
  PaceLedger,
  WorkspacePolicies,
} from '@wabridge/core';
import {
  CommandProcessor,
  ConnectorHost,
  createRegistry,
  createSecretBox,
  type Logger,
  memoryMetrics,
  openSqliteStore,
  RoutingCache,
  type SqliteStore,
  silentLogger,
  Worker,
  WorkspaceAdmin,
} from '@wabridge/core';
import { WhatsAppIngestor } from '../ingest.ts';
import { parseWebhookPayload } from '../schema.ts';
import { type SendHandler, whatsappSenderConnector } from '../sender.ts';

export const TEST_PHONE_NUMBER_ID = '106540352242922';
export const TEST_DISPLAY_NUMBER = '15550783881';

export interface TestBridgeOptions {
  // biome-ignore lint/suspicious/noExplicitAny: manifests are generic in their config type.
  manifests: ConnectorManifest<any>[];
  /** Connector configs to enable in the workspace, by connector id. */
  connectors: Record<string, Record<string, unknown>>;
  policies?: Partial<WorkspacePolicies>;
  sender?: SendHandler | null;
  media?: MediaAccess;
  logger?: Logger;
  backoff?: Partial<BackoffPolicy>;
  publicUrl?: string;
  now?: () => number;
  /** A pace ledger for the connectors (`deps.pacing`), as the gateway passes a shared store's. */
  pacing?: PaceLedger;
}

/** The master key of every test bridge (base64): a CLI run on a bridge's data directory needs it. */
export const TEST_BRIDGE_MASTER_KEY = Buffer.alloc(32, 7).toString('base64');

/**
 * A complete core (real SQLite file, routing, connector host, worker, command processor) without
 * HTTP, for connector tests: ingest WhatsApp webhooks, drain the queue, feed callbacks back.
 *
 * @example await using bridge = await createTestBridge({ manifests: [slack], connectors: { slack: config } });
 */
export async function createTestBridge(options: TestBridgeOptions) {
  const dir = mkdtempSync(join(tmpdir(), 'wabridge-bridge-'));
  const now = options.now ?? Date.now;
  const logger = options.logger ?? silentLogger;
  const metrics = memoryMetrics();
  // One master key for the connector secrets and the data keys, as in the gateway.
  const masterKey = Buffer.from(TEST_BRIDGE_MASTER_KEY, 'base64');
  const store: SqliteStore = await openSqliteStore({
    path: join(dir, 'wabridge.db'),
    now,
    masterKeys: { current: masterKey },
  });
  // The sender, when the test has one, is the internal connector of the `send` jobs, as in the gateway.
  const users = createRegistry(options.manifests);
  const registry = options.sender ? users.withInternal([whatsappSenderConnector(options.sender)]) : users;
  const secrets = createSecretBox(masterKey);
  const routing = new RoutingCache(store, { checkEveryMs: 0 });
  // Without a media source, every message's file is a small stand-in, so a mirror that links or
  // re-hosts media finds one; tests of unavailable media pass their own `media`.
  const media: MediaAccess = options.media ?? {
    fetch: async (messageId) => {
      const bytes = new TextEncoder().encode(`media of ${messageId}`);
      return {
        bytes,
        mimeType: 'application/octet-stream',
        filename: `${messageId}.bin`,
        sha256: createHash('sha256').update(bytes).digest('hex'),
      };
    },
    url: (messageId) => `${options.publicUrl ?? 'http://gateway.test'}/media/test/${messageId}`,
  };
  const host = new ConnectorHost({
    store,
    registry,
    routing,
    secrets,
    logger,
    metrics,
    media: () => media,
    publicUrl: options.publicUrl ?? 'http://gateway.test',
    now,
    pacing: options.pacing,
    // The processor is created below; by the time a connector emits, it exists.
    commands: (workspaceId, connectorId, list) => commands.accept(workspaceId, connectorId, list),
  });
  const admin = new WorkspaceAdmin({ store, registry, secrets });
  const workspace = await admin.createWorkspace('test', {
    id: 'ws-test',
    name: 'Test workspace',
    ...(options.policies ? { policies: options.policies } : {}),
  });
  await admin.addPhoneNumber('test', workspace.id, {
    phoneNumberId: TEST_PHONE_NUMBER_ID,
    displayPhoneNumber: TEST_DISPLAY_NUMBER,
  });
  for (const [connectorId, config] of Object.entries(options.connectors)) {
    await admin.setConnector('test', workspace.id, connectorId, { enabled: true, config });
  }
  const worker = new Worker({
    store,
    host,
    logger,
    metrics,
    concurrency: 8,
    leaseMs: 10_000,
    pollIntervalMs: 20,
    backoff: { baseMs: 10, factor: 2, capMs: 200, maxAttempts: 5, ...options.backoff },
    now,
  });
  const commands = new CommandProcessor({
    store,
    logger,
    metrics,
    now,
    onQueued: () => worker.notify(),
    platformName: (id) => registry.get(id)?.displayName,
  });
  const ingestor = new WhatsAppIngestor({ store, routing, logger, metrics, now });

  let wamidSeq = 0;
  const bridge = {
    dir,
    store,
    registry,
    host,
    admin,
    worker,
    commands,
    ingestor,
    metrics,
    workspaceId: workspace.id,
    /** Ingests a raw webhook payload exactly as the HTTP edge would after verification. */
    async ingest(payload: unknown) {
      const parsed = parseWebhookPayload(payload);
      if (!parsed.ok) throw new Error(`test payload rejected: ${parsed.issues.join('; ')}`);
      return ingestor.ingest(parsed.changes);
    },
    /** Ingests one customer text message; returns its wamid. */
    async customerText(text: string, customer: { waId?: string; name?: string; timestamp?: number } = {}) {
      const wamid = `wamid.test.${++wamidSeq}.${Date.now()}`;
      await bridge.ingest(customerMessage(wamid, { type: 'text', text: { body: text } }, customer, now));
      return wamid;
    },
    /** Ingests one customer message of any type (`{ type: 'image', image: {…} }`); returns its wamid. */
    async customerMessage(
      message: Record<string, unknown>,
      customer: { waId?: string; name?: string; timestamp?: number } = {},
    ) {
      const wamid = `wamid.test.${++wamidSeq}.${Date.now()}`;
      await bridge.ingest(customerMessage(wamid, message, customer, now));
      return wamid;
    },
    /**
     * Ingests a text the business sent from the WhatsApp Business app (an `smb_message_echoes`
     * webhook) to `to`; returns its wamid.
     */
    async businessEcho(text: string, to: string, options: { wamid?: string; timestamp?: number } = {}) {
      const wamid = options.wamid ?? `wamid.echo.${++wamidSeq}.${Date.now()}`;
      await bridge.ingest(businessEcho(wamid, to, text, options.timestamp ?? now()));
      return wamid;
    },
    async conversationOf(waId = '15550001111') {
      const conversations = await store.listConversations(workspace.id);
      for (const conversation of conversations) {
        const contact = await store.getContact(workspace.id, conversation.contactId);
        if (contact?.waId === waId) return conversation;
      }
      return null;
    },
    async [Symbol.asyncDispose]() {
      await bridge.close();
    },
    async close() {
      await worker.stop(1000);
      await host.closeAll();
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return bridge;
}

export type TestBridge = Awaited<ReturnType<typeof createTestBridge>>;

/** A Meta-shaped `messages` webhook carrying one customer message. */
export function customerMessage(
  wamid: string,
  message: Record<string, unknown>,
  customer: { waId?: string; name?: string; timestamp?: number } = {},
  now: () => number = Date.now,
) {
  const waId = customer.waId ?? '15550001111';
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
              contacts: [{ profile: { name: customer.name ?? 'Ada Lovelace' }, wa_id: waId }],
              messages: [
                {
                  from: waId,
                  id: wamid,
                  timestamp: String(Math.floor((customer.timestamp ?? now()) / 1000)),
                  ...message,
                },
              ],
            },
          },
        ],
      },
    ],
  };
}

/** A Meta-shaped `smb_message_echoes` webhook: one text the business sent from the Business app. */
export function businessEcho(wamid: string, to: string, text: string, timestamp: number) {
  return {
    object: 'whatsapp_business_account',
    entry: [
      {
        id: '102290129340398',
        changes: [
          {
            field: 'smb_message_echoes',
            value: {
              messaging_product: 'whatsapp',
              metadata: { display_phone_number: TEST_DISPLAY_NUMBER, phone_number_id: TEST_PHONE_NUMBER_ID },
              message_echoes: [
                {
                  from: TEST_DISPLAY_NUMBER,
                  to,
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
