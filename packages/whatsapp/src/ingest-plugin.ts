// The WhatsApp ingest translator as the store thread loads it (see `IngestTranslatorModule` in
// core): `openThreadedSqliteStore({ ingestTranslator: WHATSAPP_INGEST_TRANSLATOR })`. Kept apart
// from the package's index so the store thread loads only what ingest needs.
import type { IngestTranslatorDeps, IngestTranslatorModule } from '@wabridge/core';
import { RoutingCache } from '@wabridge/core/ingest';
import { WhatsAppIngestor } from './ingest.ts';

export const createIngestTranslator: IngestTranslatorModule['createIngestTranslator'] = ({
  store,
  logger,
  metrics,
}: IngestTranslatorDeps) =>
  new WhatsAppIngestor({
    store,
    // Checked on every webhook: reading the config version here is one indexed SELECT, and an admin
    // change made through this very thread must route the next webhook.
    routing: new RoutingCache(store, { checkEveryMs: 0 }),
    logger,
    metrics,
  });
