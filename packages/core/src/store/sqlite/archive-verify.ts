import { type Checkpoint, openCheckpoint, signCheckpoint } from '../../archive/log/checkpoint.ts';
import { CompactRange } from '../../archive/log/compact-range.ts';
import { HASH_SIZE, type Hash, hashesEqual, leafHash } from '../../archive/log/hash.ts';
import { MerkleLog, type TreeHead } from '../../archive/log/merkle-log.ts';
import { generateLogKey, type NoteVerifier, noteSigner, noteVerifier } from '../../archive/log/note.ts';
import { LeafStreamVerifier } from '../../archive/log/stream-verifier.ts';
import { verifyConsistency } from '../../archive/log/verify.ts';
import {
  type ArchiveReader,
  type RawDataKey,
  type StoredLogKey,
  storedNodeCountOf,
} from '../../archive/reader.ts';
import { WabridgeError } from '../../errors/index.ts';
import type { SecretBox } from '../../secrets/index.ts';
import type { DataKeyring } from '../../vault/keyring.ts';
import {
  type ContentChecker,
  type ContentFault,
  ContentPageBuilder,
  defaultCheckThreads,
  inlineChecker,
  threadChecker,
} from './archive-content-check.ts';
import { PurgedRecords, type PurgeSummary } from './archive-purges.ts';
import { SqliteArchiveReader } from './archive-reader.ts';
import { committedContent, parseRecord, type RecordColumns } from './archive-record-form.ts';
import type { ScanAnswer } from './archive-verify-scan.ts';
import { SqliteDatabase } from './database.ts';

// Signed checkpoints of the archive's logs and `wabridge archive verify` (issue 18, item 2), over
// any store's `ArchiveReader` (the SQLite file's, or Postgres's); given a SQLite database, its own.

/** The archive's reads of a store: the reader itself, or a SQLite database's (with no data keys). */
export type ArchiveSource = ArchiveReader | SqliteDatabase;

const readerOf = (source: ArchiveSource, keyring: DataKeyring | null = null): ArchiveReader =>
  source instanceof SqliteDatabase ? new SqliteArchiveReader(source, keyring) : source;

/** The default origin prefix of a log: `<prefix>/<workspace>` names it in checkpoints and keys. */
export const DEFAULT_ARCHIVE_ORIGIN_PREFIX = 'wabridge/archive';

export const archiveOrigin = (log: string, prefix = DEFAULT_ARCHIVE_ORIGIN_PREFIX): string =>
  `${prefix}/${log}`;

/**
 * The log's verifier key (note format, public), generating the log's Ed25519 key on first use.
 * The private key is stored encrypted with the master key (`box`), never in clear.
 */
export async function archiveVerifierKey(
  source: ArchiveSource,
  box: SecretBox,
  log: string,
  options: { originPrefix?: string } = {},
): Promise<string> {
  return (await archiveKey(readerOf(source), box, log, options)).verifierKey;
}

async function archiveKey(
  reader: ArchiveReader,
  box: SecretBox,
  log: string,
  options: { originPrefix?: string },
): Promise<StoredLogKey> {
  const existing = await reader.logKey(log);
  if (existing) return existing;
  const key = generateLogKey(archiveOrigin(log, options.originPrefix));
  const made = { verifierKey: key.verifierKey, signerKey: box.encrypt(key.signerKey) };
  // Two processes may race to make the first key: the first insert wins, both use its key.
  await reader.saveLogKey(log, made, Date.now());
  return (await reader.logKey(log)) ?? made;
}

/** Signs a checkpoint of the log as it is now, stores it, and answers it (a C2SP signed note). */
export async function signArchiveCheckpoint(
  source: ArchiveSource,
  box: SecretBox,
  log: string,
  options: { originPrefix?: string; now?: () => number } = {},
): Promise<{ note: string; checkpoint: Checkpoint }> {
  const reader = readerOf(source);
  const key = await archiveKey(reader, box, log, options);
  const signer = noteSigner(box.decrypt(key.signerKey));
  const merkle = await MerkleLog.open(reader.nodeStore(log));
  const checkpoint: Checkpoint = { origin: signer.name, ...merkle.head() };
  const note = signCheckpoint(checkpoint, signer);
  // The same size signed twice in one millisecond is the same checkpoint: kept once.
  await reader.saveCheckpoint(log, { size: checkpoint.size, note, signedAt: (options.now ?? Date.now)() });
  return { note, checkpoint };
}

