import {
  ARCHIVE_CONTENT_PURPOSE,
  type AuditEntry,
  type AuditFilter,
  GLOBAL_ARCHIVE_LOG,
  type GovernanceStore,
  type PurgeReason,
  type PurgeResult,
  parseOpenedContent,
} from '@wabridge/core';
import type { Queryable, Tx } from './database.ts';
import { jsonb } from './rows.ts';
import { PgSends } from './sends.ts';

/**
 * The audit trail and the archive's content (of GovernanceStore): admin acts, each an audit_log
 * row and an archive record (`audit:<id>`) in its workspace's log or the global one, written in
 * one transaction; reading and purging records' content. Legal holds, retention and erasure (the
 * rest of GovernanceStore) are still to come.
 */
export abstract class PgAudit
  extends PgSends
  implements Pick<GovernanceStore, 'appendAudit' | 'listAudit' | 'purgeArchiveContent' | 'archiveContent'>
{
  appendAudit(entry: {
    actor: string;
    action: string;
    workspaceId: string | null;
    details: Record<string, unknown>;
  }): Promise<number> {
    return this.db.transaction((tx) =>
      this.recordAct(tx, entry.actor, entry.action, entry.workspaceId, entry.details),
    );
  }

  /** An admin act in `tx`: its audit row and its archive record. Answers the entry's id. */
  protected async recordAct(
    tx: Tx,
    actor: string,
    action: string,
    ws: string | null,
    details: Record<string, unknown>,
  ): Promise<number> {
    const at = this.now();
    const row = await tx.get<{ id: number }>(
      `INSERT INTO audit_log (at, actor, action, workspace_id, details) VALUES ($1, $2, $3, $4, $5::jsonb)
       RETURNING id`,
      [at, actor, action, ws, jsonb(details)],
    );
    const id = row?.id ?? 0;
    await this.archive.append(
      tx,
      ws ?? GLOBAL_ARCHIVE_LOG,
      'admin',
      `audit:${id}`,
      { audit_id: id, at, actor, action, workspace_id: ws, details },
      at,
      null,
    );
    // The entry's id: its archive record is `audit:<id>` (an export names its own record by it).
    return id;
  }

  async listAudit(filter: AuditFilter): Promise<AuditEntry[]> {
    const params: unknown[] = [];
    const bind = (value: unknown) => {
      params.push(value);
      return `$${params.length}`;
    };
    const where: string[] = [];
    if (filter.workspaceId === null) where.push('workspace_id IS NULL');
    else if (filter.workspaceId !== undefined) where.push(`workspace_id = ${bind(filter.workspaceId)}`);
    if (filter.actor !== undefined) where.push(`actor = ${bind(filter.actor)}`);
    const action = filter.action;
    if (action !== undefined) {
      // A prefix: `connector.*` or `connector.`; LIKE's own wildcards in it are literal.
      const prefix = action.endsWith('*') ? action.slice(0, -1) : action.endsWith('.') ? action : null;
      if (prefix === null) where.push(`action = ${bind(action)}`);
      else where.push(`action LIKE ${bind(`${prefix.replace(/[\\%_]/g, (c) => `\\${c}`)}%`)} ESCAPE '\\'`);
    }
    if (filter.since !== undefined) where.push(`at >= ${bind(filter.since)}`);
    if (filter.until !== undefined) where.push(`at < ${bind(filter.until)}`);
    if (filter.beforeId !== undefined) where.push(`id < ${bind(filter.beforeId)}`);
    if (filter.afterId !== undefined) where.push(`id > ${bind(filter.afterId)}`);
    const limit = Math.min(Math.max(filter.limit ?? 100, 1), 5000);
    const rows = await this.db.all<{
      id: number;
      at: number;
      actor: string;
      action: string;
      workspace_id: string | null;
      details: Record<string, unknown>;
    }>(
      `SELECT id, at, actor, action, workspace_id, details FROM audit_log
       ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''}
       ORDER BY id ${filter.order === 'oldest' ? 'ASC' : 'DESC'} LIMIT ${bind(limit)}`,
      params,
    );
    // Each entry's record, found by entity in its log: one statement for the page.
    const seqs = await this.db.all<{ log: string; entity_id: string; seq: number }>(
      `SELECT DISTINCT ON (r.workspace_id, r.entity_id) r.workspace_id AS log, r.entity_id, r.seq
       FROM unnest($1::text[], $2::text[]) AS w(log, entity)
       JOIN archive_records r ON r.workspace_id = w.log AND r.entity_id = w.entity
       ORDER BY r.workspace_id, r.entity_id, r.seq`,
      [rows.map((r) => r.workspace_id ?? GLOBAL_ARCHIVE_LOG), rows.map((r) => `audit:${r.id}`)],
    );
    const seqOf = new Map(seqs.map((s) => [`${s.log}\0${s.entity_id}`, s.seq]));
    return rows.map((r) => {
      const log = r.workspace_id ?? GLOBAL_ARCHIVE_LOG;
      return {
        id: r.id,
        at: r.at,
        actor: r.actor,
        action: r.action,
        workspaceId: r.workspace_id,
        details: r.details,
        log,
        seq: seqOf.get(`${log}\0audit:${r.id}`) ?? null,
      };
    });
  }

  purgeArchiveContent(input: {
    workspaceId: string;
    seqs?: readonly number[];
    entityIds?: readonly string[];
    by: PurgeReason;
  }): Promise<PurgeResult> {
    return this.db.transaction(async (tx) => {
      await this.requireWorkspace(tx, input.workspaceId);
      const seqs = [
        ...(input.seqs ?? []),
        ...(input.entityIds ? await this.archiveSeqsOfEntities(tx, input.workspaceId, input.entityIds) : []),
      ];
      return this.archive.purge(tx, input.workspaceId, seqs, input.by, this.now());
    });
  }

  async archiveContent(
    workspaceId: string,
    seqs: readonly number[],
  ): Promise<Array<{ seq: number; content: unknown }>> {
    const rows = await this.db.all<{ seq: number; sealed: Buffer }>(
      'SELECT seq, sealed FROM archive_content WHERE workspace_id = $1 AND seq = ANY($2::bigint[])',
      [workspaceId, [...new Set(seqs)]],
    );
    const sealed = new Map(rows.map((r) => [r.seq, r.sealed]));
    const out: Array<{ seq: number; content: unknown }> = [];
    for (const seq of seqs) {
      const value = sealed.get(seq);
      out.push({
        seq,
        content: value
          ? parseOpenedContent(await this.keyring.open(this.db, workspaceId, ARCHIVE_CONTENT_PURPOSE, value))
          : null,
      });
    }
    return out;
  }

  /**
   * The seqs of every record of these entities (message ids, status ids, consent entry ids), in
   * log order, through the index by entity: what a purge by entity removes the content of.
   */
  protected async archiveSeqsOfEntities(
    q: Queryable,
    log: string,
    entityIds: Iterable<string>,
  ): Promise<number[]> {
    const ids = [...new Set(entityIds)];
    if (ids.length === 0) return [];
    return (
      await q.all<{ seq: number }>(
        'SELECT seq FROM archive_records WHERE workspace_id = $1 AND entity_id = ANY($2::text[]) ORDER BY seq',
        [log, ids],
      )
    ).map((r) => r.seq);
  }
}
