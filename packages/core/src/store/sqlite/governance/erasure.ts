import type { AuditActor } from '../../../access/actor.ts';
import { WabridgeError } from '../../../errors/index.ts';
import { newId } from '../../../ids/index.ts';
import type {
  EraseInput,
  EraseResult,
  ErasureCertificate,
  ErasureConnectorPart,
  ErasureOutcome,
} from '../../governance-types.ts';
import type { SqliteDatabase } from '../database.ts';
import { noteIdsOf, purgeNotes } from '../notes.ts';
import {
  DAY_MS,
  findContactId,
  type GovernanceContext,
  iso,
  requireActor,
  requireText,
  requireWorkspace,
} from './context.ts';
import { describeHold, holdsCovering } from './holds.ts';
import { purgeMessages, purgeStatuses } from './purge.ts';
import { ruleFor } from './retention.ts';

// Erasure (issue 18, item 6; GDPR art. 17 and 18). One transaction: refuse under a legal hold
// (nothing changes), else delete the content in wabridge (or, while a retention obligation still
// runs, restrict it), drop the contact's queued jobs, forget the identifiers that would file a new
// message under the old record, and queue `conversation.erased` for every connector that mirrors
// it, through the normal queue. The certificate is kept, and is an admin act of the archive.

/** The conversations an erasure covers, and whose they are. */
function subjectOf(
  db: SqliteDatabase,
  input: EraseInput,
): { contactIds: string[]; conversationIds: string[] } {
  const ws = input.workspaceId;
  if (input.subject.kind === 'conversation') {
    const id = input.subject.conversationId;
    const row = db.get<{ contact_id: string }>(
      'SELECT contact_id FROM conversations WHERE id = :id AND workspace_id = :ws',
      { id, ws },
    );
    if (!row)
      throw new WabridgeError('not_found', `no conversation ${id} in workspace ${ws}`, { status: 404 });
    return { contactIds: [row.contact_id], conversationIds: [id] };
  }
  const contactId = findContactId(db, ws, input.subject.identifier);
  if (!contactId)
    throw new WabridgeError('not_found', `no contact ${input.subject.identifier} in workspace ${ws}`, {
      status: 404,
    });
  // A contact merged into this one (an identity change seen late) is the same person.
  const contactIds = [
    contactId,
    ...db
      .all<{ id: string }>('SELECT id FROM contacts WHERE workspace_id = :ws AND merged_into = :id', {
        ws,
        id: contactId,
      })
      .map((r) => r.id),
  ];
  const conversationIds = db
    .all<{ id: string }>(
      'SELECT id FROM conversations WHERE workspace_id = :ws AND contact_id IN (SELECT value FROM json_each(:ids)) ORDER BY id',
      { ws, ids: JSON.stringify(contactIds) },
    )
    .map((r) => r.id);
  return { contactIds, conversationIds };
}

/** Why the law still requires keeping these conversations' content, or null when nothing does. */
function retentionObligation(
  db: SqliteDatabase,
  ws: string,
  conversationIds: readonly string[],
  now: number,
): string | null {
  // Messages first; a rule that keeps archived internal notes is an obligation of the same kind.
  for (const [kind, table] of [
    ['messages', 'messages'],
    ['notes', 'internal_notes'],
  ] as const) {
    const rule = ruleFor(db, ws, kind);
    if (!rule || rule.keepDays === null) continue;
    const newest = db.get<{ ts: number | null }>(
      `SELECT MAX(ts) AS ts FROM ${table} WHERE workspace_id = :ws AND purged_at IS NULL
         AND conversation_id IN (SELECT value FROM json_each(:ids))`,
      { ws, ids: JSON.stringify(conversationIds) },
    )?.ts;
    if (newest === null || newest === undefined) continue;
    const until = newest + rule.keepDays * DAY_MS;
    if (until <= now) continue;
    return `the workspace's retention rule keeps ${kind} ${rule.keepDays} days (set by ${rule.updatedBy}); the newest is from ${iso(newest)}, kept until ${iso(until)}`;
  }
  return null;
}

const IN_CONVERSATIONS = 'workspace_id = :ws AND conversation_id IN (SELECT value FROM json_each(:ids))';

