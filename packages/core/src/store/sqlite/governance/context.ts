import { type AuditActor, auditActor } from '../../../access/actor.ts';
import { WabridgeError } from '../../../errors/index.ts';
import type { SqliteDatabase } from '../database.ts';

/** What the governance operations need from the store, inside its write transactions. */
export interface GovernanceContext {
  readonly db: SqliteDatabase;
  now(): number;
  /**
   * Records an admin act: an audit row and its archive record, in the current transaction. An
   * actor with where the request came from adds it to the details (`from`), as `auditEntry` does.
   */
  recordAct(actor: AuditActor, action: string, workspaceId: string, details: Record<string, unknown>): void;
  /** Makes every connection forget cached identities and fan-out targets (an erasure moved them). */
  bumpConfigVersion(): void;
  /**
   * Deletes the sealed archive content of these entities' records (messages, statuses) and
   * records a `purge` record naming them; their leaves stay, so `archive verify` shows them as
   * purged. Answers how many records lost their content.
   */
  purgeArchive(
    workspaceId: string,
    entityIds: readonly string[],
    by: { actor: string; reason: string; details?: Record<string, unknown> },
  ): number;
}

export const DAY_MS = 86_400_000;

export function requireWorkspace(db: SqliteDatabase, id: string): void {
  if (!db.get('SELECT 1 AS x FROM workspaces WHERE id = :id', { id })) {
    throw new WabridgeError('not_found', `workspace ${id} does not exist`, { status: 404 });
  }
}

/** Who acts, by name (required, trimmed), and the actor as given (with where from, if known). */
export function requireActor(actor: AuditActor, what: string): { name: string; act: AuditActor } {
  const given = auditActor(actor);
  const name = requireText(given.actor, what);
  return { name, act: typeof actor === 'string' ? name : { ...actor, actor: name } };
}

export function requireText(value: string, what: string): string {
  const text = value.trim();
  if (text === '') throw new WabridgeError('bad_request', `${what} is required`, { status: 400 });
  if (text.length > 1000) throw new WabridgeError('bad_request', `${what} is longer than 1000 characters`);
  return text;
}

/**
 * The contact an identifier names in a workspace: its id, its WhatsApp number (wa_id: digits; a
 * leading + and spaces or dashes are ignored) or its BSUID. Null when none matches.
 */
export function findContactId(db: SqliteDatabase, ws: string, identifier: string): string | null {
  const value = identifier.trim();
  if (value === '') return null;
  const digits = /^\+?[\d\s-]+$/.test(value) ? value.replace(/\D/g, '') : null;
  const row = db.get<{ id: string }>(
    `SELECT id FROM contacts WHERE workspace_id = :ws AND (id = :v OR bsuid = :v OR wa_id = :digits)
     ORDER BY merged_into IS NOT NULL LIMIT 1`,
    { ws, v: value, digits },
  );
  return row?.id ?? null;
}

/** An ISO time for sentences people read. */
export const iso = (ms: number): string => new Date(ms).toISOString();
