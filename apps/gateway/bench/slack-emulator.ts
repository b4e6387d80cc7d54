// npm run bench:slack-emulator [-- threads (20000)] — the Slack emulator's own CPU per call
// once its one channel is as full as the campaign bench makes it (`npm run bench:campaign`: a card
// per conversation and a reply in each). Fills the channel with `threads` cards and one reply each,
// then times 2,000 pairs of a reply in a thread and an update of a reply (what a campaign's mirrors
// do), 32 at a time, and prints the process's CPU per pair. The emulator runs in the campaign
// bench's own process; when its CPU per call grows with the channel, its calls slow down for the
// gateway and the bench measures the emulator (docs/performance.md, 2026-12-07).
import { startSlackEmulator } from '@wabridge/sandbox/slack';

const N = Number(process.argv[2] ?? 20000);
const slack = await startSlackEmulator({
  signingSecret: 'x',
  botToken: 'xoxb-bench',
  channels: [{ id: 'C0CAMPAIGN1', name: 'c' }],
  rateLimits: {
    postsPerChannel: { perSecond: 1e6, burst: 1e6 },
    tiers: { tier2: 1e6, tier3: 1e7, tier4: 1e7 },
  },
});
const call = async (method: string, body: Record<string, unknown>) => {
  const r = await fetch(`${slack.apiUrl}${method}`, {
    method: 'POST',
    headers: { authorization: 'Bearer xoxb-bench', 'content-type': 'application/json; charset=utf-8' },
    body: JSON.stringify(body),
  });
  const j = (await r.json()) as { ok: boolean; ts: string; error?: string };
  if (!j.ok) throw new Error(`${method}: ${j.error}`);
  return j;
};
const roots: string[] = [];
const replies: string[] = [];
const width = 32;
const fill = async (count: number, work: (i: number) => Promise<void>) => {
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      for (let i = next++; i < count; i = next++) await work(i);
    }),
  );
};
await fill(N, async (i) => {
  roots[i] = (await call('chat.postMessage', { channel: 'C0CAMPAIGN1', text: `card ${i}` })).ts;
});
await fill(N, async (i) => {
  replies[i] = (
    await call('chat.postMessage', { channel: 'C0CAMPAIGN1', thread_ts: roots[i], text: `in ${i}` })
  ).ts;
});
const M = 2000;
const c0 = process.cpuUsage();
const t0 = performance.now();
await fill(M, async (i) => {
  const k = Math.floor((i * 7919) % N);
  await call('chat.postMessage', { channel: 'C0CAMPAIGN1', thread_ts: roots[k], text: `out ${i}` });
  await call('chat.update', { channel: 'C0CAMPAIGN1', ts: replies[k], text: `read ${i}` });
});
const cpu = process.cpuUsage(c0);
process.stdout.write(
  `N=${N}: ${M} (post reply + update) pairs: ${((cpu.user + cpu.system) / M).toFixed(0)} µs CPU per pair, wall ${(performance.now() - t0).toFixed(0)} ms\n`,
);
await slack.close();
