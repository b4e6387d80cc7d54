/**
 * Waits `ms`, or rejects with the signal's reason as soon as `signal` aborts (at once if it already
 * has). Pacers sleep inside a delivery, and a stopping worker aborts its deliveries: the sleep must
 * end with them rather than hold the worker's shutdown for the rest of a rate-limit window.
 * (node:timers/promises would reject with a generic AbortError, hiding why the delivery stopped.)
 */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
