import { createHash } from 'node:crypto';
import { basename } from 'node:path';
import { WabridgeError } from '../../errors/index.ts';
import type { SecretBox } from '../../secrets/index.ts';
import { PurgedRecords } from '../../store/sqlite/archive-purges.ts';
import { archiveVerifierKey, signArchiveCheckpoint } from '../../store/sqlite/archive-verify.ts';
import { MerkleLog } from '../log/merkle-log.ts';
import { hexProof } from '../proof-document.ts';
import type { ArchiveStore } from '../reader.ts';
import { type CarriedContent, carriedContent, shownData } from '../record-content.ts';
import { CONTACT_EXPORT_FORMAT, digestMedia, digestSeqs, type ExportManifest } from './format.ts';
import { authorOf, type TranscriptEntry, transcriptHtml } from './transcript.ts';
import { ZipWriter } from './zip.ts';

// The per-contact export (GDPR art. 15 access and art. 20 portability; issue 18, item 7): one ZIP
// with the contact's archived records and an inclusion proof of each against a checkpoint signed
// for the export, the data as JSON, a readable transcript per conversation with its media, and
// the log's public key, so `wabridge archive verify --export` checks it with no database.
// The export is itself an admin act (`archive.export`) and so a record of the log, which commits to
// the list of records and media the export holds: dropping a record and its data both is caught.
//
// A record commits to its content by a salted hash; the content is sealed apart and may have been
// purged (retention, erasure). records.jsonl carries each record's bytes with its opened content
// and salt, so the verifier recomputes the commitment; a purged record carries `purged` and no
// content, and the purge records that account for it are exported with it. Purged content never
// appears, in data.json, the transcripts or media/. A restricted conversation (GDPR art. 18) is
// exported all the same (art. 15 covers restricted data), marked with the time it was restricted.

/** Media of a message, when wabridge has (or can still fetch) it. */
export type MediaReader = (
  messageId: string,
) => Promise<{ bytes: Uint8Array; mimeType: string; filename: string } | null>;

export interface ContactExportOptions {
  /** The SQLite or the Postgres store (with its master key, to open the content). */
  store: ArchiveStore;
  /** Decrypts the log's signing key, to sign the export's checkpoint. */
  secrets: SecretBox;
  workspaceId: string;
  /** The contact's WhatsApp number or BSUID. */
  contact: string;
  /** The ZIP to write; it must not exist. */
  out: string;
  actor: string;
  media?: MediaReader;
  now?: () => number;
  originPrefix?: string;
}

export interface ContactExportResult {
  readonly path: string;
  readonly contactId: string;
  readonly conversations: number;
  readonly records: number;
  readonly mediaFiles: number;
  /** The record of the export itself. */
  readonly exportSeq: number;
  readonly checkpointSize: number;
}

const PAGE = 500;

type Data = Record<string, unknown>;
interface Entry {
  seq: number;
  kind: string;
  recordedAt: number;
  /** The record's clear data with its opened content's members beside it (`shownData`). */
  data: Data;
  /** It committed to content that a purge has removed. */
  purged: boolean;
}

