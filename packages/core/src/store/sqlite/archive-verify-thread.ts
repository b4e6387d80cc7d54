import { parentPort, workerData } from 'node:worker_threads';
import { keyObjects, type RawKeys } from './archive-content-check.ts';
import { PageScanner, type ScanRequest } from './archive-verify-scan.ts';
import { isCloseRequest } from './thread-end.ts';

// A thread of `scanPool` (archive-verify-pool.ts): pages to scan in, their leaves out (moved, not copied).

const { path, log, keys } = workerData as { path: string; log: string; keys: RawKeys | null };
const scanner = new PageScanner(path, log, keys ? keyObjects(keys) : null);
parentPort?.on('message', (request: ScanRequest) => {
  if (isCloseRequest(request)) {
    scanner.close();
    parentPort?.close();
    return;
  }
  const answer = scanner.scan(request);
  parentPort?.postMessage(answer, [answer.leaves.buffer as ArrayBuffer]);
});
