import { DEFAULT_BACKOFF, type LogRecord, memoryLogger } from '@wabridge/core';
import { type Clock, createClock, wallClockFrom } from '@wabridge/sandbox';
import type { HubSpotEmulator } from '@wabridge/sandbox/hubspot';
import { createTestBridge, type TestBridge } from '@wabridge/whatsapp/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { hubspotConnector } from '../src/index.ts';
import { hubspotContactOf, startHubSpot } from './kit.ts';

let cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const close of cleanup.reverse()) await close();
  cleanup = [];
});

/** A bridge and an emulator that share one clock, with the production back-off policy. */
async function setup() {
  // Starts at noon: the daily budget must not reset on its own because the run began at 23:59.
  const clock = createClock(wallClockFrom(Date.UTC(2026, 5, 15, 12)));
  const { hubspot, config } = await startHubSpot({ clock });
  cleanup.push(() => hubspot.close());
  const records: LogRecord[] = [];
  const bridge = await createTestBridge({
    manifests: [hubspotConnector],
    connectors: { hubspot: config },
    now: clock.now,
    backoff: DEFAULT_BACKOFF,
    logger: memoryLogger(records),
  });
  cleanup.push(() => bridge.close());
  return { hubspot, bridge, clock, records };
}

/** Runs the queue, moving the shared clock forward, until nothing is left to deliver to HubSpot. */
async function runFor(bridge: TestBridge, clock: Clock, stepMs: number, maxSteps = 200) {
  for (let step = 0; step < maxSteps; step++) {
    await bridge.worker.drain();
    const stats = (await bridge.store.jobStats()).byConnector.hubspot;
    if (!stats || (stats.ready === 0 && stats.running === 0)) return step;
    clock.advance(stepMs);
  }
  throw new Error('HubSpot jobs still queued');
}

/** Every message of every conversation is on its contact's timeline exactly once. */
async function expectMirroredOnce(
  bridge: TestBridge,
  hubspot: HubSpotEmulator,
  texts: Map<string, string[]>,
) {
  for (const [waId, expected] of texts) {
    const conversation = await bridge.conversationOf(waId);
    const contact = (await hubspotContactOf(bridge, conversation?.id ?? '')) ?? '';
    const bodies = hubspot.timeline(contact).map((c) => c.properties.hs_communication_body ?? '');
    expect(bodies, waId).toHaveLength(expected.length);
    for (const text of expected)
      expect(
        bodies.filter((b) => b.includes(`${text}<`)),
        text,
      ).toHaveLength(1);
  }
  expect(hubspot.contacts()).toHaveLength(texts.size);
  expect(await bridge.store.listDeadJobs()).toEqual([]);
}

async function traffic(bridge: TestBridge, customers: number, perCustomer: number, tag: string) {
  const texts = new Map<string, string[]>();
  for (let m = 0; m < perCustomer; m++) {
    for (let c = 0; c < customers; c++) {
      const waId = `1555060${String(c).padStart(4, '0')}`;
      const text = `${tag} ${c}/${m}`;
      texts.set(waId, [...(texts.get(waId) ?? []), text]);
      await bridge.customerText(text, { waId });
    }
  }
  return texts;
}

