// The public API of @wabridge/core. Everything a connector, the gateway or a test needs is here.

export * from './access/index.ts';
export * from './archive/export/contact-export.ts';
export * from './archive/export/ediscovery.ts';
export * from './archive/export/verify-discovery.ts';
export * from './archive/export/verify-export.ts';
export { readZip } from './archive/export/zip.ts';
export * from './archive/log/index.ts';
export * from './archive/proof-document.ts';
export {
  type ArchiveReader,
  type ArchiveStore,
  type RawDataKey,
  type StoredLogKey,
  storedNodeCountOf,
} from './archive/reader.ts';
export * from './bridge/commands.ts';
export * from './bridge/policy.ts';
export * from './config/fields.ts';
export * from './config/issues.ts';
export * from './connector/consent-wording.ts';
export * from './connector/contract.ts';
export * from './connector/host.ts';
export * from './connector/links.ts';
export * from './connector/post-once.ts';
export * from './connector/registry.ts';
export * from './consent/keywords.ts';
export * from './describe/index.ts';
export * from './domain/commands.ts';
export * from './domain/events.ts';
export * from './domain/types.ts';
export * from './errors/index.ts';
// The cheap fetch every connector hands its SDK (docs/performance.md, 2026-12-07 "fetch").
export * from './http/fetch.ts';
export * from './ids/index.ts';
export * from './logger/index.ts';
export * from './media/index.ts';
export * from './metrics/index.ts';
export * from './queue/backoff.ts';
export { answeringReads, type HydrateReads, hydrateEvent, hydrateJob } from './queue/hydrate.ts';
export * from './queue/worker.ts';
export * from './routing/index.ts';
export * from './secrets/index.ts';
export * from './store/governance-types.ts';
export * from './store/ingest-translator.ts';
export {
  ARCHIVE_CONTENT_PURPOSE,
  ARCHIVE_KINDS,
  ARCHIVE_RECORD_VERSION,
  type ArchiveKind,
  type ArchiveRecord,
  canonicalJson,
  contentHash,
  GLOBAL_ARCHIVE_LOG,
  type PurgeReason,
  type PurgeResult,
  parseOpenedContent,
  SqliteLogNodeStore,
  toRanges,
} from './store/sqlite/archive.ts';
export { proveArchiveConsistency, proveArchiveRecord } from './store/sqlite/archive-proofs.ts';
export { type PurgeSummary, parsePurges } from './store/sqlite/archive-purges.ts';
export {
  archiveLogSize,
  type OpenedArchiveContent,
  type StoredArchiveRecord,
  storedVerifierKey,
} from './store/sqlite/archive-reads.ts';
export type { RecordColumns } from './store/sqlite/archive-record-form.ts';
export {
  type ArchiveFailure,
  type ArchiveSource,
  type ArchiveVerifyReport,
  archiveOrigin,
  archiveVerifierKey,
  DEFAULT_ARCHIVE_ORIGIN_PREFIX,
  signArchiveCheckpoint,
  verifyArchive,
} from './store/sqlite/archive-verify.ts';
// The purposes sealed columns are bound to, the conversation columns with their last inbound time,
// and the rules and wording of legal holds and retention: the Postgres store reads, seals and
// refuses the same (packages/store-postgres).
export { MESSAGE_BODY, PLATFORM_PAYLOAD, STATUS_RAW, UNROUTED_PAYLOAD } from './store/sqlite/context.ts';
export { requireActor, requireText } from './store/sqlite/governance/context.ts';
export { describeHold, HELD_MESSAGE_SQL, type HoldRow, toHold } from './store/sqlite/governance/holds.ts';
export { checkDays, describeRule, type RuleRow, toRule } from './store/sqlite/governance/retention.ts';
export { openSqliteStore, SqliteStore, type SqliteStoreOptions } from './store/sqlite/index.ts';
export { CONVERSATION_COLUMNS } from './store/sqlite/reads.ts';
export { openThreadedSqliteStore, type ThreadedSqliteStore } from './store/sqlite/threaded.ts';
export * from './store/types.ts';
export * from './util/bytes.ts';
export * from './util/closest.ts';
export * from './util/csv.ts';
export * from './util/pace-ledger.ts';
export * from './util/pacer.ts';
export * from './util/private-files.ts';
export * from './util/serial-by-key.ts';
export * from './util/shard.ts';
export * from './util/sleep.ts';
export * from './util/work-slot.ts';
// sealWith and openWith: the Postgres store's keyring seals and opens in the same format.
export { DataKeyring, openWith, sealedKeyId, sealWith } from './vault/keyring.ts';
export * from './workspace/admin.ts';
export * from './workspace/audit.ts';
export * from './workspace/governance.ts';
