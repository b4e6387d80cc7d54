/**
 * Runs work one at a time per key, and work of different keys at the same time: a read-modify-write
 * of one stored key (a shard of a connector's index) must not interleave with another of the same
 * key in this process, but need not wait for the other keys'. Holds only the keys with work queued.
 */
export class SerialByKey {
  readonly #tails = new Map<string, Promise<unknown>>();

  run<T>(key: string, work: () => Promise<T>): Promise<T> {
    const next = (this.#tails.get(key) ?? Promise.resolve()).then(work, work);
    const settled = next.catch(() => {});
    this.#tails.set(key, settled);
    void settled.then(() => {
      if (this.#tails.get(key) === settled) this.#tails.delete(key);
    });
    return next;
  }

  /** Keys with work queued or running (for tests and diagnostics). */
  get busyKeys(): number {
    return this.#tails.size;
  }
}