/** Writes the export of one contact; see the module comment. */
export async function exportContact(options: ContactExportOptions): Promise<ContactExportResult> {
  const { store, workspaceId: ws } = options;
  const db = store.archiveReader;
  const now = options.now ?? Date.now;
  if (!(await store.getWorkspace(ws))) {
    throw new WabridgeError('not_found', `workspace ${ws} does not exist`, { status: 404 });
  }
  const contactId = await db.findContactId(ws, options.contact);
  const contact = contactId ? await store.getContact(ws, contactId) : null;
  if (!contactId || !contact) {
    throw new WabridgeError(
      'not_found',
      `workspace ${ws} has no contact with the number or BSUID ${JSON.stringify(options.contact)}`,
      { status: 404 },
    );
  }
  const conversations = await store.listConversations(ws, { contactId, limit: 100_000 });
  const messageIds: string[] = [];
  for (const conversation of conversations) {
    let after: { ts: number; id: string } | null = null;
    for (;;) {
      const page = await db.messageIdsPage(ws, conversation.id, after, 1000);
      for (const m of page) messageIds.push(m.id);
      if (page.length < 1000) break;
      after = page[page.length - 1] ?? null;
    }
  }
  const consentIds = (await store.consentHistory(ws, contactId)).map((entry) => entry.id);
  // Agents' internal notes in the contact's threads, when the workspace keeps them (marked internal).
  const noteIds = await db.noteIdsOf(
    ws,
    conversations.map((c) => c.id),
  );
  const entityIds = [...messageIds, ...(await db.statusIdsOf(ws, messageIds)), ...consentIds, ...noteIds];
  const seqOf = await db.seqsOf(ws, entityIds);
  const ownSeqs = [...new Set(seqOf.values())].sort((a, b) => a - b);
  const notArchived = entityIds.filter((id) => !seqOf.has(id));

  // The records, a page at a time, each with its content opened; what they say is what the export
  // shows. A record whose content is gone is shown as purged, and the purge records that say so
  // are exported too, so the verifier can tell a purge from a dropped content.
  const entries: Entry[] = [];
  const recordLines = new Map<number, { text: string; carried: CarriedContent }>();
  const readPage = async (page: readonly number[]): Promise<number[]> => {
    const purged: number[] = [];
    const contents = await db.contents(ws, page);
    for (const record of await db.records(ws, { seqs: page })) {
      const text = Buffer.from(record.bytes).toString('utf8');
      const value = JSON.parse(text) as { data: Data; content_hash?: string };
      const opened = contents.get(record.seq);
      const carried = carriedContent(value.content_hash !== undefined, opened);
      recordLines.set(record.seq, { text, carried });
      if (carried.purged) purged.push(record.seq);
      entries.push({
        seq: record.seq,
        kind: record.kind,
        recordedAt: record.recordedAt,
        data: shownData(value.data, opened ? JSON.parse(opened.content) : null),
        purged: carried.purged === true,
      });
    }
    return purged;
  };
  const purgedSeqs: number[] = [];
  for (let i = 0; i < ownSeqs.length; i += PAGE) {
    purgedSeqs.push(...(await readPage(ownSeqs.slice(i, i + PAGE))));
  }
  const purgeSeqs =
    purgedSeqs.length === 0
      ? []
      : (await db.purges(ws))
          .filter((purge) => {
            const covered = new PurgedRecords([purge]);
            return purgedSeqs.some((seq) => covered.has(seq));
          })
          .map((purge) => purge.seq)
          .filter((seq) => !recordLines.has(seq));
  await readPage(purgeSeqs);
  const seqs = [...ownSeqs, ...purgeSeqs].sort((a, b) => a - b);
  entries.sort((a, b) => a.seq - b.seq);

  const media = new Map<string, { path: string; bytes: Uint8Array; mimeType: string; filename: string }>();
  for (const entry of entries) {
    if (!entry.kind.startsWith('message.')) continue;
    // Only content still held: a purged message has none, and its media is not fetched.
    const content = entry.data.content as Record<string, { id?: unknown }> | null | undefined;
    const type = String(entry.data.type);
    if (!content?.[type]?.id || !options.media) continue;
    const id = String(entry.data.id);
    const file = await options.media(id).catch(() => null);
    if (!file) continue;
    const safeName = file.filename.replace(/[^\w.-]+/g, '_').slice(0, 100) || 'file';
    media.set(id, { ...file, path: `media/${id}-${safeName}` });
  }
  const mediaList = [...media.values()]
    .map((m) => ({ path: m.path, sha256: createHash('sha256').update(m.bytes).digest('hex') }))
    .sort((a, b) => (a.path < b.path ? -1 : 1));

  // The export's own record, then a checkpoint covering it and everything exported.
  const auditId = await store.appendAudit({
    actor: options.actor,
    action: 'archive.export',
    workspaceId: ws,
    details: {
      scope: 'contact',
      contact_id: contactId,
      records: seqs.length,
      record_seqs_sha256: digestSeqs(seqs),
      media_files: mediaList.length,
      media_sha256: digestMedia(mediaList),
      file: basename(options.out),
    },
  });
  const exportSeq = (await db.seqsOf(ws, [`audit:${auditId}`])).get(`audit:${auditId}`);
  if (exportSeq === undefined)
    throw new WabridgeError('internal', 'the export was not recorded in the archive');
  const [exportRecord] = await db.records(ws, { seqs: [exportSeq] });
  recordLines.set(exportSeq, {
    text: Buffer.from(exportRecord?.bytes ?? new Uint8Array()).toString('utf8'),
    carried: {},
  });
  const signed = await signArchiveCheckpoint(db, options.secrets, ws, {
    now,
    ...(options.originPrefix ? { originPrefix: options.originPrefix } : {}),
  });
  const verifierKey = await archiveVerifierKey(db, options.secrets, ws, options);
  const merkle = await MerkleLog.open(db.nodeStore(ws));

  const generatedAt = new Date(now());
  const zip = new ZipWriter(options.out, { mtime: generatedAt });
  try {
    // Every proof against the one checkpoint in one pass: the nodes they need are read once, in
    // order, and shared upper levels once for all (at 10 million records, per-record proofs were
    // most of the export's time).
    const proved = [...seqs, exportSeq];
    const proofs = await merkle.inclusionProofs(proved, signed.checkpoint.size);
    const lines = proved.map((seq, i) => {
      const proof = hexProof(proofs[i] ?? []);
      const line = recordLines.get(seq);
      return JSON.stringify({ seq, record: line?.text, ...line?.carried, proof });
    });
    zip.add('records.jsonl', `${lines.join('\n')}\n`);
    const manifest: ExportManifest = {
      format: CONTACT_EXPORT_FORMAT,
      workspace: ws,
      contact_id: contactId,
      generated_at: generatedAt.toISOString(),
      export_seq: exportSeq,
      record_seqs: seqs,
      checkpoint_size: signed.checkpoint.size,
      media: mediaList,
      not_archived: notArchived,
      purged_seqs: purgedSeqs,
      restricted_conversations: conversations.filter((c) => c.restrictedAt !== null).map((c) => c.id),
    };
    zip.add('manifest.json', `${JSON.stringify(manifest, null, 2)}\n`);
    zip.add('checkpoint.txt', signed.note);
    zip.add('public-key.txt', `${verifierKey}\n`);
    const name = contact.profileName ?? contact.waId ?? contact.bsuid ?? contact.id;
    const byConversation = groupEntries(entries, media);
    zip.add(
      'data.json',
      `${JSON.stringify(
        {
          contact,
          conversations: conversations.map((c) => ({ ...c, messages: byConversation.get(c.id) ?? [] })),
          consent: entries.filter((e) => e.kind === 'consent').map(annotated),
          unlinked_statuses: byConversation.get(UNLINKED) ?? [],
          purges: entries.filter((e) => e.kind === 'purge').map(annotated),
        },
        null,
        2,
      )}\n`,
    );
    for (const conversation of conversations) {
      const list = (byConversation.get(conversation.id) ?? []) as Data[];
      zip.add(
        `transcripts/${conversation.id}.html`,
        transcriptHtml(
          `Conversation with ${name}`,
          [
            `Workspace ${ws}, conversation ${conversation.id}, business number ${conversation.displayPhoneNumber ?? conversation.phoneNumberId}.`,
            `Exported ${generatedAt.toISOString()}; record numbers refer to records.jsonl, verifiable with wabridge archive verify --export.`,
            ...(conversation.restrictedAt !== null
              ? [
                  `Processing of this conversation is restricted (GDPR art. 18) since ${new Date(conversation.restrictedAt).toISOString()}; it is shown here because the right of access covers restricted data.`,
                ]
              : []),
          ],
          list.map((m) => transcriptEntry(m, name, media)),
        ),
      );
    }
    for (const file of media.values()) zip.add(file.path, file.bytes);
    zip.add('README.txt', README);
    await zip.finish();
  } catch (error) {
    await zip.abort();
    throw error;
  }
  return {
    path: options.out,
    contactId,
    conversations: conversations.length,
    records: seqs.length,
    mediaFiles: mediaList.length,
    exportSeq,
    checkpointSize: signed.checkpoint.size,
  };
}

