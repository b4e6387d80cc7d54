import type { SqliteDatabase } from '../database.ts';

// Removing content while keeping the record: the one place a purge (retention) and an erasure
// delete message content, so both leave the same shape behind (`text` null, `content` `{}`, as
// the Message type documents for erased messages) and say when and why.

/** Deletes the content of these messages; `by` says why (`retention:messages`, `erasure:<id>`). */
export function purgeMessages(
  db: SqliteDatabase,
  ws: string,
  ids: readonly string[],
  at: number,
  by: string,
): number {
  return db.run(
    `UPDATE messages SET text = NULL, content = '{}', purged_at = :at, purged_by = :by
     WHERE workspace_id = :ws AND id IN (SELECT value FROM json_each(:ids))`,
    { ws, ids: JSON.stringify(ids), at, by },
  ).changes;
}

/** Deletes the raw payloads of these statuses (which can quote the message and the recipient). */
export function purgeStatuses(db: SqliteDatabase, ws: string, ids: readonly string[], at: number): number {
  return db.run(
    `UPDATE message_statuses SET raw = '{}', purged_at = :at
     WHERE workspace_id = :ws AND id IN (SELECT value FROM json_each(:ids))`,
    { ws, ids: JSON.stringify(ids), at },
  ).changes;
}