export function erase(ctx: GovernanceContext, input: EraseInput): EraseResult {
  const { db } = ctx;
  const ws = input.workspaceId;
  requireWorkspace(db, ws);
  const reason = requireText(input.reason, 'a reason for the erasure');
  const { name: actor, act } = requireActor(input.actor, 'who asks for the erasure');
  const { contactIds, conversationIds } = subjectOf(db, input);
  const contactId = contactIds[0] as string;
  const ids = JSON.stringify(conversationIds);

  // The contacts themselves too: their identifiers are what an erasure by contact clears.
  const holds = holdsCovering(db, ws, conversationIds, input.subject.kind === 'contact' ? contactIds : []);
  if (holds.length > 0) {
    throw new WabridgeError(
      'conflict',
      `erasure refused: ${holds.map(describeHold).join('; ')}. Nothing was changed; release the hold first (wabridge hold release).`,
      { status: 409, details: { holds: holds.map((h) => h.id) } },
    );
  }

  const at = ctx.now();
  const id = newId('er');
  const ground = retentionObligation(db, ws, conversationIds, at);
  const outcome: ErasureOutcome = ground ? 'restricted' : 'erased';
  const messageIds = db
    .all<{ id: string }>(`SELECT id FROM messages WHERE ${IN_CONVERSATIONS} ORDER BY ts, id`, { ws, ids })
    .map((r) => r.id);
  const statusIds = db
    .all<{ id: string }>(
      'SELECT id FROM message_statuses WHERE workspace_id = :ws AND message_id IN (SELECT value FROM json_each(:messages))',
      { ws, messages: JSON.stringify(messageIds) },
    )
    .map((r) => r.id);
  const noteIds = noteIdsOf(db, ws, conversationIds);
  const noticeCount =
    db.get<{ n: number }>(`SELECT COUNT(*) AS n FROM notices WHERE ${IN_CONVERSATIONS}`, { ws, ids })?.n ?? 0;

  // The contact's queued work would carry its data to a platform: gone, whatever the outcome. A
  // delivery in flight on a live lease stays: it keeps its place at the head of its queue, so the
  // connector's erasure (queued behind it) runs after it and removes what it posted.
  let jobsRemoved = db.run(
    `DELETE FROM jobs WHERE ${IN_CONVERSATIONS} AND NOT (state = 'running' AND lease_until >= :at)`,
    { ws, ids, at },
  ).changes;
  // A row waiting for admission is one job per connector it names: counted as such, so the
  // certificate says the same whether the job had been admitted yet or not (and as on Postgres).
  jobsRemoved +=
    db.get<{ n: number | null }>(
      `SELECT SUM(json_array_length(connectors)) AS n FROM jobs_new WHERE ${IN_CONVERSATIONS}`,
      { ws, ids },
    )?.n ?? 0;
  db.run(`DELETE FROM jobs_new WHERE ${IN_CONVERSATIONS}`, { ws, ids });
  jobsRemoved += db.run(`DELETE FROM dead_jobs WHERE ${IN_CONVERSATIONS}`, { ws, ids }).changes;

  if (outcome === 'erased') {
    purgeMessages(db, ws, messageIds, at, `erasure:${id}`);
    purgeStatuses(db, ws, statusIds, at);
    purgeNotes(db, ws, noteIds, at);
    // The archive keeps the records' leaves (so the log still verifies, showing them purged);
    // their sealed content goes, agents' archived internal notes about the contact included.
    ctx.purgeArchive(ws, [...messageIds, ...statusIds, ...noteIds], {
      actor: `erasure:${id}`,
      reason: `erasure requested by ${actor}`,
      details: { erasure: id },
    });
    db.run(`UPDATE notices SET text = '', templates = '[]' WHERE ${IN_CONVERSATIONS}`, { ws, ids });
    db.run(
      `UPDATE conversations SET erased_at = :at WHERE workspace_id = :ws AND id IN (SELECT value FROM json_each(:ids))`,
      {
        ws,
        ids,
        at,
      },
    );
    forgetIdentity(db, ws, input, contactIds, conversationIds, at);
  } else {
    db.run(
      `UPDATE conversations SET restricted_at = :at WHERE workspace_id = :ws AND id IN (SELECT value FROM json_each(:ids))`,
      { ws, ids, at },
    );
  }

  // Every connector that mirrors erasures is told, one job per conversation, like any delivery.
  const connectors = db
    .all<{ connector_id: string }>(
      `SELECT connector_id FROM connector_settings WHERE workspace_id = :ws AND enabled = 1
         AND instr(events, ',conversation.erased,') > 0 ORDER BY connector_id`,
      { ws },
    )
    .map((r) => r.connector_id);
  const parts: ErasureConnectorPart[] = [];
  for (const conversationId of conversationIds) {
    if (connectors.length === 0) break;
    db.run(
      `INSERT INTO jobs_new (workspace_id, connectors, conversation_id, event_type, entity_id, sort_ts, run_at, created_at)
       VALUES (:ws, :connectors, :conversation, 'conversation.erased', :id, :at, :at, :at)`,
      { ws, connectors: JSON.stringify(connectors), conversation: conversationId, id, at },
    );
    for (const connectorId of connectors) {
      parts.push({
        connectorId,
        conversationId,
        platformIds: platformIds(db, ws, connectorId, [conversationId, ...contactIds, ...messageIds]),
        state: 'queued',
        confirmedAt: null,
        error: null,
      });
    }
  }

  const certificate: ErasureCertificate = {
    id,
    workspaceId: ws,
    outcome,
    restrictionGround: ground,
    subject: { kind: input.subject.kind, contactId },
    requestedBy: actor,
    reason,
    requestedAt: at,
    wabridge: {
      conversations: conversationIds,
      messages: messageIds.length,
      statuses: statusIds.length,
      notices: noticeCount,
      internalNotes: noteIds.length,
      jobsRemoved,
      mediaFiles: [],
      contactIdentifiersCleared: outcome === 'erased',
    },
    connectors: parts,
  };
  db.run(
    `INSERT INTO erasures (id, workspace_id, outcome, requested_by, requested_at, certificate)
     VALUES (:id, :ws, :outcome, :by, :at, :certificate)`,
    { id, ws, outcome, by: actor, at, certificate: JSON.stringify(certificate) },
  );
  ctx.recordAct(act, 'erasure', ws, { certificate });
  ctx.bumpConfigVersion();
  return { certificate, messageIds: outcome === 'erased' ? messageIds : [] };
}

