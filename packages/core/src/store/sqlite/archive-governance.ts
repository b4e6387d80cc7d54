import { auditActor } from '../../access/actor.ts';
import type { AddHoldInput, EraseInput, RetentionRunInput } from '../governance-types.ts';
import type { AuditFilter, GovernanceStore } from '../types.ts';
import {
  ARCHIVE_CONTENT_PURPOSE,
  type PurgeReason,
  type PurgeResult,
  parseOpenedContent,
} from './archive.ts';
import { archiveSeqsOfEntities } from './archive-reads.ts';
import type { GovernanceContext } from './governance/context.ts';
import { erase, getErasure, recordErasureFiles } from './governance/erasure.ts';
import { addHold, listHolds, releaseHold } from './governance/holds.ts';
import { listRetention, runRetention, setRetention } from './governance/retention.ts';
import { SqliteJobs } from './jobs.ts';
import { json } from './rows.ts';

/** The audit trail, archive content and purges, legal holds, retention, erasure (GovernanceStore). */
export abstract class SqliteGovernance extends SqliteJobs implements GovernanceStore {
  appendAudit(entry: {
    actor: string;
    action: string;
    workspaceId: string | null;
    details: Record<string, unknown>;
  }) {
    return this.db.write(() => {
      const at = this.now();
      const { lastInsertRowid } = this.db.run(
        'INSERT INTO audit_log (at, actor, action, workspace_id, details) VALUES (:at, :actor, :action, :ws, :details)',
        {
          at,
          actor: entry.actor,
          action: entry.action,
          ws: entry.workspaceId,
          details: json(entry.details),
        },
      );
      this.archiveAdmin(lastInsertRowid, at, entry.actor, entry.action, entry.workspaceId, entry.details);
      // The entry's id: its archive record is `audit:<id>` (an export names its own record by it).
      return lastInsertRowid;
    });
  }

  listAudit(filter: AuditFilter) {
    return this.access.listAudit(filter);
  }

  // --- Governance: legal holds, retention, erasure (see governance/) ----------------------------

  /** What the governance operations use of this store, inside its write transactions. */
  private get governance(): GovernanceContext {
    return {
      db: this.db,
      now: this.now,
      recordAct: (who, action, ws, given) => {
        const { actor, from } = auditActor(who);
        const details = from ? { ...given, from } : given;
        const at = this.now();
        const { lastInsertRowid } = this.db.run(
          'INSERT INTO audit_log (at, actor, action, workspace_id, details) VALUES (:at, :actor, :action, :ws, :details)',
          { at, actor, action, ws, details: json(details) },
        );
        this.archiveAdmin(lastInsertRowid, at, actor, action, ws, details);
      },
      bumpConfigVersion: () => this.bumpConfigVersion(),
      purgeArchive: (ws, entityIds, by) =>
        this.archive.purge(ws, archiveSeqsOfEntities(this.db, ws, entityIds), by, this.now()).purged.length,
    };
  }

  addHold(input: AddHoldInput) {
    return this.db.write(() => addHold(this.governance, input));
  }

  async listHolds(workspaceId: string) {
    return listHolds(this.db, workspaceId);
  }

  releaseHold(input: { workspaceId: string; holdId: string; actor: string; reason: string }) {
    return this.db.write(() => releaseHold(this.governance, input));
  }

  setRetention(input: {
    workspaceId: string;
    kind: string;
    keepDays: number | null;
    afterLastMessageDays: number | null;
    actor: string;
  }) {
    return this.db.write(() => setRetention(this.governance, input));
  }

  async listRetention(workspaceId: string) {
    return listRetention(this.db, workspaceId);
  }

  runRetention(input: RetentionRunInput) {
    return this.db.write(() => runRetention(this.governance, input));
  }

  erase(input: EraseInput) {
    return this.db.write(() => erase(this.governance, input));
  }

  recordErasureFiles(input: {
    workspaceId: string;
    erasureId: string;
    files: readonly string[];
    actor: string;
  }) {
    return this.db.write(() => recordErasureFiles(this.governance, input));
  }

  async getErasure(workspaceId: string, erasureId: string) {
    return getErasure(this.db, workspaceId, erasureId);
  }

  /**
   * Purges the content of archive records, given by seq or by entity (message ids, consent entry
   * ids), and records the purge (a `purge` record: who, why, which). The records' leaves stay:
   * `archive verify` reports them as purged. Holds are the caller's to check first.
   */
  purgeArchiveContent(input: {
    workspaceId: string;
    seqs?: readonly number[];
    entityIds?: readonly string[];
    by: PurgeReason;
  }): Promise<PurgeResult> {
    return this.db.write(() => {
      this.requireWorkspace(input.workspaceId);
      const seqs = [
        ...(input.seqs ?? []),
        ...(input.entityIds ? archiveSeqsOfEntities(this.db, input.workspaceId, input.entityIds) : []),
      ];
      return this.archive.purge(input.workspaceId, seqs, input.by, this.now());
    });
  }

  /**
   * The content of archive records, opened: by seq, the content as given when recorded, or null
   * when it was purged or the record has none.
   */
  async archiveContent(
    workspaceId: string,
    seqs: readonly number[],
  ): Promise<Array<{ seq: number; content: unknown }>> {
    return seqs.map((seq) => {
      const row = this.db.get<{ sealed: Uint8Array }>(
        'SELECT sealed FROM archive_content WHERE workspace_id = :ws AND seq = :seq',
        { ws: workspaceId, seq },
      );
      if (!row) return { seq, content: null };
      return {
        seq,
        content: parseOpenedContent(this.keyring.open(workspaceId, ARCHIVE_CONTENT_PURPOSE, row.sealed)),
      };
    });
  }
}
