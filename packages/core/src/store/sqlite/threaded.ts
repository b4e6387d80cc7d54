import { Worker as NodeWorker } from 'node:worker_threads';
import { type ErrorCode, WabridgeError } from '../../errors/index.ts';
import type { WebhookBodyIngest } from '../../ingest/whatsapp.ts';
import { type Logger, silentLogger } from '../../logger/index.ts';
import { type Metrics, noopMetrics } from '../../metrics/index.ts';
import type { Job, Store } from '../types.ts';
import { untilAdmitted } from './admission.ts';
import type { Answers, Call, Calls, ForwardedEvent } from './thread-protocol.ts';

export type ThreadedSqliteStore = Store & WebhookBodyIngest;

/**
 * The embedded store in its own thread. The SQL, the JSON columns and above all the fsync of each
 * group commit run there, so the main thread keeps serving HTTP meanwhile; on a two-core machine
 * this roughly doubles durable ingest throughput. Verified webhook bodies are parsed and
 * translated there too (`ingestBody`): the bytes cross once, instead of the parsed webhook
 * crossing as JSON, and the HTTP thread is left with HTTP and signatures.
 *
 * Calls travel as JSON (every Store argument and result is plain data) plus one buffer for the
 * webhook bodies of the batch; errors keep their code and verdict. Logs and metrics of the
 * thread's ingestor come back with the answers and go to `logger` and `metrics` here.
 */
export async function openThreadedSqliteStore(options: {
  path: string;
  logger?: Logger;
  metrics?: Metrics;
}): Promise<ThreadedSqliteStore> {
  const logger = options.logger ?? silentLogger;
  const metrics = options.metrics ?? noopMetrics;
  // Named, so the thread is told apart in top -H, /proc and `npm run bench`.
  const worker = new NodeWorker(new URL('./thread.ts', import.meta.url), {
    workerData: { path: options.path },
    name: 'wabridge-store',
  });
  const pending = new Map<number, { resolve(value: unknown): void; reject(error: unknown): void }>();
  let nextId = 0;
  let failure: Error | null = null;
  await new Promise<void>((resolve, reject) => {
    worker.once('message', () => resolve());
    worker.once('error', reject);
  });

  // One batch in flight at a time. Calls made while the thread works on the previous batch wait
  // here and leave together when its answers arrive: the thread could not have started them
  // sooner (it runs one transaction at a time), and every message costs this thread a
  // postMessage and often a wake-up of the other core. Measured: ~10% more webhooks per second.
  // Every store call answers promptly (none waits on anything but its own transaction), so a
  // held batch always leaves.
  let inFlight = 0;
  let outbox: Call[] = [];
  let bodies: Uint8Array[] = [];
  let scheduled = false;
  const send = () => {
    scheduled = false;
    if (inFlight > 0 || outbox.length === 0) return;
    const message: Calls = { calls: JSON.stringify(outbox) };
    inFlight = outbox.length;
    outbox = [];
    const transfer: ArrayBuffer[] = [];
    if (bodies.length > 0) {
      // One buffer for the batch's bodies (copied, so the caller's bytes stay its own).
      const offsets = [0];
      for (const body of bodies) offsets.push((offsets.at(-1) as number) + body.byteLength);
      const bytes = new Uint8Array(offsets.at(-1) as number);
      bodies.forEach((body, index) => {
        bytes.set(body, offsets[index]);
      });
      message.bytes = bytes;
      message.offsets = offsets;
      transfer.push(bytes.buffer);
      bodies = [];
    }
    worker.postMessage(message, transfer);
  };

  worker.on('message', (text: string) => {
    const { answers, events } = JSON.parse(text) as Answers;
    inFlight -= answers.length;
    send();
    for (const event of events) replay(event, logger, metrics);
    for (const message of answers) {
      const call = pending.get(message.id);
      if (!call) continue;
      pending.delete(message.id);
      if (message.ok) call.resolve(message.result);
      else call.reject(revive(message.error as SerialisedError | undefined));
    }
  });
  const fail = (error: Error) => {
    failure = error;
    for (const call of pending.values()) call.reject(error);
    pending.clear();
  };
  worker.on('error', fail);
  worker.on('exit', (code) => fail(new WabridgeError('internal', `the store thread exited (code ${code})`)));

  const call = (method: string, args: unknown[]): Promise<unknown> => {
    if (failure) return Promise.reject(failure);
    const id = nextId++;
    return new Promise((resolve, reject) => {
      pending.set(id, { resolve, reject });
      // Calls made in the same turn of the loop travel in one message.
      if (!scheduled) {
        scheduled = true;
        setImmediate(send);
      }
      const plain = args.map((arg) => (arg instanceof Uint8Array ? { $bytes: bodies.push(arg) - 1 } : arg));
      outbox.push({ id, method, args: plain });
    });
  };

  const store = { kind: 'sqlite' } as Record<string, unknown>;
  for (const method of [...STORE_METHODS, 'ingestBody'] as const)
    store[method] = (...args: unknown[]) => call(method, args);
  // A claim may take several transactions while new jobs are admitted; each step is its own call
  // so that it answers promptly and the calls held behind it (webhooks) leave meanwhile.
  for (const method of ['claimJobs', 'claimBatch'] as const)
    store[method] = (...args: unknown[]) =>
      untilAdmitted(() => call(`${method}Step`, args) as Promise<Job[] | null>);
  store.close = async () => {
    await call('close', []);
    worker.removeAllListeners('exit');
    await worker.terminate();
  };
  return store as unknown as ThreadedSqliteStore;
}

function replay(event: ForwardedEvent, logger: Logger, metrics: Metrics): void {
  switch (event[0]) {
    case 'log':
      logger[event[1]](event[2], event[3]);
      break;
    case 'increment':
      metrics.increment(event[1], event[2], event[3]);
      break;
    case 'observe':
      metrics.observe(event[1], event[2], event[3]);
      break;
  }
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
  'claimExpiringKey',
  'getContact',
  'getConversation',
  'listConversations',
  'getMessage',
  'getMessageByWamid',
  'listMessages',
  'listRevisions',
  'getStatus',
  'getConsentEntry',
  'consentSnapshot',
  'consentHistory',
  'getNotice',
  'getRef',
  'findRefByExternalId',
  'putRef',
  'listUnrouted',
  'countUnrouted',
  'listPlatformEvents',
  'markUnroutedRouted',
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
  'connectorHealth',
  'nextRunAt',
  'getConnectorState',
  'setConnectorState',
  'tryAcquireLease',
] as const satisfies readonly Exclude<keyof Store, 'kind' | 'close'>[];

type Missing = Exclude<Exclude<keyof Store, 'kind' | 'close'>, (typeof STORE_METHODS)[number]>;
// Fails to compile when a Store method is added without being listed above.
const complete: Missing extends never ? true : Missing = true;
void complete;
