import type { KeyObject } from 'node:crypto';
import { DatabaseSync, type StatementSync } from 'node:sqlite';
import { HASH_SIZE, leafHash } from '../../archive/log/hash.ts';
import { BatchOpener } from '../../vault/batch-open.ts';
import { sealedOpener } from '../../vault/keyring.ts';
import { ARCHIVE_CONTENT_PURPOSE, contentHash } from './archive.ts';
import { commitmentAt, parseRecord, type RecordColumns } from './archive-record-form.ts';

// The per-record half of `archive verify` for a large log, run in threads beside its main pass
// (archive-verify.ts): a thread reads a page of records and their contents through a read-only
// connection of its own, hashes each record into its leaf, checks its form, and opens and checks
// its content against its commitment. The main pass keeps what is sequential and cheap: the leaves
// against the stored tree, the tree's interior nodes and the signed checkpoints. A page answers
// with its leaves while every record is sound; at the first record that is not, it stops there
// (`odd`), and the main pass checks that record and the rest itself, the slow way, which names the
// fault exactly as a pass without threads does. A thread never decides a failure: it only says
// up to where every record is sound.

/** A page to scan: the records from `from` on, at most `size` of them. */
export interface ScanRequest {
  readonly id: number;
  readonly from: number;
  readonly size: number;
  /** The purged ranges within the page, as the main pass knows them when it asks. */
  readonly purged: ReadonlyArray<readonly [number, number]>;
}

export interface ScanAnswer {
  readonly id: number;
  readonly from: number;
  /** Records sound from `from` on: their leaves are in `leaves` (32 bytes each, in order). */
  readonly count: number;
  readonly leaves: Uint8Array;
  /** Of those, the records that commit to a content that is not stored (purged, or missing). */
  readonly absent: readonly number[];
  /** The first record the thread could not vouch for (not there, malformed, a content fault), or null. */
  readonly odd: number | null;
  /** Whether the page had `size` records (else the log ended in this thread's view). */
  readonly full: boolean;
}

const RECORDS_SQL = `SELECT seq, kind, entity_id, record, recorded_at FROM archive_records
  WHERE workspace_id = ? AND seq >= ? ORDER BY seq LIMIT ?`;
const CONTENT_SQL =
  'SELECT seq, sealed FROM archive_content WHERE workspace_id = ? AND seq >= ? AND seq <= ?';

/** Scans pages of one log through a connection of its own. */
export class PageScanner {
  readonly #db: DatabaseSync;
  readonly #records: StatementSync;
  readonly #contents: StatementSync;
  readonly #open: ((sealed: Uint8Array) => Buffer | null) | null;
  readonly #batch: BatchOpener | null;
  readonly #log: string;

  /** `keys` null: contents are checked for presence only (a verify without the data keys). */
  constructor(path: string, log: string, keys: ReadonlyMap<string, KeyObject> | null) {
    this.#db = new DatabaseSync(path, { readOnly: true, timeout: 10_000 });
    // As the store's own connection reads (database.ts): through a memory map.
    this.#db.exec('PRAGMA mmap_size = 268435456');
    this.#records = this.#db.prepare(RECORDS_SQL);
    this.#records.setReturnArrays(true);
    this.#contents = this.#db.prepare(CONTENT_SQL);
    this.#contents.setReturnArrays(true);
    this.#open = keys ? sealedOpener(keys, log, ARCHIVE_CONTENT_PURPOSE) : null;
    this.#batch = keys ? new BatchOpener(keys, log, ARCHIVE_CONTENT_PURPOSE) : null;
    this.#log = log;
  }

  scan(request: ScanRequest): ScanAnswer {
    const { id, from, size, purged } = request;
    const log = this.#log;
    const rows = this.#records.all(log, from, size) as unknown as RecordColumns[];
    const leaves = new Uint8Array(rows.length * HASH_SIZE);
    const absent: number[] = [];
    const answer = (count: number, odd: number | null): ScanAnswer => ({
      id,
      from,
      count,
      leaves: leaves.subarray(0, count * HASH_SIZE),
      absent,
      odd,
      full: rows.length === size,
    });
    if (rows.length === 0) return answer(0, null);
    const sealedOf: Array<Uint8Array | string> = [];
    const last = (rows[rows.length - 1] as RecordColumns)[0];
    for (const [seq, sealed] of this.#contents.all(log, from, last) as unknown as Array<
      [number, Uint8Array | string]
    >) {
      sealedOf[seq - from] = sealed;
    }
    const isPurged = (seq: number) => purged.some(([a, b]) => seq >= a && seq <= b);
    // The page's contents opened together, every tag checked (vault/batch-open.ts): three cipher
    // calls a page instead of a cipher a content. Should a tag fail, `false`: each content is then
    // opened on its own below, and the first that does not open stops the page there.
    const opened = this.#batch?.open(sealedOf) ?? false;
    const open = this.#open;
    for (let i = 0; i < rows.length; i++) {
      const row = rows[i] as RecordColumns;
      const seq = from + i;
      if (row[0] !== seq || !(row[3] instanceof Uint8Array)) return answer(i, seq);
      // Where the record's commitment is in its bytes (as hex), or the commitment parsed out.
      let at = commitmentAt(log, row);
      let committed: string | null = null;
      if (at === undefined) {
        const record = parseRecord(log, row);
        if (record.problem) return answer(i, seq);
        committed = record.contentHash;
        at = committed === null ? null : -1;
      }
      const sealed = sealedOf[i];
      if (at === null || (sealed !== undefined && isPurged(seq))) {
        // Content stored for a record that has none, or that a purge removed: the main pass names it.
        if (sealed !== undefined) return answer(i, seq);
      } else if (sealed === undefined) {
        absent.push(seq);
      } else if (!(sealed instanceof Uint8Array)) {
        return answer(i, seq);
      } else if (open) {
        const plain = opened ? opened[i] : open(sealed);
        if (!plain) return answer(i, seq);
        const digest = contentHash(plain);
        if (at >= 0 ? !hexAt(row[3], at, digest) : digest !== committed) return answer(i, seq);
      }
      leaves.set(leafHash(row[3]), i * HASH_SIZE);
    }
    return answer(rows.length, null);
  }

  close(): void {
    this.#db.close();
  }
}

/** Whether the 64 hex digits at `at` in `bytes` are `hex`. */
function hexAt(bytes: Uint8Array, at: number, hex: string): boolean {
  for (let i = 0; i < 64; i++) if (bytes[at + i] !== hex.charCodeAt(i)) return false;
  return true;
}