const UNLINKED = '';

/** An entry as data.json shows it: the record's data with where it sits in the log. */
const annotated = (entry: Entry): Data => ({
  archive_seq: entry.seq,
  archive_kind: entry.kind,
  archive_recorded_at: entry.recordedAt,
  ...(entry.purged ? { archive_purged: true } : {}),
  ...entry.data,
});

// Messages per conversation, each with its revisions and statuses nested, in log order.
function groupEntries(
  entries: readonly Entry[],
  media: ReadonlyMap<string, { path: string }>,
): Map<string, Data[]> {
  const byWamid = new Map<string, Data>();
  const byId = new Map<string, Data>();
  const out = new Map<string, Data[]>();
  const push = (key: string, value: Data) => out.set(key, [...(out.get(key) ?? []), value]);
  const notes = new Map<string, Data>();
  for (const entry of entries) {
    const value = annotated(entry);
    if (entry.kind === 'note' && entry.data.relates_to === null) {
      // An internal note sits among the messages where it was written, marked `internal`.
      notes.set(String(entry.data.id), value);
      push(String(entry.data.conversation_id), value);
    }
    if (entry.kind === 'message.inbound' || entry.kind === 'message.outbound') {
      const file = media.get(String(entry.data.id));
      if (file) value.media_file = file.path;
      if (typeof entry.data.wamid === 'string') byWamid.set(entry.data.wamid, value);
      byId.set(String(entry.data.id), value);
      push(String(entry.data.conversation_id), value);
    }
  }
  for (const entry of entries) {
    const value = annotated(entry);
    if (entry.kind === 'message.revision') {
      const parent = byWamid.get(String(entry.data.relates_to));
      if (parent) parent.revisions = [...((parent.revisions as Data[]) ?? []), value];
      else push(String(entry.data.conversation_id), value);
    } else if (entry.kind === 'note' && entry.data.relates_to !== null) {
      // Its edits and its deletion are versions of it, like a message's revisions.
      const parent = notes.get(String(entry.data.relates_to));
      if (parent) parent.revisions = [...((parent.revisions as Data[]) ?? []), value];
      else push(String(entry.data.conversation_id), value);
    } else if (entry.kind === 'status') {
      const parent = byId.get(String(entry.data.message_id));
      if (parent) parent.statuses = [...((parent.statuses as Data[]) ?? []), value];
      else push(UNLINKED, value);
    }
  }
  return out;
}

