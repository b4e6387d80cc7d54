import type { ConnectorManifest } from '@wabridge/core';
import {
  DOMAIN_EVENT_TYPES,
  deliveryContext,
  hydrateEvent,
  isWabridgeError,
  silentLogger,
  WHATSAPP_SENDER,
} from '@wabridge/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestBridge, type TestBridge } from './bridge.ts';

/**
 * What a connector package provides to run the shared conformance suite against its emulator.
 */
export interface ConnectorTestKit {
  // biome-ignore lint/suspicious/noExplicitAny: manifests are generic in their config type.
  manifest: ConnectorManifest<any>;
  /** Starts the platform emulator and returns the connector config pointing at it. */
  start(): Promise<{ config: Record<string, unknown>; stop(): Promise<void> }>;
  /** The texts of the messages the platform now shows for a conversation, in platform order. */
  mirrored(bridge: TestBridge, conversationId: string): Promise<string[]>;
  /** Makes the platform's next API call fail: 429 with a retry hint, 5xx, or a validation error. */
  failNext(failure: 'rate_limited' | 'unavailable' | 'rejected'): void;
  /** Secret fields of another way to sign in (HubSpot's OAuth install beside its private app), absent from `start`'s config. */
  alternativeSecretFields?: string[];
  inbound?: {
    /** The callback the platform sends about a message the connector itself posted. */
    echo(bridge: TestBridge, conversationId: string): Promise<Request>;
    /** A callback with a forged or missing signature. */
    forged(bridge: TestBridge): Promise<Request>;
  };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * The claims every connector must meet: idempotent, ordered delivery through the real queue,
 * error verdicts the queue can act on, forged callbacks refused, and its own posts never relayed.
 *
 * @example describeConnectorConformance('slack', slackTestKit)
 */
export function describeConnectorConformance(name: string, kit: ConnectorTestKit): void {
  describe(`connector conformance: ${name}`, () => {
    let platform: { config: Record<string, unknown>; stop(): Promise<void> };
    let bridge: TestBridge;
    let customer = 0;
    const nextCustomer = () => `1555020${String(++customer).padStart(4, '0')}`;

    beforeAll(async () => {
      platform = await kit.start();
      bridge = await createTestBridge({
        manifests: [kit.manifest],
        connectors: { [kit.manifest.id]: platform.config },
      });
    });
    afterAll(async () => {
      await bridge?.close();
      await platform?.stop();
    });

    // The gateway hands a handler the path after /hooks/<connector>/<workspace>.
    const hookPath = (request: Request) =>
      new URL(request.url).pathname.replace(
        new RegExp(`^/hooks/${kit.manifest.id}/${bridge.workspaceId}`),
        '',
      ) || '/';

    async function claimOne() {
      const [job] = await bridge.store.claimJobs({
        limit: 1,
        leaseMs: 50,
        workerId: 'conformance',
        connectorIds: [kit.manifest.id],
      });
      if (!job) throw new Error('expected a queued job');
      const event = await hydrateEvent(bridge.store, job, Date.now());
      const instance = await bridge.host.instance(bridge.workspaceId, kit.manifest.id);
      if (!event || !instance) throw new Error('expected an event and a live instance');
      return {
        job,
        event,
        instance,
        ctx: deliveryContext(bridge.store, job, new AbortController().signal, silentLogger),
      };
    }

    it('declares an id, a config schema, its secret fields and the events it mirrors', () => {
      const { manifest } = kit;
      expect(manifest.id).toMatch(/^[a-z][a-z0-9-]+$/);
      expect(manifest.configSchema.safeParse({}).success).toBe(false);
      expect(manifest.configSchema.safeParse(platform.config).success).toBe(true);
      const alternatives = new Set(kit.alternativeSecretFields ?? []);
      for (const field of manifest.secretFields) {
        if (!alternatives.has(field)) expect(Object.keys(platform.config)).toContain(field);
      }
      expect(manifest.capabilities.events.length).toBeGreaterThan(0);
      for (const event of manifest.capabilities.events) expect(DOMAIN_EVENT_TYPES).toContain(event);
      expect(manifest.capabilities.events).toContain('message.inbound');
      // A connector that takes callbacks must let the suite check its signature and echo handling.
      if (manifest.capabilities.inbound)
        expect(kit.inbound, 'kit.inbound is required for an inbound connector').toBeDefined();
    });

    it('mirrors every inbound message once, in WhatsApp order, through the queue', async () => {
      const waId = nextCustomer();
      const texts = Array.from({ length: 6 }, (_, i) => `conformance order ${waId} #${i}`);
      for (const text of texts) await bridge.customerText(text, { waId });
      await bridge.worker.drain();
      const conversation = await bridge.conversationOf(waId);
      const shown = await kit.mirrored(bridge, conversation?.id ?? '');
      for (const text of texts)
        expect(
          shown.filter((s) => s.includes(text)),
          text,
        ).toHaveLength(1);
      const positions = texts.map((t) => shown.findIndex((s) => s.includes(t)));
      expect(positions).toEqual([...positions].sort((a, b) => a - b));
      expect((await bridge.store.listDeadJobs()).length).toBe(0);
    });

    it('a delivery repeated after a crash before completion creates nothing twice', async () => {
      const waId = nextCustomer();
      await bridge.customerText(`before the crash ${waId}`, { waId });
      await bridge.worker.drain();
      const text = `crash in flight ${waId}`;
      await bridge.customerText(text, { waId });
      const { event, instance, ctx } = await claimOne();
      // The effect happens, then the worker dies: the job is never completed.
      await instance.deliver(event, ctx);
      await sleep(80); // the 50 ms lease expires
      await bridge.worker.drain();
      const conversation = await bridge.conversationOf(waId);
      const shown = await kit.mirrored(bridge, conversation?.id ?? '');
      expect(shown.filter((s) => s.includes(text))).toHaveLength(1);
    });

    it('turns platform failures into verdicts the queue can act on', async () => {
      // The rate-limit case goes last: a connector that honours Retry-After rightly holds back its
      // next call to that target for a while.
      const cases = [
        ['unavailable', (e: unknown) => isWabridgeError(e) && e.retryable && e.code !== 'rate_limited'],
        ['rejected', (e: unknown) => isWabridgeError(e) && !e.retryable],
        [
          'rate_limited',
          (e: unknown) => isWabridgeError(e) && e.code === 'rate_limited' && (e.retryAfterMs ?? 0) > 0,
        ],
      ] as const;
      for (const [failure, check] of cases) {
        const waId = nextCustomer();
        await bridge.customerText(`failure ${failure} ${waId}`, { waId });
        const { job, event, instance, ctx } = await claimOne();
        kit.failNext(failure);
        const error = await instance.deliver(event, ctx).then(
          () => null,
          (e: unknown) => e,
        );
        expect(check(error), `${failure}: got ${String(error)}`).toBe(true);
        await bridge.store.completeJob(job.lease, []);
      }
    });

    it.runIf(Boolean(kit.inbound))('refuses forged callbacks and records nothing', async () => {
      const instance = await bridge.host.instance(bridge.workspaceId, kit.manifest.id);
      const request = await kit.inbound!.forged(bridge);
      const raw = new Uint8Array(await request.clone().arrayBuffer());
      const result = await instance!.inbound!.handle(request, {
        path: hookPath(request),
        rawBody: raw,
        findRefByExternalId: (kind, id) =>
          bridge.store.findRefByExternalId(bridge.workspaceId, kit.manifest.id, kind, id),
      });
      expect([401, 403]).toContain(result.response.status);
      expect(result.commands).toEqual([]);
    });

    it.runIf(Boolean(kit.inbound))('never relays its own posts back to WhatsApp', async () => {
      const waId = nextCustomer();
      await bridge.customerText(`echo check ${waId}`, { waId });
      await bridge.worker.drain();
      const conversation = await bridge.conversationOf(waId);
      const request = await kit.inbound!.echo(bridge, conversation?.id ?? '');
      const raw = new Uint8Array(await request.clone().arrayBuffer());
      const instance = await bridge.host.instance(bridge.workspaceId, kit.manifest.id);
      const result = await instance!.inbound!.handle(request, {
        path: hookPath(request),
        rawBody: raw,
        findRefByExternalId: (kind, id) =>
          bridge.store.findRefByExternalId(bridge.workspaceId, kit.manifest.id, kind, id),
      });
      expect(result.response.status).toBeLessThan(300);
      const outcomes = await bridge.commands.accept(bridge.workspaceId, kit.manifest.id, result.commands);
      expect(outcomes.filter((o) => o.status === 'sent')).toEqual([]);
      expect((await bridge.store.jobStats()).byConnector[WHATSAPP_SENDER]).toBeUndefined();
    });
  });
}
