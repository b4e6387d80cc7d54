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

// Calls arrive in batches (one message per turn of the caller's loop) and answers leave the same
// way: a message costs more than the data it carries.
let answers: unknown[] = [];
let answering = false;
const answer = (reply: unknown) => {
  answers.push(reply);
  if (answering) return;
  answering = true;
  setImmediate(() => {
    answering = false;
    const batch = answers;
    answers = [];
    port.postMessage(JSON.stringify(batch));
  });
};

port.on('message', (text: string) => {
  for (const call of JSON.parse(text) as Call[]) {
    const method = methods[call.method];
    if (typeof method !== 'function') {
      answer({ id: call.id, ok: false, error: { message: `unknown store method ${call.method}` } });
      continue;
    }
    method.apply(store, call.args).then(
      (result) => answer({ id: call.id, ok: true, result }),
      (error: unknown) => answer({ id: call.id, ok: false, error: serialise(error) }),
    );
  }
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
