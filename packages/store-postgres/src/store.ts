import type {
  ArchiveReader,
  ExclusiveOutcome,
  ExclusiveStore,
  SharedPacingStore,
  Store,
} from '@wabridge/core';
import { PgArchiveReader } from './archive-reader.ts';
import type { PostgresStoreOptions } from './context.ts';
import { runExclusive } from './exclusive.ts';
import { PgJobs } from './jobs.ts';
import { PgPaceLedger } from './pace-ledger.ts';

/**
 * The Postgres store, one class per role on top of the ones before it, as the SQLite store is
 * (packages/core/src/store/sqlite/index.ts):
 *   context.ts → config.ts → access.ts → refs.ts → connector-state.ts → reads.ts →
 *   command-keys.ts → notes.ts → fan-out.ts → contacts.ts → batch-ingest.ts → ingest.ts →
 *   commands.ts → sends.ts → audit.ts → holds.ts → retention.ts → erasure.ts → jobs.ts → this class (archive.ts: the
 *   archive appender; queue/: PgJobQueue, which fan-out.ts enqueues with and jobs.ts delegates to).
 * Every role of `Store` is built, and core's whole conformance suite runs on it
 * (store-conformance.test.ts); the archive's verify, checkpoints and exports are core's, over
 * `archiveReader` (archive-reader.ts).
 */
export class PostgresStore extends PgJobs implements Store, ExclusiveStore, SharedPacingStore {
  readonly kind = 'postgres' as const;
  #archiveReader: ArchiveReader | null = null;

  /** The archive's reads for verify, checkpoints and exports (core's, over `ArchiveReader`). */
  get archiveReader(): ArchiveReader {
    this.#archiveReader ??= new PgArchiveReader(this.db, this.keyring);
    return this.#archiveReader;
  }

  /** Platform rate limits shared by every process on the database (the connectors' `deps.pacing`). */
  readonly paceLedger = new PgPaceLedger(this.db);

  /** Singleton work under a session advisory lock on a connection of its own (exclusive.ts). */
  runExclusive<T>(name: string, fn: (lost: AbortSignal) => Promise<T>): Promise<ExclusiveOutcome<T>> {
    return runExclusive(this.db.pool.options, this.db.schema, name, fn);
  }
}

/** Opens (and migrates) a Postgres store: `openPostgresStore({ url: process.env.DATABASE_URL })`. */
export async function openPostgresStore(options: PostgresStoreOptions): Promise<PostgresStore> {
  const store = new PostgresStore(options);
  try {
    await store.migrate();
  } catch (error) {
    await store.close();
    throw error;
  }
  return store;
}
