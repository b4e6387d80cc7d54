import { plainText } from '@wabridge/sandbox/graph';
import { afterEach, describe, expect, it } from 'vitest';
import { encryptionConfig, type Rig, startRig } from './support.ts';

let rig: Rig | null = null;
afterEach(async () => {
  await rig?.close();
  rig = null;
});

const MINUTE = 60_000;

async function thread(r: Rig, waId: string) {
  await r.bridge.customerText(`hello from ${waId}`, { waId });
  await r.settle();
  await r.maintain();
  const conversation = await r.conversation(waId);
  return { conversation, rootId: await r.root(conversation.id) };
}

/** Outbound messages of a conversation, once the count reaches `n`; then checks it stays there. */
async function sentTexts(r: Rig, conversationId: string, n: number) {
  await r.until(async () => ((await r.outbound(conversationId)).length >= n ? true : undefined));
  await r.graph.idle();
  await r.settle();
  return (await r.outbound(conversationId)).map((m) => m.text);
}

describe('the change-notification subscription', () => {
  it('is renewed before it expires, keeping its id', async () => {
    rig = await startRig({ config: { subscription: { lifetimeMinutes: 60, renewBeforeMinutes: 20 } } });
    await thread(rig, '15551010101');
    const [before] = rig.graph.subscriptions().map((s) => ({ ...s }));
    rig.clock.advance(30 * MINUTE);
    await rig.maintain();
    expect(rig.graph.ledger.count('subscription.renewed')).toBe(0);
    rig.clock.advance(15 * MINUTE);
    await rig.maintain();
    const [after] = rig.graph.subscriptions();
    expect(rig.graph.ledger.count('subscription.renewed')).toBe(1);
    expect(after?.id).toBe(before?.id);
    expect(Date.parse(after?.expirationDateTime ?? '')).toBeGreaterThan(
      Date.parse(before?.expirationDateTime ?? ''),
    );
  });

  it('is re-created after it expired, and a reply posted meanwhile is picked up by the resync', async () => {
    rig = await startRig();
    const { conversation, rootId } = await thread(rig, '15551020202');
    const [old] = rig.graph.subscriptions();
    // No upkeep ran for over an hour (every worker was down): the subscription lapsed.
    rig.clock.advance(61 * MINUTE);
    rig.graph.agentReply({ rootId, text: 'posted while nobody listened' });
    await rig.graph.idle();
    expect(await rig.outbound(conversation.id)).toHaveLength(0);
    await rig.maintain();
    expect(rig.graph.subscriptions().map((s) => s.id)).not.toContain(old?.id);
    expect(await sentTexts(rig, conversation.id, 1)).toEqual(['posted while nobody listened']);
  });

  it('answers reauthorizationRequired by reauthorizing, and reads back replies held meanwhile', async () => {
    rig = await startRig({ graph: { notificationRetryDelaysMs: [] } });
    const { conversation, rootId } = await thread(rig, '15551030303');
    const [sub] = rig.graph.subscriptions();
    // Graph holds notifications of a subscription waiting for reauthorization.
    rig.front.refuse = /\/lifecycle$/;
    await rig.graph.lifecycle(sub?.id ?? '', 'reauthorizationRequired');
    rig.graph.agentReply({ rootId, text: 'held by Graph' });
    await rig.graph.idle();
    expect(await rig.outbound(conversation.id)).toHaveLength(0);
    rig.front.refuse = null;
    await rig.graph.lifecycle(sub?.id ?? '', 'reauthorizationRequired');
    expect(await sentTexts(rig, conversation.id, 1)).toEqual(['held by Graph']);
    expect(rig.graph.ledger.count('subscription.reauthorized')).toBeGreaterThanOrEqual(1);
    expect(rig.graph.subscriptions().map((s) => s.id)).toEqual([sub?.id]);
  });

  it('is re-created after subscriptionRemoved, and a reply posted while it was gone is resynced', async () => {
    rig = await startRig({ graph: { notificationRetryDelaysMs: [] } });
    const { conversation, rootId } = await thread(rig, '15551040404');
    const [sub] = rig.graph.subscriptions();
    rig.front.refuse = /\/lifecycle$/;
    await rig.graph.lifecycle(sub?.id ?? '', 'subscriptionRemoved');
    rig.graph.agentReply({ rootId, text: 'nobody was subscribed' });
    await rig.graph.idle();
    rig.front.refuse = null;
    // The lifecycle notification was lost too: the next maintenance notices the subscription is gone.
    await rig.maintain();
    expect(await sentTexts(rig, conversation.id, 1)).toEqual(['nobody was subscribed']);
    expect(rig.graph.subscriptions()).toHaveLength(1);
    expect(rig.graph.subscriptions()[0]?.id).not.toBe(sub?.id);
  });

  it('is re-created when its address or certificate changes, and replies keep flowing', async () => {
    rig = await startRig();
    const { conversation, rootId } = await thread(rig, '15551060606');
    const [before] = rig.graph.subscriptions().map((s) => ({ ...s }));
    const { createSecretBox, WorkspaceAdmin } = await import('@wabridge/core');
    const admin = new WorkspaceAdmin({
      store: rig.bridge.store,
      registry: rig.bridge.registry,
      secrets: createSecretBox(Buffer.alloc(32, 7)),
    });
    await admin.setConnector('test', rig.bridge.workspaceId, 'teams', { config: await encryptionConfig() });
    await rig.maintain();
    const [after] = rig.graph.subscriptions();
    expect(rig.graph.subscriptions()).toHaveLength(1);
    expect(after?.id).not.toBe(before?.id);
    expect(after?.includeResourceData).toBe(true);
    rig.graph.agentReply({ rootId, text: 'through the new subscription' });
    expect(await sentTexts(rig, conversation.id, 1)).toEqual(['through the new subscription']);
  });

  it('resyncs after missed notifications, recording each reply once', async () => {
    rig = await startRig({ graph: { notificationRetryDelaysMs: [20] } });
    const { conversation, rootId } = await thread(rig, '15551050505');
    rig.graph.agentReply({ rootId, text: 'one' });
    await sentTexts(rig, conversation.id, 1);
    // The gateway cannot take notifications: Graph retries, gives up, and says `missed`.
    rig.front.refuse = /\/notifications$/;
    rig.graph.agentReply({ rootId, text: 'two' });
    rig.graph.agentReply({ rootId, text: 'three' });
    await rig.graph.ledger.waitFor('notification.outcome', {
      count: 2,
      where: (e) => e.outcome === 'gave_up',
    });
    rig.front.refuse = null;
    expect(await sentTexts(rig, conversation.id, 3)).toEqual(['one', 'two', 'three']);
    expect(
      rig.graph.ledger.count('notification.attempt', (e) => e.lifecycle === 'missed'),
    ).toBeGreaterThanOrEqual(1);
  });
});

