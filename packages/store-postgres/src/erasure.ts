import {
  type AuditActor,
  describeHold,
  type EraseInput,
  type EraseResult,
  type ErasureCertificate,
  type ErasureConnectorPart,
  type ErasureOutcome,
  type GovernanceStore,
  type HoldRow,
  newId,
  type RuleRow,
  requireActor,
  requireText,
  toHold,
  toRule,
  WabridgeError,
} from '@wabridge/core';
import type { Queryable, Tx } from './database.ts';
import type { NewJob } from './queue/rows.ts';
import type { Param } from './queue/settle.ts';
import { PgRetention } from './retention.ts';
import { jsonb } from './rows.ts';

const DAY_MS = 86_400_000;
/** What purged content leaves behind in a BYTEA content column: `{}`, as the SQLite store does. */
const EMPTY_OBJECT = Buffer.from('{}');
const iso = (ms: number): string => new Date(ms).toISOString();

/**
 * Erasure (issue 18, item 6; GDPR art. 17 and 18; of GovernanceStore), as the SQLite store does it
 * (core: store/sqlite/governance/erasure.ts), in one transaction: refuse under a legal hold
 * (nothing changes), else delete the content (or, while a retention obligation still runs,
 * restrict it), drop the contact's queued jobs, forget the identifiers that would file a new
 * message under the old record, and queue `conversation.erased` for every connector that mirrors
 * it through the queue's enqueueIn. The certificate is kept, and is an admin act of the archive.
 */