function transcriptEntry(
  m: Data,
  name: string,
  media: ReadonlyMap<string, { path: string; mimeType: string; filename: string }>,
): TranscriptEntry {
  const file = media.get(String(m.id));
  const entry = (d: Data): TranscriptEntry => ({
    seq: Number(d.archive_seq),
    kind: String(d.archive_kind),
    direction: String(d.direction),
    type: String(d.type),
    ts: Number(d.ts),
    text: typeof d.text === 'string' ? d.text : d.archive_purged === true ? '(content purged)' : null,
    author: authorOf(d, name),
  });
  return {
    ...entry(m),
    ...(file ? { media: { href: `../${file.path}`, mimeType: file.mimeType, filename: file.filename } } : {}),
    revisions: ((m.revisions as Data[]) ?? []).map(entry),
    statuses: ((m.statuses as Data[]) ?? []).map((s) => ({ status: String(s.status), ts: Number(s.ts) })),
  };
}

const README = `This is an export of one contact's records from a wabridge archive.

data.json          the contact, their conversations with every message, revision and status,
                   and their consent changes; each entry names its archive record (archive_seq).
                   Entries with "internal": true (archive_kind "note") are agents' internal notes
                   in the conversation's Slack or Teams thread: never sent to the contact
transcripts/       one readable HTML page per conversation; media/ holds the files they show
records.jsonl      each archived record (its exact bytes) with its RFC 9162 inclusion proof, and its
                   content and salt: the record commits to SHA-256(salt || content); a record whose
                   content was purged says "purged" and its purge record is exported with it
                   (data.json marks such entries archive_purged and shows no content)
checkpoint.txt     the signed checkpoint (C2SP signed note) the proofs lead to
public-key.txt     the log's verifier key, as the exporting system states it
manifest.json      what the export holds; export_seq is the record of the export itself

Verify it without the database:  wabridge archive verify --export <this file> --key <verifier key>
Obtain the verifier key from the operator independently (wabridge archive public-key <workspace>);
the copy in public-key.txt proves only that the file is consistent with itself.
`;
