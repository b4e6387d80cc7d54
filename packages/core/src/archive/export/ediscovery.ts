import { createHash } from 'node:crypto';
import {
  closeSync,
  existsSync,
  fsyncSync,
  ftruncateSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  statSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { WabridgeError } from '../../errors/index.ts';
import type { SecretBox } from '../../secrets/index.ts';
import { canonicalJson } from '../../store/sqlite/archive.ts';
import { archiveVerifierKey, signArchiveCheckpoint } from '../../store/sqlite/archive-verify.ts';
import { csvLine } from '../../util/csv.ts';
import { PRIVATE_DIR_MODE, PRIVATE_FILE_MODE } from '../../util/private-files.ts';
import type { Hash } from '../log/hash.ts';
import { MerkleLog } from '../log/merkle-log.ts';
import { hexProof } from '../proof-document.ts';
import type { ArchiveStore } from '../reader.ts';
import { carriedContent, shownData } from '../record-content.ts';
import {
  authorOf,
  TRANSCRIPT_TAIL,
  type TranscriptEntry,
  transcriptEntries,
  transcriptHead,
} from './transcript.ts';

// eDiscovery exports (issue 18, item 7): the messages of a workspace that match a filter (date
// range, contact, keyword) as JSONL, CSV and an HTML transcript, each message with its archive
// record and inclusion proof (records.jsonl) against a checkpoint signed when the export began.
//
// Bounded memory: the archive is read a page of records at a time (`pageSize`), and each page's
// output is appended to the files before the next is read. Resumable: after every page the files'
// lengths and the position are written to `cursor.json` (atomically, after the data is synced);
// a rerun truncates the files to those lengths, so a page half-written by a crash is written
// again, once, and the result is byte for byte that of one uninterrupted run. The export covers
// the log as it was when it began (`upTo`), so records added meanwhile do not shift a rerun.
// When done, the export is recorded in the archive and the audit trail (`archive.export`), with
// a digest of the records it holds; `export-record.json` proves that record.
//
// Each record's content is read with it, opened, and carried beside its bytes with its salt, so the
// verifier recomputes the commitment (src/archive/record-content.ts). A message whose content was
// purged is exported as purged (record and proof, no content, matched by date and contact only),
// and `purges.jsonl`, written when the export finishes, holds every purge record of the log with
// its proof against the final checkpoint, so the verifier can tell a purge from a dropped content.
// Messages of a restricted conversation (GDPR art. 18) are exported, marked `archive_restricted`:
// restriction still allows processing for legal claims (art. 18(2)), which is what eDiscovery is.

export const DISCOVERY_FORMAT = 'wabridge.discovery-export/v1';
export type DiscoveryFileFormat = 'jsonl' | 'csv' | 'html';

export interface DiscoveryFilter {
  /** Message time (ms since the epoch), from (inclusive). */
  readonly from?: number;
  /** Message time, before (exclusive). */
  readonly to?: number;
  /** The contact's WhatsApp number or BSUID. */
  readonly contact?: string;
  /** Case-insensitive words in the text, caption or file name. */
  readonly keyword?: string;
}

export interface DiscoveryOptions {
  /** The SQLite or the Postgres store (with its master key, to open the content). */
  store: ArchiveStore;
  secrets: SecretBox;
  workspaceId: string;
  filter: DiscoveryFilter;
  /** The folder to write; a rerun with the same folder continues. */
  dir: string;
  formats: readonly DiscoveryFileFormat[];
  actor: string;
  /** Records read per page (default 1000): the memory bound. */
  pageSize?: number;
  /** Stop (resumably) after this many pages in this run. */
  maxPages?: number;
  onProgress?: (progress: { scanned: number; matched: number; total: number }) => void;
  now?: () => number;
}

export interface DiscoveryResult {
  readonly complete: boolean;
  readonly scanned: number;
  readonly matched: number;
  /** The records the export covers: [0, total). */
  readonly total: number;
  readonly exportSeq: number | null;
}

interface Cursor {
  format: typeof DISCOVERY_FORMAT;
  workspace: string;
  filter: DiscoveryFilter;
  formats: DiscoveryFileFormat[];
  upTo: number;
  nextSeq: number;
  scanned: number;
  matched: number;
  /** sha256 chained over the matched seqs: h = sha256(h ‖ "," ‖ seq), from "". */
  seqChain: string;
  lengths: Record<string, number>;
  complete: boolean;
  exportSeq: number | null;
}

// Agents' internal notes (kept when the workspace's policy says so) are exported with the messages,
// marked: their records say `internal: true` and direction `internal`, the transcript labels them.
const MESSAGE_KINDS = ['message.inbound', 'message.outbound', 'message.revision', 'note'];
const CSV_COLUMNS = [
  'archive_seq',
  'kind',
  'time',
  'conversation_id',
  'direction',
  'type',
  'author',
  'text',
  'wamid',
  'message_id',
];

/** Chains one seq into the digest of the exported list (resumable: the state is one hash). */
export const chainSeq = (chain: string, seq: number): string =>
  createHash('sha256').update(`${chain},${seq}`).digest('hex');

/** Runs (or continues) an eDiscovery export; see the module comment. */
export async function exportDiscovery(options: DiscoveryOptions): Promise<DiscoveryResult> {
  const { store, workspaceId: ws, dir } = options;
  const db = store.archiveReader;
  const pageSize = options.pageSize ?? 1000;
  if (!Number.isSafeInteger(pageSize) || pageSize < 1)
    throw new WabridgeError('bad_request', 'the page size must be a positive whole number');
  if (options.formats.length === 0)
    throw new WabridgeError('bad_request', 'choose at least one format: jsonl, csv, html');
  if (!(await store.getWorkspace(ws)))
    throw new WabridgeError('not_found', `workspace ${ws} does not exist`, { status: 404 });
  const { filter } = options;
  if (filter.from !== undefined && filter.to !== undefined && filter.from >= filter.to) {
    throw new WabridgeError('bad_request', 'the date range is empty: --from must be before --to');
  }
  let conversations: Set<string> | null = null;
  if (filter.contact !== undefined) {
    const contactId = await db.findContactId(ws, filter.contact);
    if (!contactId)
      throw new WabridgeError(
        'not_found',
        `workspace ${ws} has no contact with the number or BSUID ${JSON.stringify(filter.contact)}`,
        { status: 404 },
      );
    conversations = new Set(
      (await store.listConversations(ws, { contactId, limit: 100_000 })).map((c) => c.id),
    );
  }
  const keyword = filter.keyword?.toLowerCase();

  const cursorPath = join(dir, 'cursor.json');
  const formats = [...new Set(options.formats)].sort();
  const files = [
    'records.jsonl',
    ...formats.map((f) =>
      f === 'jsonl' ? 'messages.jsonl' : f === 'csv' ? 'messages.csv' : 'transcript.html',
    ),
  ];
  let cursor: Cursor;
  if (existsSync(cursorPath)) {
    cursor = JSON.parse(readFileSync(cursorPath, 'utf8')) as Cursor;
    if (
      cursor.workspace !== ws ||
      canonicalJson(cursor.filter) !== canonicalJson(filter) ||
      canonicalJson(cursor.formats) !== canonicalJson(formats)
    ) {
      throw new WabridgeError(
        'conflict',
        `${dir} holds an export with another workspace, filter or formats; choose a new folder`,
      );
    }
    if (cursor.complete) return result(cursor);
  } else {
    if (existsSync(dir) && files.some((f) => existsSync(join(dir, f)))) {
      throw new WabridgeError(
        'conflict',
        `${dir} holds export files but no cursor.json; choose a new folder`,
      );
    }
    mkdirSync(dir, { recursive: true, mode: PRIVATE_DIR_MODE });
    // The checkpoint the proofs lead to: the log as it is now, which is what the export covers.
    const signed = await signArchiveCheckpoint(
      db,
      options.secrets,
      ws,
      options.now ? { now: options.now } : {},
    );
    writeFileAtomic(join(dir, 'checkpoint.txt'), signed.note);
    writeFileAtomic(join(dir, 'public-key.txt'), `${await archiveVerifierKey(db, options.secrets, ws)}\n`);
    const heads: Record<string, string> = {
      'records.jsonl': '',
      'messages.jsonl': '',
      'messages.csv': csvLine(CSV_COLUMNS),
      'transcript.html': `${transcriptHead(`Messages of workspace ${ws}`, [`Filter: ${describeFilter(filter)}.`, `Covers archive records 0 to ${signed.checkpoint.size - 1}; record numbers refer to records.jsonl.`])}\n`,
    };
    for (const file of files) writeFileAtomic(join(dir, file), heads[file] ?? '');
    cursor = {
      format: DISCOVERY_FORMAT,
      workspace: ws,
      filter,
      formats,
      upTo: signed.checkpoint.size,
      nextSeq: 0,
      scanned: 0,
      matched: 0,
      seqChain: '',
      lengths: Object.fromEntries(files.map((f) => [f, statSync(join(dir, f)).size])),
      complete: false,
      exportSeq: null,
    };
    writeFileAtomic(cursorPath, JSON.stringify(cursor));
  }

  // Back to the state after the last completed page: a half-written page goes.
  const fds = new Map<string, number>();
  try {
    for (const file of files) {
      const fd = openSync(join(dir, file), 'r+');
      ftruncateSync(fd, cursor.lengths[file] ?? 0);
      fds.set(file, fd);
    }
    const merkle = await MerkleLog.open(db.nodeStore(ws));
    const names = new Map<string, { name: string; restricted: boolean }>();
    let pages = 0;
    while (cursor.nextSeq < cursor.upTo) {
      if (options.maxPages !== undefined && pages >= options.maxPages) return result(cursor);
      const page = (
        await db.records(ws, {
          fromSeq: cursor.nextSeq,
          limit: Math.min(pageSize, cursor.upTo - cursor.nextSeq),
        })
      ).filter((r) => r.seq < cursor.upTo);
      const out: Record<string, string[]> = Object.fromEntries(files.map((f) => [f, []]));
      const html: TranscriptEntry[] = [];
      const messages = page.filter((r) => MESSAGE_KINDS.includes(r.kind));
      const contents = await db.contents(
        ws,
        messages.map((r) => r.seq),
      );
      const found = [];
      for (const record of messages) {
        const text = Buffer.from(record.bytes).toString('utf8');
        const value = JSON.parse(text) as { data: Record<string, unknown>; content_hash?: string };
        const opened = contents.get(record.seq);
        const carried = carriedContent(value.content_hash !== undefined, opened);
        const data = shownData(value.data, opened ? JSON.parse(opened.content) : null);
        if (matches(data, filter, conversations, keyword)) found.push({ record, text, carried, data });
      }
      // The page's proofs in one pass (one read of the distinct nodes they share), not one a record.
      const proofs = await merkle.inclusionProofs(
        found.map((f) => f.record.seq),
        cursor.upTo,
      );
      for (const [i, { record, text, carried, data }] of found.entries()) {
        const proof = hexProof(proofs[i] as Hash[]);
        out['records.jsonl']?.push(
          `${JSON.stringify({ seq: record.seq, record: text, ...carried, proof })}\n`,
        );
        const who = await contactOf(store, ws, String(data.conversation_id), names);
        const entry = {
          archive_seq: record.seq,
          archive_kind: record.kind,
          archive_recorded_at: record.recordedAt,
          ...(carried.purged ? { archive_purged: true } : {}),
          ...(who.restricted ? { archive_restricted: true } : {}),
          ...data,
        };
        out['messages.jsonl']?.push(`${JSON.stringify(entry)}\n`);
        const author = authorOf(data, who.name);
        out['messages.csv']?.push(
          csvLine([
            record.seq,
            record.kind,
            new Date(Number(data.ts)).toISOString(),
            String(data.conversation_id),
            String(data.direction),
            String(data.type),
            author,
            typeof data.text === 'string' ? data.text : '',
            typeof data.wamid === 'string' ? data.wamid : '',
            String(data.id),
          ]),
        );
        html.push({
          seq: record.seq,
          kind: record.kind,
          direction: String(data.direction),
          type: String(data.type),
          ts: Number(data.ts),
          text: typeof data.text === 'string' ? data.text : carried.purged ? '(content purged)' : null,
          author: `${author} · conversation ${String(data.conversation_id)}${who.restricted ? ' (restricted)' : ''}`,
        });
        cursor.matched++;
        cursor.seqChain = chainSeq(cursor.seqChain, record.seq);
      }
      if (html.length > 0) out['transcript.html']?.push(transcriptEntries(html));
      for (const [file, chunks] of Object.entries(out)) {
        const fd = fds.get(file) as number;
        const bytes = Buffer.from(chunks.join(''), 'utf8');
        writeSync(fd, bytes, 0, bytes.length, cursor.lengths[file] ?? 0);
        fsyncSync(fd);
        cursor.lengths[file] = (cursor.lengths[file] ?? 0) + bytes.length;
      }
      cursor.scanned += page.length;
      cursor.nextSeq = page.length > 0 ? (page[page.length - 1]?.seq ?? cursor.nextSeq) + 1 : cursor.upTo;
      writeFileAtomic(cursorPath, JSON.stringify(cursor));
      pages++;
      options.onProgress?.({ scanned: cursor.scanned, matched: cursor.matched, total: cursor.upTo });
    }
    const tail = fds.get('transcript.html');
    if (tail !== undefined) {
      const bytes = Buffer.from(TRANSCRIPT_TAIL);
      writeSync(tail, bytes, 0, bytes.length, cursor.lengths['transcript.html'] ?? 0);
      fsyncSync(tail);
      cursor.lengths['transcript.html'] = (cursor.lengths['transcript.html'] ?? 0) + bytes.length;
    }
  } finally {
    for (const fd of fds.values()) closeSync(fd);
  }

  // Done: the export becomes an admin act and a record, proved against a new checkpoint.
  const auditId = await store.appendAudit({
    actor: options.actor,
    action: 'archive.export',
    workspaceId: ws,
    details: {
      scope: 'ediscovery',
      filter,
      formats,
      covers: cursor.upTo,
      scanned: cursor.scanned,
      matched: cursor.matched,
      record_seqs_chain: cursor.seqChain,
    },
  });
  const entity = `audit:${auditId}`;
  const exportSeq = (await db.seqsOf(ws, [entity])).get(entity) ?? null;
  if (exportSeq === null) throw new WabridgeError('internal', 'the export was not recorded in the archive');
  const signed = await signArchiveCheckpoint(
    db,
    options.secrets,
    ws,
    options.now ? { now: options.now } : {},
  );
  const merkle = await MerkleLog.open(db.nodeStore(ws));
  const [own] = await db.records(ws, { seqs: [exportSeq] });
  // Every purge record of the log, proved against the final checkpoint: what accounts for a
  // purged record (few: one per retention run or erasure).
  const purgeLines: string[] = [];
  for (let from = 0; from < signed.checkpoint.size; ) {
    const purges = (await db.records(ws, { fromSeq: from, limit: pageSize, kinds: ['purge'] })).filter(
      (r) => r.seq < signed.checkpoint.size,
    );
    for (const purge of purges) {
      const proof = hexProof(await merkle.inclusionProof(purge.seq, signed.checkpoint.size));
      purgeLines.push(
        `${JSON.stringify({ seq: purge.seq, record: Buffer.from(purge.bytes).toString('utf8'), proof })}\n`,
      );
    }
    if (purges.length < pageSize) break;
    from = (purges[purges.length - 1]?.seq ?? from) + 1;
  }
  writeFileAtomic(join(dir, 'purges.jsonl'), purgeLines.join(''));
  writeFileAtomic(
    join(dir, 'export-record.json'),
    JSON.stringify(
      {
        type: 'wabridge.archive.inclusion-proof/v1',
        log: ws,
        seq: exportSeq,
        record: Buffer.from(own?.bytes ?? new Uint8Array()).toString('utf8'),
        checkpoint: signed.note,
        proof: hexProof(await merkle.inclusionProof(exportSeq, signed.checkpoint.size)),
      },
      null,
      2,
    ),
  );
  cursor.complete = true;
  cursor.exportSeq = exportSeq;
  writeFileAtomic(cursorPath, JSON.stringify(cursor));
  return result(cursor);
}

const result = (cursor: Cursor): DiscoveryResult => ({
  complete: cursor.complete,
  scanned: cursor.scanned,
  matched: cursor.matched,
  total: cursor.upTo,
  exportSeq: cursor.exportSeq,
});

function matches(
  data: Record<string, unknown>,
  filter: DiscoveryFilter,
  conversations: Set<string> | null,
  keyword: string | undefined,
): boolean {
  const ts = Number(data.ts);
  if (filter.from !== undefined && !(ts >= filter.from)) return false;
  if (filter.to !== undefined && !(ts < filter.to)) return false;
  if (conversations && !conversations.has(String(data.conversation_id))) return false;
  if (keyword) {
    const media = (data.content as Record<string, { caption?: unknown; filename?: unknown }> | null)?.[
      String(data.type)
    ];
    const haystack = [data.text, media?.caption, media?.filename]
      .filter((v) => typeof v === 'string')
      .join('\n')
      .toLowerCase();
    if (!haystack.includes(keyword)) return false;
  }
  return true;
}

/** The contact's name in a conversation, and whether the conversation is restricted (art. 18). */
async function contactOf(
  store: ArchiveStore,
  ws: string,
  conversationId: string,
  names: Map<string, { name: string; restricted: boolean }>,
): Promise<{ name: string; restricted: boolean }> {
  const known = names.get(conversationId);
  if (known !== undefined) return known;
  const conversation = await store.getConversation(ws, conversationId);
  const contact = conversation ? await store.getContact(ws, conversation.contactId) : null;
  const who = {
    name: contact?.profileName ?? contact?.waId ?? contact?.bsuid ?? 'contact',
    restricted: conversation?.restrictedAt != null,
  };
  // Bounded: a page's worth of conversations at most is worth keeping.
  if (names.size > 10_000) names.clear();
  names.set(conversationId, who);
  return who;
}

export function describeFilter(filter: DiscoveryFilter): string {
  const parts = [
    filter.from !== undefined ? `from ${new Date(filter.from).toISOString()}` : null,
    filter.to !== undefined ? `before ${new Date(filter.to).toISOString()}` : null,
    filter.contact !== undefined ? `contact ${filter.contact}` : null,
    filter.keyword !== undefined ? `keyword "${filter.keyword}"` : null,
  ].filter((p) => p !== null);
  return parts.length > 0 ? parts.join(', ') : 'every message';
}

function writeFileAtomic(path: string, text: string): void {
  const temporary = `${path}.tmp`;
  const fd = openSync(temporary, 'w', PRIVATE_FILE_MODE);
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(temporary, path);
}
