// Where a profiled gateway's time went: reads the .cpuprofile files `node --cpu-prof` wrote (one per
// thread) and sums self time by area (sqlite, HTTP client, HTTP server, JSON, zod, crypto, …) and
// by function. Used by `npm run bench:e2e -- --cpu-prof`; also runnable on its own:
//   node apps/gateway/bench/profile-summary.ts <dir with .cpuprofile files> [jobs delivered]
import { readdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

// Native methods of node:sqlite's DatabaseSync / StatementSync: they show in a profile with no
// script URL, under their own names. (A builtin of the same name elsewhere would be counted here
// too; in the store thread these names are sqlite's.)
const SQLITE_METHODS = new Set(['run', 'all', 'get', 'iterate', 'exec', 'prepare', 'columns']);

/** The area a function belongs to, from its script URL or, for natives, its name. */
export function area(functionName: string, url: string): string {
  if (functionName === '(idle)') return 'idle';
  if (functionName === '(garbage collector)') return 'gc';
  if (functionName === '(program)') return 'native, unattributed (program)';
  if (url.includes('/zod/')) return 'zod';
  if (url.includes('undici')) return 'http client (undici/fetch)';
  if (url.includes('pino') || url.includes('sonic-boom')) return 'logging';
  if (url.includes('crypto')) return 'crypto';
  if (
    url.includes('node:_http') ||
    url.includes('node:internal/http') ||
    url.includes('@hono/node-server') ||
    url.includes('/hono/')
  )
    return 'http server (node:http, hono)';
  if (url.includes('node:net') || url.includes('stream') || url.includes('node:internal/streams'))
    return 'sockets and streams';
  if (url === '' && SQLITE_METHODS.has(functionName)) return 'sqlite';
  if (url === '' && (functionName === 'parse' || functionName === 'stringify')) return 'JSON';
  if (url === '' && /postMessage|structuredClone|deserialize|serialize/i.test(functionName))
    return 'thread messaging';
  if (url.includes('/packages/core/src/store/')) return 'wabridge store code';
  if (url.includes('/packages/core/src/worker') || url.includes('/packages/core/src/queue'))
    return 'wabridge worker code';
  if (url.includes('/packages/') || url.includes('/apps/')) return 'wabridge other code';
  if (url.startsWith('node:')) return 'node internals (timers, promises, events…)';
  if (url === '') return 'native builtins';
  return 'other';
}

const short = (url: string) => url.replace(/^file:\/\/.*?\/(packages|apps|node_modules)\//, '$1/');

/** The thread a profile came from, told by the code it ran. */
function threadName(file: string, profile: Profile): string {
  const urls = new Set(profile.nodes.map((n) => n.callFrame.url));
  const has = (part: string) => [...urls].some((u) => u.includes(part));
  // CPU.<date>.<time>.<pid>.<thread id>.<seq>.cpuprofile; the main thread is 0.
  const threadId = basename(file).split('.')[4];
  if (threadId === '0') return 'main thread (HTTP edge + worker)';
  if (has('store/sqlite/thread.ts')) return `store thread (wabridge-store, #${threadId})`;
  return `worker thread #${threadId} (checkpoint or other)`;
}

/** A text summary of every profile: per thread, self time by area and the top functions. */
export function summariseProfiles(files: string[], jobs: number): string {
  const lines: string[] = [
    `where the gateway's time went (self time from --cpu-prof over its whole life: setup, warm-up and every rate; ${jobs} jobs delivered; µs/job = time ÷ jobs)`,
  ];
  for (const file of files.filter((f) => f.endsWith('.cpuprofile')).sort()) {
    const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
    const byId = new Map(profile.nodes.map((n) => [n.id, n]));
    const self = new Map<number, number>();
    profile.samples.forEach((id, i) => {
      self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
    });
    const areas = new Map<string, number>();
    const functions = new Map<string, { area: string; us: number }>();
    let busy = 0;
    for (const [id, us] of self) {
      const frame = byId.get(id)?.callFrame;
      if (!frame) continue;
      const where = area(frame.functionName, frame.url);
      if (where === 'idle') continue;
      busy += us;
      areas.set(where, (areas.get(where) ?? 0) + us);
      const key =
        `${frame.functionName || '(anonymous)'} ${frame.url ? `${short(frame.url)}:${frame.lineNumber + 1}` : ''}`.trim();
      const entry = functions.get(key) ?? { area: where, us: 0 };
      entry.us += us;
      functions.set(key, entry);
    }
    if (busy === 0) continue;
    const perJob = (us: number) => (jobs > 0 ? `${(us / jobs).toFixed(1)} µs/job` : '');
    lines.push('', `${threadName(file, profile)}: ${(busy / 1e6).toFixed(1)} s busy, ${perJob(busy)}`);
    for (const [where, us] of [...areas].sort((a, b) => b[1] - a[1])) {
      if (us / busy < 0.005) continue;
      lines.push(`  ${((100 * us) / busy).toFixed(1).padStart(5)}%  ${perJob(us).padStart(14)}  ${where}`);
    }
    lines.push('  top functions by self time:');
    for (const [key, { area: where, us }] of [...functions].sort((a, b) => b[1].us - a[1].us).slice(0, 15)) {
      lines.push(`  ${((100 * us) / busy).toFixed(1).padStart(5)}%  ${key}  [${where}]`);
    }
  }
  return lines.join('\n');
}

if (import.meta.main) {
  const [dir, jobs] = process.argv.slice(2);
  if (!dir) throw new Error('usage: node profile-summary.ts <profile dir> [jobs delivered]');
  process.stdout.write(
    `${summariseProfiles(
      readdirSync(dir).map((name) => join(dir, name)),
      Number(jobs ?? 0),
    )}\n`,
  );
}
