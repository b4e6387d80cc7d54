// Memory settings of the long-running processes (`wabridge serve`, `wabridge worker`), applied by
// the launcher when the process starts (they cannot change later) and by the benchmarks, so that
// they measure what `serve` runs. See docs/performance.md, "Memory under backlog".
//
// V8 sizes its heaps for the machine: with 24 GB the young generation of each thread grows to
// 128 MB (two 64 MB semi-spaces) under sustained load, and the old generation may grow to four
// times what survived the last full collection before the next one. The gateway's main thread
// keeps ~30–45 MB alive under load, so most of its 250+ MB were garbage waiting to be collected.

import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

/** Commands that run for long and serve load; one-off commands keep Node's defaults. */
export const LONG_RUNNING_COMMANDS = new Set(['serve', 'worker']);

/**
 * V8 flags for the whole process. They apply to every thread's isolate, the store and checkpoint
 * threads included (measured: with --max-semi-space-size=16 the store thread's young generation
 * was 34 MB, above its own `resourceLimits`; with the old-space flag its heap peaked ~15 MB lower),
 * until createRuntime lowers the young generation for the threads it starts (THREAD_V8_FLAGS).
 *
 * --max-semi-space-size=8: 8 MB semi-spaces, i.e. a 16 MB young generation instead of up to
 * 128 MB. A request's or a job's objects still die young at 1,000 msg/s, and CPU per delivered
 * job did not move measurably (docs/performance.md). 16 and 32 MB were measured too: fewer
 * objects promoted, but not enough to pay for the larger young generation.
 *
 * --max-old-space-size=2000: not a bound the gateway is expected to meet (it is ~40 times what
 * the main thread keeps alive under load, ~40–50 MB, and ~100 times the store thread's), but the
 * setting that stops the old generation from growing to four times what survived the last full
 * collection before the next one. V8 allows that factor of 4 only when the old-space limit is at
 * least 2 GB on 64-bit (its default here is 4 GB); below, the factor scales from 1.3 to 2 with the
 * limit (`MaxGrowingFactor`, https://github.com/v8/v8/blob/main/src/heap/heap-controller.cc;
 * newer V8 scales against the machine's default limit instead, which bounds it as much or more).
 * At 1,000 msg/s the main thread's old generation then peaked at 56–71 MB committed instead of
 * 134–186, the store thread's whole heap at 42–48 MB instead of 58–63, for no CPU per delivered
 * job beyond the noise (docs/performance.md, "lazy connector SDKs and a bounded old
 * generation"). Halving V8's own default limit (4 GB on this kind of machine) is the cost: a
 * gateway whose heap needs 2 GB is one to fix, not to keep running.
 *
 * Not here: --heap-growing-percent=50 (a fixed factor of 1.5) took as much off the peak but cost
 * 10–20% more CPU per delivered job, most of it in V8's marking threads. Nor 4 MB semi-spaces for
 * the main thread: 8 MB off its heap at the 1,000 msg/s peak, but ~50 µs more GC per delivered job
 * in each measurement (2026-12-06 and 2026-12-07), more than the noise allows. Nor
 * --v8-pool-size=2 (two V8 platform threads instead of four: two threads and their arenas fewer,
 * yet 45 MB outside V8's heaps at the peak against 38–45 with four).
 */
export const SERVER_V8_FLAGS = ['--max-semi-space-size=8', '--max-old-space-size=2000'];

/**
 * The young generation of the threads the process starts (the store thread, its checkpoint
 * thread, archive workers): 4 MB semi-spaces, set once the main thread's heap is configured.
 *
 * `--max-semi-space-size` is process-wide and overrides a Worker's own
 * `resourceLimits.maxYoungGenerationSizeMb` (measured on Node 24: with the flag at 8, a thread
 * asking for 6 MB still got a 16 MB young generation), so the store thread ran with the main
 * thread's 16 MB although what a store call allocates dies within the call (1–8 MB in use at the
 * 1,000 msg/s peak). V8 reads the flag when an isolate is created, so lowering it after start-up
 * leaves the main thread's young generation as it was and bounds every later one. Measured at
 * 1,000 msg/s: the store thread's heap 30–31 MB at the peak instead of 39–45
 * (docs/performance.md, "The store thread's young generation and the database's memory map").
 */
export const THREAD_V8_FLAGS = ['--max-semi-space-size=4'];

/**
 * Applies THREAD_V8_FLAGS (through `setFlags`, i.e. `v8.setFlagsFromString`) in a process that runs
 * with the server's memory settings (marked APPLIED: `serve` and `worker` after their relaunch, and
 * the benchmarks' gateways). Call it before the first thread starts. Anywhere else (tests, one-off
 * commands, an operator's own young-generation size) it does nothing. Answers whether it applied.
 */
