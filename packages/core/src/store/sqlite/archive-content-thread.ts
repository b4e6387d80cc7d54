import { parentPort, workerData } from 'node:worker_threads';
import { type ContentItem, checkContents, keyObjects, type RawKeys } from './archive-content-check.ts';

// The thread of `threadChecker` (archive-content-check.ts): pages of contents in, faults out.

const { keys, log } = workerData as { keys: RawKeys; log: string };
const objects = keyObjects(keys);
parentPort?.on('message', ({ id, items }: { id: number; items: ContentItem[] }) => {
  parentPort?.postMessage({ id, fault: checkContents(objects, log, items) });
});
