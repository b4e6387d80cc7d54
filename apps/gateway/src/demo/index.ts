import { UsageError } from '../cli/admin.ts';
import type { Env } from '../env.ts';

/** `wabridge demo`: filled in by the demo work (issue 6). */
export async function runDemo(_env: Env, _args: string[]): Promise<void> {
  throw new UsageError('the demo is not available yet in this build');
}
