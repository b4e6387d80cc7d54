import { createSecretKey, type KeyObject } from 'node:crypto';
import { Worker } from 'node:worker_threads';
import { openWith, sealedKeyId } from '../../vault/keyring.ts';
import { ARCHIVE_CONTENT_PURPOSE, contentHash } from './archive.ts';

// The content half of `archive verify`: each stored content opened and hashed against its
// record's commitment. It costs about as much as the tree's half (one AES-GCM call and one
// SHA-256 per record), so for a large log it runs in a thread of its own, a page behind the
// tree's pass, and the two take about the time of one.

/** A stored content and the commitment its record makes to it. */
export interface ContentItem {
  readonly seq: number;
  readonly committed: string;
  readonly sealed: Uint8Array;
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

/** Checks items in order; answers the first that fails, or null. */
export function checkContents(
  keys: ReadonlyMap<string, KeyObject>,
  log: string,
  items: readonly ContentItem[],
): ContentFault | null {
  for (const item of items) {
    const id = sealedKeyId(item.sealed);
    const key = id === null ? undefined : keys.get(id);
    if (!key) {
      return {
        seq: item.seq,
        message:
          id === null
            ? 'its stored content is not a sealed value'
            : `its content is sealed with data key ${id}, which the workspace does not have`,
      };
    }
    let opened: Buffer;
    try {
      opened = openWith(key, log, ARCHIVE_CONTENT_PURPOSE, item.sealed);
    } catch (error) {
      return {
        seq: item.seq,
        message: `its content does not open: ${error instanceof Error ? error.message : error}`,
      };
    }
    if (contentHash(opened) !== item.committed) {
      return { seq: item.seq, message: 'its stored content is not the content its record commits to' };
    }
  }
  return null;
}

export interface ContentChecker {
  /** Checks one page of items; resolves with its first fault, or null. */
  check(items: readonly ContentItem[]): Promise<ContentFault | null>;
  close(): Promise<void>;
}

/** Checks in this thread (small logs: a thread costs more to start than it saves). */
export function inlineChecker(keys: RawKeys, log: string): ContentChecker {
  const objects = keyObjects(keys);
  return {
    check: (items) => Promise.resolve(checkContents(objects, log, items)),
    close: () => Promise.resolve(),
  };
}

/** Checks in a thread of its own, beside the caller's work. */
export function threadChecker(keys: RawKeys, log: string): ContentChecker {
  const worker = new Worker(new URL('./archive-content-thread.ts', import.meta.url), {
    workerData: { keys, log },
    name: 'wabridge-archive-verify',
  });
  const pending = new Map<number, { resolve(f: ContentFault | null): void; reject(e: unknown): void }>();
  let next = 0;
  const failAll = (error: unknown) => {
    for (const call of pending.values()) call.reject(error);
    pending.clear();
  };
  worker.on('message', ({ id, fault }: { id: number; fault: ContentFault | null }) => {
    const call = pending.get(id);
    pending.delete(id);
    call?.resolve(fault);
  });
  worker.on('error', failAll);
  return {
    check(items) {
      const id = next++;
      return new Promise((resolve, reject) => {
        pending.set(id, { resolve, reject });
        worker.postMessage({ id, items });
      });
    },
    async close() {
      await worker.terminate();
    },
  };
}
