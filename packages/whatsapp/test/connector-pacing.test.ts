import {
  type ConnectorDeps,
  type ConnectorManifest,
  MemoryPaceLedger,
  type PaceLedger,
  Pacer,
} from '@wabridge/core';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createTestBridge, type TestBridge } from '../src/testing/bridge.ts';

// The host hands each connector the deployment's pace ledger as `deps.pacing`, its lanes named by
// the connector, so connectors pace through a shared ledger without knowing it is one.

/** A ledger that remembers which lanes were asked for. */
function recording(): PaceLedger & { lanes: string[] } {
  const inner = new MemoryPaceLedger();
  const lanes: string[] = [];
  return {
    lanes,
    reserve: (lane, rule, maxWaitMs) => {
      lanes.push(lane);
      return inner.reserve(lane, rule, maxWaitMs);
    },
    claimSend: (lane, spacingMs) => inner.claimSend(lane, spacingMs),
    block: (lane, rule, retryAfterMs) => inner.block(lane, rule, retryAfterMs),
  };
}

function probe(id: string, seen: Map<string, ConnectorDeps>): ConnectorManifest {
  return {
    id,
    displayName: id,
    configSchema: z.object({}),
    secretFields: [],
    capabilities: { events: ['message.inbound'], inbound: false },
    create(_config, deps) {
      seen.set(id, deps);
      return { deliver: async () => ({}) };
    },
  };
}

describe('connector pacing through the host', () => {
  let bridge: TestBridge | null = null;
  afterEach(async () => {
    await bridge?.close();
    bridge = null;
  });

  it("gives each connector the host's ledger, its lanes named by the connector", async () => {
    const ledger = recording();
    const seen = new Map<string, ConnectorDeps>();
    bridge = await createTestBridge({
      manifests: [probe('alpha', seen), probe('beta', seen)],
      connectors: { alpha: {}, beta: {} },
      pacing: ledger,
    });
    await bridge.host.instance(bridge.workspaceId, 'alpha');
    await bridge.host.instance(bridge.workspaceId, 'beta');
    const pacer = (id: string) =>
      new Pacer({ label: 'posts', ratePerSecond: 1, burst: 1, maxWaitMs: 0, ledger: seen.get(id)?.pacing });
    await pacer('alpha').acquire('C1');
    // The same key of another connector is another lane: beta is not held back by alpha's call.
    await pacer('beta').acquire('C1');
    await expect(pacer('alpha').acquire('C1')).rejects.toMatchObject({ code: 'rate_limited' });
    expect(ledger.lanes).toEqual(['alpha/posts:C1', 'beta/posts:C1', 'alpha/posts:C1']);
  });

  it('gives none without a ledger: each connector paces in its process', async () => {
    const seen = new Map<string, ConnectorDeps>();
    bridge = await createTestBridge({ manifests: [probe('alpha', seen)], connectors: { alpha: {} } });
    await bridge.host.instance(bridge.workspaceId, 'alpha');
    expect(seen.get('alpha')?.pacing).toBeUndefined();
  });
});
