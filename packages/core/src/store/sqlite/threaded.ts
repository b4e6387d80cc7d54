import { Worker as NodeWorker } from 'node:worker_threads';
import { type ErrorCode, WabridgeError } from '../../errors/index.ts';
import type { Store } from '../types.ts';

/**
 * The embedded store in its own thread. The SQL, the JSON columns and above all the fsync of each
 * group commit run there, so the main thread keeps parsing and verifying requests meanwhile; on a
 * two-core machine this roughly doubles durable ingest throughput. Calls travel as JSON (every Store
 * argument and result is plain data: strings, numbers, booleans, null, arrays, objects); errors
 * keep their code and verdict.
 */
export async function openThreadedSqliteStore(options: { path: string }): Promise<Store> {
  const worker = new NodeWorker(new URL('./thread.ts', import.meta.url), {
    workerData: { path: options.path },
  });
  const pending = new Map<number, { resolve(value: unknown): void; reject(error: unknown): void }>();
  let nextId = 0;
  let failure: Error | null = null;
  await new Promise<void>((resolve, reject) => {
    worker.once('message', () => resolve());
    worker.once('error', reject);
  });
  worker.on('message', (text: string) => {
    const answers = JSON.parse(text) as {
      id: number;
      ok: boolean;
      result?: unknown;
      error?: SerialisedError;
    }[];
    for (const message of answers) {
      const call = pending.get(message.id);
      if (!call) continue;
      pending.delete(message.id);
      if (message.ok) call.resolve(message.result);
      else call.reject(revive(message.error));
    }
  });
  const fail = (error: Error) => {
    failure = error;
    for (const call of pending.values()) call.reject(error);
    pending.clear();
  };
  worker.on('error', fail);
  worker.on('exit', (code) => fail(new WabridgeError('internal', `the store thread exited (code ${code})`)));

  // Calls made in the same turn of the loop travel in one message.
  let outbox: { id: number; method: string; args: unknown[] }[] = [];
  const send = () => {
    const batch = outbox;
    outbox = [];
    // JSON, not structured clone: for this plain data V8's JSON is several times cheaper, and the
    // main thread is the one serving HTTP.
    if (batch.length > 0) worker.postMessage(JSON.stringify(batch));
  };
  const call = (method: string, args: unknown[]): Promise<unknown> => {
    if (failure) return Promise.reject(failure);
    const id = nextId++;
    return new Promise((resolve, reject) => {
      pending.set(id, { resolve, reject });
      if (outbox.length === 0) setImmediate(send);
      outbox.push({ id, method, args });
    });
  };

  const store = { kind: 'sqlite' } as Record<string, unknown>;
  for (const method of STORE_METHODS) store[method] = (...args: unknown[]) => call(method, args);
  store.close = async () => {
    await call('close', []);
    worker.removeAllListeners('exit');
    await worker.terminate();
  };
  return store as unknown as Store;
}

interface SerialisedError {
  code?: ErrorCode;
  message: string;
  status?: number;
  retryable?: boolean;
  retryAfterMs?: number;
  details?: Record<string, unknown>;
}

function revive(error: SerialisedError | undefined): Error {
  if (!error) return new WabridgeError('internal', 'store call failed');
  if (!error.code) return new Error(error.message);
  return new WabridgeError(error.code, error.message, {
    ...(error.status === undefined ? {} : { status: error.status }),
    ...(error.retryable === undefined ? {} : { retryable: error.retryable }),
    ...(error.retryAfterMs === undefined ? {} : { retryAfterMs: error.retryAfterMs }),
    ...(error.details === undefined ? {} : { details: error.details }),
  });
}

// Every method of the Store interface; `satisfies` makes the compiler check the list is complete.
const STORE_METHODS = [
  'migrate',
  'createWorkspace',
  'getWorkspace',
  'listWorkspaces',
  'updateWorkspace',
  'deleteWorkspace',
  'addPhoneNumber',
  'removePhoneNumber',
  'listPhoneNumbers',
  'resolvePhoneNumber',
  'setConnector',
  'getConnector',
  'listConnectors',
  'configVersion',
  'appendAudit',
  'ingest',
  'recordOutbound',
  'recordNotice',
  'recordConsent',
  'claimCommandKey',
  'getContact',
  'getConversation',
  'listConversations',
  'getMessage',
  'getMessageByWamid',
  'listMessages',
  'getStatus',
  'getConsentEntry',
  'consentSnapshot',
  'consentHistory',
  'getNotice',
  'getRef',
  'findRefByExternalId',
  'putRef',
  'listUnrouted',
  'markAccepted',
  'markFailed',
  'claimJobs',
  'claimBatch',
  'completeJob',
  'retryJob',
  'deadLetterJob',
  'checkpointRef',
  'extendLease',
  'listDeadJobs',
  'replayDeadJobs',
  'jobStats',
  'nextRunAt',
  'getConnectorState',
  'setConnectorState',
  'tryAcquireLease',
] as const satisfies readonly Exclude<keyof Store, 'kind' | 'close'>[];

type Missing = Exclude<Exclude<keyof Store, 'kind' | 'close'>, (typeof STORE_METHODS)[number]>;
// Fails to compile when a Store method is added without being listed above.
const complete: Missing extends never ? true : Missing = true;
void complete;
