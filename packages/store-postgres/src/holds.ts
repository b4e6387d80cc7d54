import {
  type AddHoldInput,
  type AuditActor,
  auditActor,
  type GovernanceStore,
  type HoldRow,
  type HoldScope,
  type LegalHold,
  newId,
  requireActor,
  requireText,
  toHold,
  WabridgeError,
} from '@wabridge/core';
import { PgAudit } from './audit.ts';
import type { Queryable, Tx } from './database.ts';

/**
 * Legal holds (issue 18, item 5; of GovernanceStore): while one covers a record, neither a purge
 * nor an erasure touches it, and the workspace cannot be deleted. A release is written on the
 * hold's row, so the history stays. Rules and wording are the SQLite store's (core).
 */
export abstract class PgHolds
  extends PgAudit
  implements Pick<GovernanceStore, 'addHold' | 'listHolds' | 'releaseHold'>
{
  addHold(input: AddHoldInput): Promise<LegalHold> {
    return this.db.transaction(async (tx) => {
      const ws = input.workspaceId;
      // Locked FOR SHARE until commit: a deletion of the workspace waits, then sees the hold.
      await this.requireWorkspace(tx, ws);
      const reason = requireText(input.reason, 'a reason for the hold');
      const { name: actor, act } = requireActor(input.actor, 'who sets the hold');
      const scope = await this.#resolveScope(tx, ws, input.scope);
      const hold: LegalHold = {
        id: newId('hold'),
        workspaceId: ws,
        scope,
        reason,
        createdBy: actor,
        createdAt: this.now(),
        released: null,
      };
      await tx.run(
        `INSERT INTO legal_holds (id, workspace_id, scope, contact_id, conversation_id, range_from, range_to,
           reason, created_by, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
        [
          hold.id,
          ws,
          scope.kind,
          scope.kind === 'contact' ? scope.contactId : null,
          scope.kind === 'conversation' ? scope.conversationId : null,
          scope.kind === 'range' ? scope.from : null,
          scope.kind === 'range' ? scope.to : null,
          reason,
          actor,
          hold.createdAt,
        ],
      );
      await this.recordActOf(tx, act, 'hold.add', ws, { hold: hold.id, scope, reason });
      return hold;
    });
  }

  async listHolds(workspaceId: string): Promise<LegalHold[]> {
    return (
      await this.db.all<HoldRow>(
        'SELECT * FROM legal_holds WHERE workspace_id = $1 ORDER BY created_at, id',
        [workspaceId],
      )
    ).map(toHold);
  }

  releaseHold(input: {
    workspaceId: string;
    holdId: string;
    actor: AuditActor;
    reason: string;
  }): Promise<LegalHold> {
    return this.db.transaction(async (tx) => {
      const ws = input.workspaceId;
      const reason = requireText(input.reason, 'a reason for the release');
      const { name: actor, act } = requireActor(input.actor, 'who releases the hold');
      // Locked: of two releases at once, the second sees the first's and is refused.
      const row = await tx.get<HoldRow>(
        'SELECT * FROM legal_holds WHERE id = $1 AND workspace_id = $2 FOR UPDATE',
        [input.holdId, ws],
      );
      if (!row) {
        throw new WabridgeError('not_found', `no legal hold ${input.holdId} in workspace ${ws}`, {
          status: 404,
        });
      }
      if (row.released_at !== null) {
        throw new WabridgeError(
          'conflict',
          `legal hold ${row.id} was already released on ${new Date(row.released_at).toISOString()} by ${row.released_by}`,
          { status: 409 },
        );
      }
      const at = this.now();
      await tx.run(
        'UPDATE legal_holds SET released_at = $1, released_by = $2, release_reason = $3 WHERE id = $4',
        [at, actor, reason, row.id],
      );
      await this.recordActOf(tx, act, 'hold.release', ws, { hold: row.id, reason });
      return toHold({ ...row, released_at: at, released_by: actor, release_reason: reason });
    });
  }

  /** An admin act by an actor that may say where it came from (`from`, in the details). */
  protected recordActOf(
    tx: Tx,
    who: AuditActor,
    action: string,
    ws: string,
    given: Record<string, unknown>,
  ): Promise<number> {
    const { actor, from } = auditActor(who);
    return this.recordAct(tx, actor, action, ws, from ? { ...given, from } : given);
  }

  /** A hold's scope with its contact found by id, number or BSUID; what it names must exist. */
  async #resolveScope(tx: Tx, ws: string, scope: HoldScope): Promise<HoldScope> {
    if (scope.kind === 'contact') {
      const contactId = await this.#findContactId(tx, ws, scope.contactId);
      if (!contactId) {
        throw new WabridgeError('not_found', `no contact ${scope.contactId} in workspace ${ws}`, {
          status: 404,
        });
      }
      return { kind: 'contact', contactId };
    }
    if (scope.kind === 'conversation') {
      if (
        !(await tx.get('SELECT 1 AS x FROM conversations WHERE id = $1 AND workspace_id = $2', [
          scope.conversationId,
          ws,
        ]))
      ) {
        throw new WabridgeError('not_found', `no conversation ${scope.conversationId} in workspace ${ws}`, {
          status: 404,
        });
      }
      return scope;
    }
    if (scope.kind === 'range') {
      if (!Number.isFinite(scope.from) || !Number.isFinite(scope.to)) {
        throw new WabridgeError('bad_request', 'a date range hold needs a valid start and end', {
          status: 400,
        });
      }
      if (scope.from > scope.to) {
        throw new WabridgeError(
          'bad_request',
          `the range starts (${new Date(scope.from).toISOString()}) after it ends (${new Date(scope.to).toISOString()})`,
          { status: 400 },
        );
      }
    }
    return scope;
  }

  /**
   * The contact an identifier names in a workspace: its id, its WhatsApp number (digits; a leading
   * + and spaces or dashes are ignored) or its BSUID; a contact merged into another comes last.
   */
  async #findContactId(q: Queryable, ws: string, identifier: string): Promise<string | null> {
    const value = identifier.trim();
    if (value === '') return null;
    const digits = /^\+?[\d\s-]+$/.test(value) ? value.replace(/\D/g, '') : null;
    const row = await q.get<{ id: string }>(
      `SELECT id FROM contacts WHERE workspace_id = $1 AND (id = $2 OR bsuid = $2 OR wa_id = $3)
       ORDER BY merged_into IS NOT NULL LIMIT 1`,
      [ws, value, digits],
    );
    return row?.id ?? null;
  }
}
