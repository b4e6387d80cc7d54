import { createSecretKey, type KeyObject } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { BatchOpener } from '../../vault/batch-open.ts';
import { openWith, sealedKeyId } from '../../vault/keyring.ts';
import { ARCHIVE_CONTENT_PURPOSE, contentHash } from './archive.ts';

// The content half of `archive verify`: each stored content opened and hashed against its
// record's commitment. It costs more than the tree's half (an AES-GCM call and a SHA-256 through
// node:crypto, ~10-15 µs of CPU per record against ~5 for the tree), so for a large log it runs
// in a pool of threads, pages behind the tree's pass, each page packed into one buffer that is
// moved to its thread, not copied (a page of objects cost the pass ~3 µs a record to clone).
// A store in a file is checked by archive-verify-scan.ts instead, whose threads read the pages
// themselves; these pages serve an in-memory store, and the records the main pass re-reads.

/** One page of stored contents and the commitments their records make to them, packed. */
export interface ContentPage {
  /** The records' seqs, in log order. */
  readonly seqs: Float64Array;
  /** The commitments (64 hex characters each), concatenated in the same order. */
  readonly committed: string;
  /** Where each sealed content starts in `bytes`; one more entry than `seqs`, its end. */
  readonly offsets: Uint32Array;
  readonly bytes: Uint8Array;
}

/** Gathers one page's contents, then packs them. */
export class ContentPageBuilder {
  #seqs: number[] = [];
  #committed: string[] = [];
  #sealed: Uint8Array[] = [];
  #length = 0;

  get size(): number {
    return this.#seqs.length;
  }

  add(seq: number, committed: string, sealed: Uint8Array): void {
    this.#seqs.push(seq);
    this.#committed.push(committed);
    this.#sealed.push(sealed);
    this.#length += sealed.byteLength;
  }

