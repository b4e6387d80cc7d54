import { createHash } from 'node:crypto';
import { canonicalJson } from '../../store/sqlite/archive.ts';
import type { Checkpoint } from '../log/checkpoint.ts';
import { InclusionMemo } from '../log/inclusion-memo.ts';
import { checkRecordInclusion, openLogCheckpoint, verifierFromKey } from '../proof-document.ts';
import { type CarriedContent, checkCarriedContent, shownData } from '../record-content.ts';
import { CONTACT_EXPORT_FORMAT, digestMedia, digestSeqs } from './format.ts';
import { readZip } from './zip.ts';

// `wabridge archive verify --export file.zip`: checks a contact export with no database. The
// checkpoint must verify under the key; every record's inclusion proof must lead to it; the
// export's own record must commit to exactly the records and media the file holds; every record's
// carried content must be the content its record commits to (SHA-256 of salt and content), or the
// record must be marked purged and an exported purge record must say so; and every entry of
// data.json must say what its record and its content say. The first record (in log order) that fails is
// named. The HTML transcripts are a rendering of data.json and are not themselves proved.

export interface ExportFailure {
  /** The record at fault, in log order; null when the fault is in no one record (key, checkpoint, layout). */
  readonly seq: number | null;
  readonly kind: string | null;
  readonly entityId: string | null;
  /**
   * `export-malformed`: a file is missing or unreadable; `checkpoint-invalid`: the checkpoint does
   * not verify under the key; `record-changed`: a record's bytes fail its proof; `record-missing`:
   * a record the export committed to is absent; `record-added`: a record the export did not commit
   * to; `record-order`: records out of log order; `data-mismatch`: data.json says something its
   * record does not; `media-mismatch`: a media file differs from what the export committed to;
   * `content-changed`: a record's content is not the content its record commits to;
   * `content-missing`: a record's content is absent and no exported purge record accounts for it.
   */
  readonly reason:
    | 'export-malformed'
    | 'checkpoint-invalid'
    | 'record-changed'
    | 'record-missing'
    | 'record-added'
    | 'record-order'
    | 'data-mismatch'
    | 'media-mismatch'
    | 'content-changed'
    | 'content-missing';
  readonly message: string;
}

export interface ExportVerifyReport {
  readonly ok: boolean;
  readonly workspace: string | null;
  readonly contactId: string | null;
  readonly records: number;
  readonly checkpointSize: number | null;
  /** Records verified as purged: their record and proof hold, their content was removed by a purge. */
  readonly purged: number;
  /** `given`: the key the verifier trusts; `export`: the key in the file (proves integrity, not origin). */
  readonly keySource: 'given' | 'export';
  readonly failure: ExportFailure | null;
}

const ANNOTATIONS = [
  'archive_seq',
  'archive_kind',
  'archive_recorded_at',
  'archive_purged',
  'revisions',
  'statuses',
  'media_file',
];

interface RecordLine {
  seq: number;
  kind: string | null;
  entityId: string | null;
  value: Record<string, unknown> | null;
  /** The record's opened content (checked against its commitment); null when it has none or was purged. */
  content: unknown;
  /** It commits to content the line does not carry: purged, if an exported purge record says so. */
  absent: boolean;
}

