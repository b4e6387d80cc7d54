// The seam between the store and a webhook source. The store thread parses and stores verified
// webhook bodies next to the data, but what a body means (Meta's schema, routing by business
// number, consent keywords) belongs to the source's package. The store defines what it needs here
// and loads the implementation by module URL, so nothing under store/ imports a source.
import type { Logger } from '../logger/index.ts';
import type { Metrics } from '../metrics/index.ts';
import type { IngestResult, Store } from './types.ts';

/** What became of one verified webhook body. */
export type WebhookBodyOutcome = { ok: true; result: IngestResult } | { ok: false; reason: 'invalid_json' };

/**
 * Stores a webhook body whose signature the edge has verified: parse, translate, one transaction.
 * The source's translator does it on the calling thread; the embedded store does it in its own
 * thread, next to the data (see `openThreadedSqliteStore`), which leaves the HTTP thread to HTTP.
 */
export interface IngestTranslator {
  ingestBody(body: Uint8Array, receivedAt?: number): Promise<WebhookBodyOutcome>;
}

/** What the store thread hands a translator it loads: its own store, logs and counters. */
export interface IngestTranslatorDeps {
  store: Store;
  logger: Logger;
  metrics: Metrics;
}

/**
 * A module the store thread loads by URL (`openThreadedSqliteStore({ ingestTranslator })`): it
 * exports this one function.
 */
export interface IngestTranslatorModule {
  createIngestTranslator(deps: IngestTranslatorDeps): IngestTranslator;
}