export function applyThreadMemorySettings({ env }, setFlags) {
  if (env[APPLIED] === undefined) return false;
  for (const flag of THREAD_V8_FLAGS) setFlags(flag);
  return true;
}

/**
 * glibc malloc: fixed thresholds instead of its dynamic ones, which rise after every large block
 * freed (up to 32 MB for mmap and twice that for trimming), so that memory freed after a burst (V8's
 * compiler zones, mostly) goes back to the system instead of staying in the process's heap. Measured
 * on an idle gateway: 18 MB less resident memory.
 *
 * Not here: MALLOC_ARENA_MAX=2. glibc gives each thread that allocates an arena of its own (up to
 * 8 per core), but at the 1,000 msg/s peak glibc's heap and arenas held 29.9–34.4 MB with the
 * default (five runs on 2026-12-07) and 28.9–31.1 MB with two arenas (three runs), and what the
 * process holds outside V8's heaps (malloc, mmapped blocks, stacks) 37.7–44.7 MB against
 * 33.9–45.0: at most ~3 MB, inside the peak's run-to-run spread (a 2026-12-06 pair: −7 MB in one
 * run, none in the next).
 */
export const SERVER_MALLOC_ENV = { MALLOC_TRIM_THRESHOLD_: '131072', MALLOC_MMAP_THRESHOLD_: '131072' };

/**
 * Where a long-running command keeps Node's compile cache (https://nodejs.org/api/module.html#module-compile-cache),
 * or null: another command, or the operator chose (NODE_COMPILE_CACHE) or refused
 * (NODE_DISABLE_COMPILE_CACHE) one. wabridge runs its TypeScript sources directly, and without a
 * cache every thread that loads them strips their types itself with Node's WebAssembly build of
 * swc: ~17 MB resident per thread (main and store), and a WebAssembly compilation at each start.
 * With the cache, from the second start on the stripped sources come from disk and the stripper
 * is never loaded. The cache lives in the data directory, the gateway's private one (0700, as
 * createRuntime makes it): a shared cache (Node's default is under the system's temporary
 * directory) could be written by another user, and its entries are run as code.
 */
export function compileCacheDirectory({ command, env, cwd }) {
  if (!LONG_RUNNING_COMMANDS.has(command)) return null;
  if (env.NODE_COMPILE_CACHE || env.NODE_DISABLE_COMPILE_CACHE) return null;
  return join(resolve(cwd, env.WABRIDGE_DATA_DIR || './data'), 'compile-cache');
}

/**
 * Turns the compile cache on for this process (the modules it loads from now on) and, through
 * NODE_COMPILE_CACHE, for the threads it starts. Only in a data directory that exists: the
 * launcher makes nothing (help and usage errors write nothing, and the data directory is made
 * private by createRuntime), so a gateway's very first start runs without a cache and writes it
 * from the next. Nothing fails a start: without the cache (an older Node) the sources are
 * stripped as before.
 */
export function enableCompileCache({ command, env, cwd }, module) {
  const directory = compileCacheDirectory({ command, env, cwd });
  if (!directory || typeof module.enableCompileCache !== 'function' || !existsSync(dirname(directory)))
    return null;
  env.NODE_COMPILE_CACHE = directory;
  const result = module.enableCompileCache(directory);
  return result?.directory ?? null;
}

/** Set in the environment once the settings are applied: the relaunched process does not relaunch. */
export const APPLIED = 'WABRIDGE_MEMORY_SETTINGS';

/**
 * How to relaunch a long-running command with the settings, or null to run as it is: another
 * command, already applied, or the operator chose a young generation size of their own (in the
 * node flags or NODE_OPTIONS), which is then left alone, glibc's settings included. An operator's
 * own old-space or heap size (--max-old-space-size, --max-heap-size) replaces ours; the young
 * generation's setting still applies.
 */
export function relaunchWithMemorySettings({ command, execArgv, env }) {
  if (!LONG_RUNNING_COMMANDS.has(command) || env[APPLIED] !== undefined) return null;
  const own = [...execArgv, ...(env.NODE_OPTIONS ?? '').split(/\s+/)];
  const chose = (pattern) => own.some((flag) => pattern.test(flag));
  if (chose(/^--(max-semi-space-size|max-young-generation-size|heap-growing-percent)\b/)) return null;
  const ownOldSpace = chose(/^--(max-old-space-size|max-heap-size)\b/);
  return {
    flags: SERVER_V8_FLAGS.filter((flag) => !(ownOldSpace && flag.startsWith('--max-old-space-size'))),
    // An operator's own malloc settings win.
    env: { ...SERVER_MALLOC_ENV, ...env, [APPLIED]: '1' },
  };
}
