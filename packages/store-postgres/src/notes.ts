import { type IngestStore, newId, type RecordNoteInput, WabridgeError } from '@wabridge/core';
import { PgCommandKeys } from './command-keys.ts';
import type { Tx } from './database.ts';

// Agents' internal notes in the archive (issue 18, item 1), as the SQLite store keeps them
// (core: store/sqlite/notes.ts): a note is an archive record of kind `note`, its text sealed
// content; an edit is a new record relating to the note, a deletion one without content; the
// internal_notes table holds one row per record, with no text. Notes create no job.

/** Another delivery of the same note archived it first: the call is run again and finds it. */
class LostNoteRace extends Error {}

/** Recording notes (of IngestStore). */
export abstract class PgNotes extends PgCommandKeys implements Pick<IngestStore, 'recordNote'> {
  async recordNote(input: RecordNoteInput): Promise<{ duplicate: boolean; noteId: string | null }> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.db.transaction((tx) => this.#recordNote(tx, input));
      } catch (error) {
        if (!(error instanceof LostNoteRace) || attempt > 1) throw error;
      }
    }
  }

  async #recordNote(tx: Tx, input: RecordNoteInput): Promise<{ duplicate: boolean; noteId: string | null }> {
    const ws = input.workspaceId;
    // The note as first archived, by its platform message: what an edit or a deletion changes,
    // and what a second delivery of the same note (under another key) would archive twice. Its
    // conversation stays locked (FOR SHARE) so an erasure cannot close it meanwhile.
    const original = await tx.get<{ id: string; conversation_id: string; closed: boolean }>(
      `SELECT n.id, n.conversation_id, (c.erased_at IS NOT NULL OR c.restricted_at IS NOT NULL) AS closed
       FROM internal_notes n JOIN conversations c ON c.id = n.conversation_id
       WHERE n.workspace_id = $1 AND n.connector_id = $2 AND n.external_id = $3 AND n.action = 'note'
       ORDER BY n.created_at, n.id LIMIT 1 FOR SHARE OF c`,
      [ws, input.connectorId, input.externalId],
    );
    if (input.action === 'note' ? original !== null : original === null) {
      return { duplicate: input.action === 'note', noteId: original?.id ?? null };
    }
    // An erased or restricted conversation takes no new versions.
    if (original?.closed) return { duplicate: false, noteId: null };
    const conversationId = original?.conversation_id ?? input.conversationId;
    if (conversationId === null) return { duplicate: false, noteId: null };
    const id = newId('nte', input.at);
    const claimed = await this.claimKeyFor(tx, ws, input.commandKey.source, input.commandKey.key, id);
    if (claimed !== true) return { duplicate: true, noteId: claimed };
    if (
      !(await tx.get('SELECT 1 AS x FROM conversations WHERE id = $1 AND workspace_id = $2 FOR SHARE', [
        conversationId,
        ws,
      ]))
    ) {
      throw new WabridgeError(
        'not_found',
        `conversation ${conversationId} does not exist in workspace ${ws}`,
        {
          status: 404,
        },
      );
    }
    const inserted = await tx.run(
      `INSERT INTO internal_notes (id, workspace_id, conversation_id, connector_id, external_id, note_id, action, ts, created_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)
       ON CONFLICT (workspace_id, connector_id, external_id) WHERE action = 'note' DO NOTHING`,
      [
        id,
        ws,
        conversationId,
        input.connectorId,
        input.externalId,
        original?.id ?? id,
        input.action,
        input.at,
      ],
    );
    // Two first deliveries at once: the other committed its note. This transaction (and its key)
    // is rolled back, and the call run again answers the other's note as a duplicate.
    if (inserted === 0) throw new LostNoteRace();
    const content =
      input.action === 'revoke'
        ? null
        : await this.archive.sealContent(tx, ws, { text: input.text, attachments: input.attachments });
    await this.archive.append(
      tx,
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
      content,
    );
    return { duplicate: false, noteId: id };
  }
}
