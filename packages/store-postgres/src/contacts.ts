import { type ContactIdentity, newId, WabridgeError } from '@wabridge/core';
import { type Params, PG_UNIQUE_VIOLATION, pgErrorCode, type Tx } from './database.ts';
import { type Pending, PgFanOut } from './fan-out.ts';
import type { ContactRow } from './rows.ts';

/**
 * Contacts and conversations as ingest resolves them (core: store/sqlite/ingest.ts): a customer is
 * found by parent BSUID, BSUID, then phone, made when none matches; an identity change merges the
 * contact the new identity made meanwhile. Concurrent ingests of one new customer (two gateways,
 * Meta's retries) make one contact: the unique indexes on (workspace, wa_id) and (workspace,
 * bsuid) decide, and the loser reads the winner's row.
 */
export abstract class PgContacts extends PgFanOut {
  /** The contact and conversation of a message's sender, made or updated as needed. */
  protected async conversationFor(
    tx: Tx,
    ws: string,
    phoneNumberId: string,
    displayPhoneNumber: string | null,
    identity: ContactIdentity,
  ): Promise<{ contactId: string; conversationId: string }> {
    const contact = await this.resolveContact(tx, ws, identity, phoneNumberId);
    const conversationId = await this.upsertConversation(
      tx,
      ws,
      contact.id,
      phoneNumberId,
      displayPhoneNumber,
      contact.conversation,
    );
    return { contactId: contact.id, conversationId };
  }

  /**
   * The contact of `identity`, made if none matches. Given a number, also the contact's
   * conversation on it, read by the same statement (a round trip less per message): null when it
   * has none (a contact just made never has one).
   */
  protected async resolveContact(
    tx: Tx,
    ws: string,
    identity: ContactIdentity,
    phoneNumberId: string | null = null,
  ): Promise<{ id: string; conversation?: KnownConversation | null }> {
    let row = await this.findContact(tx, ws, identity, phoneNumberId);
    const now = this.now();
    if (!row) {
      if (!identity.waId && !identity.bsuid && !identity.parentBsuid) {
        throw new WabridgeError('bad_request', 'a WhatsApp user came without wa_id or BSUID');
      }
      // Another transaction making the same customer conflicts here and waits for it; if it
      // committed, nothing is inserted and the next statement sees its row.
      const made = await tx.get<{ id: string }>(
        `INSERT INTO contacts (id, workspace_id, wa_id, bsuid, parent_bsuid, username, profile_name, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8) ON CONFLICT DO NOTHING RETURNING id`,
        [
          newId('ct'),
          ws,
          identity.waId,
          identity.bsuid,
          identity.parentBsuid,
          identity.username,
          identity.profileName,
          now,
        ],
      );
      if (made) return { id: made.id, ...(phoneNumberId === null ? {} : { conversation: null }) };
      row = await this.findContact(tx, ws, identity, phoneNumberId);
      if (!row) throw new WabridgeError('internal', 'a contact conflicted but cannot be found');
    }
    const changed =
      (identity.waId && identity.waId !== row.wa_id) ||
      (identity.bsuid && identity.bsuid !== row.bsuid) ||
      (identity.parentBsuid && identity.parentBsuid !== row.parent_bsuid) ||
      (identity.username && identity.username !== row.username) ||
      (identity.profileName && identity.profileName !== row.profile_name);
    if (changed) {
      // Identifiers are unique per workspace: one another contact holds stays with it (SQLite's
      // UPDATE OR IGNORE).
      await orIgnore(
        tx,
        `UPDATE contacts SET wa_id = coalesce($1, wa_id), bsuid = coalesce($2, bsuid),
           parent_bsuid = coalesce($3, parent_bsuid), updated_at = $4 WHERE id = $5`,
        [identity.waId, identity.bsuid, identity.parentBsuid, now, row.id],
      );
      await tx.run(
        `UPDATE contacts SET username = coalesce($1, username), profile_name = coalesce($2, profile_name),
           updated_at = $3 WHERE id = $4`,
        [identity.username, identity.profileName, now, row.id],
      );
    }
    if (phoneNumberId === null) return { id: row.id };
    return {
      id: row.id,
      conversation:
        row.conversation_id === null
          ? null
          : { id: row.conversation_id, displayPhoneNumber: row.conversation_display },
    };
  }

