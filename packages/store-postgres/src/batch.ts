/**
 * Statements of the same kind asked for at about the same time, sent as one. A worker runs the
 * jobs of a claim together (dozens at a time under backlog), so their hydrates, their ref lookups,
 * their checkpoints and their completions are each asked for within a turn or two of the event
 * loop; each sent alone is a round trip with its own parse/bind/execute (and, for a write, its own
 * commit) on the server and ~100 µs of node-postgres's CPU in the gateway, for a few index
 * entries. Batched, one statement answers them all.
 *
 * As with group commit on ingest: the first request of a kind waits for the current turn of the
 * event loop to end (`setImmediate`) so that requests made in the same turn join it; while a batch
 * is in flight, new requests wait for it and go together in the next one. A read sees what
 * committed before its batch's statement started, as it would have seen alone (each waits at most
 * for one statement of its kind). `run` answers each request's own result, in order; when it
 * throws, every request of the batch fails with its error.
 */
export class StatementBatch<Key, Result> {
  private pending: { key: Key; resolve: (r: Result) => void; reject: (e: unknown) => void }[] = [];
  private scheduled = false;
  private inFlight = 0;
  private readonly run: (keys: Key[]) => Promise<Result[]>;
  private readonly options: { maxBatch?: number; maxInFlight?: number };

  /**
   * `run` answers one result per key, in the keys' order. `maxBatch` keeps a statement's arrays
   * bounded; `maxInFlight` how many statements of this kind may run at once (the pool is shared
   * with ingest: one at a time lets the others gather while it runs).
   */
  constructor(
    run: (keys: Key[]) => Promise<Result[]>,
    options: { maxBatch?: number; maxInFlight?: number } = {},
  ) {
    this.run = run;
    this.options = options;
  }

  get(key: Key): Promise<Result> {
    return new Promise<Result>((resolve, reject) => {
      this.pending.push({ key, resolve, reject });
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.scheduled || this.pending.length === 0) return;
    if (this.inFlight >= (this.options.maxInFlight ?? 1)) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      void this.flush();
    });
  }

  private async flush(): Promise<void> {
    const batch = this.pending.splice(0, this.options.maxBatch ?? 256);
    if (batch.length === 0) return;
    this.inFlight++;
    try {
      const results = await this.run(batch.map((p) => p.key));
      for (const [i, p] of batch.entries()) p.resolve(results[i] as Result);
    } catch (error) {
      for (const p of batch) p.reject(error);
    } finally {
      this.inFlight--;
      this.schedule();
    }
  }
}
