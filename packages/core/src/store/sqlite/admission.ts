import type { Job } from '../types.ts';

/**
 * Rows of `jobs_new` (each an event's jobs, one per connector) moved into `jobs` per transaction
 * (see SqliteStore.admittingThen): a few milliseconds of the store thread, so a webhook that
 * shares the transaction barely waits.
 */
export const ADMIT_PER_TRANSACTION = 1000;

/** Repeats a claim step, which is null while new jobs are still being admitted, until it claims. */
export async function untilAdmitted(step: () => Promise<Job[] | null>): Promise<Job[]> {
  for (;;) {
    const claimed = await step();
    if (claimed) return claimed;
  }
}