/** Verifies a contact export file; never throws for a bad file (the report says why). */
export async function verifyContactExport(
  path: string,
  options: { verifierKey?: string } = {},
): Promise<ExportVerifyReport> {
  const keySource = options.verifierKey ? 'given' : 'export';
  let workspace: string | null = null;
  let contactId: string | null = null;
  let checkpointSize: number | null = null;
  let records = 0;
  let purged = 0;
  const report = (failure: ExportFailure | null): ExportVerifyReport => ({
    ok: failure === null,
    workspace,
    contactId,
    records,
    checkpointSize,
    purged,
    keySource,
    failure,
  });
  const malformed = (message: string) =>
    report({ seq: null, kind: null, entityId: null, reason: 'export-malformed', message });

  let files: Map<string, Buffer>;
  try {
    files = await readZip(path);
  } catch (error) {
    return malformed(error instanceof Error ? error.message : String(error));
  }
  const text = (name: string) => files.get(name)?.toString('utf8');
  let manifest: Record<string, unknown>;
  let data: unknown;
  try {
    manifest = JSON.parse(text('manifest.json') ?? 'null') as Record<string, unknown>;
    data = JSON.parse(text('data.json') ?? 'null');
  } catch {
    return malformed('manifest.json or data.json is not JSON');
  }
  if (manifest?.format !== CONTACT_EXPORT_FORMAT)
    return malformed(`manifest.json is not a ${CONTACT_EXPORT_FORMAT}`);
  workspace = typeof manifest.workspace === 'string' ? manifest.workspace : null;
  contactId = typeof manifest.contact_id === 'string' ? manifest.contact_id : null;
  const listed = manifest.record_seqs;
  const exportSeq = manifest.export_seq;
  if (
    !workspace ||
    !Array.isArray(listed) ||
    !listed.every(Number.isSafeInteger) ||
    !Number.isSafeInteger(exportSeq)
  ) {
    return malformed('manifest.json lacks the workspace, the record list or the export record');
  }
  const key = verifierFromKey(options.verifierKey ?? text('public-key.txt') ?? '');
  if ('reason' in key)
    return report({
      seq: null,
      kind: null,
      entityId: null,
      reason: 'checkpoint-invalid',
      message: key.reason,
    });
  if (!key.verifier.name.endsWith(`/${workspace}`)) {
    return report({
      seq: null,
      kind: null,
      entityId: null,
      reason: 'checkpoint-invalid',
      message: `the key is for the log ${key.verifier.name}, not for workspace ${workspace}`,
    });
  }
  const opened = openLogCheckpoint(text('checkpoint.txt'), key.verifier);
  if ('reason' in opened)
    return report({
      seq: null,
      kind: null,
      entityId: null,
      reason: 'checkpoint-invalid',
      message: opened.reason,
    });
  const checkpoint: Checkpoint = opened.checkpoint;
  // Records in log order share most of their proofs: each is walked until it meets the last one.
  const memo = new InclusionMemo(checkpoint.size, checkpoint.root);
  checkpointSize = checkpoint.size;

  // Every failure found, the lowest seq reported: "the first record that fails".
  const failures: ExportFailure[] = [];
  const fail = (
    line: Partial<RecordLine> & { seq: number },
    reason: ExportFailure['reason'],
    message: string,
  ) =>
    failures.push({
      seq: line.seq,
      kind: line.kind ?? null,
      entityId: line.entityId ?? null,
      reason,
      message,
    });

  const lines = (text('records.jsonl') ?? '').split('\n').filter((l) => l.length > 0);
  const proved = new Map<number, RecordLine>();
  let previous = -1;
  for (const [i, raw] of lines.entries()) {
    let line: { seq?: unknown; record?: unknown; proof?: unknown } & CarriedContent;
    try {
      line = JSON.parse(raw) as typeof line;
    } catch {
      return malformed(`line ${i + 1} of records.jsonl is not JSON`);
    }
    if (!Number.isSafeInteger(line.seq) || typeof line.record !== 'string') {
      return malformed(`line ${i + 1} of records.jsonl has no seq or record`);
    }
    const seq = line.seq as number;
    const named = peek(line.record);
    const entry: RecordLine = { seq, ...named, value: null, content: null, absent: false };
    if (seq <= previous) {
      fail(entry, 'record-order', `record ${seq} comes after record ${previous}: the records were reordered`);
    }
    previous = Math.max(previous, seq);
    const checked = checkRecordInclusion(
      { log: workspace, seq, record: line.record, proof: line.proof },
      checkpoint,
      memo,
    );
    if (!checked.ok) {
      fail(entry, 'record-changed', `record ${seq}: ${checked.reason}`);
      continue;
    }
    entry.value = checked.value;
    const content = checkCarriedContent(checked.value, line);
    if (!content.ok) {
      fail(entry, 'content-changed', `record ${seq}: ${content.reason}`);
      continue;
    }
    if (content.state === 'present') entry.content = content.content;
    entry.absent = content.state === 'absent';
    proved.set(seq, entry);
    records++;
  }

  // A record without its content must be purged, and a purge record in the export must say so.
  const purgedByRecord = new Set<number>();
  for (const line of proved.values()) {
    const data = line.value?.data as { records?: unknown } | undefined;
    if (line.value?.kind !== 'purge' || !Array.isArray(data?.records)) continue;
    for (const range of data.records) {
      if (!Array.isArray(range) || !Number.isSafeInteger(range[0]) || !Number.isSafeInteger(range[1]))
        continue;
      for (const seq of proved.keys()) if (seq >= range[0] && seq <= range[1]) purgedByRecord.add(seq);
    }
  }
  for (const line of proved.values()) {
    if (!line.absent) continue;
    if (purgedByRecord.has(line.seq)) purged++;
    else
      fail(
        line,
        'content-missing',
        `record ${line.seq}: its content is missing and no purge record in the export says it was purged`,
      );
  }

  // The export's own record commits to the list of records and media.
  const exportRecord = proved.get(exportSeq as number);
  const details = exportRecord?.value?.data as
    | { action?: unknown; details?: Record<string, unknown> }
    | undefined;
  if (!exportRecord || details?.action !== 'archive.export') {
    fail(
      { seq: exportSeq as number },
      'record-missing',
      `the export's own record ${exportSeq} is missing or is not an export`,
    );
  } else {
    if (details.details?.record_seqs_sha256 !== digestSeqs(listed as number[])) {
      fail(
        exportRecord,
        'record-missing',
        `the list of records in manifest.json is not the one export record ${exportSeq} committed to`,
      );
    }
    const media = Array.isArray(manifest.media)
      ? (manifest.media as Array<{ path: string; sha256: string }>)
      : [];
    if (details.details?.media_sha256 !== digestMedia(media)) {
      fail(
        exportRecord,
        'media-mismatch',
        `the list of media in manifest.json is not the one export record ${exportSeq} committed to`,
      );
    }
    for (const file of media) {
      const bytes = files.get(file.path);
      if (!bytes || createHash('sha256').update(bytes).digest('hex') !== file.sha256) {
        fail(exportRecord, 'media-mismatch', `media file ${file.path} is missing or changed`);
      }
    }
  }
  const listedSet = new Set(listed as number[]);
  for (const seq of listed as number[]) {
    if (!proved.has(seq) && !failures.some((f) => f.seq === seq)) {
      fail(
        { seq },
        'record-missing',
        `record ${seq} is listed by the export but not in records.jsonl (dropped)`,
      );
    }
  }
  for (const line of proved.values()) {
    if (line.seq !== exportSeq && !listedSet.has(line.seq)) {
      fail(
        line,
        'record-added',
        `record ${line.seq} is in records.jsonl but the export did not commit to it`,
      );
    }
  }

  // data.json: each archived entry must be its record's data, and each record shown once.
  const shown = new Map<number, number>();
  for (const entry of archivedEntries(data)) {
    const seq = entry.archive_seq as number;
    shown.set(seq, (shown.get(seq) ?? 0) + 1);
    const line = proved.get(seq);
    if (!line?.value) {
      if (!failures.some((f) => f.seq === seq))
        fail({ seq }, 'data-mismatch', `data.json shows record ${seq}, which the export does not prove`);
      continue;
    }
    const rest = Object.fromEntries(Object.entries(entry).filter(([k]) => !ANNOTATIONS.includes(k)));
    if (
      canonicalJson(rest) !== canonicalJson(shownData(line.value.data, line.content)) ||
      (entry.archive_purged === true) !== line.absent ||
      entry.archive_kind !== line.value.kind ||
      entry.archive_recorded_at !== line.value.recorded_at
    ) {
      fail(line, 'data-mismatch', `data.json's entry for record ${seq} differs from the record`);
    }
  }
  for (const seq of listed as number[]) {
    const line = proved.get(seq);
    if (line && shown.get(seq) !== 1) {
      fail(
        line,
        'data-mismatch',
        `record ${seq} is shown ${shown.get(seq) ?? 0} times in data.json, not once`,
      );
    }
  }
  failures.sort((a, b) => (a.seq ?? -1) - (b.seq ?? -1));
  return report(failures[0] ?? null);
}

// The kind and entity a record's bytes name, for a failure message even when its proof fails.
function peek(record: string): { kind: string | null; entityId: string | null } {
  try {
    const value = JSON.parse(record) as { kind?: unknown; entity_id?: unknown };
    return {
      kind: typeof value.kind === 'string' ? value.kind : null,
      entityId: typeof value.entity_id === 'string' ? value.entity_id : null,
    };
  } catch {
    return { kind: null, entityId: null };
  }
}

// Every object in the data with an `archive_seq`, at any depth.
function* archivedEntries(value: unknown): Generator<Record<string, unknown>> {
  if (Array.isArray(value)) {
    for (const item of value) yield* archivedEntries(item);
  } else if (value && typeof value === 'object') {
    const object = value as Record<string, unknown>;
    if (Number.isSafeInteger(object.archive_seq)) yield object;
    for (const v of Object.values(object)) if (typeof v === 'object') yield* archivedEntries(v);
  }
}
