import type { Worker } from 'node:worker_threads';

/**
 * The message that asks one of the store's threads to close its SQLite connection and end. The
 * thread closes the connection and its parent port; with nothing left on its event loop, it exits
 * with code 0.
 */
export const CLOSE_THREAD = { close: true } as const;

export function isCloseRequest(message: unknown): boolean {
  return typeof message === 'object' && message !== null && (message as { close?: unknown }).close === true;
}

/** How long a thread is given to end by itself before it is terminated. */
export const THREAD_END_GRACE_MS = 5000;

/**
 * Ends a thread that holds a SQLite connection: asked to close it and exit (code 0), it finishes
 * the statement under way first. Terminating it instead tears its isolate down with the
 * connection and its statements still open, leaving them to the thread's teardown; SQLite handles
 * freed by a worker's teardown are a known source of crashes in Node's SQLite bindings (e.g.
 * https://github.com/WiseLibs/better-sqlite3/issues/1476,
 * https://github.com/TryGhost/node-sqlite3/issues/1666). A vitest worker running the store tests,
 * which open and close many stores, once died of SIGSEGV while threads were ended that way (the
 * cause was not confirmed: it did not come back in 14 runs). Terminated only if it has not
 * ended within `graceMs` (a statement waiting on a lock another connection holds). Answers the
 * thread's exit code, or null for a thread that had already ended (it crashed, or was ended before).
 */
export async function endThread(worker: Worker, graceMs = THREAD_END_GRACE_MS): Promise<number | null> {
  // An ended thread's id is -1; it would never emit 'exit' again, and waiting for it would only
  // run out the grace.
  if (worker.threadId === -1) return null;
  // Referenced while it ends: a process with nothing else left to do waits for it.
  worker.ref();
  let timer: NodeJS.Timeout | undefined;
  const exited = new Promise<number>((resolve) => worker.once('exit', resolve));
  const overdue = new Promise<number | null>((resolve) => {
    timer = setTimeout(() => void worker.terminate().then((code) => resolve(code ?? null)), graceMs);
  });
  worker.postMessage(CLOSE_THREAD);
  try {
    return await Promise.race([exited, overdue]);
  } finally {
    clearTimeout(timer);
  }
}