/** Why `archive verify` failed, naming the first record at fault. */
export interface ArchiveFailure {
  /**
   * `record-changed`: its bytes are not what the log holds at its place; `record-missing`: a
   * record the log holds is not in the store (deleted); `record-added`: a record the log never
   * held; `record-malformed`: not a record (JSON of a known kind), or its row's columns say something else;
   * `node-mismatch`: the stored tree itself was altered; `checkpoint-mismatch`: the records up to a
   * signed checkpoint do not give its root; `checkpoint-invalid`: a stored checkpoint does not
   * verify (signature, origin, form) or is not consistent with a later one; `content-changed`:
   * a record's stored content is not the content it committed to (or does not open), or content
   * a purge removed is stored again; `content-missing`: a record's content is gone and no purge
   * record says it was purged.
   */
  readonly reason:
    | 'content-changed'
    | 'content-missing'
    | 'record-changed'
    | 'record-missing'
    | 'record-added'
    | 'record-malformed'
    | 'node-mismatch'
    | 'checkpoint-mismatch'
    | 'checkpoint-invalid';
  /** The first record at fault (its place in the log). */
  readonly seq: number;
  /** As the record's own bytes say when they parse, else as its row's columns say; null when deleted. */
  readonly kind: string | null;
  readonly entityId: string | null;
  readonly message: string;
}

export interface ArchiveVerifyReport {
  readonly ok: boolean;
  readonly log: string;
  /** Records read from the store. */
  readonly records: number;
  /** The size the stored tree claims. */
  readonly storedSize: number;
  readonly checkpoints: number;
  /** Records [0, verifiedSize) are proved by a signed checkpoint. */
  readonly verifiedSize: number;
  /** Records whose content was purged (metadata verified, content unavailable): not failures. */
  readonly purged: number;
  /** The purge records of the log: who purged what, when, and why. */
  readonly purges: readonly PurgeSummary[];
  /**
   * Whether each stored content was checked against its record's commitment (needs the data
   * keys, so the master key); without, only its presence is checked.
   */
  readonly contentChecked: boolean;
  readonly failure: ArchiveFailure | null;
}

const PAGE = 4096;
/** From this many records on, content is checked in a thread beside the tree's pass. */
const THREAD_FROM = 4 * PAGE;

/**
 * Verifies one workspace's archive in the live store: re-reads every record in order, checks its
 * form against its row, recomputes its leaf and every node of the tree and compares them with the
 * stored tree, and checks every stored checkpoint's signature, its root against the recomputed
 * tree, and each checkpoint's consistency with the next one. Memory stays bounded (a page of
 * records and O(log n) hashes). The verifier key defaults to the stored one; give the key the
 * auditor trusts (`verifierKey`) to not trust the database for it either.
 */
