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
  const at = commitmentAt(log, row);
  if (at === undefined || at === null) return at;
  return Buffer.from(row[3].buffer, row[3].byteOffset + at, 64).toString('latin1');
}

/**
 * `committedContent` as the place of the commitment's 64 hex digits in the record's bytes (null
 * when it commits to no content, undefined when the record needs the full check): a verify thread
 * compares the content's hash with those bytes where they are. Compared byte by byte, without a
 * Buffer or a string per record: that cost a tenth of a thread's time.
 */
export function commitmentAt(log: string, row: RecordColumns): number | null | undefined {
  const [, kind, , bytes] = row;
  if (!KINDS.has(kind) || !(bytes instanceof Uint8Array)) return undefined;
  const dataEnd = tailAt(bytes, log, row);
  if (dataEnd <= 0) return undefined;
  if (startsWith(bytes, PLAIN_HEAD, 0)) return dataEnd > PLAIN_HEAD.byteLength ? null : undefined;
  if (!startsWith(bytes, COMMITTED_HEAD, 0)) return undefined;
  const hexAt = COMMITTED_HEAD.byteLength;
  const dataAt = hexAt + 64;
  if (bytes.byteLength < dataAt) return undefined;
  for (let i = hexAt; i < dataAt; i++) {
    const c = bytes[i] as number;
    // 0-9, a-f: what HEX64 accepts.
    if (!((c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x66))) return undefined;
  }
  if (!startsWith(bytes, COMMITTED_DATA, dataAt)) return undefined;
  return dataEnd > dataAt + COMMITTED_DATA.byteLength ? hexAt : undefined;
}

/**
 * Where the record's tail starts when its bytes end with the tail its row's columns give, else
 * -1: `,"entity_id":<id>,"kind":<kind>,"recorded_at":<at>,"seq":<seq>,"v":2,"workspace_id":<log>}`
 * (canonical JSON, keys sorted). Compared piece by piece where they are, without building the
 * tail: an id or log that JSON would escape, or that is not ASCII, is compared as JSON's UTF-8.
 */
function tailAt(bytes: Uint8Array, log: string, row: RecordColumns): number {
  const [seq, kind, entityId, , recordedAt] = row;
  // A number is written alike by JSON and by its digits when it is a non-negative safe integer;
  // anything else (a tampered column) goes the long way.
  if (
    !isCount(seq) ||
    !isCount(recordedAt) ||
    typeof entityId !== 'string' ||
    !plain(entityId) ||
    !plain(log)
  ) {
    return jsonTailAt(bytes, log, row);
  }
  // Compared piece by piece in place, numbers digit by digit: no string is built per record (the
  // pieces and two String() per record were a tenth of a verify thread's time).
  const atDigits = digits(recordedAt);
  const seqDigits = digits(seq);
  const from =
    bytes.byteLength - (TAIL_FIXED + entityId.length + kind.length + atDigits + seqDigits + log.length);
  if (from <= 0) return -1;
  let i = matchText(bytes, from, TAIL_ENTITY);
  i = matchText(bytes, i, entityId);
  i = matchText(bytes, i, TAIL_KIND);
  i = matchText(bytes, i, kind);
  i = matchText(bytes, i, TAIL_AT);
  i = matchNumber(bytes, i, recordedAt, atDigits);
  i = matchText(bytes, i, TAIL_SEQ);
  i = matchNumber(bytes, i, seq, seqDigits);
  i = matchText(bytes, i, TAIL_LOG);
  i = matchText(bytes, i, log);
  i = matchText(bytes, i, TAIL_END);
  return i < 0 ? -1 : from;
}

const TAIL_ENTITY = ',"entity_id":"';
const TAIL_KIND = '","kind":"';
const TAIL_AT = '","recorded_at":';
const TAIL_SEQ = ',"seq":';
const TAIL_LOG = ',"v":2,"workspace_id":"';
const TAIL_END = '"}';
const TAIL_FIXED =
  TAIL_ENTITY.length +
  TAIL_KIND.length +
  TAIL_AT.length +
  TAIL_SEQ.length +
  TAIL_LOG.length +
  TAIL_END.length;

const isCount = (n: unknown): n is number => typeof n === 'number' && Number.isSafeInteger(n) && n >= 0;

/** How many decimal digits `n` (a non-negative safe integer) is written with. */
function digits(n: number): number {
  let count = 1;
  for (let rest = n; rest >= 10; rest = Math.floor(rest / 10)) count++;
  return count;
}

/** Where `text` (ASCII) ends if the bytes at `at` are it, else -1 (and -1 stays -1). */
function matchText(bytes: Uint8Array, at: number, text: string): number {
  if (at < 0) return -1;
  for (let c = 0; c < text.length; c++) if (bytes[at + c] !== text.charCodeAt(c)) return -1;
  return at + text.length;
}

/** Where `n`'s `count` decimal digits end if the bytes at `at` are they, else -1. */
function matchNumber(bytes: Uint8Array, at: number, n: number, count: number): number {
  if (at < 0) return -1;
  let rest = n;
  for (let k = count - 1; k >= 0; k--) {
    if (bytes[at + k] !== 0x30 + (rest % 10)) return -1;
    rest = Math.floor(rest / 10);
  }
  return at + count;
}

/** Whether JSON writes the string as it is, in ASCII: no quote, backslash, control or other character. */
function plain(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x20 || c > 0x7e || c === 0x22 || c === 0x5c) return false;
  }
  return true;
}

/** `tailAt` by building the tail as JSON and comparing its UTF-8 bytes. */
function jsonTailAt(bytes: Uint8Array, log: string, row: RecordColumns): number {
  const [seq, kind, entityId, , recordedAt] = row;
  const tail = Buffer.from(
    `,"entity_id":${JSON.stringify(entityId)},"kind":${JSON.stringify(kind)},"recorded_at":${JSON.stringify(recordedAt)},"seq":${JSON.stringify(seq)},"v":2,"workspace_id":${JSON.stringify(log)}}`,
    'utf8',
  );
  const from = bytes.byteLength - tail.byteLength;
  return from > 0 && startsWith(bytes, tail, from) ? from : -1;
}

function startsWith(bytes: Uint8Array, prefix: Uint8Array, at: number): boolean {
  if (bytes.byteLength < at + prefix.byteLength) return false;
  for (let i = 0; i < prefix.byteLength; i++) if (bytes[at + i] !== prefix[i]) return false;
  return true;
}

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