export abstract class PgErasure
  extends PgRetention
  implements Pick<GovernanceStore, 'erase' | 'recordErasureFiles' | 'getErasure'>
{
  erase(input: EraseInput): Promise<EraseResult> {
    return this.db.transaction(async (tx) => {
      const ws = input.workspaceId;
      // Locked FOR UPDATE, as a retention run does: a hold being set (FOR SHARE) commits before the
      // holds are read here, or waits for the erasure; two erasures take turns.
      if (!(await tx.get('SELECT 1 AS x FROM workspaces WHERE id = $1 FOR UPDATE', [ws]))) {
        throw new WabridgeError('not_found', `workspace ${ws} does not exist`, { status: 404 });
      }
      const reason = requireText(input.reason, 'a reason for the erasure');
      const { name: actor, act } = requireActor(input.actor, 'who asks for the erasure');
      const { contactIds, conversationIds } = await this.#subjectOf(tx, input);
      const contactId = contactIds[0] as string;

      // The contacts themselves too: their identifiers are what an erasure by contact clears.
      const holds = await holdsCovering(
        tx,
        ws,
        conversationIds,
        input.subject.kind === 'contact' ? contactIds : [],
      );
      if (holds.length > 0) {
        throw new WabridgeError(
          'conflict',
          `erasure refused: ${holds.map(describeHold).join('; ')}. Nothing was changed; release the hold first (wabridge hold release).`,
          { status: 409, details: { holds: holds.map((h) => h.id) } },
        );
      }

      const at = this.now();
      const id = newId('er');
      const ground = await retentionObligation(tx, ws, conversationIds, at);
      const outcome: ErasureOutcome = ground ? 'restricted' : 'erased';
      const inConversations = 'workspace_id = $1 AND conversation_id = ANY($2::text[])';
      const messageIds = await ids(tx, `SELECT id FROM messages WHERE ${inConversations} ORDER BY ts, id`, [
        ws,
        conversationIds,
      ]);
      const statusIds = await ids(
        tx,
        'SELECT id FROM message_statuses WHERE workspace_id = $1 AND message_id = ANY($2::text[]) ORDER BY id',
        [ws, messageIds],
      );
      const noteIds = await ids(
        tx,
        `SELECT id FROM internal_notes WHERE ${inConversations} ORDER BY ts, id`,
        [ws, conversationIds],
      );
      const noticeCount =
        (
          await tx.get<{ n: number }>(`SELECT count(*) AS n FROM notices WHERE ${inConversations}`, [
            ws,
            conversationIds,
          ])
        )?.n ?? 0;

      // The contact's queued work would carry its data to a platform: gone, whatever the outcome.
      // A delivery in flight on a live lease stays: it keeps its place at the head of its queue, so
      // the connector's erasure (queued behind it) runs after it and removes what it posted. A
      // claim committing meanwhile is seen: Postgres re-checks the WHERE on the row it waited for.
      let jobsRemoved = await tx.run(
        `DELETE FROM jobs WHERE ${inConversations} AND NOT (state = 'running' AND lease_until >= $3)`,
        [ws, conversationIds, at],
      );
      jobsRemoved += await tx.run(`DELETE FROM dead_jobs WHERE ${inConversations}`, [ws, conversationIds]);

      if (outcome === 'erased') {
        const by = `erasure:${id}`;
        await tx.run(
          `UPDATE messages SET text = NULL, content = $3, purged_at = $4, purged_by = $5
           WHERE workspace_id = $1 AND id = ANY($2::text[])`,
          [ws, messageIds, EMPTY_OBJECT, at, by],
        );
        await tx.run(
          'UPDATE message_statuses SET raw = $3, purged_at = $4 WHERE workspace_id = $1 AND id = ANY($2::text[])',
          [ws, statusIds, EMPTY_OBJECT, at],
        );
        await tx.run(
          `UPDATE internal_notes SET purged_at = $3
           WHERE workspace_id = $1 AND id = ANY($2::text[]) AND purged_at IS NULL`,
          [ws, noteIds, at],
        );
        // The archive keeps the records' leaves (so the log still verifies, showing them purged);
        // their sealed content goes, agents' archived internal notes about the contact included.
        await this.archive.purge(
          tx,
          ws,
          await this.archiveSeqsOfEntities(tx, ws, [...messageIds, ...statusIds, ...noteIds]),
          { actor: by, reason: `erasure requested by ${actor}`, details: { erasure: id } },
          this.now(),
        );
        await tx.run(`UPDATE notices SET text = '', templates = '[]'::jsonb WHERE ${inConversations}`, [
          ws,
          conversationIds,
        ]);
        await tx.run(
          'UPDATE conversations SET erased_at = $3 WHERE workspace_id = $1 AND id = ANY($2::text[])',
          [ws, conversationIds, at],
        );
        await forgetIdentity(tx, ws, input, contactIds, conversationIds, at);
      } else {
        await tx.run(
          'UPDATE conversations SET restricted_at = $3 WHERE workspace_id = $1 AND id = ANY($2::text[])',
          [ws, conversationIds, at],
        );
      }

      // Every connector that mirrors erasures is told, one job per conversation, like any delivery.
      const connectors = (
        await tx.all<{ connector_id: string }>(
          `SELECT connector_id FROM connector_settings
           WHERE workspace_id = $1 AND enabled AND strpos(events, ',conversation.erased,') > 0
           ORDER BY connector_id`,
          [ws],
        )
      ).map((r) => r.connector_id);
      const parts: ErasureConnectorPart[] = [];
      const jobs: NewJob[] = [];
      for (const conversationId of conversationIds) {
        for (const connectorId of connectors) {
          jobs.push({
            workspaceId: ws,
            connectorId,
            conversationId,
            eventType: 'conversation.erased',
            entityId: id,
            sortTs: at,
            runAt: at,
          });
          parts.push({
            connectorId,
            conversationId,
            platformIds: await platformIds(tx, ws, connectorId, [
              conversationId,
              ...contactIds,
              ...messageIds,
            ]),
            state: 'queued',
            confirmedAt: null,
            error: null,
          });
        }
      }
      await this.queue.enqueueIn(tx.client, jobs);

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
      await tx.run(
        `INSERT INTO erasures (id, workspace_id, outcome, requested_by, requested_at, certificate)
         VALUES ($1, $2, $3, $4, $5, $6::jsonb)`,
        [id, ws, outcome, actor, at, jsonb(certificate)],
      );
      await this.recordActOf(tx, act, 'erasure', ws, { certificate });
      // Ingest's caches of identities and fan-out targets must not file a new message under the
      // old record.
      await this.bumpConfigVersion(tx);
      return { certificate, messageIds: outcome === 'erased' ? messageIds : [] };
    });
  }

  /** Adds the media files deleted after the erasure committed to its certificate (an admin act too). */
  recordErasureFiles(input: {
    workspaceId: string;
    erasureId: string;
    files: readonly string[];
    actor: AuditActor;
  }): Promise<void> {
    return this.db.transaction(async (tx) => {
      // Locked: two recordings at once take turns, the second writing over the first's list.
      const row = await tx.get<{ certificate: ErasureCertificate }>(
        'SELECT certificate FROM erasures WHERE id = $1 AND workspace_id = $2 FOR UPDATE',
        [input.erasureId, input.workspaceId],
      );
      if (!row) {
        throw new WabridgeError(
          'not_found',
          `no erasure ${input.erasureId} in workspace ${input.workspaceId}`,
          { status: 404 },
        );
      }
      const certificate = row.certificate;
      certificate.wabridge.mediaFiles = [...input.files];
      await tx.run('UPDATE erasures SET certificate = $2::jsonb WHERE id = $1', [
        input.erasureId,
        jsonb(certificate),
      ]);
      await this.recordActOf(tx, input.actor, 'erasure.media', input.workspaceId, {
        erasure: input.erasureId,
        files: input.files,
      });
    });
  }

  /** The certificate as it stands now: each connector's part confirmed, queued, retrying or dead. */
  async getErasure(workspaceId: string, erasureId: string): Promise<ErasureCertificate | null> {
    const row = await this.db.get<{ certificate: ErasureCertificate }>(
      'SELECT certificate FROM erasures WHERE id = $1 AND workspace_id = $2',
      [erasureId, workspaceId],
    );
    if (!row) return null;
    const certificate = row.certificate;
    for (const part of certificate.connectors) {
      const where = [workspaceId, erasureId, part.connectorId, part.conversationId];
      const confirmed = await this.db.get<{ confirmed_at: number }>(
        `SELECT confirmed_at FROM erasure_confirmations
         WHERE workspace_id = $1 AND erasure_id = $2 AND connector_id = $3 AND conversation_id = $4`,
        where,
      );
      if (confirmed) {
        Object.assign(part, { state: 'confirmed', confirmedAt: confirmed.confirmed_at, error: null });
        continue;
      }
      const job = await this.db.get<{ last_error: string | null }>(
        `SELECT last_error FROM jobs WHERE workspace_id = $1 AND conversation_id = $4 AND connector_id = $3
           AND event_type = 'conversation.erased' AND entity_id = $2 LIMIT 1`,
        where,
      );
      if (job) {
        Object.assign(part, { state: job.last_error ? 'retrying' : 'queued', error: job.last_error });
        continue;
      }
      const dead = await this.db.get<{ reason: string }>(
        `SELECT reason FROM dead_jobs WHERE workspace_id = $1 AND conversation_id = $4 AND connector_id = $3
           AND event_type = 'conversation.erased' AND entity_id = $2 LIMIT 1`,
        where,
      );
      if (dead) Object.assign(part, { state: 'dead', error: dead.reason });
    }
    return certificate;
  }

  /** The conversations an erasure covers, and whose they are. */
  async #subjectOf(tx: Tx, input: EraseInput): Promise<{ contactIds: string[]; conversationIds: string[] }> {
    const ws = input.workspaceId;
    if (input.subject.kind === 'conversation') {
      const id = input.subject.conversationId;
      const row = await tx.get<{ contact_id: string }>(
        'SELECT contact_id FROM conversations WHERE id = $1 AND workspace_id = $2',
        [id, ws],
      );
      if (!row) {
        throw new WabridgeError('not_found', `no conversation ${id} in workspace ${ws}`, { status: 404 });
      }
      await lockContacts(tx, ws, [row.contact_id]);
      return { contactIds: [row.contact_id], conversationIds: [id] };
    }
    const contactId = await findContactId(tx, ws, input.subject.identifier);
    if (!contactId) {
      throw new WabridgeError('not_found', `no contact ${input.subject.identifier} in workspace ${ws}`, {
        status: 404,
      });
    }
    // A contact merged into this one (an identity change seen late) is the same person.
    const contactIds = [
      contactId,
      ...(await ids(tx, 'SELECT id FROM contacts WHERE workspace_id = $1 AND merged_into = $2 ORDER BY id', [
        ws,
        contactId,
      ])),
    ];
    await lockContacts(tx, ws, contactIds);
    // Read after the lock: a conversation an ingest that held the contact made is seen.
    const conversationIds = await ids(
      tx,
      'SELECT id FROM conversations WHERE workspace_id = $1 AND contact_id = ANY($2::text[]) ORDER BY id',
      [ws, contactIds],
    );
    return { contactIds, conversationIds };
  }
}

