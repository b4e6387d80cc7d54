// The messages between the main thread and the store thread (threaded.ts ↔ thread.ts).
import { WabridgeError } from '../../errors/index.ts';
import type { LogRecord } from '../../logger/index.ts';
import type { HistogramName, MetricName } from '../../metrics/index.ts';
import type { IngestTranslator } from '../ingest-translator.ts';
import type { StoreMethod } from '../types.ts';
import type { SqliteStore } from './index.ts';

/**
 * What the store thread answers: every method of the store's roles as `SqliteStore` implements
 * it, `migrate` and `close`, the one-transaction steps of the claims (see `untilAdmitted`) and the
 * ingest of verified webhook bodies. Both sides use this one table: the main thread's `invoke`
 * checks a call's name, arguments and result against it and the thread dispatches by it
 * (`dispatch`), so a misspelt or mistyped call does not compile. Names are written `method.x`,
 * never as strings, so "go to definition" on a call's name leads to the method that runs it.
 */
export type ThreadApi = Pick<
  SqliteStore,
  StoreMethod | 'migrate' | 'close' | 'claimJobsStep' | 'claimBatchStep'
> &
  IngestTranslator;
export type ThreadMethod = keyof ThreadApi;

/**
 * Each method of ThreadApi by name: `method.getMessage` is `'getMessage'`. A homomorphic mapped
 * type, so the compiler links each property to the declaration it came from (SqliteStore's
 * method, or IngestTranslator's), which a string literal would not be. Its values are the names
 * read, so it needs no list to build. A read costs a property lookup: once per forwarded method
 * when threaded.ts loads, and once per ingest, claim step or close.
 */
export const method = new Proxy({}, { get: (_, name) => name }) as {
  readonly [K in keyof ThreadApi]: K;
};
/** The answer of a call of `method`, as the main thread receives it. */
export type ThreadResult<K extends ThreadMethod> = Awaited<ReturnType<ThreadApi[K]>>;

/** Main → store: a batch of calls as JSON, and the webhook bodies they carry in one buffer. */
export interface Calls {
  /** JSON of `{ id, method, args }[]`; a `Uint8Array` argument travels as `{ $bytes: n }`. */
  calls: string;
  bytes?: Uint8Array;
  /** Body n is `bytes[offsets[n], offsets[n + 1])`. */
  offsets?: number[];
}

/** One call, as the main thread makes it: a method of `ThreadApi` with its arguments. */
export type Call = {
  [K in ThreadMethod]: { id: number; method: K; args: Parameters<ThreadApi[K]> };
}[ThreadMethod];

export interface Answer {
  id: number;
  ok: boolean;
  result?: unknown;
  error?: unknown;
}

/** Store → main, as JSON: answers, and what the thread logged and counted meanwhile. */
export interface Answers {
  answers: Answer[];
  events: ForwardedEvent[];
}

export type ForwardedEvent =
  | ['log', LogRecord['level'], Record<string, unknown>, string | undefined]
  | ['increment', MetricName, Record<string, string> | undefined, number | undefined]
  | ['observe', HistogramName, number, Record<string, string> | undefined];

/** Runs a call on the thread's side of the table (the store, or the body ingest). */
export function dispatch<K extends ThreadMethod>(
  api: Pick<ThreadApi, K>,
  name: K,
  args: Parameters<ThreadApi[K]>,
): ReturnType<ThreadApi[K]> {
  // Looked up by the checked name; `apply` keeps `this` (SqliteStore's methods use it).
  const run = api[name] as (...a: Parameters<ThreadApi[K]>) => ReturnType<ThreadApi[K]>;
  if (typeof run !== 'function')
    throw new WabridgeError('internal', `the store thread has no ${String(name)}`);
  return run.apply(api, args);
}

export function isBytesRef(value: unknown): value is { $bytes: number } {
  return (
    typeof value === 'object' && value !== null && typeof (value as { $bytes?: unknown }).$bytes === 'number'
  );
}
