// Helpers the benchmarks share: what a process and the machine spent on the CPU (Linux /proc),
// and Meta-shaped wamids.
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { APPLIED, SERVER_MALLOC_ENV, SERVER_V8_FLAGS } from '../bin/memory.mjs';

/**
 * Node flags of a gateway child: those `wabridge serve` relaunches itself with (bin/memory.mjs),
 * so that the benchmarks measure what serve runs. Its environment (gatewayEnv) carries the malloc
 * settings that go with them.
 */
export const SERVE_NODE_FLAGS: readonly string[] = SERVER_V8_FLAGS;

/**
 * Busy and total CPU time of the whole machine so far (Linux /proc/stat), or null. Tells whether
 * a run was limited by the cores (both near 100%) or by one thread of the server.
 */
export function machineTimes(): { busy: number; total: number } | null {
  try {
    const fields = readFileSync('/proc/stat', 'utf8')
      .split('\n')[0]
      ?.trim()
      .split(/\s+/)
      .slice(1)
      .map(Number);
    if (!fields || fields.length < 5) return null;
    const total = fields.reduce((a, b) => a + b, 0);
    // idle and iowait are the time no core had work.
    return { busy: total - (fields[3] ?? 0) - (fields[4] ?? 0), total };
  } catch {
    return null;
  }
}

/** How busy the machine was between two `machineTimes()` readings, in % of all cores; or null. */
export function machineBusy(
  before: ReturnType<typeof machineTimes>,
  after: ReturnType<typeof machineTimes>,
): number | null {
  return before && after && after.total > before.total
    ? (100 * (after.busy - before.busy)) / (after.total - before.total)
    : null;
}

/** The server's threads, grouped by what they do (named in packages/core/src/store/sqlite). */
export const THREAD_GROUPS: Record<string, string> = {
  MainThread: 'http',
  'wabridge-store': 'store',
  'wabridge-ckpt': 'checkpoint',
  V8Worker: 'gc+jit',
};

/**
 * CPU seconds a process has used so far per thread group (Linux /proc, USER_HZ 100); null where
 * /proc is not available. Steadier than req/s on a shared machine: a noisy neighbour slows a run
 * more than it changes its cost.
 */
export function cpuSeconds(pid: number | undefined): Map<string, number> | null {
  try {
    const groups = new Map<string, number>();
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      let stat: string;
      try {
        stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      } catch {
        continue; // the thread ended between the listing and the read
      }
      const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const group = THREAD_GROUPS[name] ?? 'other';
      groups.set(group, (groups.get(group) ?? 0) + (Number(fields[11]) + Number(fields[12])) / 100);
    }
    return groups;
  } catch {
    return null;
  }
}

/**
 * User and system CPU seconds of a whole process so far (all its threads; Linux /proc), or null.
 * System time is the kernel working for it: socket I/O, futex wake-ups between threads, and the
 * file system's share of each write and fsync.
 */
export function userSystemSeconds(pid: number | undefined): { user: number; system: number } | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { user: Number(fields[11]) / 100, system: Number(fields[12]) / 100 };
  } catch {
    return null;
  }
}

/** CPU µs per unit of work between two `cpuSeconds()` readings, per thread group (empty without /proc). */
export function cpuPerUnit(
  before: Map<string, number> | null,
  after: Map<string, number> | null,
  units: number,
): Map<string, number> {
  const perUnit = new Map<string, number>();
  if (before && after && units > 0) {
    for (const [group, seconds] of after)
      perUnit.set(group, ((seconds - (before.get(group) ?? 0)) * 1e6) / units);
  }
  return perUnit;
}

/** The thread groups' figures as "http 40.1, store 35.2, …", leaving out those that round to 0. */
export function byThread(cpu: Map<string, number>, digits = 1): string {
  return [...new Set([...Object.values(THREAD_GROUPS), 'other'])]
    .filter((group) => (cpu.get(group) ?? 0) >= 0.5 * 10 ** -digits)
    .map((group) => `${group} ${cpu.get(group)?.toFixed(digits)}`)
    .join(', ');
}

/** Meta's wamids are base64 of a small binary record holding the customer's number and a random id. */
export function metaWamid(waId: string): string {
  const record = Buffer.concat([
    Buffer.from([0x1c, 0x18, 0x0b]),
    Buffer.from(waId),
    Buffer.from([0x15, 0x02, 0x00, 0x11, 0x18, 0x12]),
    Buffer.from(randomBytes(9).toString('hex').toUpperCase()),
    Buffer.from([0x00]),
  ]);
  return `wamid.${record.toString('base64')}`;
}

/**
 * The compile cache of the benchmarks' gateways. `wabridge serve` keeps one in its data directory
 * (bin/memory.mjs), which outlives its restarts; a benchmark's data directory is new each run, so
 * its gateways share this one instead, and measure a gateway started with its cache, as every
 * start of `serve` but the first is.
 */
export const BENCH_COMPILE_CACHE = fileURLToPath(
  new URL('../../../node_modules/.cache/wabridge-bench/compile-cache', import.meta.url),
);

/**
 * Environment for a gateway child under test: production mode, quiet logs, a fixed master key, and
 * serve's malloc settings and compile cache (see SERVE_NODE_FLAGS and BENCH_COMPILE_CACHE).
 */
export function gatewayEnv(port: number, dataDir: string, appSecret: string): NodeJS.ProcessEnv {
  return {
    ...SERVER_MALLOC_ENV,
    NODE_COMPILE_CACHE: BENCH_COMPILE_CACHE,
    ...process.env,
    [APPLIED]: '1',
    NODE_ENV: 'production',
    PORT: String(port),
    HOST: '127.0.0.1',
    LOG_LEVEL: 'warn',
    WABRIDGE_DATA_DIR: dataDir,
    WABRIDGE_MASTER_KEY: Buffer.alloc(32, 5).toString('base64'),
    WHATSAPP_APP_SECRET: appSecret,
    WHATSAPP_VERIFY_TOKEN: 'bench',
    WHATSAPP_ACCESS_TOKEN: 'bench',
  };
}

/** Resident memory of a process now and at its peak (VmRSS, VmHWM), in MB; null without /proc. */
export function processMemory(pid: number | undefined): { rss: number; hwm: number } | null {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1] ?? 0);
    return { rss: kb('VmRSS') / 1024, hwm: kb('VmHWM') / 1024 };
  } catch {
    return null;
  }
}
