import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const BIN = fileURLToPath(new URL('../../../../apps/gateway/bin/wabridge.mjs', import.meta.url));

/** The master key every test gateway uses (apps/gateway/src/testing/harness.ts). */
export const TEST_MASTER_KEY = Buffer.alloc(32, 3).toString('base64');

/**
 * Runs the real `wabridge` CLI in its own process on a test gateway's data directory and key, with
 * `env` on top (the platform settings the command needs). Standard input is closed.
 */
export async function runWabridge(
  dataDir: string,
  env: Record<string, string>,
  ...args: string[]
): Promise<{ stdout: string; stderr: string; code: number }> {
  const child = spawn(process.execPath, [BIN, ...args], {
    env: {
      ...process.env,
      NODE_ENV: 'test',
      LOG_LEVEL: 'warn',
      WABRIDGE_DATA_DIR: dataDir,
      WABRIDGE_MASTER_KEY: TEST_MASTER_KEY,
      ...env,
    },
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
  });
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  child.stdin.end();
  const code = await new Promise<number>((resolve) => child.on('close', (status) => resolve(status ?? -1)));
  return { stdout, stderr, code };
}
