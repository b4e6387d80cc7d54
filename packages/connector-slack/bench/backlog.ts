/**
 * Backlog drain at Slack's channel limit (issue 3, acceptance 5): a backlog of messages for one
 * channel is mirrored through the whole core (SQLite queue, worker, connector, real
 * `@slack/web-api`) into the Slack emulator limiting `chat.postMessage` to `--rate` per second in
 * that channel. Prints the order check, the 429 rate and the sustained rate against the allowed one.
 *
 *   node packages/connector-slack/bench/backlog.ts                       # 200 messages at 1/s (≈ 3.5 min)
 *   node packages/connector-slack/bench/backlog.ts --rate 25 --messages 500 --conversations 10 --burst 3
 *
 * `--burst` is the emulator's allowance for short bursts (Slack grants some; 1 = none, the strict case).
 */
import { parseArgs } from 'node:util';
import { SUPPORT } from '../test/kit.ts';
import { startWorld } from '../test/world.ts';

const { values } = parseArgs({
  options: {
    rate: { type: 'string', default: '1' },
    messages: { type: 'string', default: '200' },
    conversations: { type: 'string', default: '1' },
    burst: { type: 'string', default: '1' },
  },
});
const rate = Number(values.rate);
const total = Number(values.messages);
const conversations = Number(values.conversations);
const burst = Number(values.burst);

const world = await startWorld({
  slack: {
    rateLimits: {
      postsPerChannel: { perSecond: rate, burst },
      tiers: { tier2: 20 * Math.max(1, rate), tier3: 50 * Math.max(1, rate), tier4: 100 * Math.max(1, rate) },
    },
  },
  config: {
    postsPerSecondPerChannel: rate,
    tier3PerMinute: 50 * Math.max(1, rate),
    tier4PerMinute: 100 * Math.max(1, rate),
  },
});

try {
  const perConversation = Math.ceil(total / conversations);
  const expected = new Map<string, string[]>();
  const t0 = Date.now() - 3_600_000;
  for (let c = 0; c < conversations; c++) {
    const waId = `4477009005${String(c).padStart(2, '0')}`;
    const customer = world.wa.customer({ waId, name: `Customer ${c}` });
    const texts = Array.from(
      { length: Math.min(perConversation, total - c * perConversation) },
      (_, i) => `c${c} #${i}`,
    );
    expected.set(waId, texts);
    for (const [i, text] of texts.entries()) await customer.sendText(text, { timestamp: t0 + i * 1000 + c });
  }
  const posts = total + conversations; // each thread starts with its card
  process.stdout.write(
    `backlog: ${total} messages in ${conversations} conversation(s), one channel; Slack allows ${rate} post/s (burst ${burst})\n`,
  );
  const started = performance.now();
  world.bridge.worker.start();
  let last = 0;
  await world.slack.ledger.waitUntil(
    (ledger) => {
      const done = ledger.count('message.posted', (e) => e.bot && e.channel === SUPPORT);
      if (done - last >= Math.max(10, Math.round(posts / 10))) {
        last = done;
        process.stdout.write(
          `  ${done}/${posts} posted after ${((performance.now() - started) / 1000).toFixed(1)} s\n`,
        );
      }
      return done >= posts;
    },
    (posts / rate) * 3000 + 60_000,
  );
  await world.bridge.worker.drain();

  const postedAt = world.slack.ledger
    .filter('message.posted', (e) => e.bot && e.channel === SUPPORT)
    .map((e) => e.at);
  const first = postedAt[0] ?? 0;
  const lastAt = postedAt[postedAt.length - 1] ?? 0;
  const sustained = (postedAt.length - 1) / ((lastAt - first) / 1000);
  const calls = world.slack.ledger.count('api.call');
  const limited = world.slack.ledger.count('api.rate_limited');
  let inOrder = true;
  let once = true;
  for (const [waId, texts] of expected) {
    const shown = (await world.thread(waId)).slice(1).map((m) => m.text);
    if (shown.length !== texts.length || new Set(shown).size !== shown.length) once = false;
    if (JSON.stringify(shown) !== JSON.stringify(texts)) inOrder = false;
  }
  const dead = (await world.bridge.store.listDeadJobs()).length;
  const lines = [
    `posts: ${postedAt.length} (${total} messages + ${conversations} card(s)) in ${((lastAt - first) / 1000).toFixed(1)} s`,
    `in WhatsApp order: ${inOrder ? 'yes' : 'NO'}; each once: ${once ? 'yes' : 'NO'}; dead jobs: ${dead}`,
    `Web API calls: ${calls}; 429 answers: ${limited} (${((limited / calls) * 1000).toFixed(2)} per 1,000 calls; target ≤ 5)`,
    `sustained rate: ${sustained.toFixed(3)} posts/s = ${((sustained / rate) * 100).toFixed(1)}% of the allowed ${rate}/s (target ≥ 95%)`,
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
  if (!inOrder || !once || dead > 0) process.exitCode = 1;
} finally {
  await world.close();
}
