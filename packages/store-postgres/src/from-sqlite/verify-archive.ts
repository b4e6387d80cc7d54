import {
  CompactRange,
  type Hash,
  hashesEqual,
  type LogNodeStore,
  leafHash,
  MerkleLog,
  type NodeId,
  parseCheckpoint,
  toHex,
  WabridgeError,
} from '@wabridge/core';
import type { Queryable } from '../database.ts';
import type { SqliteSource } from './source.ts';

/** One archive log as verified after the copy. */
export interface LogCheck {
  log: string;
  size: number;
  /** Hex of the root both stores agree on. */
  root: string;
  checkpoints: number;
}

/**
 * Checks, inside the copy's transaction, that each archive log reads back in Postgres as the
 * SQLite store's: the same size, the same root (Postgres's from its stored nodes, as its appender
 * and proofs will read them; SQLite's folded from its records, the leaves themselves), and that
 * every signed checkpoint's tree head is the root of both at the checkpoint's size. Throws
 * `internal` naming the log at the first difference: the caller rolls the copy back.
 */
export async function verifyArchive(source: SqliteSource, tx: Queryable): Promise<LogCheck[]> {
  const heads = source.all<{ log_id: string; size: bigint }>(
    'SELECT log_id, size FROM archive_log_heads ORDER BY log_id',
  );
  const checks: LogCheck[] = [];
  for (const head of heads) {
    const log = head.log_id;
    const size = Number(head.size);
    const notes = source
      .all<{ note: string; size: bigint }>(
        'SELECT note, size FROM archive_checkpoints WHERE log_id = ? ORDER BY size',
        [log],
      )
      .map((c) => ({ size: Number(c.size), note: c.note }));
    const fromRecords = foldRecords(source, log, new Set(notes.map((n) => n.size)));
    const fail = (why: string) =>
      new WabridgeError(
        'internal',
        `the archive log ${log} differs after the copy: ${why}; nothing was committed`,
      );
    if (fromRecords.size !== size)
      throw fail(`SQLite's head says ${size} records, its log holds ${fromRecords.size}`);
    const pg = await MerkleLog.open(new TxNodeStore(tx, log));
    if (pg.size !== size) throw fail(`Postgres's head says ${pg.size} records, SQLite's ${size}`);
    const root = pg.head().root;
    if (!hashesEqual(root, fromRecords.root)) {
      throw fail(`root ${toHex(root)} in Postgres, ${toHex(fromRecords.root)} from SQLite's records`);
    }
    for (const { size: at, note } of notes) {
      const signed = parseCheckpoint(note.slice(0, note.indexOf('\n\n') + 1));
      const sqliteRoot = fromRecords.roots.get(at);
      if (signed.size !== at || !sqliteRoot || !hashesEqual(signed.root, sqliteRoot)) {
        throw fail(`the checkpoint at size ${at} does not sign SQLite's root at that size`);
      }
      if (!hashesEqual(await pg.root(at), signed.root)) {
        throw fail(`the checkpoint at size ${at} does not sign Postgres's root at that size`);
      }
    }
    const copiedNotes = await tx.get<{ n: number }>(
      'SELECT count(*)::int AS n FROM archive_checkpoints WHERE log_id = $1',
      [log],
    );
    if (copiedNotes?.n !== notes.length)
      throw fail(`${copiedNotes?.n} checkpoints in Postgres, ${notes.length} in SQLite`);
    checks.push({ log, size, root: toHex(root), checkpoints: notes.length });
  }
  return checks;
}

/** The log's root folded from its records (bounded memory), and its roots at the given sizes. */
function foldRecords(
  source: SqliteSource,
  log: string,
  at: ReadonlySet<number>,
): { size: number; root: Hash; roots: Map<number, Hash> } {
  const range = CompactRange.empty();
  const roots = new Map<number, Hash>();
  if (at.has(0)) roots.set(0, range.root());
  for (const [seq, record] of source.rows(
    'SELECT seq, record FROM archive_records WHERE workspace_id = ? ORDER BY seq',
    [log],
  )) {
    if (Number(seq) !== range.size) break; // a gap: the size check names it
    range.append(leafHash(record as Uint8Array));
    if (at.has(range.size)) roots.set(range.size, range.root());
  }
  return { size: range.size, root: range.root(), roots };
}

/** A read-only `LogNodeStore` over the copy's transaction, where the copied nodes are visible. */
class TxNodeStore implements LogNodeStore {
  readonly #tx: Queryable;
  readonly #log: string;

  constructor(tx: Queryable, log: string) {
    this.#tx = tx;
    this.#log = log;
  }

  async readSize(): Promise<number> {
    return (
      (
        await this.#tx.get<{ size: number }>('SELECT size FROM archive_log_heads WHERE log_id = $1', [
          this.#log,
        ])
      )?.size ?? 0
    );
  }

  async readNodes(ids: readonly NodeId[]): Promise<Array<Hash | undefined>> {
    if (ids.length === 0) return [];
    const rows = await this.#tx.all<{ level: number; idx: number; hash: Buffer }>(
      `SELECT n.level, n.idx, n.hash FROM unnest($2::int[], $3::bigint[]) AS w(level, idx)
       JOIN archive_log_nodes n ON n.log_id = $1 AND n.level = w.level AND n.idx = w.idx`,
      [this.#log, ids.map((id) => id.level), ids.map((id) => id.index)],
    );
    const found = new Map(rows.map((r) => [`${r.level}:${r.idx}`, new Uint8Array(r.hash)]));
    return ids.map(({ level, index }) => found.get(`${level}:${index}`));
  }

  commit(): Promise<boolean> {
    return Promise.reject(new WabridgeError('internal', 'the migration only reads archive logs'));
  }
}
