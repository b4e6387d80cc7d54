// Where a profiled gateway's time went: reads the .cpuprofile files `node --cpu-prof` wrote (one per
// thread) and sums self time by area (sqlite, HTTP client, HTTP server, JSON, zod, crypto, …) and
// by function. Used by `npm run bench:e2e -- --cpu-prof`; also runnable on its own:
//   node apps/gateway/bench/profile-summary.ts <dir with .cpuprofile files> [jobs delivered]
import { readdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

// node:sqlite's methods are native API callbacks: V8 does not give them frames of their own, so
// their time (the SQL, and within COMMIT the WAL write and the fsync) is the self time of the store's
// wrappers that call them (database.ts get/all/run; BEGIN and COMMIT are `run` called from
// `transaction`). A CPU profile samples the wall clock: a thread blocked in fsync is counted there.
const SQLITE_WRAPPERS = new Set(['get', 'all', 'run', 'exec']);
// Native socket writes and reads, also without frames of their own.
const SOCKET_NATIVES = new Set([
  'writev',
  'writeUtf8String',
  'writeBuffer',
  'writeLatin1String',
  'readStart',
  'readStop',
  'shutdown',
  'close',
]);

/** The area a function belongs to, from its script URL or, for natives, its name. */
export function area(functionName: string, url: string, parentName = ''): string {
  if (functionName === '(idle)') return 'idle';
  if (functionName === '(garbage collector)') return 'gc';
  if (functionName === '(program)') return 'native, unattributed (program)';
  if (url.includes('/store/sqlite/database.ts') && SQLITE_WRAPPERS.has(functionName))
    return parentName === 'transaction' ? 'sqlite: BEGIN/COMMIT (WAL write, fsync)' : 'sqlite: statements';
  if (url.includes('/zod/')) return 'zod';
  // undici (fetch) parses HTTP with llhttp compiled to wasm; the HTTP server uses native llhttp.
  if (url.includes('undici') || url.startsWith('wasm://')) return 'http client (undici/fetch)';
  if (url.includes('pino') || url.includes('sonic-boom')) return 'logging';
  if (url.includes('crypto')) return 'crypto';
  if (url.includes('node:internal/modules') || url.includes('amaro') || url.includes('bootstrap'))
    return 'start-up (module loading, type stripping)';
  if (
    url.includes('node:_http') ||
    url.includes('node:internal/http') ||
    url.includes('@hono/node-server') ||
    url.includes('/hono/')
  )
    return 'http server (node:http, hono)';
  if (url.includes('node:net') || url.includes('stream') || (url === '' && SOCKET_NATIVES.has(functionName)))
    return 'sockets and streams';
  if (url === '' && (functionName === 'parse' || functionName === 'stringify')) return 'JSON';
  if (url === '' && /postMessage|structuredClone|deserialize|serialize/i.test(functionName))
    return 'thread messaging (postMessage)';
  if (
    url.includes('node:internal/encoding') ||
    (url === '' && /TextDecoder|TextEncoder|decode|encode/.test(functionName))
  )
    return 'text encoding';
  if (url === '' && functionName === 'runMicrotasks') return 'promises (microtask queue)';
  if (url.includes('/packages/core/src/store/')) return 'wabridge store code';
  if (url.includes('/packages/core/src/queue/')) return 'wabridge worker code';
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
  if (threadId === '0') return 'main thread (HTTP edge + delivery worker)';
  if (has('store/sqlite/thread.ts')) return `store thread (wabridge-store, #${threadId})`;
  if (has('[worker eval]')) return `checkpoint thread (wabridge-ckpt, #${threadId})`;
  return `worker thread #${threadId}`;
}

/** A text summary of every profile: per thread, self time by area and the top functions. */
export function summariseProfiles(files: string[], jobs: number): string {
  const lines: string[] = [
    `where the gateway's time went: self time from --cpu-prof over the gateway's whole life (start-up, warm-up, every rate), wall clock on each thread (so a thread waiting in fsync counts), ${jobs} jobs delivered, µs/job = time ÷ jobs`,
  ];
  for (const file of files.filter((f) => f.endsWith('.cpuprofile')).sort()) {
    const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
    const byId = new Map(profile.nodes.map((n) => [n.id, n]));
    const parentOf = new Map<number, ProfileNode>();
    for (const node of profile.nodes) for (const child of node.children ?? []) parentOf.set(child, node);
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
      const where = area(frame.functionName, frame.url, parentOf.get(id)?.callFrame.functionName);
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
