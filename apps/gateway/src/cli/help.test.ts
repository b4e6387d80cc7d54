import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { type AddressInfo, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { allCommands, COMMANDS } from './commands.ts';
import { isGroup, usageLine } from './parse.ts';

const run = promisify(execFile);
const BIN = fileURLToPath(new URL('../../bin/wabridge.mjs', import.meta.url));
const root = mkdtempSync(join(tmpdir(), 'wabridge-help-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** Runs the real CLI in its own process; it must exit by itself (a server left running fails it). */
async function wabridge(cwd: string, env: Record<string, string>, args: string[]) {
  try {
    const { stdout, stderr } = await run(process.execPath, [BIN, ...args], {
      cwd,
      env: { ...process.env, ...env },
      timeout: 60_000,
    });
    return { stdout, stderr, code: 0 };
  } catch (error) {
    const e = error as { stdout: string; stderr: string; code: number | null; killed?: boolean };
    return { stdout: e.stdout, stderr: e.stderr, code: e.killed ? -1 : (e.code ?? -1) };
  }
}

/** Runs `jobs` a few at a time: two shared cores, and every run is a Node start. */
async function inTurns<T>(jobs: (() => Promise<T>)[], width = 3): Promise<T[]> {
  const results: T[] = new Array(jobs.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < jobs.length) {
        const index = next++;
        results[index] = await (jobs[index] as () => Promise<T>)();
      }
    }),
  );
  return results;
}

describe('every command answers --help and -h with its usage, and does nothing else', () => {
  const targets = [
    ...COMMANDS.filter(isGroup).map((group) => ({
      words: [group.name],
      usage: `usage: wabridge ${group.name} <subcommand>`,
    })),
    ...allCommands().map((command) => ({ words: [...command.path], usage: `usage: ${usageLine(command)}` })),
  ];

  it('walks the command table: usage on stdout, exit 0, no file, no database, no server', async () => {
    const cwd = join(root, 'cwd');
    const data = join(root, 'data');
    mkdirSync(cwd);
    // The test holds PORT itself for the whole walk: a command that started a server anyway (serve
    // --help once did) fails to listen and says so on stderr, which the walk asserts is empty. A
    // port merely probed afterwards could meanwhile be taken by any other process on the machine.
    const holder = createServer();
    await new Promise<void>((resolve, reject) => {
      holder.once('error', reject);
      holder.listen(0, '127.0.0.1', () => resolve());
    });
    const port = (holder.address() as AddressInfo).port;
    // Production without its variables: a command that read the environment would fail.
    const env = { NODE_ENV: 'production', WABRIDGE_DATA_DIR: data, PORT: String(port), HOST: '127.0.0.1' };
    const runs = targets.flatMap((target) =>
      // `-h` alone, and `--help` followed by words and options it would otherwise refuse.
      [['-h'], ['--help', 'extra', '--unknown']].map((flags) => async () => ({
        args: [...target.words, ...flags],
        usage: target.usage,
        result: await wabridge(cwd, env, [...target.words, ...flags]),
      })),
    );
    const results = await inTurns(runs).finally(() => new Promise((resolve) => holder.close(resolve)));
    for (const { args, usage, result } of results) {
      expect({ args, code: result.code, stderr: result.stderr }).toEqual({ args, code: 0, stderr: '' });
      expect(result.stdout.startsWith(usage), `${args.join(' ')}: ${result.stdout}`).toBe(true);
    }
    // `wabridge help <command>` is the same answer.
    const help = await wabridge(cwd, env, ['help', 'connector', 'test']);
    expect(help.stdout).toContain('usage: wabridge connector test <workspace> <connector>');
    // Nothing was written (backup --help once wrote a database named --help) and no database or
    // key was made.
    expect(readdirSync(cwd)).toEqual([]);
    expect(existsSync(data)).toBe(false);
    expect(results.length).toBeGreaterThanOrEqual(2 * 25);
  }, 300_000);
});
