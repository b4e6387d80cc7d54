import { type ConnectorState, MemoryPaceLedger, type PaceGrant, type PaceRule } from '@wabridge/core';
import { describe, expect, it } from 'vitest';
import { ChannelPacer } from './pacing.ts';

const channel = { teamId: 'team-1', channelId: '19:general@thread.tacv2' };

describe('ChannelPacer.beforeNewMessage', () => {
  it('takes the request slot last, after the daily count and the marker, right before the request leaves', async () => {
    const steps: string[] = [];
    const inner = new MemoryPaceLedger();
    const ledger = {
      async reserve(lane: string, rule: PaceRule, maxWaitMs: number): Promise<PaceGrant> {
        steps.push(`slot:${lane.split(':')[0]}`);
        return inner.reserve(lane, rule, maxWaitMs);
      },
      claimSend: (lane: string, spacingMs: number) => inner.claimSend(lane, spacingMs),
      block: (lane: string, rule: PaceRule, retryAfterMs: number) => inner.block(lane, rule, retryAfterMs),
    };
    const state = {
      async count() {
        steps.push('daily count');
        return 1;
      },
    } as unknown as ConnectorState;
    const pacer = new ChannelPacer(
      {
        pacing: { requestsPerSecond: 3, messagesPerSecond: 1, messageBurst: 1 },
        dailyMessageLimit: 3000,
        dailyAlertRatio: 0.8,
      },
      { state, logger: silent, now: () => Date.parse('2026-12-07T12:00:00Z'), pacing: ledger },
    );
    await pacer.beforeNewMessage(channel, new AbortController().signal, async () => {
      steps.push('marker');
    });
    expect(steps).toEqual(['slot:messages', 'daily count', 'marker', 'slot:requests']);
  });
});

const silent = {
  debug() {},
  info() {},
  warn() {},
  error() {},
  child() {
    return silent;
  },
} as never;
