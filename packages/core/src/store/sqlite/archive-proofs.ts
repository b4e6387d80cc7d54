import { parseCheckpoint } from '../../archive/log/checkpoint.ts';
import { MerkleLog } from '../../archive/log/merkle-log.ts';
import {
  CONSISTENCY_PROOF_TYPE,
  type ConsistencyProofDocument,
  hexProof,
  INCLUSION_PROOF_TYPE,
  type InclusionProofDocument,
} from '../../archive/proof-document.ts';
import type { ArchiveReader } from '../../archive/reader.ts';
import { carriedContent } from '../../archive/record-content.ts';
import { WabridgeError } from '../../errors/index.ts';
import type { DataKeyring } from '../../vault/keyring.ts';
import { SqliteArchiveReader } from './archive-reader.ts';
import type { ArchiveSource } from './archive-verify.ts';
import { SqliteDatabase } from './database.ts';

// `wabridge archive prove` and `archive consistency`: proofs built from the stored tree against
// checkpoints signed and stored earlier (`archive checkpoint`), printed as documents that
// `archive verify-proof` checks offline (src/archive/proof-document.ts).

const noCheckpoint = (log: string, what: string) =>
  new WabridgeError(
    'not_found',
    `the archive of ${log} has no stored checkpoint ${what}; sign one with: wabridge archive checkpoint ${log}`,
    { status: 404 },
  );

/** The stored signed checkpoint of exactly `size`, or the newest one when `size` is not given. */
async function storedCheckpoint(
  reader: ArchiveReader,
  log: string,
  size?: number,
): Promise<{ size: number; note: string } | null> {
  // By size then signing time: the last one of a size is the newest signed.
  const all = await reader.checkpoints(log);
  const wanted = size === undefined ? all : all.filter((c) => c.size === size);
  return wanted[wanted.length - 1] ?? null;
}

/**
 * The inclusion proof of record `seq` against the stored checkpoint of `size` (default: the newest
 * stored checkpoint, which must cover the record). With `keyring`, a record's content is opened
 * and carried (with its salt) so the proof shows and checks it; or it is marked purged.
 */
export async function proveArchiveRecord(
  source: ArchiveSource,
  log: string,
  seq: number,
  /** `keyring` (a SQLite database's) or `withContent` (a reader with the master key): carry the content. */
  options: { size?: number; keyring?: DataKeyring; withContent?: boolean } = {},
): Promise<InclusionProofDocument> {
  const db =
    source instanceof SqliteDatabase ? new SqliteArchiveReader(source, options.keyring ?? null) : source;
  const withContent = options.withContent === true || options.keyring !== undefined;
  if (!Number.isSafeInteger(seq) || seq < 0)
    throw new WabridgeError('bad_request', `--seq must be a record number, got ${seq}`);
  const stored = await storedCheckpoint(db, log, options.size);
  if (!stored) throw noCheckpoint(log, options.size === undefined ? 'yet' : `of size ${options.size}`);
  if (seq >= stored.size) {
    throw new WabridgeError(
      'bad_request',
      `record ${seq} is not covered by the checkpoint of size ${stored.size}; sign a newer one with: wabridge archive checkpoint ${log}`,
    );
  }
  const [record] = await db.records(log, { seqs: [seq] });
  const text = Buffer.from(record?.bytes ?? new Uint8Array()).toString('utf8');
  const committed = (JSON.parse(text) as { content_hash?: unknown }).content_hash !== undefined;
  const content =
    withContent && committed ? carriedContent(true, (await db.contents(log, [seq])).get(seq)) : {};
  const merkle = await MerkleLog.open(db.nodeStore(log));
  const proof = await merkle.inclusionProof(seq, stored.size);
  return {
    type: INCLUSION_PROOF_TYPE,
    log,
    seq,
    record: text,
    ...content,
    checkpoint: stored.note,
    proof: hexProof(proof),
  };
}

/** The consistency proof between two stored checkpoints (sizes `from` ≤ `to`). */
export async function proveArchiveConsistency(
  source: ArchiveSource,
  log: string,
  from: number,
  to: number,
): Promise<ConsistencyProofDocument> {
  if (!Number.isSafeInteger(from) || !Number.isSafeInteger(to) || from < 0 || from > to) {
    throw new WabridgeError(
      'bad_request',
      `--from must be a tree size no larger than --to (got ${from} and ${to})`,
    );
  }
  const db = source instanceof SqliteDatabase ? new SqliteArchiveReader(source, null) : source;
  const older = await storedCheckpoint(db, log, from);
  if (!older) throw noCheckpoint(log, `of size ${from}`);
  const newer = await storedCheckpoint(db, log, to);
  if (!newer) throw noCheckpoint(log, `of size ${to}`);
  // The sizes come from the signed text, not the row, so a relabelled row cannot mislead.
  const a = parseCheckpoint(older.note.slice(0, older.note.indexOf('\n\n') + 1)).size;
  const b = parseCheckpoint(newer.note.slice(0, newer.note.indexOf('\n\n') + 1)).size;
  const merkle = await MerkleLog.open(db.nodeStore(log));
  return {
    type: CONSISTENCY_PROOF_TYPE,
    log,
    from: older.note,
    to: newer.note,
    proof: hexProof(await merkle.consistencyProof(a, b)),
  };
}
