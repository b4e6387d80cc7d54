import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  APPLIED,
  applyThreadMemorySettings,
  compileCacheDirectory,
  enableCompileCache,
  relaunchWithMemorySettings,
  SERVER_MALLOC_ENV,
  SERVER_V8_FLAGS,
  THREAD_V8_FLAGS,
} from '../bin/memory.mjs';

describe('memory settings of the long-running commands (bin/memory.mjs)', () => {
  it('relaunches serve and worker with the V8 flags and malloc settings, marked as applied', () => {
    for (const command of ['serve', 'worker']) {
      const relaunch = relaunchWithMemorySettings({ command, execArgv: [], env: { PATH: '/bin' } });
      expect(relaunch?.flags).toEqual(SERVER_V8_FLAGS);
      expect(relaunch?.env).toEqual({ ...SERVER_MALLOC_ENV, PATH: '/bin', [APPLIED]: '1' });
    }
    expect(SERVER_V8_FLAGS).toContain('--max-semi-space-size=8');
    expect(SERVER_V8_FLAGS).toContain('--max-old-space-size=2000');
  });

  it('replaces its old-space size by the operator’s own, keeping the young generation’s', () => {
    for (const own of [
      { execArgv: ['--max-old-space-size=8192'], env: {} },
      { execArgv: [], env: { NODE_OPTIONS: '--max-heap-size=3000' } },
    ]) {
      const relaunch = relaunchWithMemorySettings({ command: 'serve', ...own });
      expect(relaunch?.flags).toEqual(['--max-semi-space-size=8']);
    }
  });

  it('leaves one-off commands, an applied process and an operator’s own choice alone', () => {
    const none = { execArgv: [], env: {} };
    expect(relaunchWithMemorySettings({ ...none, command: 'status' })).toBeNull();
    expect(relaunchWithMemorySettings({ ...none, command: undefined })).toBeNull();
    expect(relaunchWithMemorySettings({ ...none, command: 'serve', env: { [APPLIED]: '1' } })).toBeNull();
    expect(
      relaunchWithMemorySettings({ command: 'serve', execArgv: ['--max-semi-space-size=32'], env: {} }),
    ).toBeNull();
    expect(
      relaunchWithMemorySettings({
        command: 'worker',
        execArgv: [],
        env: { NODE_OPTIONS: '--enable-source-maps --max-semi-space-size=2' },
      }),
    ).toBeNull();
  });

  it('keeps the operator’s own malloc settings', () => {
    const relaunch = relaunchWithMemorySettings({
      command: 'serve',
      execArgv: [],
      env: { MALLOC_TRIM_THRESHOLD_: '0' },
    });
    expect(relaunch?.env.MALLOC_TRIM_THRESHOLD_).toBe('0');
  });
});

