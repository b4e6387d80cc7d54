import { WabridgeError } from '../errors/index.ts';
import { GLOBAL_ARCHIVE_LOG } from '../store/sqlite/archive.ts';
import type { AuditEntry, ConfigStore, GovernanceStore } from '../store/types.ts';

// The audit trail (issue 18, item 8): every admin act (workspace and connector changes, secret
// rotations, exports, and the purges, holds and erasures as they are added) is an audit_log row
// and, in the same transaction, an archive record `audit:<id>` of its workspace's log (or of
// `_global`). This lists them with that record's seq, which `wabridge archive prove` proves.
// The CLI (`wabridge audit`) and the admin console call this one function.

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

/**
 * A page of the audit trail, oldest first, with each entry's archive record. The SQL is the
 * store's `listAudit`, which the admin API reads newest first.
 */
export async function listAudit(
  store: Pick<GovernanceStore, 'listAudit'> & Pick<ConfigStore, 'getWorkspace'>,
  query: AuditQuery,
): Promise<AuditPage> {
  const limit = query.limit ?? 500;
  if (!Number.isSafeInteger(limit) || limit < 1 || limit > 5000) {
    throw new WabridgeError('bad_request', `limit must be 1 to 5000, got ${limit}`);
  }
  let workspaceId: string | null | undefined;
  if ('workspaceId' in query.scope) {
    workspaceId = query.scope.workspaceId === GLOBAL_ARCHIVE_LOG ? null : query.scope.workspaceId;
    if (workspaceId !== null && !(await store.getWorkspace(workspaceId))) {
      throw new WabridgeError('not_found', `workspace ${workspaceId} does not exist`, { status: 404 });
    }
  }
  const entries = await store.listAudit({
    ...(workspaceId !== undefined ? { workspaceId } : {}),
    ...(query.since !== undefined ? { since: query.since } : {}),
    ...(query.until !== undefined ? { until: query.until } : {}),
    ...(query.actor !== undefined ? { actor: query.actor } : {}),
    ...(query.action !== undefined ? { action: query.action } : {}),
    order: 'oldest',
    afterId: query.after ?? 0,
    limit,
  });
  return { entries, next: entries.length === limit ? (entries[entries.length - 1]?.id ?? null) : null };
}
