import { parentPort, workerData } from 'node:worker_threads';
import { type ContentPage, checkContents, keyObjects, type RawKeys } from './archive-content-check.ts';

// A thread of `threadChecker` (archive-content-check.ts): packed pages of contents in, faults out.

const { keys, log } = workerData as { keys: RawKeys; log: string };
const objects = keyObjects(keys);
parentPort?.on('message', ({ id, page }: { id: number; page: ContentPage }) => {
  parentPort?.postMessage({ id, fault: checkContents(objects, log, page) });
});
