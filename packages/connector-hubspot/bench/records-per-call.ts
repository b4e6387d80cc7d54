/**
 * HubSpot connector figures (issue 4): records per API call, delivery throughput under the default
 * per-portal pacing, and how fast a consent change made in HubSpot is recorded by the bridge.
 * Everything runs through the real core (SQLite queue, worker, command processor) and the official
 * SDK over HTTP against the HubSpot emulator; counts come from the emulator's ledger.
 *
 *   node packages/connector-hubspot/bench/records-per-call.ts
 *   node packages/connector-hubspot/bench/records-per-call.ts --messages 5000 --contacts 200 --rate 50
 *
 * Scenarios:
 * - backlog: every message is queued before the worker runs (a restart, an outage), batch 500 vs 100;
 * - live: messages arrive at `--rate` per second while the worker runs;
 * - consent: HubSpot user changes → signed webhook → recorded in the ledger (latency per change).
 */
import { parseArgs } from 'node:util';
import type { ConnectorManifest } from '@wabridge/core';
import { createTestBridge } from '@wabridge/whatsapp/testing';
import { hubspotConnector } from '../src/index.ts';
import { startHookReceiver, startHubSpot } from '../test/kit.ts';

const { values } = parseArgs({
  options: {
    messages: { type: 'string', default: '500' },
    contacts: { type: 'string', default: '50' },
    existing: { type: 'string', default: '20' },
    rate: { type: 'string', default: '100' },
    changes: { type: 'string', default: '20' },
  },
});
const MESSAGES = Number(values.messages);
const CONTACTS = Number(values.contacts);
const EXISTING = Number(values.existing);
const RATE = Number(values.rate);
const CHANGES = Number(values.changes);
const out = (line: string) => process.stdout.write(`${line}\n`);

const waIdOf = (c: number) => `1555080${String(c).padStart(4, '0')}`;

async function scenario(name: string, manifest: ConnectorManifest<never>, live: boolean) {
  const { hubspot, config } = await startHubSpot();
  const bridge = await createTestBridge({ manifests: [manifest], connectors: { hubspot: config } });
  try {
    for (let c = 0; c < EXISTING; c++)
      hubspot.seedContact({ firstname: `Known ${c}`, phone: `+1 555 080 ${String(c).padStart(4, '0')}` });
    const base = Date.now() - 3_600_000;
    const started = performance.now();
    if (live) bridge.worker.start();
    for (let m = 0; m < MESSAGES; m++) {
      const c = m % CONTACTS;
      await bridge.customerText(`message ${m}`, {
        waId: waIdOf(c),
        name: `Customer ${c}`,
        timestamp: base + m * 1000,
      });
      if (live) {
        bridge.worker.notify();
        const due = started + ((m + 1) / RATE) * 1000;
        const wait = due - performance.now();
        if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      }
    }
    const queued = performance.now();
    if (!live) await bridge.worker.drain();
    for (;;) {
      const stats = (await bridge.store.jobStats()).byConnector.hubspot;
      if (!stats || (stats.ready === 0 && stats.running === 0)) break;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const done = performance.now();
    const stats = hubspot.apiStats();
    const byPath = new Map<string, number>();
    for (const call of hubspot.ledger.filter('api.call')) {
      const key = call.path.replace('/crm/v3/', '');
      byPath.set(key, (byPath.get(key) ?? 0) + 1);
    }
    const written = hubspot.communications().length;
    out(`\n${name}: ${MESSAGES} messages, ${CONTACTS} contacts (${EXISTING} already in HubSpot)`);
    out(
      `  ${stats.records} records in ${stats.calls} calls = ${stats.recordsPerCall.toFixed(1)} records/call, ${(written / stats.calls).toFixed(1)} messages/call`,
    );
    out(`  calls: ${[...byPath].map(([p, n]) => `${n}× ${p}`).join(', ')}`);
    out(
      `  ${written} entries; delivered ${((done - (live ? started : queued)) / 1000).toFixed(2)} s after ${live ? 'the first message' : 'the backlog was queued'}` +
        ` (${(written / ((done - (live ? started : queued)) / 1000)).toFixed(0)} messages/s)`,
    );
  } finally {
    await bridge.close();
    await hubspot.close();
  }
}

async function consentLatency() {
  const { hubspot, config } = await startHubSpot();
  const bridge = await createTestBridge({ manifests: [hubspotConnector], connectors: { hubspot: config } });
  const receiver = await startHookReceiver(bridge);
  hubspot.setWebhookUrl(receiver.url);
  try {
    for (let c = 0; c < CHANGES; c++) await bridge.customerText('hello', { waId: waIdOf(c) });
    await bridge.worker.drain();
    const latencies: number[] = [];
    for (let c = 0; c < CHANGES; c++) {
      const conversation = await bridge.conversationOf(waIdOf(c));
      const ref = await bridge.store.getRef(
        bridge.workspaceId,
        'hubspot',
        'contact',
        conversation?.contactId ?? '',
      );
      const t0 = performance.now();
      hubspot.updateContact(ref?.externalId ?? '', { wabridge_whatsapp_consent: 'opted_out' }, { userId: c });
      for (;;) {
        const snapshot = await bridge.store.consentSnapshot(
          bridge.workspaceId,
          conversation?.contactId ?? '',
        );
        if (snapshot.all.state === 'opted_out') break;
        await new Promise((resolve) => setImmediate(resolve));
      }
      latencies.push(performance.now() - t0);
    }
    latencies.sort((a, b) => a - b);
    const pick = (q: number) =>
      latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? 0;
    out(
      `\nconsent HubSpot → ledger (${CHANGES} changes, signed webhook over HTTP, recorded before the 200):`,
    );
    out(
      `  p50 ${pick(0.5).toFixed(1)} ms, p95 ${pick(0.95).toFixed(1)} ms, max ${pick(1).toFixed(1)} ms (budget: 2,000 ms)`,
    );
  } finally {
    await receiver.close();
    await bridge.close();
    await hubspot.close();
  }
}

const batch100 = {
  ...hubspotConnector,
  capabilities: { ...hubspotConnector.capabilities, batch: { maxSize: 100 } },
} as ConnectorManifest<never>;

await scenario('backlog, batches of 500 (shipped)', hubspotConnector as ConnectorManifest<never>, false);
await scenario('backlog, batches of 100', batch100, false);
await scenario(`live, ${RATE} messages/s arriving`, hubspotConnector as ConnectorManifest<never>, true);
await consentLatency();
