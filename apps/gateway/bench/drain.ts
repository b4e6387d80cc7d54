// npm run bench:drain — delivery alone: the CPU a delivered job costs the gateway, without ingest.
// A backlog of signed text webhooks (every one of 2,000 customers once, then --jobs more in
// seeded random order) is stored by the gateway with its worker off; then the gateway starts with
// its worker on and delivers it to the ledger target over HTTP, and its threads' CPU (from /proc,
// from ready to the empty queue) is divided by the jobs. With nothing arriving meanwhile, the
// figure does not depend on how webhooks and jobs happened to share the store thread's batches,
// which is what makes `bench:e2e`'s CPU per job vary by a quarter between runs on a busy machine.
// Options: --jobs 10000  --rounds 3
//          --variants 'A,B' (gateway environments to alternate, round by round; each is
//          `NAME=value` pairs joined by `+`, empty for none: --variants ',WORKER_CONCURRENCY=64')
// Through npm, options follow a `--`: npm run bench:drain -- --variants ',WORKER_CONCURRENCY=64'
import { type ChildProcess, spawn } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { parseArgs } from 'node:util';
import { freePort, seededRandom } from '@wabridge/core/testing';
import { customerMessage } from '@wabridge/whatsapp/testing';
import { byThread, cpuPerUnit, cpuSeconds, gatewayEnv, metaWamid, SERVE_NODE_FLAGS } from './support.ts';

const { values } = parseArgs({
  options: {
    jobs: { type: 'string', default: '10000' },
    rounds: { type: 'string', default: '3' },
    variants: { type: 'string', default: '' },
  },
});
const jobs = Number(values.jobs);
const rounds = Number(values.rounds);
if (![jobs, rounds].every((n) => Number.isInteger(n) && n > 0))
  throw new Error('--jobs and --rounds take positive whole numbers');
const variants = values.variants.split(',').map((variant) => ({
  name: variant || 'default',
  env: Object.fromEntries(
    variant
      .split('+')
      .filter(Boolean)
      .map((pair) => {
        const at = pair.indexOf('=');
        if (at < 1) throw new Error(`--variants: "${pair}" is not NAME=value`);
        return [pair.slice(0, at), pair.slice(at + 1)];
      }),
  ),
}));
const SECRET = 'bench-app-secret';
const CUSTOMERS = 2_000;
const SERVERS = new URL('./e2e-servers.ts', import.meta.url).pathname;
const scratch = mkdtempSync(join(tmpdir(), 'wabridge-bench-drain-'));
const out = (line: string) => process.stdout.write(`${line}\n`);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const random = seededRandom(20_261_206);

let sequence = 0;
function signedWebhooks(count: number, everyCustomer: boolean) {
  return Array.from({ length: count }, (_, i) => {
    const customer = everyCustomer ? i % CUSTOMERS : Math.floor(random() * CUSTOMERS);
    const waId = `1555${String(customer).padStart(7, '0')}`;
    const body = JSON.stringify(
      customerMessage(
        metaWamid(waId),
        { type: 'text', text: { body: `bench ${++sequence}: does it come in another color?` } },
        { waId, name: `Bench Customer ${customer}`, timestamp: Date.now() + i },
      ),
    );
    return { body, signature: `sha256=${createHmac('sha256', SECRET).update(body).digest('hex')}` };
  });
}

/** Stores the webhooks over 64 connections; one refused (503 under load) is sent again until stored. */
async function store(port: number, webhooks: { body: string; signature: string }[]): Promise<void> {
  const agent = new Agent({ keepAlive: true, maxSockets: 64, timeout: 4000 });
  const post = (webhook: { body: string; signature: string }) =>
    new Promise<number>((resolve) => {
      const req = request(
        {
          agent,
          host: '127.0.0.1',
          port,
          method: 'POST',
          path: '/webhooks/whatsapp',
          headers: { 'content-type': 'application/json', 'x-hub-signature-256': webhook.signature },
        },
        (res) => {
          res.resume();
          res.once('end', () => resolve(res.statusCode ?? 0));
        },
      );
      req.once('error', () => resolve(0));
      req.end(webhook.body);
    });
  let next = 0;
  await Promise.all(
    Array.from({ length: 64 }, async () => {
      while (next < webhooks.length) {
        const webhook = webhooks[next++] as { body: string; signature: string };
        while ((await post(webhook)) !== 200) await sleep(50);
      }
    }),
  );
  agent.destroy();
}

