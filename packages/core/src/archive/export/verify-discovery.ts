import { createReadStream, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { canonicalJson } from '../../store/sqlite/archive.ts';
import { PurgedRecords, type PurgeSummary } from '../../store/sqlite/archive-purges.ts';
import { InclusionMemo } from '../log/inclusion-memo.ts';
import {
  checkRecordInclusion,
  openLogCheckpoint,
  verifierFromKey,
  verifyProofDocument,
} from '../proof-document.ts';
import { type CarriedContent, checkCarriedContent, shownData } from '../record-content.ts';
import { chainSeq } from './ediscovery.ts';
import type { ExportFailure, ExportVerifyReport } from './verify-export.ts';

// `wabridge archive verify --export <folder>`: checks an eDiscovery export with no database, in
// bounded memory (the files are read a line at a time). Every record's proof must lead to
// checkpoint.txt; messages.jsonl must say, line by line, what the records say; and the export's
// own record (export-record.json, proved against a later checkpoint) must commit to exactly this
// list of records. Each record's carried content must be the content it commits to; a record
// without content must be marked purged and covered by a purge record of purges.jsonl (proved
// against the export record's checkpoint). messages.csv and transcript.html are renderings of the
// same lines.

const ANNOTATIONS = new Set([
  'archive_seq',
  'archive_kind',
  'archive_recorded_at',
  'archive_purged',
  'archive_restricted',
]);

export async function verifyDiscoveryExport(
  dir: string,
  options: { verifierKey?: string } = {},
): Promise<ExportVerifyReport> {
  const keySource = options.verifierKey ? 'given' : 'export';
  let workspace: string | null = null;
  let records = 0;
  let checkpointSize: number | null = null;
  let purged = 0;
  const report = (failure: ExportFailure | null): ExportVerifyReport => ({
    ok: failure === null,
    workspace,
    contactId: null,
    records,
    checkpointSize,
    purged,
    keySource,
    failure,
  });
  const whole = (reason: ExportFailure['reason'], message: string) =>
    report({ seq: null, kind: null, entityId: null, reason, message });
  const read = (name: string) =>
    existsSync(join(dir, name)) ? readFileSync(join(dir, name), 'utf8') : undefined;

  let own: { log?: unknown; seq?: unknown; record?: unknown; checkpoint?: unknown };
  try {
    own = JSON.parse(read('export-record.json') ?? 'null') ?? {};
  } catch {
    return whole('export-malformed', 'export-record.json is not JSON');
  }
  if (typeof own.log !== 'string' || typeof own.record !== 'string') {
    return whole(
      'export-malformed',
      'export-record.json is missing: the export is not complete (rerun it to finish)',
    );
  }
  workspace = own.log;
  const key = verifierFromKey(options.verifierKey ?? read('public-key.txt') ?? '');
  if ('reason' in key) return whole('checkpoint-invalid', key.reason);
  const opened = openLogCheckpoint(read('checkpoint.txt'), key.verifier);
  if ('reason' in opened) return whole('checkpoint-invalid', opened.reason);
  const checkpoint = opened.checkpoint;
  // Records in log order share most of their proofs: each is walked until it meets the last one.
  const memo = new InclusionMemo(checkpoint.size, checkpoint.root);
  checkpointSize = checkpoint.size;
  const ownSeq = Number(own.seq);
  const ownVerdict = verifyProofDocument(own, options.verifierKey ?? read('public-key.txt') ?? '');
  if (!ownVerdict.ok)
    return report({
      seq: ownSeq,
      kind: 'admin',
      entityId: null,
      reason: 'record-changed',
      message: `the export's own record: ${ownVerdict.reason}`,
    });
  const details = (
    JSON.parse(own.record) as { data?: { action?: unknown; details?: Record<string, unknown> } }
  ).data;
  if (details?.action !== 'archive.export' || details.details?.covers !== checkpoint.size) {
    return report({
      seq: ownSeq,
      kind: 'admin',
      entityId: null,
      reason: 'record-missing',
      message: `record ${ownSeq} is not the record of an export covering checkpoint.txt`,
    });
  }

  // The purge records, proved against the export record's (final) checkpoint: few, kept as ranges.
  const final = openLogCheckpoint(own.checkpoint, key.verifier);
  if ('reason' in final) return whole('checkpoint-invalid', `export-record.json: ${final.reason}`);
  const summaries: PurgeSummary[] = [];
  const purgeText = read('purges.jsonl');
  if (purgeText === undefined) return whole('export-malformed', 'purges.jsonl is missing');
  for (const [i, raw] of purgeText.split('\n').entries()) {
    if (raw.length === 0) continue;
    let line: { seq?: unknown; record?: unknown; proof?: unknown };
    try {
      line = JSON.parse(raw) as typeof line;
    } catch {
      return whole('export-malformed', `line ${i + 1} of purges.jsonl is not JSON`);
    }
    if (!Number.isSafeInteger(line.seq) || typeof line.record !== 'string') {
      return whole('export-malformed', `line ${i + 1} of purges.jsonl has no seq or record`);
    }
    const seq = line.seq as number;
    const checked = checkRecordInclusion(
      { log: workspace, seq, record: line.record, proof: line.proof },
      final.checkpoint,
    );
    const data = checked.ok ? (checked.value.data as { records?: unknown }) : null;
    if (!checked.ok || checked.value.kind !== 'purge' || !Array.isArray(data?.records)) {
      return report({
        seq,
        kind: 'purge',
        entityId: null,
        reason: 'record-changed',
        message: `purge record ${seq}: ${checked.ok ? 'it is not a purge record' : checked.reason}`,
      });
    }
    summaries.push({
      seq,
      actor: '',
      reason: '',
      at: 0,
      count: 0,
      records: data.records as [number, number][],
    });
  }
  const purges = new PurgedRecords(summaries);

  const lines = createInterface({
    input: createReadStream(join(dir, 'records.jsonl')),
    crlfDelay: Number.POSITIVE_INFINITY,
  })[Symbol.asyncIterator]();
  const messages = existsSync(join(dir, 'messages.jsonl'))
    ? createInterface({
        input: createReadStream(join(dir, 'messages.jsonl')),
        crlfDelay: Number.POSITIVE_INFINITY,
      })[Symbol.asyncIterator]()
    : null;
  let chain = '';
  let previous = -1;
  for (;;) {
    const next = await lines.next();
    const shown = messages ? await messages.next() : null;
    if (next.done) {
      if (shown && !shown.done) {
        return whole(
          'data-mismatch',
          'messages.jsonl has more lines than records.jsonl (a message was added)',
        );
      }
      break;
    }
    let line: { seq?: unknown; record?: unknown; proof?: unknown } & CarriedContent;
    try {
      line = JSON.parse(next.value) as typeof line;
    } catch {
      return whole('export-malformed', `line ${records + 1} of records.jsonl is not JSON`);
    }
    if (!Number.isSafeInteger(line.seq) || typeof line.record !== 'string') {
      return whole('export-malformed', `line ${records + 1} of records.jsonl has no seq or record`);
    }
    const seq = line.seq as number;
    const fail = (reason: ExportFailure['reason'], message: string, value?: Record<string, unknown>) =>
      report({
        seq,
        kind: typeof value?.kind === 'string' ? value.kind : null,
        entityId: typeof value?.entity_id === 'string' ? value.entity_id : null,
        reason,
        message,
      });
    if (seq <= previous)
      return fail('record-order', `record ${seq} comes after record ${previous}: the records were reordered`);
    const checked = checkRecordInclusion(
      { log: workspace, seq, record: line.record, proof: line.proof },
      checkpoint,
      memo,
    );
    if (!checked.ok) return fail('record-changed', `record ${seq}: ${checked.reason}`);
    const content = checkCarriedContent(checked.value, line);
    if (!content.ok) return fail('content-changed', `record ${seq}: ${content.reason}`, checked.value);
    if (content.state === 'absent') {
      if (!purges.has(seq)) {
        return fail(
          'content-missing',
          `record ${seq}: its content is missing and no purge record in purges.jsonl says it was purged`,
          checked.value,
        );
      }
      purged++;
    }
    const opened = content.state === 'present' ? content.content : null;
    if (shown) {
      if (shown.done)
        return fail(
          'data-mismatch',
          `messages.jsonl ends before record ${seq} (a message was dropped)`,
          checked.value,
        );
      let entry: Record<string, unknown>;
      try {
        entry = JSON.parse(shown.value) as Record<string, unknown>;
      } catch {
        return fail('data-mismatch', `messages.jsonl's line for record ${seq} is not JSON`, checked.value);
      }
      const rest = Object.fromEntries(Object.entries(entry).filter(([k]) => !ANNOTATIONS.has(k)));
      if (
        entry.archive_seq !== seq ||
        (entry.archive_purged === true) !== (content.state === 'absent') ||
        canonicalJson(rest) !== canonicalJson(shownData(checked.value.data, opened))
      ) {
        return fail(
          'data-mismatch',
          `messages.jsonl's line for record ${seq} differs from the record`,
          checked.value,
        );
      }
    }
    chain = chainSeq(chain, seq);
    previous = seq;
    records++;
  }
  if (chain !== details.details?.record_seqs_chain || records !== details.details?.matched) {
    return report({
      seq: ownSeq,
      kind: 'admin',
      entityId: null,
      reason: 'record-missing',
      message: `the export holds ${records} records, not the list of ${String(details.details?.matched)} its record ${ownSeq} committed to (a record was dropped or added)`,
    });
  }
  return report(null);
}
