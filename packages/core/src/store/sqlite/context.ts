// The base of the SQLite store's parts: one connection and the helpers they share.
import type { Message } from '../../domain/types.ts';
import { WabridgeError } from '../../errors/index.ts';
import { type Logger, silentLogger } from '../../logger/index.ts';
import { createSecretBox } from '../../secrets/index.ts';
import { DataKeyring } from '../../vault/keyring.ts';
import { SqliteAccess } from './access.ts';
import {
  ARCHIVE_CONTENT_PURPOSE,
  ArchiveAppender,
  type ArchiveKind,
  GLOBAL_ARCHIVE_LOG,
  parseOpenedContent,
  type SealedContent,
} from './archive.ts';
import { SqliteDatabase } from './database.ts';
import { type MessageRow, toMessage } from './rows.ts';

export interface SqliteStoreOptions {
  /** Path of the database file (its folder is created), or `:memory:` for throwaway tests. */
  path: string;
  logger?: Logger;
  busyTimeoutMs?: number;
  now?: () => number;
  /**
   * The master key (WABRIDGE_MASTER_KEY) that wraps the workspaces' data keys, and the previous
   * ones still accepted to unwrap. Without it (tests, throwaway stores) a fixed all-zero key is
   * used: the data is sealed in the same format but anyone can open it. The gateway and the CLI
   * always pass the configured key.
   */
  masterKeys?: { current: Buffer; previous?: readonly Buffer[] };
  /**
   * The reads of one turn of the event loop share one read transaction (see
   * SqliteDatabase.reading): for the store thread, whose every call arrives from the main thread
   * in a message. Off by default: a caller in this thread may write through another connection
   * between two awaits of one turn (tests do, to tamper) and expect the next read to see it.
   */
  readsShareTurn?: boolean;
}

/** The key of stores opened without one: no secrecy, the same code paths (see `masterKeys`). */
const UNKEYED_MASTER_KEY = Buffer.alloc(32);

// The content columns sealed at rest, named as bound into their ciphertexts (see sealColumn).
/**
 * How messages' text and content were sealed, as one value in `messages.content` (`text` NULL),
 * before they shared their archive record's sealed content (see sealBody): the text as JSON, a
 * newline, the content's JSON (JSON text never holds a raw newline, so the first one splits
 * them). Rows written so are still read, and re-encryption re-seals them in the shared form.
 */
export const MESSAGE_BODY = 'messages.body';
export const STATUS_RAW = 'message_statuses.raw';
export const UNROUTED_PAYLOAD = 'unrouted_events.payload';
export const PLATFORM_PAYLOAD = 'platform_events.payload';

/**
 * What every part of the SQLite store shares: the database handle (and its cached prepared
 * statements), the clock, the data keys and the archive appender, with the helpers more than one
 * role uses: sealing and opening content, archive records, the config version, existence checks.
 * Each role is a class on top of this one (see index.ts), so `this.db` is the same connection.
 */
export abstract class SqliteContext {
  readonly db: SqliteDatabase;
  protected readonly now: () => number;
  /** The write transaction in which the config version was last read (see checkConfigVersion). */
  protected configCheckedIn = -1;
  /** Appends archive records to the workspaces' verifiable logs, in the writes they record. */
  readonly archive: ArchiveAppender;
  protected readonly access: SqliteAccess;
  /** Seals and opens workspace content with the workspaces' data keys. */
  readonly keyring: DataKeyring;

  constructor(options: SqliteStoreOptions) {
    this.db = new SqliteDatabase(options.path, {
      logger: options.logger ?? silentLogger,
      ...(options.busyTimeoutMs === undefined ? {} : { busyTimeoutMs: options.busyTimeoutMs }),
      readsShareTurn: options.readsShareTurn ?? false,
    });
    this.now = options.now ?? Date.now;
    const keys = options.masterKeys ?? { current: UNKEYED_MASTER_KEY };
    this.keyring = new DataKeyring(this.db, createSecretBox(keys.current, keys.previous ?? []), this.now);
    this.archive = new ArchiveAppender(this.db, this.keyring);
    this.access = new SqliteAccess(this.db);
  }

  async migrate(): Promise<void> {
    this.db.migrate();
  }

  close(): Promise<void> {
    return this.db.close();
  }

  // --- helpers ---------------------------------------------------------------------------------

  /**
   * A content column's value as stored: sealed with the workspace's data key (a BLOB in the TEXT
   * column), so a copy of the file shows no message text. Nothing to hide stays as it is: null,
   * and the empty object most messages have as content.
   */
  protected sealColumn(ws: string, purpose: string, value: string | null): Uint8Array | string | null {
    if (value === null || value === '{}') return value;
    return this.keyring.sealText(ws, purpose, value);
  }

