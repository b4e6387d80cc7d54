import { WabridgeError } from '../errors/index.ts';
import { GLOBAL_ARCHIVE_LOG } from '../store/sqlite/archive.ts';
import { archiveSeqsOf } from '../store/sqlite/archive-reads.ts';
import type { SqliteStore } from '../store/sqlite/index.ts';

// The audit trail (issue 18, item 8): every admin act (workspace and connector changes, secret
// rotations, exports, and the purges, holds and erasures as they are added) is an audit_log row
// and, in the same transaction, an archive record `audit:<id>` of its workspace's log (or of
// `_global`). This lists them with that record's seq, which `wabridge archive prove` proves.
// The CLI (`wabridge audit`) and the admin console call this one function.

export interface AuditEntry {
  readonly id: number;
  /** When it happened (ms since the epoch). */
  readonly at: number;
  readonly actor: string;
  readonly action: string;
  readonly workspaceId: string | null;
  readonly details: Record<string, unknown>;
  /** The log that holds its record: the workspace, or `_global`. */
  readonly log: string;
  /** Its record's place in that log; null for acts recorded before the archive existed. */
  readonly seq: number | null;
}

export interface AuditQuery {
  /** One workspace's acts, or every act (`all`); acts on no workspace are in `_global`. */
  readonly scope: { workspaceId: string } | { all: true };
  /** From this time on (ms since the epoch), inclusive. */
  readonly since?: number;
  readonly until?: number;
  readonly actor?: string;
  /** An action (`archive.export`), or a prefix ending in `*` (`connector.*`). */
  readonly action?: string;
  /** Entries after this id (the `next` of the previous page). */
  readonly after?: number;
  /** At most this many (default 500, at most 5000). */
  readonly limit?: number;
}

export interface AuditPage {
  readonly entries: AuditEntry[];
  /** Pass as `after` for the next page; null at the end. */
  readonly next: number | null;
}

interface AuditRow {
  id: number;
  at: number;
  actor: string;
  action: string;
  workspace_id: string | null;
  details: string;
}

/** A page of the audit trail, oldest first, with each entry's archive record. */
export async function listAudit(store: SqliteStore, query: AuditQuery): Promise<AuditPage> {
  const limit = query.limit ?? 500;
  if (!Number.isSafeInteger(limit) || limit < 1 || limit > 5000) {
    throw new WabridgeError('bad_request', `limit must be 1 to 5000, got ${limit}`);
  }
  const where = ['id > :after'];
  const params: Record<string, string | number> = { after: query.after ?? 0, limit };
  if ('workspaceId' in query.scope) {
    if (
      !(await store.getWorkspace(query.scope.workspaceId)) &&
      query.scope.workspaceId !== GLOBAL_ARCHIVE_LOG
    ) {
      throw new WabridgeError('not_found', `workspace ${query.scope.workspaceId} does not exist`, {
        status: 404,
      });
    }
    if (query.scope.workspaceId === GLOBAL_ARCHIVE_LOG) where.push('workspace_id IS NULL');
    else {
      where.push('workspace_id = :ws');
      params.ws = query.scope.workspaceId;
    }
  }
  if (query.since !== undefined) {
    where.push('at >= :since');
    params.since = query.since;
  }
  if (query.until !== undefined) {
    where.push('at < :until');
    params.until = query.until;
  }
  if (query.actor !== undefined) {
    where.push('actor = :actor');
    params.actor = query.actor;
  }
  if (query.action !== undefined) {
    if (query.action.endsWith('*')) {
      where.push("action LIKE :action ESCAPE '\\'");
      params.action = `${query.action.slice(0, -1).replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
    } else {
      where.push('action = :action');
      params.action = query.action;
    }
  }
  const rows = store.db.all<AuditRow>(
    `SELECT id, at, actor, action, workspace_id, details FROM audit_log WHERE ${where.join(' AND ')} ORDER BY id LIMIT :limit`,
    params,
  );
  const entries = rows.map((row) => {
    const log = row.workspace_id ?? GLOBAL_ARCHIVE_LOG;
    const entity = `audit:${row.id}`;
    return {
      id: row.id,
      at: row.at,
      actor: row.actor,
      action: row.action,
      workspaceId: row.workspace_id,
      details: JSON.parse(row.details) as Record<string, unknown>,
      log,
      seq: archiveSeqsOf(store.db, log, [entity]).get(entity) ?? null,
    };
  });
  return { entries, next: rows.length === limit ? (rows[rows.length - 1]?.id ?? null) : null };
}