describe('limits and failures', () => {
  it('waits out Graph throttling (429 + Retry-After) without losing or duplicating a message', async () => {
    rig = await startRig({
      config: { pacing: false },
      graph: { limits: { channelRequestsPerSecond: 2, channelBurst: 2 } },
    });
    const { bridge, graph, clock } = rig;
    const texts = Array.from({ length: 12 }, (_, i) => `throttled ${i}`);
    for (const text of texts) await bridge.customerText(text, { waId: '15551060606' });
    // Retry-After is honoured by the queue on the test clock: move it instead of sleeping.
    for (let i = 0; i < 60; i++) {
      await bridge.worker.drain();
      const teams = (await bridge.store.jobStats()).byConnector.teams;
      if (!teams || teams.ready === 0) break;
      clock.advance(1000);
    }
    const rootId = await rig.root((await rig.conversation('15551060606')).id);
    expect(graph.replies(rootId).map((m) => plainText(m.body))).toEqual(texts);
    expect(graph.ledger.count('throttled', (e) => e.rule === 'channel_rate')).toBeGreaterThan(0);
    expect(await bridge.store.listDeadJobs()).toEqual([]);
  });

  it('loses and duplicates nothing through a 10-minute Graph outage', async () => {
    rig = await startRig({ backoff: { baseMs: 1000, factor: 2, capMs: 300_000, maxAttempts: 20 } });
    const { bridge, graph, clock } = rig;
    const { conversation, rootId } = await thread(rig, '15551070707');
    graph.setOutage(true);
    const texts = Array.from({ length: 5 }, (_, i) => `during the outage ${i}`);
    for (const text of texts) await bridge.customerText(text, { waId: '15551070707' });
    graph.agentReply({ rootId, text: 'typed during the outage' });
    for (let elapsed = 0; elapsed < 10 * MINUTE; elapsed += 30_000) {
      await bridge.worker.drain();
      await rig.maintain().catch(() => {}); // upkeep fails during the outage and is retried
      clock.advance(30_000);
    }
    expect(graph.replies(rootId).filter((m) => m.postedBy === 'bridge')).toHaveLength(1);
    graph.setOutage(false); // Graph says `missed` for what it withheld
    await rig.until(async () => ((await rig?.outbound(conversation.id))?.length ? true : undefined));
    for (let i = 0; i < 20; i++) {
      await bridge.worker.drain();
      const teams = (await bridge.store.jobStats()).byConnector.teams;
      if (!teams || teams.ready === 0) break;
      clock.advance(30_000);
    }
    await graph.idle();
    const mirrored = graph.replies(rootId).map((m) => plainText(m.body));
    expect(mirrored.filter((t) => texts.includes(t))).toEqual(texts);
    expect(await sentTexts(rig, conversation.id, 1)).toEqual(['typed during the outage']);
    expect(await bridge.store.listDeadJobs()).toEqual([]);
  });

  it('stops at the daily channel limit with an alert, and resumes the next day', async () => {
    const { memoryLogger } = await import('@wabridge/core');
    const logger = memoryLogger();
    rig = await startRig({ config: { dailyMessageLimit: 4, dailyAlertRatio: 0.75 }, logger });
    const { bridge, graph, clock } = rig;
    // From the next noon UTC, so that the day cannot turn while the five messages are counted.
    const day = 24 * 3600_000;
    clock.advance(Math.ceil((clock.now() - day / 2) / day) * day + day / 2 - clock.now());
    const texts = ['a', 'b', 'c', 'd', 'e'];
    for (const text of texts) await bridge.customerText(text, { waId: '15551080808' });
    await bridge.worker.drain();
    const rootId = await rig.root((await rig.conversation('15551080808')).id);
    expect(graph.replies(rootId).map((m) => plainText(m.body))).toEqual(['a', 'b', 'c']);
    expect(
      logger.records.some((r) => r.level === 'warn' && r.msg?.includes('close to its daily message limit')),
    ).toBe(true);
    expect(
      logger.records.some((r) => r.level === 'error' && r.msg?.includes('reached its daily message limit')),
    ).toBe(true);
    const tomorrow =
      new Date(new Date(clock.now()).toISOString().slice(0, 10)).getTime() + 24 * 3600_000 + 1000;
    clock.advance(tomorrow - clock.now());
    await rig.settle();
    expect(graph.replies(rootId).map((m) => plainText(m.body))).toEqual(texts);
    expect(await bridge.store.listDeadJobs()).toEqual([]);
  });
});