/**
 * Notes, in the statement that completes it (a part of its settlement: see queue/settle.ts), that
 * a connector removed its copy: when the completed job is an erasure's.
 */
export const confirmErasurePart =
  (at: number) =>
  (param: Param): string[] => [
    `erased AS (INSERT INTO erasure_confirmations (erasure_id, connector_id, conversation_id, workspace_id, confirmed_at)
      SELECT entity_id, connector_id, conversation_id, workspace_id, ${param(at)}::bigint FROM job
      WHERE event_type = 'conversation.erased'
      ON CONFLICT DO NOTHING)`,
  ];

async function ids(q: Queryable, sql: string, params: unknown[]): Promise<string[]> {
  return (await q.all<{ id: string }>(sql, params)).map((r) => r.id);
}

/**
 * The contact an identifier names in a workspace: its id, its WhatsApp number (digits; a leading
 * + and spaces or dashes are ignored) or its BSUID; a contact merged into another comes last.
 */
async function findContactId(q: Queryable, ws: string, identifier: string): Promise<string | null> {
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

/** The active holds covering these conversations (or contacts), as the SQLite store's holdsCovering. */
async function holdsCovering(
  q: Queryable,
  ws: string,
  conversationIds: readonly string[],
  contactIds: readonly string[],
) {
  return (
    await q.all<HoldRow>(
      `SELECT h.* FROM legal_holds h WHERE h.workspace_id = $1 AND h.released_at IS NULL AND (
         h.scope = 'workspace'
         OR h.conversation_id = ANY($2::text[])
         OR h.contact_id = ANY($3::text[])
         OR h.contact_id IN (SELECT c.contact_id FROM conversations c WHERE c.workspace_id = $1
                               AND c.id = ANY($2::text[]))
         OR (h.scope = 'range' AND EXISTS (SELECT 1 FROM messages m WHERE m.workspace_id = $1
               AND m.conversation_id = ANY($2::text[]) AND m.ts BETWEEN h.range_from AND h.range_to)))
       ORDER BY h.created_at, h.id`,
      [ws, conversationIds, contactIds],
    )
  ).map(toHold);
}

/** Why the law still requires keeping these conversations' content, or null when nothing does. */
async function retentionObligation(
  q: Queryable,
  ws: string,
  conversationIds: readonly string[],
  now: number,
): Promise<string | null> {
  // Messages first; a rule that keeps archived internal notes is an obligation of the same kind.
  for (const [kind, table] of [
    ['messages', 'messages'],
    ['notes', 'internal_notes'],
  ] as const) {
    const row = await q.get<RuleRow>(
      'SELECT * FROM retention_rules WHERE workspace_id = $1 AND record_kind = $2',
      [ws, kind],
    );
    const rule = row ? toRule(row) : null;
    if (!rule || rule.keepDays === null) continue;
    const newest = (
      await q.get<{ ts: number | null }>(
        `SELECT max(ts) AS ts FROM ${table} WHERE workspace_id = $1 AND purged_at IS NULL
           AND conversation_id = ANY($2::text[])`,
        [ws, conversationIds],
      )
    )?.ts;
    if (newest === null || newest === undefined) continue;
    const until = newest + rule.keepDays * DAY_MS;
    if (until <= now) continue;
    return `the workspace's retention rule keeps ${kind} ${rule.keepDays} days (set by ${rule.updatedBy}); the newest is from ${iso(newest)}, kept until ${iso(until)}`;
  }
  return null;
}

/**
 * A contact who writes again after an erasure starts a fresh record: the identifiers that would
 * file the message under the old one go. Erasing one conversation of a contact who has others
 * moves it to an anonymous contact instead (the others keep theirs).
 */
/**
 * Locks the erased contacts FOR UPDATE before their messages are read: an ingest holding one
 * (FOR KEY SHARE, `contacts.ts`) commits first and its message is erased with the rest, and an
 * ingest arriving later waits, then finds the cleared record and starts a fresh one.
 */
async function lockContacts(q: Queryable, ws: string, contactIds: readonly string[]): Promise<void> {
  await q.run(
    'SELECT 1 FROM contacts WHERE workspace_id = $1 AND id = ANY($2::text[]) ORDER BY id FOR UPDATE',
    [ws, contactIds],
  );
}

async function forgetIdentity(
  q: Queryable,
  ws: string,
  input: EraseInput,
  contactIds: readonly string[],
  conversationIds: readonly string[],
  at: number,
): Promise<void> {
  const others =
    input.subject.kind === 'conversation'
      ? ((
          await q.get<{ n: number }>(
            `SELECT count(*) AS n FROM conversations WHERE workspace_id = $1 AND contact_id = $2
               AND erased_at IS NULL AND NOT (id = ANY($3::text[]))`,
            [ws, contactIds[0], conversationIds],
          )
        )?.n ?? 0)
      : 0;
  if (others > 0) {
    const anonymous = newId('ct');
    await q.run('INSERT INTO contacts (id, workspace_id, created_at, updated_at) VALUES ($1, $2, $3, $3)', [
      anonymous,
      ws,
      at,
    ]);
    await q.run('UPDATE conversations SET contact_id = $3 WHERE workspace_id = $1 AND id = ANY($2::text[])', [
      ws,
      conversationIds,
      anonymous,
    ]);
    return;
  }
  await q.run(
    `UPDATE contacts SET wa_id = NULL, bsuid = NULL, parent_bsuid = NULL, username = NULL, profile_name = NULL,
       updated_at = $3
     WHERE workspace_id = $1 AND id = ANY($2::text[])`,
    [ws, contactIds, at],
  );
}

/** What the connector's platform calls these entities (threads, records), for the certificate. */
function platformIds(q: Queryable, ws: string, connectorId: string, entityIds: readonly string[]) {
  return q.all<{ kind: string; entityId: string; externalId: string }>(
    `SELECT kind, entity_id AS "entityId", external_id AS "externalId" FROM external_refs
     WHERE workspace_id = $1 AND connector_id = $2 AND entity_id = ANY($3::text[])
     ORDER BY kind, entity_id`,
    [ws, connectorId, entityIds],
  );
}