  /**
   * A content column's value opened: a BLOB is a sealed value; text was stored before encryption
   * at rest (or has nothing to hide) and is answered as is.
   */
  openColumn(ws: string, purpose: string, value: string | Uint8Array | null): string | null {
    if (value === null || typeof value === 'string') return value;
    return this.keyring.openText(ws, purpose, value);
  }

  /**
   * A message's text and content as stored (`messages.content`, with `text` NULL) and as its
   * archive record's content: one sealed value for both (the salt and canonical JSON of
   * `{ content, text }`, purpose `archive.content`), so a message costs one AES-GCM call and one
   * serialisation. The two copies stay apart on disk: a purge of the archive content or of the
   * message removes one without the other.
   */
  protected sealBody(ws: string, text: string | null, content: unknown): SealedContent {
    return this.archive.sealContent(ws, { content: content ?? null, text });
  }

  /** A message's text and content JSON, opened; a row from before encryption at rest as it is. */
  protected openBody(
    ws: string,
    text: string | null,
    content: string | Uint8Array,
  ): { text: string | null; content: string } {
    if (typeof content === 'string') return { text, content };
    let opened: Buffer;
    try {
      opened = this.keyring.open(ws, ARCHIVE_CONTENT_PURPOSE, content);
    } catch {
      // Sealed in the earlier form (MESSAGE_BODY); one that opens as neither is an error there.
      const body = this.keyring.openText(ws, MESSAGE_BODY, content);
      const split = body.indexOf('\n');
      return { text: JSON.parse(body.slice(0, split)) as string | null, content: body.slice(split + 1) };
    }
    const body = parseOpenedContent(opened) as { content: unknown; text: string | null };
    return { text: body.text, content: JSON.stringify(body.content) };
  }

  protected toMessage(row: MessageRow): Message {
    return toMessage({ ...row, ...this.openBody(row.workspace_id, row.text, row.content) });
  }

  /** The archive record of a stored message; an edit or a revoke is a revision (a new version). */
  protected archiveMessage(
    ws: string,
    conversationId: string,
    direction: 'inbound' | 'outbound',
    m: {
      id: string;
      wamid: string | null;
      type: string;
      ts: number;
      body: SealedContent;
      relatesTo: string | null;
      sender: unknown;
      at: number;
    },
  ): void {
    const kind: ArchiveKind =
      m.type === 'edit' || m.type === 'revoke' ? 'message.revision' : `message.${direction}`;
    this.archive.appendSealed(
      ws,
      kind,
      m.id,
      // Keys in sorted order: canonicalJson need not sort them.
      {
        conversation_id: conversationId,
        created_at: m.at,
        direction,
        id: m.id,
        relates_to: m.relatesTo,
        sender: m.sender ?? null,
        ts: m.ts,
        type: m.type,
        wamid: m.wamid,
      },
      m.at,
      // What the message says is content (`{ content, text }`, see sealBody): sealed apart,
      // committed to by the record, purgeable.
      m.body,
    );
  }

  /** A status's archive record; its raw webhook object is content (sealed, purgeable). */
  protected archiveStatus(ws: string, status: { id: string; raw: unknown } & Record<string, unknown>): void {
    const { raw, ...data } = status;
    this.archive.append(ws, 'status', status.id, data, this.now(), { raw });
  }

  /** The archive record of an admin act (an audit_log row); acts on no workspace go to the global log. */
  protected archiveAdmin(
    auditId: number,
    at: number,
    actor: string,
    action: string,
    ws: string | null,
    details: Record<string, unknown>,
  ): void {
    this.archive.append(
      ws ?? GLOBAL_ARCHIVE_LOG,
      'admin',
      `audit:${auditId}`,
      { audit_id: auditId, at, actor, action, workspace_id: ws, details },
      at,
    );
  }

  protected bumpConfigVersion(): void {
    this.configCheckedIn = -1;
    this.db.run("UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'config_version'");
  }

  protected requireWorkspace(id: string): void {
    if (!this.db.get('SELECT 1 AS x FROM workspaces WHERE id = :id', { id })) {
      throw new WabridgeError('not_found', `workspace ${id} does not exist`, { status: 404 });
    }
  }

  protected requireConversation(ws: string, id: string): void {
    if (!this.db.get('SELECT 1 AS x FROM conversations WHERE id = :id AND workspace_id = :ws', { id, ws })) {
      throw new WabridgeError('not_found', `conversation ${id} does not exist in workspace ${ws}`, {
        status: 404,
      });
    }
  }
}
