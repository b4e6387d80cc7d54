import { ARCHIVE_KINDS } from './archive.ts';

// The form of an archive record as `archive verify` checks it, apart so that the verify's threads
// (archive-verify-scan.ts) check it the same way as its main pass.

/** A record's row as `allArrays` answers it: seq, kind, entity_id, record, recorded_at. */
export type RecordColumns = [number, string, string, Uint8Array, number];

const KINDS = new Set<string>(ARCHIVE_KINDS);
export const HEX64 = /^[0-9a-f]{64}$/;
const COMMITTED_HEAD = Buffer.from('{"content_hash":"');
const COMMITTED_DATA = Buffer.from('","data":');
const PLAIN_HEAD = Buffer.from('{"data":');

/**
 * The commitment of a version 2 record whose form is checked from its bytes' head and tail alone,
 * without parsing the JSON between: null when it commits to no content, undefined when the record
 * needs the full check (`parseRecord`), which names what is wrong. A record's keys are in sorted
 * order (canonicalJson), so its bytes are `{"content_hash":"<64 hex>","data":` (or `{"data":`), its
 * data, and a tail that states its entity, kind, time, seq, version and workspace: that tail is
 * built from the row's columns and compared. The data between is the appender's canonical JSON as
 * proved by the leaf hash (already compared with the stored tree, and the tree with the signed
 * checkpoints); parsing it again would prove nothing more, and cost a third of the pass.
 */
export function committedContent(log: string, row: RecordColumns): string | null | undefined {
  const [seq, kind, entityId, bytes, recordedAt] = row;
  if (!KINDS.has(kind) || !(bytes instanceof Uint8Array)) return undefined;
  const record = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  // Compared as bytes: decoding the whole record to a string cost more than the rest of the check.
  const tail = Buffer.from(
    `,"entity_id":${JSON.stringify(entityId)},"kind":${JSON.stringify(kind)},"recorded_at":${JSON.stringify(recordedAt)},"seq":${JSON.stringify(seq)},"v":2,"workspace_id":${JSON.stringify(log)}}`,
    'utf8',
  );
  const dataEnd = record.byteLength - tail.byteLength;
  if (dataEnd <= 0 || record.compare(tail, 0, tail.byteLength, dataEnd) !== 0) return undefined;
  if (startsWith(record, PLAIN_HEAD, 0)) return dataEnd > PLAIN_HEAD.byteLength ? null : undefined;
  if (!startsWith(record, COMMITTED_HEAD, 0)) return undefined;
  const dataAt = COMMITTED_HEAD.byteLength + 64;
  const committed = record.toString('latin1', COMMITTED_HEAD.byteLength, dataAt);
  if (!HEX64.test(committed) || !startsWith(record, COMMITTED_DATA, dataAt)) return undefined;
  return dataEnd > dataAt + COMMITTED_DATA.byteLength ? committed : undefined;
}

const startsWith = (bytes: Buffer, prefix: Buffer, at: number): boolean =>
  bytes.byteLength >= at + prefix.byteLength &&
  bytes.compare(prefix, 0, prefix.byteLength, at, at + prefix.byteLength) === 0;

// The record a row holds, and what is wrong with its form if anything.
export function parseRecord(
  log: string,
  row: RecordColumns,
): {
  value: { kind?: string; entity_id?: string } | null;
  problem: string | null;
  contentHash: string | null;
} {
  const [seq, kind, entityId, bytes, recordedAt] = row;
  let value: Record<string, unknown>;
  const text = Buffer.from(bytes).toString('utf8');
  try {
    value = JSON.parse(text) as Record<string, unknown>;
  } catch {
    return { value: null, problem: 'its bytes are not JSON', contentHash: null };
  }
  const named = {
    ...(typeof value.kind === 'string' ? { kind: value.kind } : {}),
    ...(typeof value.entity_id === 'string' ? { entity_id: value.entity_id } : {}),
  };
  // The bytes are not re-serialised to check their canonical form: the leaf hash already covers
  // them as stored, so that would prove nothing more (and cost a sixth of the time).
  if (typeof value.kind !== 'string' || !KINDS.has(value.kind)) {
    return { value: named, problem: `unknown kind ${JSON.stringify(value.kind)}`, contentHash: null };
  }
  // Version 1 records held their content; version 2 ones commit to it (archive.ts).
  const committed = value.content_hash;
  if (
    !(value.v === 1 && committed === undefined) &&
    !(value.v === 2 && (committed === undefined || (typeof committed === 'string' && HEX64.test(committed))))
  ) {
    return {
      value: named,
      problem: `not a record of a known version and form (v ${JSON.stringify(value.v)})`,
      contentHash: null,
    };
  }
  const contentHash = typeof committed === 'string' ? committed : null;
  const columns: Array<[string, unknown, unknown]> = [
    ['workspace_id', log, value.workspace_id],
    ['seq', seq, value.seq],
    ['kind', kind, value.kind],
    ['entity_id', entityId, value.entity_id],
    ['recorded_at', recordedAt, value.recorded_at],
  ];
  for (const [column, inRow, inRecord] of columns) {
    if (inRow !== inRecord) {
      return {
        value: named,
        problem: `its row says ${column} ${JSON.stringify(inRow)}, its signed bytes ${JSON.stringify(inRecord)}`,
        contentHash,
      };
    }
  }
  return { value: named, problem: null, contentHash };
}
