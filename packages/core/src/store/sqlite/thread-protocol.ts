// The messages between the main thread and the store thread (threaded.ts ↔ thread.ts).
import type { LogRecord } from '../../logger/index.ts';
import type { HistogramName, MetricName } from '../../metrics/index.ts';

/** Main → store: a batch of calls as JSON, and the webhook bodies they carry in one buffer. */
export interface Calls {
  /** JSON of `{ id, method, args }[]`; a `Uint8Array` argument travels as `{ $bytes: n }`. */
  calls: string;
  bytes?: Uint8Array;
  /** Body n is `bytes[offsets[n], offsets[n + 1])`. */
  offsets?: number[];
}

export interface Call {
  id: number;
  method: string;
  args: unknown[];
}

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

export function isBytesRef(value: unknown): value is { $bytes: number } {
  return (
    typeof value === 'object' && value !== null && typeof (value as { $bytes?: unknown }).$bytes === 'number'
  );
}