const started: ChildProcess[] = [];
process.once('exit', () => {
  for (const child of started)
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
});
async function startChild(mode: 'target' | 'setup' | 'gateway' | 'ingest', env: NodeJS.ProcessEnv) {
  // The gateway runs with serve's V8 flags (bin/memory.mjs), as in the other benches: without them
  // its main thread had V8's own heap sizing, not what `serve` runs.
  const serving = mode === 'gateway' || mode === 'ingest';
  const flags = ['--disable-warning=ExperimentalWarning', ...(serving ? SERVE_NODE_FLAGS : [])];
  const child = spawn(process.execPath, [...flags, SERVERS, mode], {
    env,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  started.push(child);
  const ready = await new Promise<string>((resolve, reject) => {
    let text = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      text += chunk.toString();
      const line = text
        .split('\n')
        .slice(0, -1)
        .find((l) => l.startsWith('ready'));
      if (line !== undefined) resolve(line.slice('ready'.length).trim());
    });
    child.once('exit', (code) => reject(new Error(`${mode} exited with ${code} before it was ready`)));
  });
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    await exited;
  };
  return { ready, stop };
}

const target = await startChild('target', { ...process.env, PORT: String(await freePort()) });
const results = new Map<string, { cpu: number; rate: number }[]>();
out(
  `wabridge delivery-only benchmark — ${jobs} jobs a run, ${rounds} rounds of ${variants.map((v) => v.name).join(' / ')}`,
);
try {
  for (let round = 0; round < rounds; round++) {
    for (const variant of variants) {
      const dataDir = join(scratch, `${round}-${variant.name}`);
      const port = await freePort();
      const env = { ...gatewayEnv(port, dataDir, SECRET), LEDGER_URL: target.ready, ...variant.env };
      await (await startChild('setup', env)).stop();
      // The backlog, stored with the worker off: every customer once (each conversation exists,
      // as in a running deployment), then the jobs in random customer order.
      const ingest = await startChild('ingest', env);
      await store(port, signedWebhooks(CUSTOMERS, true));
      await store(port, signedWebhooks(jobs, false));
      await ingest.stop();
      const db = new DatabaseSync(join(dataDir, 'wabridge.db'), { readOnly: true, timeout: 5000 });
      const backlog = () =>
        Number(
          db.prepare('SELECT (SELECT count(*) FROM jobs) + (SELECT count(*) FROM jobs_new) AS n').get()?.n,
        );
      const queued = backlog();
      const gateway = await startChild('gateway', env);
      const pid = Number(gateway.ready);
      const before = cpuSeconds(pid);
      const from = Date.now();
      while (backlog() > 0) await sleep(100);
      const seconds = (Date.now() - from) / 1000;
      const cpu = cpuPerUnit(before, cpuSeconds(pid), queued);
      await gateway.stop();
      db.close();
      rmSync(dataDir, { recursive: true, force: true });
      const total = [...cpu.values()].reduce((a, b) => a + b, 0);
      const rate = queued / seconds;
      results.set(variant.name, [...(results.get(variant.name) ?? []), { cpu: total, rate }]);
      out(
        `${variant.name}: ${queued} jobs delivered in ${seconds.toFixed(1)} s (${rate.toFixed(0)}/s), CPU ${total.toFixed(0)} µs/job (${byThread(cpu)}), load ${loadavg()[0]?.toFixed(1)}`,
      );
    }
  }
} finally {
  await target.stop();
  rmSync(scratch, { recursive: true, force: true });
}
out('\nper variant, over the rounds: CPU µs per delivered job (min–max), deliveries/s (min–max)');
for (const [name, runs] of results) {
  const range = (list: number[]) => `${Math.min(...list).toFixed(0)}–${Math.max(...list).toFixed(0)}`;
  out(`  ${name}: ${range(runs.map((r) => r.cpu))} µs/job, ${range(runs.map((r) => r.rate))}/s`);
}
