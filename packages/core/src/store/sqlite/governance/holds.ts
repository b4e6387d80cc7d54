import type { AuditActor } from '../../../access/actor.ts';
import { WabridgeError } from '../../../errors/index.ts';
import { newId } from '../../../ids/index.ts';
import type { AddHoldInput, HoldScope, LegalHold } from '../../governance-types.ts';
import type { SqliteDatabase } from '../database.ts';
import {
  findContactId,
  type GovernanceContext,
  iso,
  requireActor,
  requireText,
  requireWorkspace,
} from './context.ts';

// Legal holds (issue 18, item 5): while one covers a record, neither a retention purge nor an
// erasure touches it. A release is written on the hold's row, so the history stays.

export interface HoldRow {
  id: string;
  workspace_id: string;
  scope: string;
  contact_id: string | null;
  conversation_id: string | null;
  range_from: number | null;
  range_to: number | null;
  reason: string;
  created_by: string;
  created_at: number;
  released_at: number | null;
  released_by: string | null;
  release_reason: string | null;
}

export function toHold(r: HoldRow): LegalHold {
  let scope: HoldScope;
  if (r.scope === 'contact') scope = { kind: 'contact', contactId: r.contact_id ?? '' };
  else if (r.scope === 'conversation')
    scope = { kind: 'conversation', conversationId: r.conversation_id ?? '' };
  else if (r.scope === 'range') scope = { kind: 'range', from: r.range_from ?? 0, to: r.range_to ?? 0 };
  else scope = { kind: 'workspace' };
  return {
    id: r.id,
    workspaceId: r.workspace_id,
    scope,
    reason: r.reason,
    createdBy: r.created_by,
    createdAt: r.created_at,
    released:
      r.released_at === null
        ? null
        : { at: r.released_at, by: r.released_by ?? '', reason: r.release_reason ?? '' },
  };
}

/** What a hold covers, in words: `contact ct_…`, `2026-01-01 … 2026-03-31`, `the whole workspace`. */
export function describeScope(scope: HoldScope): string {
  switch (scope.kind) {
    case 'workspace':
      return 'the whole workspace';
    case 'contact':
      return `contact ${scope.contactId}`;
    case 'conversation':
      return `conversation ${scope.conversationId}`;
    case 'range':
      return `messages from ${iso(scope.from)} to ${iso(scope.to)}`;
  }
}

/** The sentence a refusal quotes: which hold, on what, why, and who set it when. */
export function describeHold(hold: LegalHold): string {
  return `legal hold ${hold.id} on ${describeScope(hold.scope)} ("${hold.reason}", set by ${hold.createdBy} on ${iso(hold.createdAt)})`;
}

export function addHold(ctx: GovernanceContext, input: AddHoldInput): LegalHold {
  const { db } = ctx;
  const ws = input.workspaceId;
  requireWorkspace(db, ws);
  const reason = requireText(input.reason, 'a reason for the hold');
  const { name: actor, act } = requireActor(input.actor, 'who sets the hold');
  let scope: HoldScope = input.scope;
  if (scope.kind === 'contact') {
    const contactId = findContactId(db, ws, scope.contactId);
    if (!contactId)
      throw new WabridgeError('not_found', `no contact ${scope.contactId} in workspace ${ws}`, {
        status: 404,
      });
    scope = { kind: 'contact', contactId };
  } else if (scope.kind === 'conversation') {
    const conversationId = scope.conversationId;
    if (
      !db.get('SELECT 1 AS x FROM conversations WHERE id = :id AND workspace_id = :ws', {
        id: conversationId,
        ws,
      })
    )
      throw new WabridgeError('not_found', `no conversation ${conversationId} in workspace ${ws}`, {
        status: 404,
      });
  } else if (scope.kind === 'range') {
    if (!Number.isFinite(scope.from) || !Number.isFinite(scope.to))
      throw new WabridgeError('bad_request', 'a date range hold needs a valid start and end', {
        status: 400,
      });
    if (scope.from > scope.to)
      throw new WabridgeError(
        'bad_request',
        `the range starts (${iso(scope.from)}) after it ends (${iso(scope.to)})`,
        {
          status: 400,
        },
      );
  }
  const hold: LegalHold = {
    id: newId('hold'),
    workspaceId: ws,
    scope,
    reason,
    createdBy: actor,
    createdAt: ctx.now(),
    released: null,
  };
  db.run(
    `INSERT INTO legal_holds (id, workspace_id, scope, contact_id, conversation_id, range_from, range_to, reason, created_by, created_at)
     VALUES (:id, :ws, :scope, :contact, :conversation, :from, :to, :reason, :by, :at)`,
    {
      id: hold.id,
      ws,
      scope: scope.kind,
      contact: scope.kind === 'contact' ? scope.contactId : null,
      conversation: scope.kind === 'conversation' ? scope.conversationId : null,
      from: scope.kind === 'range' ? scope.from : null,
      to: scope.kind === 'range' ? scope.to : null,
      reason,
      by: actor,
      at: hold.createdAt,
    },
  );
  ctx.recordAct(act, 'hold.add', ws, { hold: hold.id, scope, reason });
  return hold;
}

