import { Worker } from 'node:worker_threads';
import type { RawKeys } from './archive-content-check.ts';
import type { ScanAnswer, ScanRequest } from './archive-verify-scan.ts';
import { endThread } from './thread-end.ts';

// The threads that scan a large log's pages for `archive verify` (archive-verify-scan.ts says
// what a scan checks), each with its own read-only connection to the store's file. Pages go to
// them in turn; answers come back in any order and are matched by id.

export interface ScanPool {
  scan(request: Omit<ScanRequest, 'id'>): Promise<ScanAnswer>;
  /** Ends the threads, each closing its connection first (see endThread); answers their exit codes. */
  close(): Promise<(number | null)[]>;
}

export function scanPool(path: string, log: string, keys: RawKeys | null, threads: number): ScanPool {
  const pending = new Map<number, { resolve(answer: ScanAnswer): void; reject(e: unknown): void }>();
  let next = 0;
  const failAll = (error: unknown) => {
    for (const call of pending.values()) call.reject(error);
    pending.clear();
  };
  const workers = Array.from({ length: Math.max(1, threads) }, () => {
    const worker = new Worker(new URL('./archive-verify-thread.ts', import.meta.url), {
      workerData: { path, log, keys },
      name: 'wabridge-archive-verify',
    });
    worker.on('message', (answer: ScanAnswer) => {
      const call = pending.get(answer.id);
      pending.delete(answer.id);
      call?.resolve(answer);
    });
    worker.on('error', failAll);
    return worker;
  });
  return {
    scan(request) {
      const id = next++;
      return new Promise((resolve, reject) => {
        pending.set(id, { resolve, reject });
        (workers[id % workers.length] as Worker).postMessage({ ...request, id });
      });
    },
    close: () => Promise.all(workers.map((worker) => endThread(worker))),
  };
}