describe('the young generation of the threads (bin/memory.mjs)', () => {
  it('is lowered only in a process running with the server settings', () => {
    const applied: string[] = [];
    expect(applyThreadMemorySettings({ env: { [APPLIED]: '1' } }, (flag) => applied.push(flag))).toBe(true);
    expect(applied).toEqual(THREAD_V8_FLAGS);
    expect(THREAD_V8_FLAGS).toEqual(['--max-semi-space-size=4']);
    // Tests, one-off commands and an operator's own young generation (no relaunch, so not marked).
    expect(applyThreadMemorySettings({ env: {} }, (flag) => applied.push(flag))).toBe(false);
    expect(applied).toHaveLength(1);
  });

  it("bounds the threads started afterwards, not the main thread's", () => {
    // A process with serve's young generation lowers it for its threads, then a thread and the main
    // thread each allocate far more than their young generation holds, in short-lived batches that
    // survive a scavenge or two (what makes V8 grow a young generation to its bound).
    const memory = new URL('../bin/memory.mjs', import.meta.url).href;
    const script = `
      const { setFlagsFromString, getHeapSpaceStatistics } = await import('node:v8');
      const { Worker } = await import('node:worker_threads');
      const { applyThreadMemorySettings } = await import(${JSON.stringify(memory)});
      applyThreadMemorySettings({ env: process.env }, setFlagsFromString);
      const churn = \`
        let keep = [];
        for (let i = 0; i < 3e6; i++) { keep.push({ i, s: 'x' + i }); if (keep.length > 20000) keep = []; }
        const v8 = process.getBuiltinModule('node:v8');
        const space = v8.getHeapSpaceStatistics().find((s) => s.space_name === 'new_space');
        process.getBuiltinModule('node:worker_threads').parentPort.postMessage(space.space_size);
      \`;
      const thread = await new Promise((resolve) => new Worker(churn, { eval: true }).once('message', resolve));
      let keep = [];
      for (let i = 0; i < 3e6; i++) { keep.push({ i, s: 'x' + i }); if (keep.length > 20000) keep = []; }
      const main = getHeapSpaceStatistics().find((s) => s.space_name === 'new_space').space_size;
      console.log(JSON.stringify({ thread, main }));
    `;
    const child = spawnSync(process.execPath, [...SERVER_V8_FLAGS, '--input-type=module', '--eval', script], {
      env: { ...process.env, [APPLIED]: '1' },
      encoding: 'utf8',
    });
    expect(child.stderr).toBe('');
    const { thread, main } = JSON.parse(child.stdout) as { thread: number; main: number };
    const MB = 1024 * 1024;
    // A young generation is two semi-spaces (V8 reports both as new_space).
    expect(thread).toBeLessThanOrEqual(2 * 4 * MB);
    expect(main).toBeGreaterThan(2 * 4 * MB);
    expect(main).toBeLessThanOrEqual(2 * 8 * MB);
  });
});

describe('the compile cache of the long-running commands (bin/memory.mjs)', () => {
  it('lives in the data directory, for serve and worker only', () => {
    expect(compileCacheDirectory({ command: 'serve', env: {}, cwd: '/srv/wa' })).toBe(
      '/srv/wa/data/compile-cache',
    );
    expect(
      compileCacheDirectory({ command: 'worker', env: { WABRIDGE_DATA_DIR: '/var/lib/wa' }, cwd: '/srv' }),
    ).toBe('/var/lib/wa/compile-cache');
    expect(compileCacheDirectory({ command: 'status', env: {}, cwd: '/srv' })).toBeNull();
    expect(compileCacheDirectory({ command: undefined, env: {}, cwd: '/srv' })).toBeNull();
  });

  it('leaves an operator’s own cache, or their refusal of one, alone', () => {
    for (const env of [{ NODE_COMPILE_CACHE: '/cache' }, { NODE_DISABLE_COMPILE_CACHE: '1' }])
      expect(compileCacheDirectory({ command: 'serve', env, cwd: '/srv' })).toBeNull();
  });

  it('turns it on for the process and, through the environment, for its threads, in a data directory that exists', () => {
    const root = mkdtempSync(join(tmpdir(), 'wabridge-compile-cache-'));
    try {
      const enabled: string[] = [];
      const module = {
        enableCompileCache(directory: string) {
          enabled.push(directory);
          return { directory };
        },
      };
      // No data directory yet (a first start, or help): nothing made, no cache.
      const fresh: NodeJS.ProcessEnv = { WABRIDGE_DATA_DIR: 'data' };
      expect(enableCompileCache({ command: 'serve', env: fresh, cwd: root }, module)).toBeNull();
      expect(existsSync(join(root, 'data'))).toBe(false);
      expect(fresh.NODE_COMPILE_CACHE).toBeUndefined();
      mkdirSync(join(root, 'data'), { mode: 0o700 });
      const env: NodeJS.ProcessEnv = { WABRIDGE_DATA_DIR: 'data' };
      const directory = join(root, 'data', 'compile-cache');
      expect(enableCompileCache({ command: 'serve', env, cwd: root }, module)).toBe(directory);
      expect(enabled).toEqual([directory]);
      expect(env.NODE_COMPILE_CACHE).toBe(directory);
      // A one-off command, or a Node without the cache: nothing.
      expect(enableCompileCache({ command: 'status', env: {}, cwd: root }, module)).toBeNull();
      expect(enableCompileCache({ command: 'serve', env: {}, cwd: root }, {})).toBeNull();
      expect(enabled).toHaveLength(1);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