  /**
   * The contact row found stays locked (FOR KEY SHARE) until commit: an erasure locks the rows it
   * erases FOR UPDATE before reading anything, so it waits for this message to be stored and
   * erases it too, or this waits for the erasure and, the row re-checked, no longer finds the
   * cleared identifiers (or the conversation moved away) and starts a fresh record, as SQLite's
   * single writer does. KEY SHARE, the weakest mode, lets profile updates by other ingests pass.
   * The conversation on `phoneNumberId` comes with it (none without a number); only the contact
   * is locked, and the re-check after a wait reads the conversation again too.
   */
  private async findContact(
    tx: Tx,
    ws: string,
    identity: ContactIdentity,
    phoneNumberId: string | null,
  ): Promise<FoundContact | null> {
    const find = (where: string, value: string) =>
      tx.get<FoundContact>(
        `SELECT c.*, cv.id AS conversation_id, cv.display_phone_number AS conversation_display
         FROM contacts c LEFT JOIN conversations cv
           ON cv.workspace_id = c.workspace_id AND cv.contact_id = c.id AND cv.phone_number_id = $3
         WHERE c.workspace_id = $1 AND ${where} FOR KEY SHARE OF c`,
        [ws, value, phoneNumberId],
      );
    let row: FoundContact | null = null;
    if (identity.parentBsuid) {
      row = await find('c.parent_bsuid = $2 ORDER BY c.created_at, c.id LIMIT 1', identity.parentBsuid);
    }
    if (!row && identity.bsuid) row = await find('c.bsuid = $2', identity.bsuid);
    if (!row && identity.waId) row = await find('c.wa_id = $2', identity.waId);
    return row;
  }

  /**
   * A system message says the contact now has a new number or BSUID: the contact takes them, and
   * a contact the new identity made meanwhile is merged into it.
   */
  protected async applyIdentityChange(
    p: Pending,
    ws: string,
    contactId: string,
    change: { waId: string | null; bsuid: string | null; parentBsuid?: string | null },
    at: number,
  ): Promise<void> {
    const parent = change.parentBsuid ?? null;
    const others = await p.tx.all<{ id: string }>(
      `SELECT id FROM contacts WHERE workspace_id = $1 AND id <> $2
         AND (($3::text IS NOT NULL AND wa_id = $3) OR ($4::text IS NOT NULL AND bsuid = $4)
           OR ($5::text IS NOT NULL AND parent_bsuid = $5))
       ORDER BY id`,
      [ws, contactId, change.waId, change.bsuid, parent],
    );
    for (const other of others) await this.mergeContact(p, ws, other.id, contactId, at);
    await orIgnore(
      p.tx,
      `UPDATE contacts SET wa_id = coalesce($1, wa_id), bsuid = coalesce($2, bsuid),
         parent_bsuid = coalesce($3, parent_bsuid), updated_at = $4 WHERE id = $5 AND workspace_id = $6`,
      [change.waId, change.bsuid, parent, this.now(), contactId, ws],
    );
  }

