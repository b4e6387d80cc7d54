import {
  ARCHIVE_CONTENT_PURPOSE,
  CONVERSATION_COLUMNS,
  type ConsentSnapshot,
  GLOBAL_ARCHIVE_LOG,
  MESSAGE_BODY,
  type Message,
  PLATFORM_PAYLOAD,
  type PlatformEvent,
  parseOpenedContent,
  type ReadStore,
  STATUS_RAW,
  sealedKeyId,
  UNROUTED_PAYLOAD,
  type UnroutedEvent,
  type WorkspaceActivity,
} from '@wabridge/core';
import { PgConnectorState } from './connector-state.ts';
import type { Params, Queryable } from './database.ts';
import {
  type ConsentRow,
  type ContactRow,
  type ConversationRow,
  type MessageRow,
  type NoticeRow,
  type StatusRow,
  toConsentEntry,
  toContact,
  toConversation,
  toMessage,
  toNotice,
  toStatus,
} from './rows.ts';

export interface ConsentStateRow {
  category: string;
  state: string;
  source: string;
  at: number;
}

/** A contact's consent by category from its consent_state rows (opted in where it has none). */
export function toConsentSnapshot(rows: readonly ConsentStateRow[]): ConsentSnapshot {
  const snapshot: ConsentSnapshot = {
    all: { state: 'opted_in', source: null, at: null },
    marketing: { state: 'opted_in', source: null, at: null },
  };
  for (const row of rows) {
    if (row.category === 'all' || row.category === 'marketing') {
      snapshot[row.category] = {
        state: row.state as ConsentSnapshot['all']['state'],
        source: row.source as ConsentSnapshot['all']['source'],
        at: row.at,
      };
    }
  }
  return snapshot;
}

/**
 * Reads of contacts, conversations, messages, statuses, consent, notices, kept events (ReadStore).
 * Sealed columns are BYTEA (see schema/ingest.ts): a sealed value, or UTF-8 JSON for what has
 * nothing to hide; both are opened here as the SQLite store opens its BLOB or TEXT.
 */
export abstract class PgReads extends PgConnectorState implements ReadStore {
  async getContact(workspaceId: string, id: string) {
    const row = await this.db.get<ContactRow>('SELECT * FROM contacts WHERE id = $1 AND workspace_id = $2', [
      id,
      workspaceId,
    ]);
    return row ? toContact(row) : null;
  }

  async getConversation(workspaceId: string, id: string) {
    const row = await this.db.get<ConversationRow>(
      `SELECT ${CONVERSATION_COLUMNS} FROM conversations c WHERE c.id = $1 AND c.workspace_id = $2`,
      [id, workspaceId],
    );
    return row ? toConversation(row) : null;
  }

  async listConversations(workspaceId: string, options: { contactId?: string; limit?: number } = {}) {
    const rows = await this.db.all<ConversationRow>(
      `SELECT ${CONVERSATION_COLUMNS} FROM conversations c
       WHERE c.workspace_id = $1 AND ($2::text IS NULL OR c.contact_id = $2) AND c.merged_into IS NULL
       ORDER BY c.created_at, c.id LIMIT $3`,
      [workspaceId, options.contactId ?? null, options.limit ?? 1000],
    );
    return rows.map(toConversation);
  }

  async getMessage(workspaceId: string, id: string) {
    return this.#message('SELECT * FROM messages WHERE id = $1 AND workspace_id = $2', [id, workspaceId]);
  }

