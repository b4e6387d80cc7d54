import { type SendRequest, WabridgeError, WHATSAPP_SENDER } from '@wabridge/core';
import { type LedgerTarget, ledgerConnector, startLedgerTarget } from '@wabridge/core/testing';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { SendHandler } from '../../src/sender.ts';
import { createTestBridge, type TestBridge } from '../../src/testing/bridge.ts';

// The WhatsApp sender is a connector like the others (internal): its `send` jobs are claimed,
// delivered and settled by the worker's one delivery path, a single job being a batch of one.
describe('the WhatsApp sender as an internal connector', () => {
  let target: LedgerTarget;
  let bridge: TestBridge;
  const sent: SendRequest[] = [];
  let refuse = false;
  // The worker's clock, moved by hand past each retry's back-off: no sleeping.
  let clock = Date.now();
  const sender: SendHandler = {
    send: async (request) => {
      sent.push(request);
      if (refuse) throw new WabridgeError('transient', 'boom');
    },
  };

  beforeEach(async () => {
    sent.length = 0;
    refuse = false;
    clock = Date.now();
    target = await startLedgerTarget();
    bridge = await createTestBridge({
      manifests: [ledgerConnector],
      connectors: { ledger: { url: target.url, secret: 'ledger-secret-123' } },
      sender,
      backoff: { maxAttempts: 2 },
      now: () => clock,
    });
  });
  afterEach(async () => {
    await bridge?.close();
    await target?.close();
  });

  async function reply(id: string) {
    await bridge.customerText('Hello');
    const conversation = await bridge.conversationOf();
    await bridge.store.recordOutbound({
      commandKey: { source: 'ledger', key: id },
      workspaceId: bridge.workspaceId,
      conversationId: conversation?.id ?? '',
      message: {
        id,
        type: 'text',
        text: 'Hi there',
        content: {},
        sender: { via: 'ledger', agentId: 'a1', agentName: 'Bo' },
        relatesTo: null,
        timestamp: clock,
      },
      originRef: null,
    });
  }

  it('is hidden from users and gets the send job as a SendRequest, under its lease', async () => {
    expect(bridge.registry.list().map((m) => m.id)).toEqual(['ledger']);
    expect(bridge.registry.resolve(WHATSAPP_SENDER)?.internal).toBe(true);
    await reply('msg_one');
    await bridge.worker.drain();
    expect(sent).toEqual([
      expect.objectContaining({
        type: 'message.send',
        id: 'send:msg_one',
        workspaceId: bridge.workspaceId,
        messageId: 'msg_one',
        attempts: 1,
      }),
    ]);
    expect((await bridge.store.jobStats()).byConnector[WHATSAPP_SENDER]).toBeUndefined();
    expect(bridge.metrics.counters.get('jobs_delivered_total') ?? 0).toBeGreaterThan(0);
  });

  it('settles a failed send like any delivery: retried, then dead-lettered with the reason', async () => {
    refuse = true;
    await reply('msg_two');
    await bridge.worker.drain();
    expect(await bridge.store.listDeadJobs()).toEqual([]);
    clock += 60_000;
    await bridge.worker.drain();
    const dead = await bridge.store.listDeadJobs();
    expect(dead).toEqual([
      expect.objectContaining({ connectorId: WHATSAPP_SENDER, eventType: 'send', entityId: 'msg_two' }),
    ]);
    expect(dead[0]?.reason).toContain('boom');
    expect(sent.map((r) => r.attempts)).toEqual([1, 2]);
  });
});