export async function verifyArchive(
  source: ArchiveSource,
  log: string,
  options: {
    verifierKey?: string;
    originPrefix?: string;
    /**
     * The data keys: with them, each content is opened and checked against its commitment. A
     * SQLite store's keyring, or the keys themselves (`ArchiveReader.dataKeys`).
     */
    keyring?: DataKeyring | readonly RawDataKey[];
    /** From how many records on contents are checked in a pool of threads. */
    threadFrom?: number;
    /** Threads in that pool (default: one per core, see `defaultCheckThreads`). */
    threads?: number;
    /** Records read per page (default 4,096); smaller in tests, to cross pages. */
    pageSize?: number;
  } = {},
): Promise<ArchiveVerifyReport> {
  const reader = readerOf(source);
  const given = options.keyring ?? null;
  /** The workspace's data keys, raw, when content is to be checked. */
  const keyring: readonly RawDataKey[] | null =
    given === null ? null : Array.isArray(given) ? given : (given as DataKeyring).exportAll(log);
  const storedSize = await reader.logSize(log);
  const vkey = options.verifierKey ?? (await reader.logKey(log))?.verifierKey;
  const notes = await reader.checkpoints(log);
  const purges = new PurgedRecords(await reader.purges(log));
  let purged = 0;
  const base = () => ({
    log,
    storedSize,
    checkpoints: notes.length,
    purged,
    purges: purges.summaries,
    contentChecked: keyring !== null,
  });
  const fail = (records: number, verifiedSize: number, failure: ArchiveFailure): ArchiveVerifyReport => ({
    ...base(),
    ok: false,
    records,
    verifiedSize,
    failure,
  });

  // Checkpoints first: a head that does not verify proves nothing.
  const heads: TreeHead[] = [];
  if (notes.length > 0) {
    let verifier: NoteVerifier;
    try {
      if (!vkey) throw new WabridgeError('not_found', 'no verifier key');
      verifier = noteVerifier(vkey);
    } catch (error) {
      return fail(0, 0, {
        reason: 'checkpoint-invalid',
        seq: 0,
        kind: null,
        entityId: null,
        message: `the log has checkpoints but no usable verifier key: ${error instanceof Error ? error.message : error}`,
      });
    }
    const origin = verifier.name;
    for (const row of notes) {
      const opened = openCheckpoint(row.note, { verifiers: [verifier], origin });
      if (!opened.ok) {
        return fail(0, 0, {
          reason: 'checkpoint-invalid',
          seq: Math.min(row.size, storedSize),
          kind: null,
          entityId: null,
          message: `the checkpoint stored for size ${row.size} does not verify: ${opened.reason}`,
        });
      }
      const previous = heads[heads.length - 1];
      if (
        previous &&
        previous.size === opened.checkpoint.size &&
        !hashesEqual(previous.root, opened.checkpoint.root)
      ) {
        return fail(0, 0, {
          reason: 'checkpoint-invalid',
          seq: previous.size,
          kind: null,
          entityId: null,
          message: `two signed checkpoints of size ${previous.size} disagree on the root (a fork)`,
        });
      }
      heads.push(opened.checkpoint);
    }
  }
  if (heads.length >= 2 && storedSize >= (heads[heads.length - 1] as TreeHead).size) {
    // Consistency of each checkpoint with the next, by proofs from the stored tree (RFC 9162
    // §2.1.4.2). The record pass below proves more (each root from the records themselves); this
    // one answers, from O(log n) nodes per pair, whether the tree ever forked.
    try {
      const merkle = await MerkleLog.open(reader.nodeStore(log));
      for (let i = 1; i < heads.length; i++) {
        const older = heads[i - 1] as TreeHead;
        const newer = heads[i] as TreeHead;
        if (older.size === newer.size) continue;
        const proof = await merkle.consistencyProof(older.size, newer.size);
        const verdict = verifyConsistency(older.size, newer.size, older.root, newer.root, proof);
        if (!verdict.ok) {
          return fail(0, 0, {
            reason: 'checkpoint-mismatch',
            seq: older.size,
            kind: null,
            entityId: null,
            message: `the stored tree does not prove the checkpoint of ${older.size} consistent with the one of ${newer.size}: ${verdict.reason}`,
          });
        }
      }
    } catch {
      // A damaged stored tree: the record pass names where.
    }
  }

  // A log of more than a few pages is read and checked record by record in a pool of threads, each
  // with a connection of its own (archive-verify-scan.ts), and this pass keeps the tree's half;
  // from the first record a thread cannot vouch for, this pass reads and checks the records
  // itself. A store without such threads (in memory, or on a server: Postgres) has its contents
  // alone checked in threads, from pages this pass reads.
  const threads = Math.max(1, options.threads ?? defaultCheckThreads());
  const large = storedSize >= (options.threadFrom ?? THREAD_FROM);
  const pool = large ? (reader.scanPool?.(log, keyring, threads) ?? null) : null;
  let checker: ContentChecker | null = null;
  /** The checker of contents this pass reads itself, made when first needed. */
  const contentChecker = (): ContentChecker => {
    if (!checker && keyring) {
      checker = large && !pool ? threadChecker(keyring, log, threads) : inlineChecker(keyring, log);
    }
    return checker as ContentChecker;
  };
  const page = options.pageSize ?? PAGE;
  /** Pages whose contents the checker has and has not answered yet, oldest first. */
  const inFlight: Array<Promise<ContentFault | null>> = [];
  const maxInFlight = 2 * threads;
  /** Pages the pool has been asked to scan, oldest first. */
  const scans: Array<Promise<ScanAnswer>> = [];
  try {
    return await recordPass();
  } finally {
    // A failure returns before every page is answered: those answers are not wanted.
    for (const pending of inFlight) pending.catch(() => {});
    for (const pending of scans) pending.catch(() => {});
    await (checker as ContentChecker | null)?.close();
    await pool?.close();
  }

  async function recordPass(): Promise<ArchiveVerifyReport> {
    let index = 0;
    let refreshedAt = -1;
    /** Records whose content is gone with no purge found for them yet (see checkContent). */
    const unaccounted: number[] = [];
    /** This page's contents, for the checker. */
    const contents = new ContentPageBuilder();
    // A record's content against its commitment: null when sound, 'purged' when a purge removed it.
    const checkContent = async (
      seq: number,
      committed: string | null,
      sealed: Uint8Array | null,
    ): Promise<null | 'purged' | { reason: 'content-changed' | 'content-missing'; message: string }> => {
      if (committed === null) {
        return sealed === null
          ? null
          : { reason: 'content-changed', message: 'it has no content, yet content is stored for it' };
      }
      if (sealed === null) {
        if (purges.has(seq)) return 'purged';
        // A purge committed while this pass ran is not in the list read at its start: read it again
        // (once a page). Still unaccounted for, it is named at the end unless the pass fails
        // earlier: a purge record comes after what it purged, and a deleted or altered purge
        // record is the fault to name first.
        if (refreshedAt !== index - (index % page)) {
          refreshedAt = index - (index % page);
          if (purges.refresh(await reader.purges(log)).has(seq)) return 'purged';
        }
        unaccounted.push(seq);
        return null;
      }
      if (purges.has(seq)) {
        return {
          reason: 'content-changed',
          message: 'a purge record says its content was purged, yet content is stored',
        };
      }
      // A blob edited with SQL's || becomes text: no sealed value at all.
      if (!(sealed instanceof Uint8Array)) {
        return { reason: 'content-changed', message: 'its stored content is not a sealed value' };
      }
      // Against its commitment by the checker, pages behind (see the end of each page).
      if (keyring) contents.add(seq, committed, sealed);
      return null;
    };

    const contentFail = async (fault: ContentFault, verifiedSize: number): Promise<ArchiveVerifyReport> => {
      const row = await reader.recordName(log, fault.seq);
      return fail(fault.seq + 1, verifiedSize, {
        reason: 'content-changed',
        seq: fault.seq,
        kind: row?.kind ?? null,
        entityId: row?.entityId ?? null,
        message: `record ${fault.seq}: ${fault.message}`,
      });
    };
    /** The first content fault before `seq` among the pages in flight and this page's contents. */
    const contentFaultBefore = async (seq: number): Promise<ContentFault | null> => {
      if (!keyring) return null;
      for (const pending of inFlight.splice(0)) {
        const fault = await pending;
        if (fault) return fault.seq < seq ? fault : null;
      }
      const fault = await contentChecker().check(contents.before(seq).take());
      return fault && fault.seq < seq ? fault : null;
    };
    // A failure found at `seq` is the first one unless a content before it failed the checker.
    const settle = async (report: ArchiveVerifyReport, seq: number): Promise<ArchiveVerifyReport> => {
      const fault = await contentFaultBefore(seq);
      return fault ? contentFail(fault, report.verifiedSize) : report;
    };

    const nodeFail = (bad: NodeFault): Promise<ArchiveVerifyReport> =>
      settle(
        fail(index, heads2.finish('allow').verifiedSize, {
          reason: 'node-mismatch',
          seq: bad.firstSeq,
          kind: null,
          entityId: null,
          message: `the stored tree's node (${bad.level}, ${bad.index}) over records [${bad.firstSeq}, ${bad.firstSeq + 2 ** bad.level}) is ${bad.found ? 'not the hash of its children' : 'missing'}`,
        }),
        bad.firstSeq,
      );
    const heads2 = new LeafStreamVerifier(heads);
    const tree = CompactRange.empty();
    // The interior nodes each page completes, per level: the first one's index and their hashes.
    const interior: Array<{ first: number; hashes: Hash[] }> = [];
    const onNode = (level: number, nodeIndex: number, hash: Hash) => {
      // Leaves are checked one by one above; levels 1 to 3 are not stored (archive.ts).
      if (level === 0 || !reader.isStoredLevel(level)) return;
      const at = interior[level];
      if (at === undefined || at.hashes.length === 0) interior[level] = { first: nodeIndex, hashes: [hash] };
      else at.hashes.push(hash);
    };
    if (pool) {
      // The pool's pages, in order: each page's leaves against the stored tree, then the tree.
      let ask = index;
      scanning: for (;;) {
        while (scans.length < maxInFlight) {
          scans.push(pool.scan({ from: ask, size: page, purged: purges.within(ask, ask + page - 1) }));
          ask += page;
        }
        const answer = await (scans.shift() as Promise<ScanAnswer>);
        const stored =
          answer.count > 0 ? await reader.nodeRange(log, 0, index, index + answer.count - 1) : [];
        let absent = 0;
        for (let i = 0; i < answer.count; i++) {
          const leaf = answer.leaves.subarray(i * HASH_SIZE, (i + 1) * HASH_SIZE);
          const want = stored[i];
          // A fault from here on is this pass's to name, the slow way below. A checkpoint that
          // fails stays failed: pushed again below, the leaf answers the same failure.
          if (want === undefined || !sameHash(leaf, want) || heads2.push(leaf)) break scanning;
          if (answer.absent[absent] === index) {
            absent++;
            if ((await checkContent(index, '', null)) === 'purged') purged++;
          }
          tree.append(leaf, onNode);
          index++;
        }
        const bad = await compareInterior(reader, log, interior);
        if (bad) return nodeFail(bad);
        // A record the thread could not vouch for, or the end of the log as the thread saw it.
        if (answer.odd !== null || !answer.full) break;
      }
      for (const pending of scans.splice(0)) pending.catch(() => {});
    }
    for (;;) {
      // Keyset pagination by seq: each page is one indexed range read, whatever the log's size.
      const rows = await reader.recordPage(log, index, page);
      if (rows.length === 0) break;
      const first = index;
      const last = (rows[rows.length - 1] as RecordColumns)[0];
      // The page's stored leaves and contents in one range read each, by position (seqs are dense).
      const leaves = await reader.nodeRange(log, 0, first, first + rows.length - 1);
      const sealedOf = await reader.contentRange(log, first, last);
      for (const row of rows) {
        const [seq, kind, entityId, bytes] = row;
        // Kind and entity as the record's bytes say, else as its row's columns (for failures only).
        const named = () => {
          const value = parseRecord(log, row).value;
          return { kind: value?.kind ?? kind, entityId: value?.entity_id ?? entityId };
        };
        if (seq !== index) {
          return settle(
            fail(index, heads2.finish('allow').verifiedSize, {
              reason: 'record-missing',
              seq: index,
              kind: null,
              entityId: null,
              message: `record ${index} is not in the store (deleted): the next one stored is ${seq}`,
            }),
            index,
          );
        }
        const leaf = leafHash(bytes);
        const want = leaves[index - first];
        if (want === undefined) {
          return settle(
            fail(index + 1, heads2.finish('allow').verifiedSize, {
              reason: 'record-added',
              seq: index,
              ...named(),
              message: `record ${index} is not in the log of ${storedSize} records (a record was added)`,
            }),
            index,
          );
        }
        if (!sameHash(leaf, want)) {
          return settle(
            fail(index + 1, heads2.finish('allow').verifiedSize, {
              reason: 'record-changed',
              seq: index,
              ...named(),
              message: `record ${index} is not the record the log holds at ${index} (changed, moved or replaced)`,
            }),
            index,
          );
        }
        let committed = committedContent(log, row);
        if (committed === undefined) {
          const record = parseRecord(log, row);
          if (record.problem) {
            return settle(
              fail(index + 1, heads2.finish('allow').verifiedSize, {
                reason: 'record-malformed',
                seq: index,
                ...named(),
                message: `record ${index}: ${record.problem}`,
              }),
              index,
            );
          }
          committed = record.contentHash;
        }
        const content = await checkContent(seq, committed, sealedOf[index - first] ?? null);
        if (content === 'purged') purged++;
        else if (content !== null) {
          return settle(
            fail(index + 1, heads2.finish('allow').verifiedSize, {
              reason: content.reason,
              seq: index,
              ...named(),
              message: `record ${index}: ${content.message}`,
            }),
            index,
          );
        }
        const failure = heads2.push(leaf);
        if (failure) {
          return settle(
            fail(index + 1, heads2.finish('allow').verifiedSize, {
              reason: 'checkpoint-mismatch',
              seq: failure.index,
              kind: null,
              entityId: null,
              message: `${failure.message} (the stored tree agrees with the records, so both were rewritten)`,
            }),
            failure.index,
          );
        }
        tree.append(leaf, onNode);
        index++;
      }
      const bad = await compareInterior(reader, log, interior);
      if (bad) return nodeFail(bad);
      if (keyring) {
        // The oldest page's answer once enough are in flight: memory stays a few pages.
        if (inFlight.length >= maxInFlight) {
          const done = await (inFlight.shift() as Promise<ContentFault | null>);
          if (done) return contentFail(done, heads2.finish('allow').verifiedSize);
        }
        inFlight.push(contentChecker().check(contents.take()));
      }
    }

    let lastFault: ContentFault | null = null;
    for (const pending of inFlight.splice(0)) {
      lastFault = await pending;
      if (lastFault) break;
    }
    const settleEnd = (
      report: ArchiveVerifyReport,
      seq: number,
    ): ArchiveVerifyReport | Promise<ArchiveVerifyReport> =>
      lastFault && lastFault.seq < seq ? contentFail(lastFault, report.verifiedSize) : report;
    if (index < storedSize) {
      return settleEnd(
        fail(index, heads2.finish('allow').verifiedSize, {
          reason: 'record-missing',
          seq: index,
          kind: null,
          entityId: null,
          message: `the log holds ${storedSize} records and the store ${index}: record ${index} and later were deleted`,
        }),
        index,
      );
    }
    const extra = await reader.nodeCount(log);
    const expectedNodes = storedNodeCountOf(storedSize, (level) => reader.isStoredLevel(level));
    if (extra !== expectedNodes) {
      return settleEnd(
        fail(index, heads2.finish('allow').verifiedSize, {
          reason: 'node-mismatch',
          seq: storedSize,
          kind: null,
          entityId: null,
          message: `the stored tree has ${extra} nodes, and a log of ${storedSize} records has ${expectedNodes}`,
        }),
        storedSize,
      );
    }
    const verdict = heads2.finish('allow');
    if (!verdict.ok) {
      return settleEnd(
        fail(index, verdict.verifiedSize, {
          reason: 'checkpoint-mismatch',
          seq: verdict.disagreement.index,
          kind: null,
          entityId: null,
          message: verdict.disagreement.message,
        }),
        verdict.disagreement.index,
      );
    }
    if (unaccounted.length > 0) {
      // A last look: purges committed since the last page was read.
      purges.refresh(await reader.purges(log));
      const first = unaccounted.find((seq) => !purges.has(seq));
      if (first !== undefined) {
        const row = await reader.recordName(log, first);
        return settleEnd(
          fail(index, verdict.verifiedSize, {
            reason: 'content-missing',
            seq: first,
            kind: row?.kind ?? null,
            entityId: row?.entityId ?? null,
            message: `record ${first}: its content is gone and no purge record says it was purged`,
          }),
          first,
        );
      }
      purged += unaccounted.length;
    }
    if (lastFault) return contentFail(lastFault, verdict.verifiedSize);
    return { ...base(), ok: true, records: index, verifiedSize: verdict.verifiedSize, failure: null };
  }
}