  async getMessageByWamid(workspaceId: string, wamid: string) {
    return this.#message('SELECT * FROM messages WHERE wamid = $1 AND workspace_id = $2', [
      wamid,
      workspaceId,
    ]);
  }

  async listMessages(workspaceId: string, conversationId: string, options: { limit?: number } = {}) {
    return this.#messages(
      `SELECT * FROM messages WHERE workspace_id = $1 AND conversation_id = $2
       ORDER BY ts, created_at, id LIMIT $3`,
      [workspaceId, conversationId, options.limit ?? 10_000],
    );
  }

  async listRevisions(workspaceId: string, wamid: string) {
    // Spelled like the predicate of the partial index `messages_revisions`, so the planner uses it.
    return this.#messages(
      `SELECT * FROM messages WHERE relates_to = $1 AND type IN ('edit', 'revoke') AND workspace_id = $2
       ORDER BY ts, created_at, id`,
      [wamid, workspaceId],
    );
  }

  async getStatus(workspaceId: string, id: string) {
    const row = await this.db.get<StatusRow>(
      'SELECT * FROM message_statuses WHERE id = $1 AND workspace_id = $2',
      [id, workspaceId],
    );
    if (!row) return null;
    const raw = (await this.openColumn(this.db, row.workspace_id, STATUS_RAW, row.raw)) ?? '{}';
    return toStatus(row, JSON.parse(raw) as Record<string, unknown>);
  }

  async getConsentEntry(workspaceId: string, id: string) {
    const row = await this.db.get<ConsentRow>(
      'SELECT * FROM consent_ledger WHERE id = $1 AND workspace_id = $2',
      [id, workspaceId],
    );
    return row ? toConsentEntry(row) : null;
  }

  async consentSnapshot(workspaceId: string, contactId: string): Promise<ConsentSnapshot> {
    return toConsentSnapshot(
      await this.db.all<ConsentStateRow>(
        'SELECT category, state, source, at FROM consent_state WHERE workspace_id = $1 AND contact_id = $2',
        [workspaceId, contactId],
      ),
    );
  }

  async consentHistory(workspaceId: string, contactId: string) {
    return (
      await this.db.all<ConsentRow>(
        `SELECT * FROM consent_ledger WHERE workspace_id = $1 AND contact_id = $2
         ORDER BY occurred_at, recorded_at, id`,
        [workspaceId, contactId],
      )
    ).map(toConsentEntry);
  }

  async getNotice(workspaceId: string, id: string) {
    const row = await this.db.get<NoticeRow>('SELECT * FROM notices WHERE id = $1 AND workspace_id = $2', [
      id,
      workspaceId,
    ]);
    return row ? toNotice(row) : null;
  }

  async listUnrouted(options: { limit?: number; after?: UnroutedEvent } = {}): Promise<UnroutedEvent[]> {
    const after = options.after;
    // The cursor only when there is one: no sentinel id that must sort first in every collation.
    const rows = await this.db.all<{
      id: string;
      phone_number_id: string | null;
      field: string;
      payload: Buffer;
      received_at: number;
    }>(
      `SELECT id, phone_number_id, field, payload, received_at FROM unrouted_events
       WHERE routed_at IS NULL ${after ? 'AND (received_at, id) > ($2, $3)' : ''}
       ORDER BY received_at, id LIMIT $1`,
      after ? [options.limit ?? 1000, after.receivedAt, after.id] : [options.limit ?? 1000],
    );
    const out: UnroutedEvent[] = [];
    for (const r of rows) {
      const payload = await this.openColumn(this.db, GLOBAL_ARCHIVE_LOG, UNROUTED_PAYLOAD, r.payload);
      out.push({
        id: r.id,
        phoneNumberId: r.phone_number_id,
        field: r.field,
        payload: JSON.parse(payload ?? 'null') as unknown,
        receivedAt: r.received_at,
      });
    }
    return out;
  }

  async listPlatformEvents(
    options: { workspaceId?: string | null; field?: string; limit?: number; before?: PlatformEvent } = {},
  ): Promise<PlatformEvent[]> {
    const params: unknown[] = [options.limit ?? 100];
    const where: string[] = [];
    const bind = (value: unknown) => {
      params.push(value);
      return `$${params.length}`;
    };
    if (options.before) {
      where.push(`(received_at, id) < (${bind(options.before.receivedAt)}, ${bind(options.before.id)})`);
    }
    if (options.workspaceId === null) where.push('workspace_id IS NULL');
    else if (options.workspaceId !== undefined) where.push(`workspace_id = ${bind(options.workspaceId)}`);
    if (options.field !== undefined) where.push(`field = ${bind(options.field)}`);
    const rows = await this.db.all<{
      id: string;
      workspace_id: string | null;
      field: string;
      payload: Buffer;
      parse_issues: string[];
      waba_id: string | null;
      entry_time: number | null;
      received_at: number;
    }>(
      `SELECT id, workspace_id, field, payload, parse_issues, waba_id, entry_time, received_at
       FROM platform_events ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''}
       ORDER BY received_at DESC, id DESC LIMIT $1`,
      params,
    );
    const out: PlatformEvent[] = [];
    for (const r of rows) {
      const log = r.workspace_id ?? GLOBAL_ARCHIVE_LOG;
      const payload = await this.openColumn(this.db, log, PLATFORM_PAYLOAD, r.payload);
      out.push({
        id: r.id,
        workspaceId: r.workspace_id,
        field: r.field,
        payload: JSON.parse(payload ?? 'null') as unknown,
        parseIssues: r.parse_issues,
        wabaId: r.waba_id,
        entryTime: r.entry_time,
        receivedAt: r.received_at,
      });
    }
    return out;
  }

  async countUnrouted() {
    return (
      (await this.db.get<{ n: number }>('SELECT count(*) AS n FROM unrouted_events WHERE routed_at IS NULL'))
        ?.n ?? 0
    );
  }

  async workspaceActivity(workspaceId: string): Promise<WorkspaceActivity> {
    // Messages are reached through their conversations (messages_conversation), never by a scan.
    const rows = await this.db.all<{ kind: string; n: number; last: number | null }>(
      `SELECT 'conversations' AS kind, count(*) AS n, NULL::bigint AS last FROM conversations WHERE workspace_id = $1
       UNION ALL SELECT m.direction, count(*), max(m.ts) FROM conversations c
         JOIN messages m ON m.conversation_id = c.id WHERE c.workspace_id = $1 GROUP BY m.direction`,
      [workspaceId],
    );
    const row = (kind: string) => rows.find((r) => r.kind === kind);
    return {
      conversations: row('conversations')?.n ?? 0,
      inbound: row('inbound')?.n ?? 0,
      outbound: row('outbound')?.n ?? 0,
      lastInboundAt: row('inbound')?.last ?? null,
    };
  }

  // --- helpers ---------------------------------------------------------------------------------

  /** A sealed column's value opened as text; UTF-8 JSON (nothing to hide) is answered as it is. */
  protected async openColumn(
    q: Queryable,
    ws: string,
    purpose: string,
    value: Buffer | null,
  ): Promise<string | null> {
    if (value === null) return null;
    if (sealedKeyId(value) === null) return value.toString('utf8');
    return (await this.keyring.open(q, ws, purpose, value)).toString('utf8');
  }

  /**
   * A message's text and content: one sealed value for both (`{ content, text }` as its archive
   * record's content, purpose `archive.content`). A copy from a SQLite store may still hold the
   * earlier form (`messages.body`: the text's JSON, a newline, the content's JSON) or plain JSON.
   */
  protected async openBody(
    q: Queryable,
    row: MessageRow,
  ): Promise<{ text: string | null; content: Record<string, unknown> }> {
    if (sealedKeyId(row.content) === null) {
      return { text: row.text, content: JSON.parse(row.content.toString('utf8')) as Record<string, unknown> };
    }
    let opened: Buffer;
    try {
      opened = await this.keyring.open(q, row.workspace_id, ARCHIVE_CONTENT_PURPOSE, row.content);
    } catch {
      const body = (await this.keyring.open(q, row.workspace_id, MESSAGE_BODY, row.content)).toString('utf8');
      const split = body.indexOf('\n');
      return {
        text: JSON.parse(body.slice(0, split)) as string | null,
        content: JSON.parse(body.slice(split + 1)) as Record<string, unknown>,
      };
    }
    const body = parseOpenedContent(opened) as { content: Record<string, unknown>; text: string | null };
    return { text: body.text, content: body.content };
  }

  protected async toMessage(q: Queryable, row: MessageRow): Promise<Message> {
    return toMessage(row, await this.openBody(q, row));
  }

  async #message(sql: string, params: Params): Promise<Message | null> {
    const row = await this.db.get<MessageRow>(sql, params);
    return row ? this.toMessage(this.db, row) : null;
  }

  async #messages(sql: string, params: Params): Promise<Message[]> {
    const rows = await this.db.all<MessageRow>(sql, params);
    const out: Message[] = [];
    for (const row of rows) out.push(await this.toMessage(this.db, row));
    return out;
  }
}