/**
 * A contact who writes again after an erasure starts a fresh record: the identifiers that would
 * file the message under the old one go. Erasing one conversation of a contact who has others
 * moves it to an anonymous contact instead (the others keep theirs).
 */
function forgetIdentity(
  db: SqliteDatabase,
  ws: string,
  input: EraseInput,
  contactIds: readonly string[],
  conversationIds: readonly string[],
  at: number,
): void {
  const others =
    input.subject.kind === 'conversation'
      ? (db.get<{ n: number }>(
          `SELECT COUNT(*) AS n FROM conversations WHERE workspace_id = :ws AND contact_id = :contact
             AND erased_at IS NULL AND id NOT IN (SELECT value FROM json_each(:ids))`,
          { ws, contact: contactIds[0] as string, ids: JSON.stringify(conversationIds) },
        )?.n ?? 0)
      : 0;
  if (others > 0) {
    const anonymous = newId('ct');
    db.run('INSERT INTO contacts (id, workspace_id, created_at, updated_at) VALUES (:id, :ws, :at, :at)', {
      id: anonymous,
      ws,
      at,
    });
    db.run(
      'UPDATE conversations SET contact_id = :anonymous WHERE workspace_id = :ws AND id IN (SELECT value FROM json_each(:ids))',
      { ws, anonymous, ids: JSON.stringify(conversationIds) },
    );
    return;
  }
  db.run(
    `UPDATE contacts SET wa_id = NULL, bsuid = NULL, parent_bsuid = NULL, username = NULL, profile_name = NULL, updated_at = :at
     WHERE workspace_id = :ws AND id IN (SELECT value FROM json_each(:ids))`,
    { ws, at, ids: JSON.stringify(contactIds) },
  );
}