  /**
   * Moves everything of contact `from` to `into`: its conversations (into `into`'s for the same
   * number when it has one, with their messages, notices and jobs), its consent ledger and state.
   * The `from` row stays, without identifiers, saying where it went; the audit log records it.
   */
  private async mergeContact(p: Pending, ws: string, from: string, into: string, at: number): Promise<void> {
    const tx = p.tx;
    const conversations = await tx.all<{ id: string; phone_number_id: string }>(
      'SELECT id, phone_number_id FROM conversations WHERE workspace_id = $1 AND contact_id = $2 ORDER BY id',
      [ws, from],
    );
    const moved: Record<string, string> = {};
    for (const conversation of conversations) {
      const target = await tx.get<{ id: string }>(
        'SELECT id FROM conversations WHERE workspace_id = $1 AND contact_id = $2 AND phone_number_id = $3',
        [ws, into, conversation.phone_number_id],
      );
      if (!target) {
        await tx.run('UPDATE conversations SET contact_id = $1 WHERE id = $2', [into, conversation.id]);
        continue;
      }
      for (const table of ['messages', 'notices', 'jobs', 'dead_jobs']) {
        await tx.run(`UPDATE ${table} SET conversation_id = $2 WHERE conversation_id = $1`, [
          conversation.id,
          target.id,
        ]);
      }
      await tx.run('UPDATE conversations SET merged_into = $2 WHERE id = $1', [conversation.id, target.id]);
      moved[conversation.id] = target.id;
    }
    await tx.run('UPDATE consent_ledger SET contact_id = $3 WHERE workspace_id = $1 AND contact_id = $2', [
      ws,
      from,
      into,
    ]);
    // The newer state of each category wins, as when the entries arrive one by one.
    await tx.run(
      `INSERT INTO consent_state AS s (workspace_id, contact_id, category, state, source, at, entry_id)
       SELECT workspace_id, $3, category, state, source, at, entry_id FROM consent_state
       WHERE workspace_id = $1 AND contact_id = $2
       ON CONFLICT (workspace_id, contact_id, category) DO UPDATE SET state = excluded.state,
         source = excluded.source, at = excluded.at, entry_id = excluded.entry_id
       WHERE excluded.at > s.at`,
      [ws, from, into],
    );
    await tx.run('DELETE FROM consent_state WHERE workspace_id = $1 AND contact_id = $2', [ws, from]);
    await tx.run(
      `UPDATE contacts SET wa_id = NULL, bsuid = NULL, parent_bsuid = NULL, merged_into = $3, updated_at = $4
       WHERE id = $2 AND workspace_id = $1`,
      [ws, from, into, this.now()],
    );
    await this.recordWhatsAppAct(
      p,
      'contact.merged',
      ws,
      {
        from,
        into,
        reason: 'WhatsApp announced a changed number or user id that had already written',
        conversations: moved,
      },
      at,
    );
  }

  /**
   * The conversation of a contact on a number, made or its display number updated as needed.
   * `known`: what the caller read already (resolveContact), null for none; read here when not given.
   */
  protected async upsertConversation(
    tx: Tx,
    ws: string,
    contactId: string,
    phoneNumberId: string,
    displayPhoneNumber: string | null,
    known?: KnownConversation | null,
  ): Promise<string> {
    // Nearly always there, as it is: read, not upserted, so a conversation's every message does not
    // rewrite (and lock) its row.
    const found =
      known !== undefined
        ? known
        : await tx
            .get<{ id: string; display_phone_number: string | null }>(
              'SELECT id, display_phone_number FROM conversations WHERE workspace_id = $1 AND contact_id = $2 AND phone_number_id = $3',
              [ws, contactId, phoneNumberId],
            )
            .then((row) => row && { id: row.id, displayPhoneNumber: row.display_phone_number });
    if (found && (displayPhoneNumber === null || displayPhoneNumber === found.displayPhoneNumber)) {
      return found.id;
    }
    const row = await tx.get<{ id: string }>(
      `INSERT INTO conversations AS c (id, workspace_id, contact_id, phone_number_id, display_phone_number, created_at)
       VALUES ($1, $2, $3, $4, $5, $6)
       ON CONFLICT (workspace_id, contact_id, phone_number_id) DO UPDATE SET
         display_phone_number = coalesce(excluded.display_phone_number, c.display_phone_number)
       RETURNING id`,
      [newId('cv'), ws, contactId, phoneNumberId, displayPhoneNumber, this.now()],
    );
    if (!row) throw new WabridgeError('internal', 'conversation upsert returned no row');
    return row.id;
  }
}

/** A contact's conversation on one number, as read with the contact. */
export interface KnownConversation {
  id: string;
  displayPhoneNumber: string | null;
}

/** A contact row, with its conversation on the number asked about (null columns for none). */
type FoundContact = ContactRow & { conversation_id: string | null; conversation_display: string | null };

/**
 * Runs an UPDATE that may take an identifier another row holds; on a unique violation it is
 * undone alone (a savepoint), as SQLite's UPDATE OR IGNORE leaves the row as it was.
 */
async function orIgnore(tx: Tx, sql: string, params: Params): Promise<void> {
  await tx.run('SAVEPOINT or_ignore');
  try {
    await tx.run(sql, params);
    await tx.run('RELEASE SAVEPOINT or_ignore');
  } catch (error) {
    if (pgErrorCode(error) !== PG_UNIQUE_VIOLATION) throw error;
    await tx.run('ROLLBACK TO SAVEPOINT or_ignore');
  }
}
