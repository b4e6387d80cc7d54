// The store thread: owns the SQLite connection and answers Store calls from the main thread. It
// also ingests verified webhook bodies, next to the data, with the ingest translator it is given
// by module URL (see openThreadedSqliteStore and store/ingest-translator.ts).
import { flushCompileCache } from 'node:module';
import { parentPort, workerData } from 'node:worker_threads';
import { isWabridgeError, WabridgeError } from '../../errors/index.ts';
import type { Logger, LogRecord } from '../../logger/index.ts';
import type { Metrics } from '../../metrics/index.ts';
import type { IngestTranslator, IngestTranslatorModule } from '../ingest-translator.ts';
import { openSqliteStore } from './index.ts';
import {
  type Answer,
  type Answers,
  type Call,
  type Calls,
  dispatch,
  type ForwardedEvent,
  isBytesRef,
  method,
} from './thread-protocol.ts';

const port = parentPort;
if (!port) throw new Error('store thread started outside a worker');

// Answers leave in batches (one message per turn of this thread's loop), with whatever the
// ingestor logged or counted: a message costs more than the data it carries.
let outgoing: Answers = { answers: [], events: [] };
// Counters are summed per batch: the ingestor counts every webhook, the main thread needs totals.
const counts = new Map<string, ForwardedEvent & { 0: 'increment' }>();
let flushing = false;
const flush = () => {
  flushing = false;
  const batch = outgoing;
  outgoing = { answers: [], events: [] };
  for (const count of counts.values()) batch.events.push(count);
  counts.clear();
  port.postMessage(JSON.stringify(batch));
};
const queue = (item: { answer: Answer } | { event: ForwardedEvent }) => {
  if ('answer' in item) outgoing.answers.push(item.answer);
  else outgoing.events.push(item.event);
  schedule();
};
function schedule() {
  if (flushing) return;
  flushing = true;
  setImmediate(flush);
}

const forwardingLogger = (bindings: Record<string, unknown>): Logger => {
  const at = (level: LogRecord['level']) => (obj: object, msg?: string) =>
    queue({ event: ['log', level, { ...bindings, ...obj }, msg] });
  return {
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    child: (more) => forwardingLogger({ ...bindings, ...more }),
  };
};
const forwardingMetrics: Metrics = {
  increment: (name, labels, value = 1) => {
    const key = labels ? `${name} ${JSON.stringify(labels)}` : name;
    const count = counts.get(key);
    if (count) count[3] = (count[3] ?? 0) + value;
    else counts.set(key, ['increment', name, labels, value]);
    schedule();
  },
  observe: (name, value, labels) => queue({ event: ['observe', name, value, labels] }),
};

const { path, busyTimeoutMs, masterKeys, ingestTranslator } = workerData as {
  path: string;
  ingestTranslator?: string;
  busyTimeoutMs?: number;
  masterKeys?: { current: Uint8Array; previous?: Uint8Array[] };
};
const store = await openSqliteStore({
  path,
  ...(busyTimeoutMs === undefined ? {} : { busyTimeoutMs }),
  // Buffers arrive as plain Uint8Arrays.
  ...(masterKeys
    ? {
        masterKeys: {
          current: Buffer.from(masterKeys.current),
          previous: (masterKeys.previous ?? []).map((k) => Buffer.from(k)),
        },
      }
    : {}),
  logger: forwardingLogger({ component: 'store' }),
  // Every call arrives in a message; the reads of one turn of this thread's loop share a read
  // transaction instead of taking and dropping the WAL read lock each (see SqliteDatabase.reading).
  readsShareTurn: true,
});

const ingestor: IngestTranslator | null = ingestTranslator
  ? ((await import(ingestTranslator)) as IngestTranslatorModule).createIngestTranslator({
      store,
      logger: forwardingLogger({ component: 'ingest' }),
      metrics: forwardingMetrics,
    })
  : null;

const bodies: IngestTranslator = {
  // JSON turns an omitted receivedAt into null.
  ingestBody: (body, receivedAt) =>
    ingestor
      ? ingestor.ingestBody(body, typeof receivedAt === 'number' ? receivedAt : undefined)
      : Promise.reject(
          new WabridgeError('internal', 'the store thread was opened without an ingest translator'),
        ),
};

/** Runs one call: the bodies' ingest here, every other method on the store (see ThreadApi). */
function run(call: Call): Promise<unknown> {
  if (call.method === method.ingestBody) return dispatch(bodies, call.method, call.args);
  return dispatch(store, call.method, call.args);
}

port.on('message', (message: Calls) => {
  const { bytes, offsets } = message;
  const body = (index: number) =>
    bytes && offsets ? bytes.subarray(offsets[index], offsets[index + 1]) : new Uint8Array(0);
  for (const call of JSON.parse(message.calls) as Call[]) {
    // The bodies come back as bytes; everything else is as the main thread passed it.
    call.args = call.args.map((arg: unknown) => (isBytesRef(arg) ? body(arg.$bytes) : arg)) as Call['args'];
    let answered: Promise<unknown>;
    try {
      answered = run(call);
    } catch (error) {
      answered = Promise.reject(error);
    }
    answered.then(
      (result) => queue({ answer: { id: call.id, ok: true, result } }),
      (error: unknown) => queue({ answer: { id: call.id, ok: false, error: serialise(error) } }),
    );
  }
});
// Everything this thread runs is loaded: where the process keeps a compile cache (`wabridge
// serve`, see apps/gateway/bin/memory.mjs), write this thread's entries now rather than at its
// exit, which a killed process never reaches. A no-op without a cache.
flushCompileCache?.();
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
