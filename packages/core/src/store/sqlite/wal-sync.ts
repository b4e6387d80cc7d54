import { open } from 'node:fs/promises';
import { dirname } from 'node:path';

/**
 * Answers committed write batches in commit order, each durable one only once the WAL has been
 * synced to disk after its commit.
 *
 * The store commits with `synchronous = NORMAL`: COMMIT writes the WAL frames and returns without
 * waiting for the disk. The sync (fdatasync of the -wal file) then runs on libuv's thread pool
 * while the store thread goes on with the next batches, and one sync covers every batch committed
 * before it started. With `synchronous = FULL` the thread itself sat in fsync for each durable
 * commit, and every store call of the HTTP edge and of the worker waited behind it: 44% of the store
 * thread's wall time at 1,000 msg/s (docs/performance.md, "The WAL synced beside the store
 * thread").
 *
 * What a caller learns is never ahead of the disk: a durable batch is answered after a sync that
 * began after its commit, and a batch that needs no sync (claims, leases, completions, see
 * `SqliteDatabase.write`) is still answered only after every batch committed before it, since it
 * may have read their rows (a claim hands out the jobs an ingest just made). A process crash loses
 * nothing either way: a commit is in the operating system's cache the moment COMMIT returns.
 */
export class OrderedWalSync {
  readonly #sync: () => Promise<void>;
  /** Committed batches not yet answered, oldest first. */
  #waiting: { durable: boolean; answer: (syncError?: unknown) => void }[] = [];
  #syncing: Promise<void> | null = null;
  #syncs = 0;

  constructor(sync: () => Promise<void>) {
    this.#sync = sync;
  }

  /** Syncs started so far. */
  get syncs(): number {
    return this.#syncs;
  }

  /** A sync is running or batches wait for answers. */
  get busy(): boolean {
    return this.#syncing !== null || this.#waiting.length > 0;
  }

  /**
   * A batch has committed (or failed as a whole). `answer` settles its callers, with the sync's
   * error if the sync that should have covered it failed.
   */
  committed(durable: boolean, answer: (syncError?: unknown) => void): void {
    if (!durable && this.#waiting.length === 0) {
      answer();
      return;
    }
    this.#waiting.push({ durable, answer });
    if (durable) this.#start();
  }

  /** Resolves once every batch committed so far is answered. */
  async settled(): Promise<void> {
    while (this.#syncing) await this.#syncing;
  }

  #start(): void {
    if (this.#syncing) return; // the batch waits for the next sync, started when this one ends
    const covered = this.#waiting.length;
    this.#syncs++;
    this.#syncing = this.#sync().then(
      () => this.#finish(covered, undefined),
      (error: unknown) => this.#finish(covered, error),
    );
  }

  #finish(covered: number, error: unknown): void {
    this.#syncing = null;
    for (const batch of this.#waiting.splice(0, covered)) batch.answer(error);
    // Batches that need no sync and waited only for those before them go now (refused too if the
    // sync failed: they may have read what it did not cover); the next durable one (and what
    // follows it) waits for a sync of its own.
    while (this.#waiting[0] && !this.#waiting[0].durable) this.#waiting.shift()?.answer(error);
    if (this.#waiting.length > 0) this.#start();
  }
}

/**
 * fdatasync of a database's WAL file (`<path>-wal`) on libuv's thread pool. The file is opened
 * once, and its directory synced once then, so that the WAL's name is on disk too (SQLite would
 * sync the directory on the WAL's first sync under `synchronous = FULL`). A failed sync drops the
 * handle, so the next one opens the file again.
 */
export function walFileSync(databasePath: string): { sync: () => Promise<void>; close: () => Promise<void> } {
  let handle: Awaited<ReturnType<typeof open>> | null = null;
  const sync = async () => {
    if (!handle) {
      const opened = await open(`${databasePath}-wal`, 'r');
      try {
        await syncDirectory(dirname(databasePath));
      } catch (error) {
        await opened.close().catch(() => {});
        throw error;
      }
      handle = opened;
    }
    try {
      await handle.datasync();
    } catch (error) {
      const failed = handle;
      handle = null;
      await failed.close().catch(() => {});
      throw error;
    }
  };
  const close = async () => {
    const open = handle;
    handle = null;
    await open?.close();
  };
  return { sync, close };
}

/** Where a directory cannot be opened for reading (Windows), there is nothing to sync. */
async function syncDirectory(path: string): Promise<void> {
  let directory: Awaited<ReturnType<typeof open>>;
  try {
    directory = await open(path, 'r');
  } catch {
    return;
  }
  try {
    await directory.sync();
  } finally {
    await directory.close();
  }
}
