import type { SqliteDatabase } from './database.ts';

// The purge records of a log, for `archive verify`: which records' content a purge removed, so a
// record without content is reported as purged rather than as a failure. They are read up front
// through the entity index (a purge's entity id starts with `purge:`); the verify pass checks
// their bytes against the log like any record, so a forged one is caught there.

/** One purge, as its record says. */
export interface PurgeSummary {
  readonly seq: number;
  readonly actor: string;
  readonly reason: string;
  readonly at: number;
  readonly count: number;
  readonly records: ReadonlyArray<readonly [number, number]>;
}

export function readPurges(db: SqliteDatabase, log: string): PurgeSummary[] {
  const rows = db.all<{ seq: number; record: Uint8Array }>(
    // INDEXED BY: without it SQLite walks the whole log by its primary key for the ORDER BY (0.6 s
    // per 100,000 records, twice a verify), not the few rows of the partial index of purges.
    `SELECT seq, record FROM archive_records INDEXED BY archive_records_purges
     WHERE workspace_id = :log AND kind = 'purge'
     ORDER BY seq`,
    { log },
  );
  return parsePurges(rows);
}

/** The purge records' bytes as summaries (what `archive verify` and the exports read of them). */
export function parsePurges(rows: ReadonlyArray<{ seq: number; record: Uint8Array }>): PurgeSummary[] {
  const purges: PurgeSummary[] = [];
  for (const row of rows) {
    try {
      const record = JSON.parse(Buffer.from(row.record).toString('utf8')) as {
        recorded_at?: unknown;
        data?: { actor?: unknown; reason?: unknown; count?: unknown; records?: unknown };
      };
      const data = record.data ?? {};
      const records = Array.isArray(data.records)
        ? data.records.filter(
            (r): r is [number, number] =>
              Array.isArray(r) && r.length === 2 && Number.isSafeInteger(r[0]) && Number.isSafeInteger(r[1]),
          )
        : [];
      purges.push({
        seq: row.seq,
        actor: String(data.actor ?? ''),
        reason: String(data.reason ?? ''),
        at: Number(record.recorded_at ?? 0),
        count: Number(data.count ?? 0),
        records,
      });
    } catch {
      // Not JSON: the verify pass names it as malformed when it reaches it.
    }
  }
  return purges;
}

/** The union of the purges' ranges, for lookups by seq. */
export class PurgedRecords {
  #ranges: Array<[number, number]> = [];
  #summaries: PurgeSummary[] = [];

  constructor(purges: PurgeSummary[]) {
    this.refresh(purges);
  }

  get summaries(): readonly PurgeSummary[] {
    return this.#summaries;
  }

  refresh(purges: PurgeSummary[]): this {
    this.#summaries = purges;
    const all = purges.flatMap((p) => p.records.map(([a, b]) => [a, b] as [number, number]));
    all.sort((x, y) => x[0] - y[0]);
    const merged: Array<[number, number]> = [];
    for (const range of all) {
      const last = merged[merged.length - 1];
      if (last && range[0] <= last[1] + 1) last[1] = Math.max(last[1], range[1]);
      else merged.push(range);
    }
    this.#ranges = merged;
    return this;
  }

  /** The purged ranges that meet [from, to], clipped to it (for a verify thread's page). */
  within(from: number, to: number): Array<[number, number]> {
    const out: Array<[number, number]> = [];
    for (const [a, b] of this.#ranges) {
      if (b < from) continue;
      if (a > to) break;
      out.push([Math.max(a, from), Math.min(b, to)]);
    }
    return out;
  }

  has(seq: number): boolean {
    let lo = 0;
    let hi = this.#ranges.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const [a, b] = this.#ranges[mid] as [number, number];
      if (seq < a) hi = mid - 1;
      else if (seq > b) lo = mid + 1;
      else return true;
    }
    return false;
  }
}
