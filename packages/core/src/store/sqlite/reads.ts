import type { ConsentSnapshot } from '../../domain/types.ts';
import type { PlatformEvent, ReadStore, UnroutedEvent, WorkspaceActivity } from '../types.ts';
import { GLOBAL_ARCHIVE_LOG } from './archive.ts';
import { SqliteConnectorState } from './connector-state.ts';
import { PLATFORM_PAYLOAD, STATUS_RAW, UNROUTED_PAYLOAD } from './context.ts';
import {
  type ConsentRow,
  type ContactRow,
  type ConversationRow,
  type MessageRow,
  type NoticeRow,
  type StatusRow,
  toConsentEntry,
  toConsentSnapshot,
  toContact,
  toConversation,
  toNotice,
  toStatus,
} from './rows.ts';

/**
 * A conversation row with its last inbound time, read from its messages: the newest inbound
 * message that is not a system notice, an edit or a deletion (a number change, or a correction of
 * an earlier message, is not the customer writing: it does not open the 24-hour window), found
 * by walking `messages_conversation` back from the newest message. Keeping it in the row instead
 * cost every ingested message an UPDATE at a random page of `conversations`: about 3 KiB of WAL
 * and 5-10% of the store thread per webhook under realistic traffic.
 */
export const CONVERSATION_COLUMNS = `c.id, c.workspace_id, c.contact_id, c.phone_number_id, c.display_phone_number,
  c.created_at, c.erased_at, c.restricted_at,
  (SELECT m.ts FROM messages m WHERE m.conversation_id = c.id AND m.direction = 'inbound'
     AND m.type NOT IN ('system', 'edit', 'revoke')
   ORDER BY m.ts DESC LIMIT 1) AS last_inbound_at`;

/** Reads of contacts, conversations, messages, statuses, consent, notices, kept events (ReadStore). */
export abstract class SqliteReads extends SqliteConnectorState implements ReadStore {
  // --- Reads ---------------------------------------------------------------------------------

  async getContact(workspaceId: string, id: string) {
    const row = this.db.get<ContactRow>('SELECT * FROM contacts WHERE id = :id AND workspace_id = :ws', {
      id,
      ws: workspaceId,
    });
    return row ? toContact(row) : null;
  }

  async getConversation(workspaceId: string, id: string) {
    const row = this.db.get<ConversationRow>(
      `SELECT ${CONVERSATION_COLUMNS} FROM conversations c WHERE c.id = :id AND c.workspace_id = :ws`,
      {
        id,
        ws: workspaceId,
      },
    );
    return row ? toConversation(row) : null;
  }

  async listConversations(workspaceId: string, options: { contactId?: string; limit?: number } = {}) {
    const rows = options.contactId
      ? this.db.all<ConversationRow>(
          `SELECT ${CONVERSATION_COLUMNS} FROM conversations c
           WHERE c.workspace_id = :ws AND c.contact_id = :contact AND c.merged_into IS NULL
           ORDER BY c.created_at, c.id LIMIT :limit`,
          { ws: workspaceId, contact: options.contactId, limit: options.limit ?? 1000 },
        )
      : this.db.all<ConversationRow>(
          `SELECT ${CONVERSATION_COLUMNS} FROM conversations c WHERE c.workspace_id = :ws AND c.merged_into IS NULL
           ORDER BY c.created_at, c.id LIMIT :limit`,
          {
            ws: workspaceId,
            limit: options.limit ?? 1000,
          },
        );
    return rows.map(toConversation);
  }

  async getMessage(workspaceId: string, id: string) {
    const row = this.db.get<MessageRow>('SELECT * FROM messages WHERE id = :id AND workspace_id = :ws', {
      id,
      ws: workspaceId,
    });
    return row ? this.toMessage(row) : null;
  }

  async getMessageByWamid(workspaceId: string, wamid: string) {
    const row = this.db.get<MessageRow>(
      'SELECT * FROM messages WHERE wamid = :wamid AND workspace_id = :ws',
      {
        wamid,
        ws: workspaceId,
      },
    );
    return row ? this.toMessage(row) : null;
  }

  async listMessages(workspaceId: string, conversationId: string, options: { limit?: number } = {}) {
    return this.db
      .all<MessageRow>(
        'SELECT * FROM messages WHERE workspace_id = :ws AND conversation_id = :conversation ORDER BY ts, created_at, id LIMIT :limit',
        { ws: workspaceId, conversation: conversationId, limit: options.limit ?? 10_000 },
      )
      .map((row) => this.toMessage(row));
  }

  async listRevisions(workspaceId: string, wamid: string) {
    // Spelled like the predicate of the partial index `messages_revisions`, so SQLite uses it.
    return this.db
      .all<MessageRow>(
        `SELECT * FROM messages WHERE relates_to = :wamid AND type IN ('edit', 'revoke') AND workspace_id = :ws
         ORDER BY ts, created_at, id`,
        { ws: workspaceId, wamid },
      )
      .map((row) => this.toMessage(row));
  }

  async getStatus(workspaceId: string, id: string) {
    const row = this.db.get<StatusRow>(
      'SELECT * FROM message_statuses WHERE id = :id AND workspace_id = :ws',
      {
        id,
        ws: workspaceId,
      },
    );
    return row
      ? toStatus({ ...row, raw: this.openColumn(row.workspace_id, STATUS_RAW, row.raw) ?? '{}' })
      : null;
  }

