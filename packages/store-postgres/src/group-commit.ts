/** One caller's answer from a batch: its value, or the error that failed it alone. */
export type Settled<O> = { ok: true; value: O } | { ok: false; error: unknown };

export interface GroupCommitOptions {
  /** Inputs per batch at most: a burst beyond it takes more than one. */
  maxBatch: number;
  /**
   * Batches written at once at most (each on its own connection). A second one starts only while a
   * full batch (`maxBatch`) waits: a burst larger than one batch overlaps the round trips of one
   * batch's statements with another's, but calls that arrive one by one while a batch is being
   * written wait for it and go together in the next. Starting a batch for each of them (they reach
   * the store a few at a time, as an HTTP server reads their bodies) made batches of one to five
   * under load, each paying a transaction's dozen statements, on the process and on the database
   * (docs/performance.md, "Ingest on Postgres").
   */
  inFlight: number;
}

/**
 * Group commit: calls that arrive while a batch is being written wait, and the next batch to start
 * takes them all (up to `maxBatch`), so a burst of N calls costs about N / batch transactions and
 * commits instead of N; more batches run at once (up to `inFlight`) only while a full one waits. A
 * call that finds no batch running starts one right away (after the calls of the same task, which
 * it takes along), so a lone call waits for no timer.
 * `runBatch` answers each input (in order) on its own: one caller's failure is its own, never its
 * neighbours'.
 */
export class GroupCommit<I, O> {
  readonly #runBatch: (inputs: readonly I[]) => Promise<Settled<O>[]>;
  readonly #options: GroupCommitOptions;
  #waiting: Array<{ input: I; resolve: (value: O) => void; reject: (error: unknown) => void }> = [];
  #running = 0;
  #scheduled = false;
  #batches = 0;

  constructor(runBatch: (inputs: readonly I[]) => Promise<Settled<O>[]>, options: GroupCommitOptions) {
    this.#runBatch = runBatch;
    this.#options = options;
  }

  /** Batches run so far (each one transaction, or more where one had to be split). */
  get batches(): number {
    return this.#batches;
  }

  submit(input: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      this.#waiting.push({ input, resolve, reject });
      if (this.#scheduled || !this.#mayStart()) return;
      // Started after the current task's other calls (a Promise.all of many): they share it.
      this.#scheduled = true;
      queueMicrotask(() => {
        this.#scheduled = false;
        this.#startBatch();
      });
    });
  }

  /** Whether a batch may start now: none is running, or a full one waits and a slot is free. */
  #mayStart(): boolean {
    return (
      this.#running === 0 ||
      (this.#running < this.#options.inFlight && this.#waiting.length >= this.#options.maxBatch)
    );
  }

  #startBatch(): void {
    if (this.#waiting.length === 0 || !this.#mayStart()) return;
    const batch = this.#waiting.splice(0, this.#options.maxBatch);
    this.#running++;
    this.#batches++;
    void this.#runBatch(batch.map((call) => call.input))
      .catch((error: unknown) => batch.map((): Settled<O> => ({ ok: false, error })))
      .then((settled) => {
        batch.forEach((call, i) => {
          const outcome = settled[i];
          if (outcome?.ok) call.resolve(outcome.value);
          else
            call.reject(outcome ? outcome.error : new Error('group commit: a batch left a call unanswered'));
        });
      })
      .finally(() => {
        this.#running--;
        // What waited meanwhile goes next, all of it (up to maxBatch) in one batch, once no batch
        // runs (or a full one waits): every waiting call has a running batch that starts it.
        this.#startBatch();
      });
  }
}