/** Every hold of a workspace, active and released, oldest first. */
export function listHolds(db: SqliteDatabase, ws: string): LegalHold[] {
  return db
    .all<HoldRow>('SELECT * FROM legal_holds WHERE workspace_id = :ws ORDER BY created_at, id', { ws })
    .map(toHold);
}

export function releaseHold(
  ctx: GovernanceContext,
  input: { workspaceId: string; holdId: string; actor: AuditActor; reason: string },
): LegalHold {
  const { db } = ctx;
  const ws = input.workspaceId;
  const reason = requireText(input.reason, 'a reason for the release');
  const { name: actor, act } = requireActor(input.actor, 'who releases the hold');
  const row = db.get<HoldRow>('SELECT * FROM legal_holds WHERE id = :id AND workspace_id = :ws', {
    id: input.holdId,
    ws,
  });
  if (!row)
    throw new WabridgeError('not_found', `no legal hold ${input.holdId} in workspace ${ws}`, { status: 404 });
  if (row.released_at !== null) {
    throw new WabridgeError(
      'conflict',
      `legal hold ${row.id} was already released on ${iso(row.released_at)} by ${row.released_by}`,
      { status: 409 },
    );
  }
  const at = ctx.now();
  db.run(
    'UPDATE legal_holds SET released_at = :at, released_by = :by, release_reason = :reason WHERE id = :id',
    { at, by: actor, reason, id: row.id },
  );
  ctx.recordAct(act, 'hold.release', ws, { hold: row.id, reason });
  return toHold({ ...row, released_at: at, released_by: actor, release_reason: reason });
}

/**
 * SQL true when an active hold covers message `m` of conversation `c` (aliases the caller's query
 * must use). Kept in one place so a purge and an erasure agree on what a hold covers.
 */
export const HELD_MESSAGE_SQL = `EXISTS (SELECT 1 FROM legal_holds h WHERE h.workspace_id = m.workspace_id AND h.released_at IS NULL
  AND (h.scope = 'workspace' OR h.conversation_id = m.conversation_id OR h.contact_id = c.contact_id
    OR (h.scope = 'range' AND m.ts BETWEEN h.range_from AND h.range_to)))`;

/**
 * The active holds that cover any of these conversations (or their contacts, or one of their
 * messages by date) or these contacts, oldest first.
 */
export function holdsCovering(
  db: SqliteDatabase,
  ws: string,
  conversationIds: readonly string[],
  contactIds: readonly string[] = [],
): LegalHold[] {
  return db
    .all<HoldRow>(
      `SELECT h.* FROM legal_holds h WHERE h.workspace_id = :ws AND h.released_at IS NULL AND (
         h.scope = 'workspace'
         OR h.conversation_id IN (SELECT value FROM json_each(:ids))
         OR h.contact_id IN (SELECT value FROM json_each(:contacts))
         OR h.contact_id IN (SELECT c.contact_id FROM conversations c WHERE c.workspace_id = :ws
                               AND c.id IN (SELECT value FROM json_each(:ids)))
         OR (h.scope = 'range' AND EXISTS (SELECT 1 FROM messages m WHERE m.workspace_id = :ws
               AND m.conversation_id IN (SELECT value FROM json_each(:ids)) AND m.ts BETWEEN h.range_from AND h.range_to)))
       ORDER BY h.created_at, h.id`,
      { ws, ids: JSON.stringify(conversationIds), contacts: JSON.stringify(contactIds) },
    )
    .map(toHold);
}

/** Refuses `what` (a workspace deletion) while any hold of the workspace is active. */
export function refuseUnderHold(db: SqliteDatabase, ws: string, what: string): void {
  const active = listHolds(db, ws).filter((h) => h.released === null);
  if (active.length > 0) {
    throw new WabridgeError(
      'conflict',
      `${what} refused: ${active.map(describeHold).join('; ')}. Nothing was changed; release the hold first (wabridge hold release).`,
      { status: 409, details: { holds: active.map((h) => h.id) } },
    );
  }
}
