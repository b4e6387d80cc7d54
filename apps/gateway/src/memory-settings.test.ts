import { describe, expect, it } from 'vitest';
import { APPLIED, relaunchWithMemorySettings, SERVER_MALLOC_ENV, SERVER_V8_FLAGS } from '../bin/memory.mjs';

describe('memory settings of the long-running commands (bin/memory.mjs)', () => {
  it('relaunches serve and worker with the V8 flags and malloc settings, marked as applied', () => {
    for (const command of ['serve', 'worker']) {
      const relaunch = relaunchWithMemorySettings({ command, execArgv: [], env: { PATH: '/bin' } });
      expect(relaunch?.flags).toEqual(SERVER_V8_FLAGS);
      expect(relaunch?.env).toEqual({ ...SERVER_MALLOC_ENV, PATH: '/bin', [APPLIED]: '1' });
    }
    expect(SERVER_V8_FLAGS).toContain('--max-semi-space-size=8');
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