describe('HubSpot limits and failures', () => {
  it('a storm of rolling-window 429s delays delivery but loses and duplicates nothing', async () => {
    const { hubspot, bridge, clock } = await setup();
    hubspot.configureLimits({ tenSecondly: 4 });
    hubspot.failNext('rate_limited', { count: 6 });
    const texts = await traffic(bridge, 6, 5, 'storm');
    await runFor(bridge, clock, 2_000);
    await expectMirroredOnce(bridge, hubspot, texts);
    expect(
      hubspot.ledger.count('api.rate_limited', (e) => e.policy === 'TEN_SECONDLY_ROLLING'),
    ).toBeGreaterThanOrEqual(6);
    const attempts = await bridge.store.listDeadJobs();
    expect(attempts).toEqual([]);
  });

  it('DAILY pauses the portal until the reset, alerts once, then delivers everything once', async () => {
    const { hubspot, bridge, clock, records } = await setup();
    const first = await traffic(bridge, 3, 2, 'before');
    await runFor(bridge, clock, 1_000);
    hubspot.configureLimits({ daily: hubspot.usedToday });
    const second = await traffic(bridge, 3, 2, 'quota');
    await bridge.worker.drain();
    expect(hubspot.ledger.count('api.rate_limited', (e) => e.policy === 'DAILY')).toBe(1);

    // More traffic while paused: not a single call reaches HubSpot.
    const callsWhilePaused = hubspot.ledger.count('api.call');
    const third = await traffic(bridge, 3, 2, 'paused');
    for (let i = 0; i < 5; i++) {
      clock.advance(60_000);
      await bridge.worker.drain();
    }
    expect(hubspot.ledger.count('api.call')).toBe(callsWhilePaused);
    const alerts = records.filter((r) => r.level === 'error' && r.fields.alert === 'hubspot_daily_limit');
    expect(alerts).toHaveLength(1);
    expect(
      bridge.metrics.counters.get('connector_alerts_total[["connector","hubspot"],["kind","daily_quota"]]'),
    ).toBe(1);

    // Midnight UTC: the budget is back, and so is delivery.
    const midnight = (Math.floor(clock.now() / 86_400_000) + 1) * 86_400_000;
    clock.advance(midnight - clock.now() + 1_000);
    await runFor(bridge, clock, 1_000);
    const all = new Map(
      [...first].map(([k, v]) => [k, [...v, ...(second.get(k) ?? []), ...(third.get(k) ?? [])]]),
    );
    await expectMirroredOnce(bridge, hubspot, all);
  });

  it('retries 5xx answers and loses nothing', async () => {
    const { hubspot, bridge, clock } = await setup();
    hubspot.failNext('unavailable', { count: 3 });
    const texts = await traffic(bridge, 2, 3, 'flaky');
    await runFor(bridge, clock, 5_000);
    await expectMirroredOnce(bridge, hubspot, texts);
    expect(hubspot.ledger.count('api.call', (e) => e.status === 503)).toBe(3);
  });

  it("dead-letters a validation error at once, with HubSpot's message", async () => {
    const { hubspot, bridge } = await setup();
    await bridge.customerText('warm-up', { waId: '15550609999' });
    await bridge.worker.drain();
    hubspot.failNext('rejected', { path: '/communications/batch/create' });
    await bridge.customerText('refused', { waId: '15550609999' });
    await bridge.worker.drain();
    const [dead, ...more] = await bridge.store.listDeadJobs();
    expect(more).toEqual([]);
    expect(dead?.attempts).toBe(1);
    expect(dead?.reason).toContain('permanent');
    expect(dead?.reason).toContain('Injected validation failure: the request was refused.');
  });

  for (const mode of ['unavailable', 'lost_response'] as const) {
    it(`a 10-minute outage (${mode}) loses nothing and creates no duplicates`, async () => {
      const { hubspot, bridge, clock } = await setup();
      const before = await traffic(bridge, 4, 3, 'before');
      await runFor(bridge, clock, 1_000);
      const start = clock.now();
      hubspot.setOutage({ until: start + 10 * 60_000, mode });
      const during = await traffic(bridge, 6, 4, 'during');
      // Keep traffic coming through the outage, a message a minute.
      for (let minute = 0; minute < 12; minute++) {
        await runFor(bridge, clock, 10_000, 6).catch(() => 0);
        await bridge.customerText(`minute ${minute}`, { waId: '15550600000' });
        during.set('15550600000', [...(during.get('15550600000') ?? []), `minute ${minute}`]);
      }
      expect(hubspot.ledger.count('api.call', (e) => e.status >= 500)).toBeGreaterThan(0);
      await runFor(bridge, clock, 30_000);
      expect(clock.now()).toBeGreaterThan(start + 10 * 60_000);
      const all = new Map([...during].map(([k, v]) => [k, [...(before.get(k) ?? []), ...v]]));
      await expectMirroredOnce(bridge, hubspot, all);
    });
  }
});
