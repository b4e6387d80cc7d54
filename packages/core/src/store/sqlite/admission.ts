import type { Job } from '../types.ts';

/**
 * Jobs moved from `jobs_new` into `jobs` per transaction (see SqliteStore.admittingThen): a few
 * milliseconds of the store thread each, so a webhook that shares the transaction barely waits.
 */
export const ADMIT_PER_TRANSACTION = 1000;

/** Repeats a claim step, which is null while new jobs are still being admitted, until it claims. */
export async function untilAdmitted(step: () => Promise<Job[] | null>): Promise<Job[]> {
  for (;;) {
    const claimed = await step();
    if (claimed) return claimed;
  }
}
