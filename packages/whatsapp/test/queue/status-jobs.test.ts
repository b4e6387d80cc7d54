import type { ConnectorManifest } from '@wabridge/core';
import { type LedgerTarget, ledgerConnector, startLedgerTarget } from '@wabridge/core/testing';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { SendHandler } from '../../src/sender.ts';
import {
  createTestBridge,
  TEST_DISPLAY_NUMBER,
  TEST_PHONE_NUMBER_ID,
  type TestBridge,
} from '../../src/testing/bridge.ts';

// What a status job costs a connector: only the statuses it shows reach it, and a job completed
// without calling it is counted as skipped, never as a delivery (the figure a status storm is
// judged by, see tests/e2e/src/status-storm.test.ts).
describe('status jobs a connector does not show', () => {
  let target: LedgerTarget;
  let bridge: TestBridge;
  const WAMID = 'wamid.status-jobs.out.1';

  /** The ledger mirror, showing only failures (as HubSpot does). */
  const failuresOnly: ConnectorManifest = {
    ...ledgerConnector,
    capabilities: { ...ledgerConnector.capabilities, statuses: ['failed'] },
  };
  // The send succeeds with a fixed wamid, so status webhooks find the message.
  const sender: SendHandler = {
    send: async (request) => bridge.store.markAccepted(request.lease, request.messageId, WAMID),
  };

  beforeEach(async () => {
    target = await startLedgerTarget();
    bridge = await createTestBridge({
      manifests: [failuresOnly],
      connectors: { ledger: { url: target.url, secret: 'ledger-secret-123' } },
      sender,
    });
  });
  afterEach(async () => {
    await bridge?.close();
    await target?.close();
  });

  const status = (value: string, seconds: number, errors?: unknown[]) =>
    bridge.ingest({
      object: 'whatsapp_business_account',
      entry: [
        {
          id: '102290129340398',
          changes: [
            {
              field: 'messages',
              value: {
                messaging_product: 'whatsapp',
                metadata: {
                  display_phone_number: TEST_DISPLAY_NUMBER,
                  phone_number_id: TEST_PHONE_NUMBER_ID,
                },
                statuses: [
                  {
                    id: WAMID,
                    status: value,
                    timestamp: String(Math.floor(Date.now() / 1000) + seconds),
                    recipient_id: '15550001111',
                    ...(errors ? { errors } : {}),
                  },
                ],
              },
            },
          ],
        },
      ],
    });

  const counter = (name: string, labels: Record<string, string>) =>
    bridge.metrics.counters.get(`${name}${JSON.stringify(Object.entries(labels).sort())}`) ?? 0;

  it('completes sent, delivered and read without a delivery, counted as skipped; a failure is delivered', async () => {
    await bridge.customerText('Hello');
    const conversation = await bridge.conversationOf();
    await bridge.store.recordOutbound({
      commandKey: { source: 'test', key: 'campaign-1' },
      workspaceId: bridge.workspaceId,
      conversationId: conversation?.id ?? '',
      message: {
        id: 'msg_campaign_1',
        type: 'text',
        text: 'Your order ships today',
        content: {},
        sender: { via: 'api', agentId: null, agentName: 'Campaign' },
        relatesTo: null,
        timestamp: Date.now(),
      },
      originRef: null,
    });
    await bridge.worker.drain();
    const mirrored = target.effects.length;
    // One at a time, each drained before the next: nothing is superseded, every job is claimed.
    for (const [k, value] of ['sent', 'delivered', 'read'].entries()) {
      await status(value, k + 1);
      await bridge.worker.drain();
    }
    const shown = { connector: 'ledger', event: 'message.status' };
    expect(target.effects.length).toBe(mirrored);
    expect(counter('jobs_delivered_total', shown)).toBe(0);
    expect(counter('jobs_skipped_total', { ...shown, reason: 'not_shown' })).toBe(3);

    await status('failed', 10, [{ code: 131026, title: 'Message undeliverable' }]);
    await bridge.worker.drain();
    expect(counter('jobs_delivered_total', shown)).toBe(1);
    expect(target.effects.length).toBe(mirrored + 1);
    expect((await bridge.store.jobStats()).ready).toBe(0);
  });
});
