/**
 * Teams pacing and reply latency, through the whole core (SQLite queue, worker, connector, the
 * official Graph client and MSAL) against the Graph emulator with Graph's limits (4 requests/s
 * and burst 4 per channel).
 *
 * 1. Backlog: `--messages` customer messages in `--conversations` conversations of one channel,
 *    mirrored at the connector's message pace `--rate` (messages/s per channel, `--burst` back to
 *    back; requests/s capped at max(3, rate)). Prints the sustained rate, the busiest one-second
 *    window the emulator saw on the channel, and the 429s.
 * 2. Replies: `--replies` agent replies in Teams, one at a time; the time from the reply to the
 *    outbound WhatsApp message recorded by the core (notification → handshake-free fetch →
 *    command → store). Prints p50 / p95 / max.
 *
 *   node packages/connector-teams/bench/throughput.ts                      # 40 messages at 1/s
 *   node packages/connector-teams/bench/throughput.ts --rate 4 --burst 4 --messages 100
 */
import { parseArgs } from 'node:util';
import { startRig } from '../test/support.ts';

const { values } = parseArgs({
  options: {
    messages: { type: 'string', default: '40' },
    conversations: { type: 'string', default: '2' },
    rate: { type: 'string', default: '1' },
    burst: { type: 'string', default: '1' },
    replies: { type: 'string', default: '20' },
  },
});
const total = Number(values.messages);
const conversations = Number(values.conversations);
const rate = Number(values.rate);
const burst = Number(values.burst);
const replies = Number(values.replies);

const rig = await startRig({
  graph: { limits: { channelRequestsPerSecond: 4, channelBurst: 4 } },
  config: { pacing: { requestsPerSecond: Math.max(3, rate), messagesPerSecond: rate, messageBurst: burst } },
});
const { bridge, graph } = rig;

try {
  // --- 1. backlog -------------------------------------------------------------------------------
  const expected = new Map<string, string[]>();
  const t0 = Date.now() - 3_600_000;
  for (let c = 0; c < conversations; c++) {
    const waId = `1555099${String(c).padStart(4, '0')}`;
    const texts: string[] = [];
    for (let i = c; i < total; i += conversations) {
      const text = `c${c} #${i}`;
      texts.push(text);
      await bridge.customerText(text, { waId, name: `Customer ${c}`, timestamp: t0 + i * 1000 });
    }
    expected.set(waId, texts);
  }
  const mark = graph.ledger.mark();
  const started = performance.now();
  await rig.settle(30 * 60_000);
  const seconds = (performance.now() - started) / 1000;
  const posts = total + conversations;
  let ordered = true;
  for (const [waId, texts] of expected) {
    const rootId = await rig.root((await rig.conversation(waId)).id);
    const shown = graph.replies(rootId).map((m) => m.body.content.replace(/<[^>]+>/g, ''));
    if (JSON.stringify(shown) !== JSON.stringify(texts)) ordered = false;
  }
  const requests = graph.ledger
    .since(mark)
    .filter((e) => e.kind === 'api.request' && e.path.includes('/channels/'))
    .map((e) => (e as { receivedAt: number }).receivedAt)
    .sort((a, b) => a - b);
  let busiest = 0;
  for (let i = 0, j = 0; i < requests.length; i++) {
    while ((requests[i] as number) - (requests[j] as number) >= 1000) j++;
    busiest = Math.max(busiest, i - j + 1);
  }
  const throttled = graph.ledger.since(mark).filter((e) => e.kind === 'throttled').length;
  process.stdout.write(
    `backlog: ${posts} posts (${conversations} threads) in ${seconds.toFixed(1)} s = ${(posts / seconds).toFixed(2)} posts/s at a message pace of ${rate}/s burst ${burst}; ` +
      `busiest 1-s window on the channel: ${busiest} requests (Graph allows 4); 429s: ${throttled}; order kept: ${ordered}; dead jobs: ${(await bridge.store.listDeadJobs()).length}\n`,
  );

  // --- 2. reply latency -------------------------------------------------------------------------
  await rig.maintain();
  const [waId] = expected.keys();
  const conversation = await rig.conversation(waId as string);
  const rootId = await rig.root(conversation.id);
  const latencies: number[] = [];
  for (let i = 0; i < replies; i++) {
    const before = (await rig.outbound(conversation.id)).length;
    const at = performance.now();
    graph.agentReply({ rootId, text: `agent reply ${i}` });
    for (;;) {
      if ((await rig.outbound(conversation.id)).length > before) break;
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
    latencies.push(performance.now() - at);
    await new Promise((resolve) => setTimeout(resolve, 300)); // one reply at a time, as people type
  }
  latencies.sort((a, b) => a - b);
  const pct = (p: number) =>
    (latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] ?? 0).toFixed(1);
  process.stdout.write(
    `replies: ${replies} agent replies, Teams reply → outbound WhatsApp message recorded: p50 ${pct(0.5)} ms, p95 ${pct(0.95)} ms, max ${pct(1)} ms\n`,
  );
} finally {
  await rig.close();
}
