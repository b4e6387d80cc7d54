/**
 * Two workers, one Slack channel (issue 21, acceptance 2): a backlog of messages for one channel,
 * drained by two workers on one Postgres database, each with its own pool and Slack connector
 * instance, into the Slack emulator allowing `--rate` posts per second in the channel. Runs the
 * same backlog twice in this run: pacing through the store's shared ledger, and each worker
 * pacing alone (the baseline); prints 429s per 1,000 calls and the sustained rate of each against
 * the allowed one.
 *
 *   node packages/connector-slack/bench/shared-pacing.ts                  # 200 messages at 1/s (≈ 2 × 3.5 min)
 *   node packages/connector-slack/bench/shared-pacing.ts --rate 10 --only shared
 *
 * Needs Postgres (WABRIDGE_TEST_DATABASE_URL, default the local test database).
 */
import { parseArgs } from 'node:util';
import { drainWithWorkers, sustainedRate } from '../test/shared-pacing.ts';

const { values } = parseArgs({
  options: {
    rate: { type: 'string', default: '1' },
    burst: { type: 'string', default: '1' },
    messages: { type: 'string', default: '200' },
    conversations: { type: 'string', default: '10' },
    workers: { type: 'string', default: '2' },
    only: { type: 'string' },
  },
});
const rate = Number(values.rate);
const conversations = Number(values.conversations);
const backlog = {
  rate,
  burst: Number(values.burst),
  workers: Number(values.workers),
  conversations,
  perConversation: Math.ceil(Number(values.messages) / conversations),
};
process.stdout.write(
  `backlog: ${backlog.conversations * backlog.perConversation} messages in ${conversations} conversations, one channel, ${backlog.workers} workers; Slack allows ${rate} post/s (burst ${backlog.burst})\n`,
);
const modes = values.only ? [values.only === 'shared'] : [true, false];
for (const shared of modes) {
  const started = performance.now();
  let shown = 0;
  const report = await drainWithWorkers({
    ...backlog,
    shared,
    progress: (posted, of) => {
      if (posted - shown < Math.max(10, Math.round(of / 10))) return;
      shown = posted;
      process.stdout.write(
        `  ${posted}/${of} posted after ${((performance.now() - started) / 1000).toFixed(1)} s\n`,
      );
    },
  });
  const sustained = sustainedRate(report.postedAt);
  const inOrder = report.threads.every((t) => JSON.stringify(t.shown) === JSON.stringify(t.sent));
  process.stdout.write(
    [
      `${shared ? 'shared ledger' : 'each worker alone (baseline)'}:`,
      `  posts: ${report.postedAt.length}; in WhatsApp order, once: ${inOrder ? 'yes' : 'NO'}; dead jobs: ${report.deadJobs}`,
      `  Web API calls: ${report.calls}; 429 answers: ${report.limited} (${((report.limited / report.calls) * 1000).toFixed(1)} per 1,000 calls; target ≤ 5)`,
      `  sustained rate: ${sustained.toFixed(3)} posts/s = ${((sustained / rate) * 100).toFixed(1)}% of the allowed ${rate}/s (target ≥ 95%)`,
      '',
    ].join('\n'),
  );
  if (!inOrder || report.deadJobs > 0) process.exitCode = 1;
}
