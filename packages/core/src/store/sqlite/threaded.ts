import { Worker as NodeWorker } from 'node:worker_threads';
import { type ErrorCode, WabridgeError } from '../../errors/index.ts';
import { type Logger, silentLogger } from '../../logger/index.ts';
import { type Metrics, noopMetrics } from '../../metrics/index.ts';
import type { IngestTranslator } from '../ingest-translator.ts';
import type { Store } from '../types.ts';
import { untilAdmitted } from './admission.ts';
import { STORE_THREAD_LIMITS } from './thread-limits.ts';
import type {
  Answers,
  Call,
  Calls,
  ForwardedEvent,
  ThreadApi,
  ThreadMethod,
  ThreadResult,
} from './thread-protocol.ts';
import { method } from './thread-protocol.ts';

export type ThreadedSqliteStore = Store &
  IngestTranslator & {
    /**
     * How long the store thread has been working on its current batch without answering, in ms
     * (0 when it is idle or making progress). Readiness says "not ready" while this grows: the
     * thread waits on a lock another connection holds.
     */
    stalledForMs(): number;
    /** Verified webhook bodies handed to the store and not yet answered: count and bytes. */
    pendingIngests(): { count: number; bytes: number };
  };

/**
 * Bounds on verified webhook bodies waiting for the store thread. Without them a stalled store
 * (its write lock held by another process) lets every arriving webhook pile up in memory here.
 */
export interface IngestLimits {
  /** Bodies waiting at once; one more is refused at once (`unavailable`, i.e. 503). */
  maxPending: number;
  /** Their total size in bytes; a body that would pass it is refused at once. */
  maxPendingBytes: number;
  /** A body not committed within this many ms is answered `unavailable` (see `ingestBody` below). */
  deadlineMs: number;
}

export const DEFAULT_INGEST_LIMITS: IngestLimits = {
  maxPending: 1000,
  maxPendingBytes: 16 * 1024 * 1024,
  deadlineMs: 5000,
};

/** Retry-After for a body refused because the store is busy: a few seconds, like a lock's wait. */
const BUSY_RETRY_AFTER_MS = 5000;

/**
 * The embedded store in its own thread. The SQL, the JSON columns and above all the fsync of each
 * group commit run there, so the main thread keeps serving HTTP meanwhile; on a two-core machine
 * this roughly doubles durable ingest throughput. Verified webhook bodies are parsed and
 * translated there too (`ingestBody`): the bytes cross once, instead of the parsed webhook
 * crossing as JSON, and the HTTP thread is left with HTTP and signatures.
 *
 * Calls travel as JSON (every Store argument and result is plain data) plus one buffer for the
 * webhook bodies of the batch; errors keep their code and verdict. Logs and metrics of the
 * thread's ingest translator come back with the answers and go to `logger` and `metrics` here.
 */