  /** The contents of the records before `seq` only (a page cut short by a failure). */
  before(seq: number): ContentPageBuilder {
    const cut = new ContentPageBuilder();
    this.#seqs.forEach((s, i) => {
      if (s < seq) cut.add(s, this.#committed[i] as string, this.#sealed[i] as Uint8Array);
    });
    return cut;
  }

  /** The packed page; the builder starts empty again. */
  take(): ContentPage {
    const offsets = new Uint32Array(this.#seqs.length + 1);
    const bytes = new Uint8Array(this.#length);
    let at = 0;
    this.#sealed.forEach((sealed, i) => {
      offsets[i] = at;
      bytes.set(sealed, at);
      at += sealed.byteLength;
    });
    offsets[this.#seqs.length] = at;
    const page = {
      seqs: Float64Array.from(this.#seqs),
      committed: this.#committed.join(''),
      offsets,
      bytes,
    };
    this.#seqs = [];
    this.#committed = [];
    this.#sealed = [];
    this.#length = 0;
    return page;
  }
}

/** The first content that does not match its commitment. */
export interface ContentFault {
  readonly seq: number;
  readonly message: string;
}

/** A workspace's data keys, raw, for a checker in another thread of this process. */
export type RawKeys = ReadonlyArray<{ readonly keyId: string; readonly key: Uint8Array }>;

export function keyObjects(keys: RawKeys): Map<string, KeyObject> {
  return new Map(keys.map((k) => [k.keyId, createSecretKey(Buffer.from(k.key))]));
}

/** A batch opener per keys and log, made once (`checkContents` is called a page at a time). */
const openers = new WeakMap<ReadonlyMap<string, KeyObject>, Map<string, BatchOpener>>();

function batchOpener(keys: ReadonlyMap<string, KeyObject>, log: string): BatchOpener {
  let byLog = openers.get(keys);
  if (!byLog) {
    byLog = new Map();
    openers.set(keys, byLog);
  }
  let opener = byLog.get(log);
  if (!opener) {
    opener = new BatchOpener(keys, log, ARCHIVE_CONTENT_PURPOSE);
    byLog.set(log, opener);
  }
  return opener;
}

/** Checks a page's contents in order; answers the first that fails, or null. */
export function checkContents(
  keys: ReadonlyMap<string, KeyObject>,
  log: string,
  page: ContentPage,
): ContentFault | null {
  const count = page.seqs.length;
  const sealed = Array.from({ length: count }, (_, i) =>
    page.bytes.subarray(page.offsets[i], page.offsets[i + 1]),
  );
  // The page opened together (vault/batch-open.ts), every tag checked; when a tag fails, or a
  // content does not open or hash as committed, the content-by-content check below names it.
  const opened = batchOpener(keys, log).open(sealed);
  if (opened) {
    let sound = true;
    for (let i = 0; i < count && sound; i++) {
      const plain = opened[i];
      sound =
        plain !== null &&
        plain !== undefined &&
        contentHash(plain) === page.committed.slice(i * 64, i * 64 + 64);
    }
    if (sound) return null;
  }
  for (let i = 0; i < count; i++) {
    const sealed = page.bytes.subarray(page.offsets[i], page.offsets[i + 1]);
    const message = contentProblem(keys, log, sealed, page.committed.slice(i * 64, i * 64 + 64));
    if (message !== null) return { seq: page.seqs[i] as number, message };
  }
  return null;
}

/** What is wrong with one stored content against its record's commitment (64 hex), or null. */
export function contentProblem(
  keys: ReadonlyMap<string, KeyObject>,
  log: string,
  sealed: Uint8Array,
  committed: string,
): string | null {
  const id = sealedKeyId(sealed);
  const key = id === null ? undefined : keys.get(id);
  if (!key) {
    return id === null
      ? 'its stored content is not a sealed value'
      : `its content is sealed with data key ${id}, which the workspace does not have`;
  }
  let opened: Buffer;
  try {
    opened = openWith(key, log, ARCHIVE_CONTENT_PURPOSE, sealed);
  } catch (error) {
    return `its content does not open: ${error instanceof Error ? error.message : error}`;
  }
  return contentHash(opened) === committed
    ? null
    : 'its stored content is not the content its record commits to';
}

export interface ContentChecker {
  /** Checks one page; resolves with its first fault, or null. */
  check(page: ContentPage): Promise<ContentFault | null>;
  close(): Promise<void>;
}

/** Checks in this thread (small logs: a thread costs more to start than it saves). */
export function inlineChecker(keys: RawKeys, log: string): ContentChecker {
  const objects = keyObjects(keys);
  return {
    check: (page) => Promise.resolve(checkContents(objects, log, page)),
    close: () => Promise.resolve(),
  };
}

/**
 * The threads a pool starts by default: one per core the process may use. The tree's pass takes
 * a core's share too, so on two cores three threads share them; the content's half being the
 * larger, that keeps both cores busy.
 */
export const defaultCheckThreads = (): number => Math.max(1, Math.min(8, availableParallelism()));

/** Checks pages in a pool of threads, beside the caller's work; pages go to them in turn. */
export function threadChecker(keys: RawKeys, log: string, threads = defaultCheckThreads()): ContentChecker {
  const pending = new Map<number, { resolve(f: ContentFault | null): void; reject(e: unknown): void }>();
  let next = 0;
  const failAll = (error: unknown) => {
    for (const call of pending.values()) call.reject(error);
    pending.clear();
  };
  const workers = Array.from({ length: Math.max(1, threads) }, () => {
    const worker = new Worker(new URL('./archive-content-thread.ts', import.meta.url), {
      workerData: { keys, log },
      name: 'wabridge-archive-verify',
    });
    worker.on('message', ({ id, fault }: { id: number; fault: ContentFault | null }) => {
      const call = pending.get(id);
      pending.delete(id);
      call?.resolve(fault);
    });
    worker.on('error', failAll);
    return worker;
  });
  return {
    check(page) {
      const id = next++;
      return new Promise((resolve, reject) => {
        pending.set(id, { resolve, reject });
        (workers[id % workers.length] as Worker).postMessage({ id, page }, [
          page.seqs.buffer,
          page.offsets.buffer,
          page.bytes.buffer,
        ] as ArrayBuffer[]);
      });
    },
    async close() {
      await Promise.all(workers.map((worker) => worker.terminate()));
    },
  };
}
