import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  APPLIED,
  compileCacheDirectory,
  enableCompileCache,
  relaunchWithMemorySettings,
  SERVER_MALLOC_ENV,
  SERVER_V8_FLAGS,
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