export async function openThreadedSqliteStore(options: {
  path: string;
  logger?: Logger;
  metrics?: Metrics;
  ingestLimits?: Partial<IngestLimits>;
  /** How long a write waits for another connection's lock before it fails `unavailable` (10 s). */
  busyTimeoutMs?: number;
  now?: () => number;
  /** See SqliteStoreOptions.masterKeys: the thread seals and opens content with them. */
  masterKeys?: { current: Buffer; previous?: readonly Buffer[] };
  /**
   * The URL of the module that translates webhook bodies in the store thread (an
   * `IngestTranslatorModule`, e.g. `WHATSAPP_INGEST_TRANSLATOR` of `@wabridge/whatsapp`). Without
   * it, `ingestBody` fails.
   */
  ingestTranslator?: string;
}): Promise<ThreadedSqliteStore> {
  const logger = options.logger ?? silentLogger;
  const metrics = options.metrics ?? noopMetrics;
  const limits: IngestLimits = { ...DEFAULT_INGEST_LIMITS, ...options.ingestLimits };
  const now = options.now ?? Date.now;
  // Named, so the thread is told apart in top -H, /proc and `npm run bench`.
  const worker = new NodeWorker(new URL('./thread.ts', import.meta.url), {
    workerData: {
      path: options.path,
      busyTimeoutMs: options.busyTimeoutMs,
      masterKeys: options.masterKeys,
      ingestTranslator: options.ingestTranslator,
    },
    name: 'wabridge-store',
    resourceLimits: STORE_THREAD_LIMITS,
  });
  const pending = new Map<number, { resolve(value: unknown): void; reject(error: unknown): void }>();
  let nextId = 0;
  let failure: Error | null = null;
  await new Promise<void>((resolve, reject) => {
    worker.once('message', () => resolve());
    worker.once('error', reject);
  });

  // Calls made while the thread works on a batch wait here and leave together when its answers
  // arrive: the thread could not have started them sooner (it runs one transaction at a time),
  // and every message costs this thread a postMessage and often a wake-up of the other core.
  // Measured: ~10% more webhooks per second. Every store call answers promptly (none waits on
  // anything but its own transaction), so a held batch always leaves. Each message of answers lets
  // at most two batches leave (see the message handler below): the calls that waited, at once
  // when nothing else is in flight, and whatever waits once the callers of the answers have run
  // (their reactions).
  let inFlight = 0;
  // When the thread last made progress: a batch left while none was in flight, or answers arrived.
  let progressAt = now();
  // Calls keep their arguments as given until they leave, so one that waits here can be taken back.
  let outbox: Call[] = [];
  let scheduled = false;
  const send = () => {
    scheduled = false;
    if (inFlight > 0) return;
    post();
  };
  /** Sends what the outbox holds as one batch, whatever is in flight. */
  const post = () => {
    if (outbox.length === 0) return;
    const bodies: Uint8Array[] = [];
    const calls = outbox.map((c) => ({
      ...c,
      args: c.args.map((arg) => (arg instanceof Uint8Array ? { $bytes: bodies.push(arg) - 1 } : arg)),
    }));
    const message: Calls = { calls: JSON.stringify(calls) };
    if (inFlight === 0) progressAt = now();
    inFlight += outbox.length;
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
    }
    worker.postMessage(message, transfer);
  };

  worker.on('message', (text: string) => {
    const { answers, events } = JSON.parse(text) as Answers;
    inFlight -= answers.length;
    progressAt = now();
    // The calls that waited for this batch leave at once, before the callers answered here run:
    // the thread has nothing else to do, and those callers can take a while (at 200 connections,
    // a hundred or so HTTP responses written, a few ms in which the thread sat idle when the
    // batch waited for them; docs/performance.md, "Ingest at 200 connections, bisected").
    if (inFlight === 0) post();
    // The calls those callers make in reaction (a delivery's next step: the claim's hydration,
    // the refs its connector reads, its checkpoint) follow in a batch of their own, once every
    // continuation here has run: they are microtasks, and a tick queued from one runs after the
    // last of them, before the loop turns to any I/O. So they neither wait for the batch just
    // sent to be answered (one extra commit and fsync per step, about half of a job's
    // webhook → effect time at 500 msg/s: docs/performance.md, "The slowest 1% at 500 msg/s")
    // nor hold it back. Calls that arrive later (new webhooks) wait for the next answers.
    if (answers.length > 0) queueMicrotask(() => process.nextTick(post));
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

  /** Calls `method` of the store thread (see ThreadApi: the name and arguments are checked). */
  const invoke = <K extends ThreadMethod>(
    name: K,
    args: Parameters<ThreadApi[K]>,
  ): Promise<ThreadResult<K>> => {
    if (failure) return Promise.reject(failure);
    const id = nextId++;
    return new Promise((resolve, reject) => {
      pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
      // Calls made in the same turn of the loop travel in one message.
      if (!scheduled) {
        scheduled = true;
        setImmediate(send);
      }
      outbox.push({ id, method: name, args } as Call);
    });
  };
  const lastId = () => nextId - 1;
  /** Takes back a call that has not left for the thread yet; false once it has. */
  const withdraw = (id: number): boolean => {
    const index = outbox.findIndex((c) => c.id === id);
    if (index < 0) return false;
    outbox.splice(index, 1);
    pending.delete(id);
    return true;
  };

  // Verified webhook bodies waiting for the thread, in count and bytes (see IngestLimits).
  let ingests = 0;
  let ingestBytes = 0;
  const busy = (why: string) =>
    new WabridgeError('unavailable', `the store is busy (${why}); retry later`, {
      retryAfterMs: BUSY_RETRY_AFTER_MS,
    });

  /**
   * A verified body, stored (or refused) by the thread. Bounded two ways:
   * - Admission: past `maxPending` bodies or `maxPendingBytes` waiting, a body is refused at once.
   *   Nothing of it was stored; Meta retries a 503.
   * - Deadline: a body not committed within `deadlineMs` is answered `unavailable` (503) too.
   *   If it has not left for the thread yet it is taken back and never stored. If it has (the
   *   thread is inside a transaction waiting on the lock), it may still commit after we said 503.
   *   That is harmless, and is why the deadline may answer before the thread does: Meta sends the
   *   same body again, and ingest is idempotent — messages and statuses are deduplicated by their
   *   wamid (and status), other changes by a content id — so the retry finds it stored, queues no
   *   second job and gets its 200. What must never happen, a 200 for something not on disk,
   *   cannot: 200 is only ever sent for a body the thread reported committed.
   * The bytes of a body that left count until the thread answers, since until then it holds them.
   */
  const ingestBody: ThreadApi['ingestBody'] = (body, receivedAt) => {
    if (failure) return Promise.reject(failure);
    if (ingests >= limits.maxPending) return Promise.reject(busy(`${ingests} webhooks wait for it`));
    if (ingestBytes + body.byteLength > limits.maxPendingBytes)
      return Promise.reject(busy(`${ingestBytes} bytes of webhooks wait for it`));
    ingests++;
    ingestBytes += body.byteLength;
    const release = () => {
      ingests--;
      ingestBytes -= body.byteLength;
    };
    const stored = invoke(method.ingestBody, receivedAt === undefined ? [body] : [body, receivedAt]);
    const id = lastId();
    return new Promise((resolve, reject) => {
      let settled = false;
      const timer = setTimeout(() => {
        if (settled) return;
        settled = true;
        // Taken back: it will never be stored, and its bytes are free now.
        if (withdraw(id)) release();
        reject(busy(`no commit within ${limits.deadlineMs} ms`));
      }, limits.deadlineMs);
      stored.then(
        (value) => {
          release();
          clearTimeout(timer);
          if (settled) return;
          settled = true;
          resolve(value);
        },
        (error: unknown) => {
          release();
          clearTimeout(timer);
          if (settled) return;
          settled = true;
          reject(error);
        },
      );
    });
  };

  const forward =
    <K extends Forwarded>(name: K) =>
    (...args: Parameters<ThreadApi[K]>) =>
      invoke(name, args);
  const forwarded = Object.fromEntries(STORE_METHODS.map((name) => [name, forward(name)])) as Pick<
    Store,
    Forwarded
  >;
  const threaded: ThreadedSqliteStore = {
    kind: 'sqlite',
    ...forwarded,
    ingestBody,
    stalledForMs: () => (inFlight > 0 ? Math.max(0, now() - progressAt) : 0),
    pendingIngests: () => ({ count: ingests, bytes: ingestBytes }),
    // A claim may take several transactions while new jobs are admitted; each step is its own call
    // so that it answers promptly and the calls held behind it (webhooks) leave meanwhile.
    claimJobs: (options) => untilAdmitted(() => invoke(method.claimJobsStep, [options])),
    claimBatch: (options) => untilAdmitted(() => invoke(method.claimBatchStep, [options])),
    close: async () => {
      await invoke(method.close, []);
      worker.removeAllListeners('exit');
      await worker.terminate();
    },
  };
  return threaded;
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

/** The store's methods the proxy forwards as they are (SQLite has no `watchJobs`: workers poll). */
type Forwarded = Exclude<keyof Store, 'kind' | 'close' | 'claimJobs' | 'claimBatch' | 'watchJobs'>;

// Every method of the store's roles, forwarded as is (claims and close are forwarded above);
// `satisfies` and `complete` make the compiler check that the list is exact.
const STORE_METHODS = [
  method.migrate,
  method.createAdminAccount,
  method.getAdminAccount,
  method.findAdminAccountByEmail,
  method.listAdminAccounts,
  method.updateAdminAccount,
  method.setAdminGrant,
  method.listAdminGrants,
  method.createAdminSession,
  method.getAdminSession,
  method.touchAdminSession,
  method.deleteAdminSessions,
  method.createApiToken,
  method.getApiTokenByHash,
  method.listApiTokens,
  method.revokeApiToken,
  method.touchApiToken,
  method.takeLoginAttempt,
  method.clearLoginAttempts,
  method.purgeAdminAccess,
  method.listAudit,
  method.dataKey,
  method.purgeArchiveContent,
  method.archiveContent,
  method.createWorkspace,
  method.getWorkspace,
  method.listWorkspaces,
  method.updateWorkspace,
  method.deleteWorkspace,
  method.addPhoneNumber,
  method.removePhoneNumber,
  method.listPhoneNumbers,
  method.resolvePhoneNumber,
  method.putWhatsAppApp,
  method.removeWhatsAppApp,
  method.listWhatsAppApps,
  method.setNumberCredentials,
  method.removeNumberCredentials,
  method.listNumberCredentials,
  method.setConnector,
  method.getConnector,
  method.listConnectors,
  method.configVersion,
  method.appendAudit,
  method.ingest,
  method.recordOutbound,
  method.recordNotice,
  method.recordNote,
  method.recordConsent,
  method.claimCommandKey,
  method.claimExpiringKey,
  method.getContact,
  method.getConversation,
  method.listConversations,
  method.getMessage,
  method.getMessageByWamid,
  method.listMessages,
  method.listRevisions,
  method.getStatus,
  method.getConsentEntry,
  method.consentSnapshot,
  method.consentHistory,
  method.getNotice,
  method.getRef,
  method.findRefByExternalId,
  method.putRef,
  method.listUnrouted,
  method.countUnrouted,
  method.listPlatformEvents,
  method.markUnroutedRouted,
  method.markAccepted,
  method.markFailed,
  method.hydrateEvent,
  method.completeJob,
  method.retryJob,
  method.deadLetterJob,
  method.checkpointRef,
  method.extendLease,
  method.listDeadJobs,
  method.replayDeadJobs,
  method.jobStats,
  method.connectorHealth,
  method.workspaceActivity,
  method.nextRunAt,
  method.getConnectorState,
  method.setConnectorState,
  method.takeConnectorState,
  method.countConnectorState,
  method.tryAcquireLease,
  method.addHold,
  method.listHolds,
  method.releaseHold,
  method.setRetention,
  method.listRetention,
  method.runRetention,
  method.erase,
  method.recordErasureFiles,
  method.getErasure,
] satisfies readonly Forwarded[];

type Missing = Exclude<Forwarded, (typeof STORE_METHODS)[number]>;
// Fails to compile when a Store method is added without being listed above.
const complete: Missing extends never ? true : Missing = true;
void complete;