/** A stored interior node that is not the node the records give. */
interface NodeFault {
  readonly level: number;
  readonly index: number;
  readonly firstSeq: number;
  readonly found: boolean;
}

/**
 * Compares the interior nodes the last page completed with the stored tree, one range read per
 * level, and empties the lists. Answers the stored node at fault over the lowest records.
 */
async function compareInterior(
  reader: ArchiveReader,
  log: string,
  interior: Array<{ first: number; hashes: Hash[] } | undefined>,
): Promise<NodeFault | null> {
  let first: NodeFault | null = null;
  for (const [level, nodes] of interior.entries()) {
    if (!nodes || nodes.hashes.length === 0) continue;
    const last = nodes.first + nodes.hashes.length - 1;
    const stored = await reader.nodeRange(log, level, nodes.first, last);
    for (const [i, hash] of nodes.hashes.entries()) {
      const found = stored[i];
      if (found === undefined || !sameHash(found, hash)) {
        const index = nodes.first + i;
        const firstSeq = index * 2 ** level;
        if (!first || firstSeq < first.firstSeq) {
          first = { level, index, firstSeq, found: found !== undefined };
        }
        break;
      }
    }
    nodes.hashes.length = 0;
  }
  return first;
}

/** Two hashes alike (not in constant time: every hash here is public, read from the store). */
function sameHash(a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== 32 || b.byteLength !== 32) return false;
  for (let i = 0; i < 32; i++) if (a[i] !== b[i]) return false;
  return true;
}
