import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const BIN = fileURLToPath(new URL('../../bin/wabridge.mjs', import.meta.url));

export interface CliResult {
  stdout: string;
  stderr: string;
  /** The exit code; -1 when the process was killed (the timeout). */
  code: number;
}

/** The real CLI in its own process, as an operator runs it: output and exit code, never a throw. */
export async function runCli(
  args: readonly string[],
  options: { cwd: string; env: Record<string, string> },
): Promise<CliResult> {
  try {
    const { stdout, stderr } = await run(process.execPath, [BIN, ...args], {
      cwd: options.cwd,
      env: { ...process.env, ...options.env },
      timeout: 120_000,
    });
    return { stdout, stderr, code: 0 };
  } catch (error) {
    const e = error as { stdout: string; stderr: string; code: number | null };
    return { stdout: e.stdout, stderr: e.stderr, code: e.code ?? -1 };
  }
}
