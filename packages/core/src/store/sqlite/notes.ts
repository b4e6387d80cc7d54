import { newId } from '../../ids/index.ts';
import type { RecordNoteInput } from '../types.ts';
import type { ArchiveAppender } from './archive.ts';
import type { SqliteDatabase } from './database.ts';

// Agents' internal notes in the archive (issue 18, item 1), when the workspace's policy
// `archiveInternalNotes` is on. A note is an archive record of kind `note`, marked internal; its
// text is content like a message's (sealed with the workspace's data key, committed to by a salted
// hash, purgeable). An edit is a new `note` record of type `edit` relating to the note, a deletion
// one of type `revoke` (no content): never an overwrite. The `internal_notes` table holds one row
// per record, with no text, so exports, retention and erasure find a conversation's notes and an
// edit finds its note. Notes create no job: they are never sent to WhatsApp nor mirrored.

/** What `recordNote` needs of the store, inside its write transaction. */
export interface NoteContext {
  readonly db: SqliteDatabase;
  readonly archive: ArchiveAppender;
  /** The store's command-key claim: true when claimed now, else the result stored with the key. */
  claimKey(ws: string, source: string, key: string, result: string | null): string | true;
  requireConversation(ws: string, id: string): void;
}

interface NoteRow {
  id: string;
  conversation_id: string;
}

/** Records a note, an edit of one or its deletion; call inside `db.write`. See `Store.recordNote`. */
export function recordNote(
  ctx: NoteContext,
  input: RecordNoteInput,
): { duplicate: boolean; noteId: string | null } {
  const { db } = ctx;
  const ws = input.workspaceId;
  // The note as first archived, by its platform message: what an edit or a deletion changes, and
  // what a second delivery of the same note (under another key) would archive twice.
  const original = db.get<NoteRow & { closed: number }>(
    `SELECT n.id, n.conversation_id,
       (c.erased_at IS NOT NULL OR c.restricted_at IS NOT NULL) AS closed
     FROM internal_notes n JOIN conversations c ON c.id = n.conversation_id
     WHERE n.workspace_id = :ws AND n.connector_id = :connector AND n.external_id = :external
       AND n.action = 'note' ORDER BY n.created_at, n.id LIMIT 1`,
    { ws, connector: input.connectorId, external: input.externalId },
  );
  if (input.action === 'note' ? original !== undefined : original === undefined) {
    return { duplicate: input.action === 'note', noteId: original?.id ?? null };
  }
  // An erased or restricted conversation takes no new versions (a new note is refused the same way
  // before it gets here: its thread no longer resolves to a conversation).
  if (original?.closed) return { duplicate: false, noteId: null };
  const conversationId = original?.conversation_id ?? input.conversationId;
  if (conversationId === null) return { duplicate: false, noteId: null };
  const id = newId('nte', input.at);
  const claimed = ctx.claimKey(ws, input.commandKey.source, input.commandKey.key, id);
  if (claimed !== true) return { duplicate: true, noteId: claimed };
  ctx.requireConversation(ws, conversationId);
  db.run(
    `INSERT INTO internal_notes (id, workspace_id, conversation_id, connector_id, external_id, note_id, action, ts, created_at)
     VALUES (:id, :ws, :conversation, :connector, :external, :note, :action, :ts, :ts)`,
    {
      id,
      ws,
      conversation: conversationId,
      connector: input.connectorId,
      external: input.externalId,
      note: original?.id ?? id,
      action: input.action,
      ts: input.at,
    },
  );
  ctx.archive.append(
    ws,
    'note',
    id,
    {
      id,
      conversation_id: conversationId,
      // Shaped like a message record, so exports show a note where it was written, with its
      // versions; `internal` and the direction say it never left the platform.
      internal: true,
      direction: 'internal',
      type: input.action,
      ts: input.at,
      relates_to: original?.id ?? null,
      sender: { via: input.connectorId, agentId: input.agent.id, agentName: input.agent.name },
      platform: { thread_id: input.threadId, message_id: input.externalId },
      created_at: input.at,
    },
    input.at,
    input.action === 'revoke' ? undefined : { text: input.text, attachments: input.attachments },
  );
  return { duplicate: false, noteId: id };
}

/** The ids of the note records (notes, edits, deletions) of these conversations, in time order. */
export function noteIdsOf(db: SqliteDatabase, ws: string, conversationIds: readonly string[]): string[] {
  return db
    .all<{ id: string }>(
      `SELECT id FROM internal_notes WHERE workspace_id = :ws
         AND conversation_id IN (SELECT value FROM json_each(:ids)) ORDER BY ts, id`,
      { ws, ids: JSON.stringify(conversationIds) },
    )
    .map((r) => r.id);
}

/** Marks these note records' content as purged (the archive content itself goes by `purgeArchive`). */
export function purgeNotes(db: SqliteDatabase, ws: string, ids: readonly string[], at: number): number {
  return db.run(
    `UPDATE internal_notes SET purged_at = :at
     WHERE workspace_id = :ws AND id IN (SELECT value FROM json_each(:ids)) AND purged_at IS NULL`,
    { ws, ids: JSON.stringify(ids), at },
  ).changes;
}
