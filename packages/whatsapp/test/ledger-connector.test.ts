import {
  type LedgerTarget,
  ledgerConnector,
  signLedgerCallback,
  startLedgerTarget,
} from '@wabridge/core/testing';
import { describeConnectorConformance } from '../src/testing/connector-conformance.ts';

// The conformance suite proves itself on the test connector: if the suite could not fail, the
// ledger platform (which is not idempotent) would show duplicates here.
let target: LedgerTarget;
const secret = 'ledger-secret-123';

describeConnectorConformance('ledger', {
  manifest: ledgerConnector,
  async start() {
    target = await startLedgerTarget();
    return { config: { url: target.url, secret }, stop: () => target.close() };
  },
  async mirrored(_bridge, conversationId) {
    return target.effects
      .filter((e) => e.conversation === conversationId && e.eventType.startsWith('message.'))
      .map((e) => e.text ?? '');
  },
  failNext(failure) {
    target.failNext(failure === 'rate_limited' ? 429 : failure === 'unavailable' ? 503 : 400);
  },
  inbound: {
    async forged() {
      const body = JSON.stringify({ id: 'forged-1', thread: 'thread-x', text: 'hi', user: 'mallory' });
      return new Request('http://gateway.test/hooks/ledger/ws-test', {
        method: 'POST',
        body,
        headers: { 'x-ledger-signature': signLedgerCallback('wrong-secret-1', body) },
      });
    },
    async echo(_bridge, conversationId) {
      const effect = target.effects.find(
        (e) => e.conversation === conversationId && e.eventType === 'message.inbound',
      );
      if (!effect) throw new Error('nothing was mirrored');
      const body = JSON.stringify({
        id: effect.id,
        thread: effect.thread,
        text: effect.text,
        user: 'wabridge-bot',
      });
      return new Request('http://gateway.test/hooks/ledger/ws-test', {
        method: 'POST',
        body,
        headers: { 'x-ledger-signature': signLedgerCallback(secret, body) },
      });
    },
  },
});
