import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';

/**
 * `npm run demo` as a newcomer runs it: the real CLI in its own process (`wabridge demo`), with
 * TMPDIR and the working directory pointed at empty directories, so that whatever the demo leaves
 * behind would show.
 */
const BIN = fileURLToPath(new URL('../../../apps/gateway/bin/wabridge.mjs', import.meta.url));

interface DemoProcess {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Resolves with the first match of `pattern` in stdout. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function startDemo(args: string[], dirs: { tmp: string; cwd: string }): DemoProcess {
  const child = spawn(process.execPath, [BIN, 'demo', ...args], {
    cwd: dirs.cwd,
    env: { ...process.env, TMPDIR: dirs.tmp, LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let errors = '';
  const waiters = new Set<() => void>();
  child.stdout?.on('data', (chunk: Buffer) => {
    out += chunk.toString();
    for (const wake of waiters) wake();
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    errors += chunk.toString();
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => {
      for (const wake of waiters) wake();
      resolve({ code, signal });
    }),
  );
  return {
    child,
    stdout: () => out,
    stderr: () => errors,
    exited,
    waitFor(pattern, timeoutMs = 120_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const match = out.match(pattern);
          if (match) {
            done();
            resolve(match);
          } else if (child.exitCode !== null) {
            done();
            reject(
              new Error(`the demo exited (${child.exitCode}) before printing ${pattern}:\n${out}\n${errors}`),
            );
          }
        };
        const timer = setTimeout(() => {
          done();
          reject(new Error(`no ${pattern} within ${timeoutMs} ms:\n${out}\n${errors}`));
        }, timeoutMs);
        const done = () => {
          clearTimeout(timer);
          waiters.delete(check);
        };
        waiters.add(check);
        check();
      });
    },
  };
}

const alive = (pid: number | undefined) => {
  if (pid === undefined) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe('npm run demo', () => {
  const cleanup: (() => void)[] = [];
  afterEach(() => {
    for (const step of cleanup.splice(0)) step();
  });
  const freshDirs = () => {
    const tmp = mkdtempSync(join(tmpdir(), 'wabridge-demo-test-tmp-'));
    const cwd = mkdtempSync(join(tmpdir(), 'wabridge-demo-test-cwd-'));
    cleanup.push(() => {
      rmSync(tmp, { recursive: true, force: true });
      rmSync(cwd, { recursive: true, force: true });
    });
    return { tmp, cwd };
  };

  it('--script plays the whole conversation and exits 0; its summary shows every message once, in order, in every target, and nothing is left behind', async () => {
    const dirs = freshDirs();
    const demo = startDemo(['--script', '--port', '0'], dirs);
    cleanup.push(() => demo.child.kill('SIGKILL'));
    const { code } = await demo.exited;
    const stdout = demo.stdout();
    expect(code, `${stdout}\n${demo.stderr()}`).toBe(0);

    // The table: target, expected, received, missing, duplicated, unexpected, in order.
    const rows = new Map(
      [
        ...stdout.matchAll(
          /^ {2}(WhatsApp|Slack|Teams|HubSpot)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(yes|NO)$/gm,
        ),
      ].map((m) => [m[1], m.slice(2)]),
    );
    expect([...rows.keys()].sort()).toEqual(['HubSpot', 'Slack', 'Teams', 'WhatsApp']);
    for (const [target, [expected, received, missing, duplicated, unexpected, inOrder]] of rows as Map<
      string,
      string[]
    >) {
      expect(Number(expected), target).toBeGreaterThanOrEqual(5);
      expect([received, missing, duplicated, unexpected, inOrder], target).toEqual([
        expected,
        '0',
        '0',
        '0',
        'yes',
      ]);
    }
    expect(stdout).toContain('All good: every message reached every system once, in order');
    expect(stdout).not.toMatch(/✘/);
    // The story's beats are all there.
    for (const beat of [
      'A day passes: every clock moves 25 hours ahead',
      'refused, the 24-hour window is closed',
      'Grace picks the delivery_check template',
      'Ada sends STOP',
      'a colleague opts her back in, in HubSpot',
    ]) {
      expect(stdout).toContain(beat);
    }
    const took = Number(stdout.match(/in order \((\d+(?:\.\d+)?) s\)/)?.[1]);
    process.stdout.write(`demo --script: the scenario took ${took} s\n`);

    // Its directory was under TMPDIR and is gone; nothing else was written there or in the cwd.
    const dir = stdout.match(/Data\s+(\S+)/)?.[1] ?? '';
    expect(dir.startsWith(dirs.tmp)).toBe(true);
    expect(existsSync(dir)).toBe(false);
    expect(readdirSync(dirs.tmp)).toEqual([]);
    expect(readdirSync(dirs.cwd)).toEqual([]);
  }, 240_000);

  it('Ctrl-C stops it cleanly: exit 0, ports closed, its directory removed, no process left', async () => {
    const dirs = freshDirs();
    const demo = startDemo(['--port', '0'], dirs);
    cleanup.push(() => demo.child.kill('SIGKILL'));
    await demo.waitFor(/^Ready\./m);
    const stdout = demo.stdout();
    const consoleUrl = stdout.match(/Console\s+(\S+)/)?.[1] ?? '';
    const urls = ['Gateway', 'WhatsApp', 'Slack', 'HubSpot'].map(
      (name) => stdout.match(new RegExp(`${name}\\s+(\\S+)`))?.[1] ?? '',
    );
    const dir = stdout.match(/Data\s+(\S+)/)?.[1] ?? '';
    expect(existsSync(join(dir, 'data', 'wabridge.db'))).toBe(true);
    const state = (await (await fetch(`${consoleUrl}api/state`)).json()) as { title: string };
    expect(state.title).toContain('wabridge demo');
    expect((await fetch(`${urls[0]}/healthz`)).status).toBe(200);

    demo.child.kill('SIGINT');
    const { code } = await demo.exited;
    expect(code, demo.stderr()).toBe(0);
    expect(demo.stdout()).toContain(`Stopped. Removed ${dir}`);
    expect(alive(demo.child.pid)).toBe(false);
    expect(existsSync(dir)).toBe(false);
    expect(readdirSync(dirs.tmp)).toEqual([]);
    expect(readdirSync(dirs.cwd)).toEqual([]);
    for (const url of [consoleUrl, ...urls]) {
      await expect(fetch(url), url).rejects.toThrow();
    }
  }, 120_000);
});
