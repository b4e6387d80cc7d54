/**
 * Cost of one Slack callback in the connector's inbound side (signature, Bolt's `App`, commands):
 * `--callbacks` signed thread replies handed to `inbound.handle` one after the other, as the
 * gateway's hooks route does, without recording their commands (only the connector is timed).
 *
 *   node packages/connector-slack/bench/inbound.ts --callbacks 2000
 */

import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { createTestBridge } from '@wabridge/whatsapp/testing';
import { slackConnector } from '../src/index.ts';
import { SUPPORT, startSlack } from '../test/kit.ts';

const { values } = parseArgs({ options: { callbacks: { type: 'string', default: '2000' } } });
const total = Number(values.callbacks);
const { slack, config } = await startSlack({ echoBotMessages: false });
const bridge = await createTestBridge({
  manifests: [slackConnector],
  connectors: { slack: config as Record<string, unknown> },
});
await bridge.customerText('hello', { waId: '447700900999' });
await bridge.worker.drain();
const root = slack.history(SUPPORT)[0];
if (!root) throw new Error('nothing mirrored');
const instance = await bridge.host.instance(bridge.workspaceId, 'slack');
const body = (i: number) =>
  JSON.stringify({
    type: 'event_callback',
    team_id: slack.teamId,
    api_app_id: slack.appId,
    event_id: `Ev${i}`,
    event: {
      type: 'message',
      channel: SUPPORT,
      user: 'U0AGENT01',
      text: `reply ${i}`,
      ts: `${Number(root.ts.split('.')[0]) + 10}.${String(i).padStart(6, '0')}`,
      thread_ts: root.ts,
    },
  });
const requests = Array.from({ length: total }, (_, i) => {
  const text = body(i);
  return {
    request: slack.signedRequest('http://gateway.test/events', text),
    raw: new TextEncoder().encode(text),
  };
});
const durations: number[] = [];
let commands = 0;
for (const { request, raw } of requests) {
  const started = performance.now();
  const result = await instance!.inbound!.handle(request, {
    path: '/events',
    rawBody: raw,
    findRefByExternalId: async () => null,
  });
  durations.push(performance.now() - started);
  commands += result.commands.length;
}
durations.sort((a, b) => a - b);
const at = (q: number) =>
  durations[Math.min(durations.length - 1, Math.floor(q * durations.length))]!.toFixed(3);
process.stdout.write(
  `${total} callbacks, ${commands} commands: p50 ${at(0.5)} ms, p99 ${at(0.99)} ms, max ${at(1)} ms\n`,
);
await bridge.close();
await slack.close();
