/** One caller's answer from a batch: its value, or the error that failed it alone. */
export type Settled<O> = { ok: true; value: O } | { ok: false; error: unknown };

/**
 * Group commit: calls that arrive while a batch is being written wait, and the next batch takes
 * them all (up to `maxBatch`), so a burst of N calls costs about N / batch transactions and
 * commits instead of N. One batch runs at a time per instance (per process): the calls of one
 * batch share a transaction, and the archive head a transaction locks would make two batches of
 * one workspace take turns anyway. A call that finds nothing running starts a batch right away
 * (after the calls of the same task), so a lone call waits for no timer. `runBatch` answers each input (in order) on its own: one
 * caller's failure is its own, never its neighbours'.
 */
export class GroupCommit<I, O> {
  readonly #runBatch: (inputs: readonly I[]) => Promise<Settled<O>[]>;
  readonly #maxBatch: number;
  #waiting: Array<{ input: I; resolve: (value: O) => void; reject: (error: unknown) => void }> = [];
  #running = false;
  #batches = 0;

  constructor(runBatch: (inputs: readonly I[]) => Promise<Settled<O>[]>, maxBatch: number) {
    this.#runBatch = runBatch;
    this.#maxBatch = maxBatch;
  }

  /** Batches run so far (each one transaction, or more where one had to be split). */
  get batches(): number {
    return this.#batches;
  }

  submit(input: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      this.#waiting.push({ input, resolve, reject });
      if (this.#running) return;
      this.#running = true;
      // Started after the current task's other calls (a Promise.all of many): they share it.
      queueMicrotask(() => void this.#drain());
    });
  }

  async #drain(): Promise<void> {
    try {
      while (this.#waiting.length > 0) {
        const batch = this.#waiting.splice(0, this.#maxBatch);
        this.#batches++;
        let settled: Settled<O>[];
        try {
          settled = await this.#runBatch(batch.map((call) => call.input));
        } catch (error) {
          settled = batch.map(() => ({ ok: false, error }));
        }
        batch.forEach((call, i) => {
          const outcome = settled[i];
          if (outcome?.ok) call.resolve(outcome.value);
          else
            call.reject(outcome ? outcome.error : new Error('group commit: a batch left a call unanswered'));
        });
      }
    } finally {
      this.#running = false;
    }
  }
}
