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
 * V8 flags for the whole process (main thread; worker threads have their own `resourceLimits`,
 * see packages/core/src/store/sqlite/thread-limits.ts): 8 MB semi-spaces, i.e. a 16 MB young
 * generation instead of up to 128 MB. A request's or a job's objects still die young at 1,000
 * msg/s, and CPU per delivered job did not move measurably (docs/performance.md).
 *
 * Not here: --heap-growing-percent=50 (the old generation grows by half its live size between
 * full collections instead of up to 4×) took another ~70 MB off the peak but cost 10–20% more
 * CPU per delivered job, most of it in V8's marking threads.
 */
export const SERVER_V8_FLAGS = ['--max-semi-space-size=8'];

/**
 * glibc malloc: fixed thresholds instead of its dynamic ones, which rise after every large block
 * freed (up to 32 MB for mmap and twice that for trimming), so that memory freed after a burst (V8's
 * compiler zones, mostly) goes back to the system instead of staying in the process's heap. Measured
 * on an idle gateway: 18 MB less resident memory.
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
 * node flags or NODE_OPTIONS), which is then left alone, glibc's settings included.
 */
export function relaunchWithMemorySettings({ command, execArgv, env }) {
  if (!LONG_RUNNING_COMMANDS.has(command) || env[APPLIED] !== undefined) return null;
  const own = [...execArgv, ...(env.NODE_OPTIONS ?? '').split(/\s+/)];
  if (
    own.some((flag) => /^--(max-semi-space-size|max-young-generation-size|heap-growing-percent)\b/.test(flag))
  )
    return null;
  return {
    flags: SERVER_V8_FLAGS,
    // An operator's own malloc settings win.
    env: { ...SERVER_MALLOC_ENV, ...env, [APPLIED]: '1' },
  };
}
