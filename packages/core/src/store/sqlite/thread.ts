// The store thread: owns the SQLite connection and answers Store calls from the main thread.
import { parentPort, workerData } from 'node:worker_threads';
import { isWabridgeError } from '../../errors/index.ts';
import { openSqliteStore } from './index.ts';

interface Call {
  id: number;
  method: string;
  args: unknown[];
}

const port = parentPort;
if (!port) throw new Error('store thread started outside a worker');
const store = await openSqliteStore({ path: (workerData as { path: string }).path });
const methods = store as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>;

port.on('message', (call: Call) => {
  const method = methods[call.method];
  if (typeof method !== 'function') {
    port.postMessage({ id: call.id, ok: false, error: { message: `unknown store method ${call.method}` } });
    return;
  }
  method.apply(store, call.args).then(
    (result) => port.postMessage({ id: call.id, ok: true, result }),
    (error: unknown) => port.postMessage({ id: call.id, ok: false, error: serialise(error) }),
  );
});
port.postMessage({ ready: true });

function serialise(error: unknown) {
  if (isWabridgeError(error)) {
    return {
      code: error.code,
      message: error.message,
      status: error.status,
      retryable: error.retryable,
      retryAfterMs: error.retryAfterMs,
      details: error.details,
    };
  }
  return { message: error instanceof Error ? error.message : String(error) };
}