  async getConsentEntry(workspaceId: string, id: string) {
    const row = this.db.get<ConsentRow>(
      'SELECT * FROM consent_ledger WHERE id = :id AND workspace_id = :ws',
      {
        id,
        ws: workspaceId,
      },
    );
    return row ? toConsentEntry(row) : null;
  }

  async consentSnapshot(workspaceId: string, contactId: string): Promise<ConsentSnapshot> {
    const rows = this.db.allArrays(
      'SELECT category, state, source, at FROM consent_state WHERE workspace_id = :ws AND contact_id = :contact',
      { ws: workspaceId, contact: contactId },
    );
    return toConsentSnapshot(rows as [string, string, string, number][]);
  }

  async consentHistory(workspaceId: string, contactId: string) {
    return this.db
      .all<ConsentRow>(
        'SELECT * FROM consent_ledger WHERE workspace_id = :ws AND contact_id = :contact ORDER BY occurred_at, recorded_at, id',
        { ws: workspaceId, contact: contactId },
      )
      .map(toConsentEntry);
  }

  async getNotice(workspaceId: string, id: string) {
    const row = this.db.get<NoticeRow>('SELECT * FROM notices WHERE id = :id AND workspace_id = :ws', {
      id,
      ws: workspaceId,
    });
    return row ? toNotice(row) : null;
  }

  async listUnrouted(options: { limit?: number; after?: UnroutedEvent } = {}) {
    const after = options.after;
    return this.db
      .all<{
        id: string;
        phone_number_id: string | null;
        field: string;
        payload: string | Uint8Array;
        received_at: number;
      }>(
        `SELECT id, phone_number_id, field, payload, received_at FROM unrouted_events
         WHERE routed_at IS NULL AND (received_at, id) > (:at, :id)
         ORDER BY received_at, id LIMIT :limit`,
        // Before every row when there is no cursor: ids are never empty.
        {
          at: after?.receivedAt ?? Number.MIN_SAFE_INTEGER,
          id: after?.id ?? '',
          limit: options.limit ?? 1000,
        },
      )
      .map((r) => ({
        id: r.id,
        phoneNumberId: r.phone_number_id,
        field: r.field,
        payload: JSON.parse(
          this.openColumn(GLOBAL_ARCHIVE_LOG, UNROUTED_PAYLOAD, r.payload) ?? 'null',
        ) as unknown,
        receivedAt: r.received_at,
      }));
  }

  async listPlatformEvents(
    options: { workspaceId?: string | null; field?: string; limit?: number; before?: PlatformEvent } = {},
  ): Promise<PlatformEvent[]> {
    const before = options.before;
    const where = ['(received_at, id) < (:at, :id)'];
    if (options.workspaceId === null) where.push('workspace_id IS NULL');
    else if (options.workspaceId !== undefined) where.push('workspace_id = :ws');
    if (options.field !== undefined) where.push('field = :field');
    return this.db
      .all<{
        id: string;
        workspace_id: string | null;
        field: string;
        payload: string | Uint8Array;
        parse_issues: string;
        waba_id: string | null;
        entry_time: number | null;
        received_at: number;
      }>(
        `SELECT id, workspace_id, field, payload, parse_issues, waba_id, entry_time, received_at
         FROM platform_events WHERE ${where.join(' AND ')}
         ORDER BY received_at DESC, id DESC LIMIT :limit`,
        {
          // After every row when there is no cursor: nothing is received at MAX_SAFE_INTEGER.
          at: before?.receivedAt ?? Number.MAX_SAFE_INTEGER,
          id: before?.id ?? '\uffff',
          ws: options.workspaceId ?? null,
          field: options.field ?? null,
          limit: options.limit ?? 100,
        },
      )
      .map((r) => ({
        id: r.id,
        workspaceId: r.workspace_id,
        field: r.field,
        payload: JSON.parse(
          this.openColumn(r.workspace_id ?? GLOBAL_ARCHIVE_LOG, PLATFORM_PAYLOAD, r.payload) ?? 'null',
        ) as unknown,
        parseIssues: JSON.parse(r.parse_issues) as string[],
        wabaId: r.waba_id,
        entryTime: r.entry_time,
        receivedAt: r.received_at,
      }));
  }

  async countUnrouted() {
    return (
      this.db.get<{ n: number }>('SELECT count(*) AS n FROM unrouted_events WHERE routed_at IS NULL')?.n ?? 0
    );
  }

  async workspaceActivity(workspaceId: string): Promise<WorkspaceActivity> {
    // Messages are reached through their conversations (messages_conversation), never by a scan.
    const rows = await this.db.readAside<{ kind: string; n: number; last: number | null }>(
      `SELECT 'conversations' AS kind, count(*) AS n, NULL AS last FROM conversations WHERE workspace_id = :ws
       UNION ALL SELECT m.direction, count(*), max(m.ts) FROM conversations c
         JOIN messages m ON m.conversation_id = c.id WHERE c.workspace_id = :ws GROUP BY m.direction`,
      { ws: workspaceId },
    );
    const row = (kind: string) => rows.find((r) => r.kind === kind);
    return {
      conversations: row('conversations')?.n ?? 0,
      inbound: row('inbound')?.n ?? 0,
      outbound: row('outbound')?.n ?? 0,
      lastInboundAt: row('inbound')?.last ?? null,
    };
  }
}