function platformIds(db: SqliteDatabase, ws: string, connectorId: string, entityIds: readonly string[]) {
  return db.all<{ kind: string; entityId: string; externalId: string }>(
    `SELECT kind, entity_id AS entityId, external_id AS externalId FROM external_refs
     WHERE workspace_id = :ws AND connector_id = :connector AND entity_id IN (SELECT value FROM json_each(:ids))
     ORDER BY kind, entity_id`,
    { ws, connector: connectorId, ids: JSON.stringify(entityIds) },
  );
}

/** Notes, in the transaction that completes it, that a connector removed its copy. */
export function confirmErasure(
  db: SqliteDatabase,
  job: { workspace_id: string; connector_id: string; conversation_id: string; entity_id: string },
  at: number,
): void {
  db.run(
    `INSERT INTO erasure_confirmations (erasure_id, connector_id, conversation_id, workspace_id, confirmed_at)
     VALUES (:id, :connector, :conversation, :ws, :at) ON CONFLICT DO NOTHING`,
    {
      id: job.entity_id,
      connector: job.connector_id,
      conversation: job.conversation_id,
      ws: job.workspace_id,
      at,
    },
  );
}

/** The certificate as it stands now: each connector's part confirmed, queued, retrying or dead. */
export function getErasure(db: SqliteDatabase, ws: string, id: string): ErasureCertificate | null {
  const row = db.get<{ certificate: string }>(
    'SELECT certificate FROM erasures WHERE id = :id AND workspace_id = :ws',
    {
      id,
      ws,
    },
  );
  if (!row) return null;
  const certificate = JSON.parse(row.certificate) as ErasureCertificate;
  const key = { ws, id };
  for (const part of certificate.connectors) {
    const where = { ...key, connector: part.connectorId, conversation: part.conversationId };
    const confirmed = db.get<{ confirmed_at: number }>(
      `SELECT confirmed_at FROM erasure_confirmations WHERE erasure_id = :id AND connector_id = :connector
         AND conversation_id = :conversation AND workspace_id = :ws`,
      where,
    );
    if (confirmed) {
      Object.assign(part, { state: 'confirmed', confirmedAt: confirmed.confirmed_at, error: null });
      continue;
    }
    const job = db.get<{ last_error: string | null }>(
      `SELECT last_error FROM jobs WHERE workspace_id = :ws AND conversation_id = :conversation AND connector_id = :connector
         AND event_type = 'conversation.erased' AND entity_id = :id`,
      where,
    );
    if (job) {
      Object.assign(part, { state: job.last_error ? 'retrying' : 'queued', error: job.last_error });
      continue;
    }
    const dead = db.get<{ reason: string }>(
      `SELECT reason FROM dead_jobs WHERE workspace_id = :ws AND conversation_id = :conversation AND connector_id = :connector
         AND event_type = 'conversation.erased' AND entity_id = :id`,
      where,
    );
    if (dead) Object.assign(part, { state: 'dead', error: dead.reason });
  }
  return certificate;
}

/** Adds the media files deleted after the erasure committed to its certificate (an admin act too). */
export function recordErasureFiles(
  ctx: GovernanceContext,
  input: { workspaceId: string; erasureId: string; files: readonly string[]; actor: AuditActor },
): void {
  const { db } = ctx;
  const row = db.get<{ certificate: string }>(
    'SELECT certificate FROM erasures WHERE id = :id AND workspace_id = :ws',
    {
      id: input.erasureId,
      ws: input.workspaceId,
    },
  );
  if (!row)
    throw new WabridgeError('not_found', `no erasure ${input.erasureId} in workspace ${input.workspaceId}`, {
      status: 404,
    });
  const certificate = JSON.parse(row.certificate) as ErasureCertificate;
  certificate.wabridge.mediaFiles = [...input.files];
  db.run('UPDATE erasures SET certificate = :certificate WHERE id = :id', {
    id: input.erasureId,
    certificate: JSON.stringify(certificate),
  });
  ctx.recordAct(input.actor, 'erasure.media', input.workspaceId, {
    erasure: input.erasureId,
    files: input.files,
  });
}
