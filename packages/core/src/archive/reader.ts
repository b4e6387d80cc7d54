import type { PurgeSummary } from '../store/sqlite/archive-purges.ts';
import type { OpenedArchiveContent, StoredArchiveRecord } from '../store/sqlite/archive-reads.ts';
import type { RecordColumns } from '../store/sqlite/archive-record-form.ts';
import type { ScanPool } from '../store/sqlite/archive-verify-pool.ts';
import type { Store } from '../store/types.ts';
import type { LogNodeStore } from './log/node-store.ts';

// What `archive verify`, checkpoints and the exports read from a store's archive, and the two small
// writes they make (a log's signing key on first use, a signed checkpoint). The SQLite store and
// the Postgres store each implement it over their own tables (the same columns in both), so the
// verifier, the signer and the exports are written once, in core, over this interface.

/** A log's Ed25519 key: the verifier key (note format, public) and the signer key sealed by the master key. */
export interface StoredLogKey {
  readonly verifierKey: string;
  readonly signerKey: string;
}

/** A workspace data key, raw (for a content checker in this process or one of its threads). */
export interface RawDataKey {
  readonly keyId: string;
  readonly key: Buffer;
}

export interface ArchiveReader {
  // --- the log ---------------------------------------------------------------------------------
  /** The committed size the stored tree claims (0 for a log never appended to). */
  logSize(log: string): Promise<number>;
  /** Whether `log` is a workspace's, or a log with a head (the global log). */
  hasLog(log: string): Promise<boolean>;
  /** A page of records from `fromSeq` on in seq order (keyset pagination), as `RecordColumns`. */
  recordPage(log: string, fromSeq: number, limit: number): Promise<RecordColumns[]>;
  /** The kind and entity of the record stored at `seq` (its row's columns), for naming a failure. */
  recordName(log: string, seq: number): Promise<{ kind: string; entityId: string } | null>;
  /** The purge records of the log (`seq`, bytes), in seq order. */
  purges(log: string): Promise<PurgeSummary[]>;
  /** The stored hashes of nodes `[from, to]` of `level`, each at its index less `from`. */
  nodeRange(log: string, level: number, from: number, to: number): Promise<Uint8Array[]>;
  /** The stored sealed contents of records `[from, to]`, each at its seq less `from`. */
  contentRange(log: string, from: number, to: number): Promise<Uint8Array[]>;
  /** How many nodes the stored tree holds. */
  nodeCount(log: string): Promise<number>;
  /** Whether this store keeps nodes of `level` as rows (SQLite computes levels 1 to 3 from the leaves). */
  isStoredLevel(level: number): boolean;
  /** The log's tree, for `MerkleLog` (roots at past sizes, proofs). */
  nodeStore(log: string): LogNodeStore;
  /**
   * Threads that read and check pages of a large log themselves (a SQLite file); absent or null
   * where the store has none: the verify's main pass reads every page.
   */
  scanPool?(log: string, keys: readonly RawDataKey[] | null, threads: number): ScanPool | null;

  // --- keys and checkpoints --------------------------------------------------------------------
  logKey(log: string): Promise<StoredLogKey | null>;
  /** Stores the log's key unless it has one (of two racing first keys, the first insert wins). */
  saveLogKey(log: string, key: StoredLogKey, at: number): Promise<void>;
  /** The stored signed checkpoints, by size then signing time. */
  checkpoints(log: string): Promise<Array<{ size: number; note: string }>>;
  /** Stores a signed checkpoint (the same one twice is kept once). */
  saveCheckpoint(log: string, checkpoint: { size: number; note: string; signedAt: number }): Promise<void>;
  /** The workspace's data keys, raw: needs the master key (the store's). */
  dataKeys(log: string): Promise<RawDataKey[]>;

  // --- what the exports read -------------------------------------------------------------------
  /** The records at `seqs` (in seq order; a missing one fails), or a page of some kinds from `fromSeq`. */
  records(
    log: string,
    query: { seqs: readonly number[] } | { fromSeq: number; limit: number; kinds?: readonly string[] },
  ): Promise<StoredArchiveRecord[]>;
  /** The stored contents of these records, opened; a record with none (or purged) has no entry. */
  contents(log: string, seqs: readonly number[]): Promise<Map<number, OpenedArchiveContent>>;
  /** The seq of the first record of each entity (message, status, consent entry, `audit:<id>`). */
  seqsOf(log: string, entityIds: Iterable<string>): Promise<Map<string, number>>;
  /** A contact of the workspace by WhatsApp number (digits, `+` and spaces allowed) or BSUID. */
  findContactId(workspaceId: string, numberOrBsuid: string): Promise<string | null>;
  /** Ids of a conversation's messages after `after` in (ts, id) order: a page. */
  messageIdsPage(
    workspaceId: string,
    conversationId: string,
    after: { ts: number; id: string } | null,
    limit: number,
  ): Promise<Array<{ id: string; ts: number }>>;
  /** Ids of the statuses recorded for these messages. */
  statusIdsOf(workspaceId: string, messageIds: readonly string[]): Promise<string[]>;
  /** Ids of the internal notes of these conversations, in (ts, id) order. */
  noteIdsOf(workspaceId: string, conversationIds: readonly string[]): Promise<string[]>;
}

/** How many nodes a tree of `size` leaves stores, keeping the levels `isStoredLevel` says. */
export function storedNodeCountOf(size: number, isStoredLevel: (level: number) => boolean): number {
  let count = 0;
  for (let level = 0; 2 ** level <= size; level++) {
    if (isStoredLevel(level)) count += Math.floor(size / 2 ** level);
  }
  return count;
}

/**
 * A store as the exports use it: its reads through the `Store` roles, and its archive's reads.
 * Both the SQLite store and the Postgres store are one.
 */
export type ArchiveStore = Pick<
  Store,
  'getWorkspace' | 'getContact' | 'getConversation' | 'listConversations' | 'consentHistory' | 'appendAudit'
> & { readonly archiveReader: ArchiveReader };
