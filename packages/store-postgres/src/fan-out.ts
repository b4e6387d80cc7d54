import type { ArchiveKind, DomainEventType, RecordConsentInput } from '@wabridge/core';
import type { ArchiveEntry, SealedContent } from './archive.ts';
import type { PostgresStoreOptions } from './context.ts';
import type { Tx } from './database.ts';
import { PgNotes } from './notes.ts';
import { jobsChannel, PgJobQueue } from './queue/pg-queue.ts';
import type { NewJob } from './queue/rows.ts';
import { jsonb } from './rows.ts';

/**
 * What one ingest or command transaction has to write at its end: the archive records, per log in
 * the order they happened, and the jobs, in the order they were queued. Written once each at the
 * end (`flush`): a webhook of many messages pays the archive's round trips and the enqueue once.
 */
export interface Pending {
  readonly tx: Tx;
  readonly records: Map<string, ArchiveEntry[]>;
  readonly jobs: NewJob[];
}

export const pendingIn = (tx: Tx): Pending => ({ tx, records: new Map(), jobs: [] });

/**
 * The helpers ingest and the recording commands share (of IngestStore): sealing columns, archive
 * records, fan-out of jobs to the connectors that mirror an event, and the consent ledger. The
 * jobs go through the queue's `enqueueIn`, in the caller's transaction, so a message and its jobs
 * commit together.
 */
export abstract class PgFanOut extends PgNotes {
  /** The queue's writer on the store's pool: only `enqueueIn` (and the JobStore role) use it. */
  protected readonly queue: PgJobQueue;

  constructor(options: PostgresStoreOptions) {
    super(options);
    this.queue = new PgJobQueue({ pool: this.db.pool, now: this.now, channel: jobsChannel(this.db.schema) });
  }

  /**
   * Writes what the transaction collected: the jobs, then the archive records (per log), as the
   * last statements before COMMIT. Each append locks its log's head until commit (appends to one
   * workspace take turns there, across processes), so nothing else of the transaction runs while
   * it is held: the lock costs the append's round trip and the commit's. The logs in one order
   * (by id): two transactions of many workspaces (group commits on two gateways) locking heads in
   * opposite orders would deadlock. Callers call it last.
   *
   * `thenCommit`: the caller returns right after it (nothing of the transaction runs or throws
   * after), so where the last log's head is held by the transaction already (batch ingest locked
   * it), its append goes with COMMIT pipelined behind it: one round trip under the lock, not two.
   */
  protected async flush(p: Pending, options: { thenCommit?: boolean } = {}): Promise<void> {
    if (p.jobs.length > 0) {
      const jobs = p.jobs.splice(0);
      await this.queue.enqueueIn(p.tx.client, jobs);
      const statuses = jobs.filter((j) => j.eventType === 'message.status').map((j) => j.entityId);
      if (statuses.length > 0) await coalesceStatuses(p.tx, statuses);
    }
    const logs = [...p.records.keys()].sort();
    for (const [i, log] of logs.entries()) {
      await this.archive.appendMany(p.tx, log, p.records.get(log) ?? [], {
        thenCommit: options.thenCommit === true && i === logs.length - 1,
      });
    }
    p.records.clear();
  }

  protected record(p: Pending, log: string, entry: ArchiveEntry): void {
    const list = p.records.get(log);
    if (list) list.push(entry);
    else p.records.set(log, [entry]);
  }

  /**
   * A content column's value as stored: sealed with the workspace's data key, or for what has
   * nothing to hide (the empty object) the UTF-8 JSON itself (see schema/ingest.ts).
   */
  protected async sealColumn(tx: Tx, ws: string, purpose: string, value: string): Promise<Buffer> {
    if (value === '{}' || value === 'null') return Buffer.from(value, 'utf8');
    const key = await this.keyring.current(tx, ws);
    return this.keyring.seal(key, ws, purpose, Buffer.from(value, 'utf8'));
  }

  /** A message's text and content, sealed once as its row's body and its archive record's content. */
  protected sealBody(tx: Tx, ws: string, text: string | null, content: unknown): Promise<SealedContent> {
    return this.archive.sealContent(tx, ws, { content: content ?? null, text });
  }

  /** The archive record of a stored message; an edit or a revoke is a revision. */
  protected recordMessage(
    p: Pending,
    ws: string,
    conversationId: string,
    direction: 'inbound' | 'outbound',
    m: {
      id: string;
      wamid: string | null;
      type: string;
      ts: number;
      body: SealedContent;
      relatesTo: string | null;
      sender: unknown;
      at: number;
    },
  ): void {
    const kind: ArchiveKind =
      m.type === 'edit' || m.type === 'revoke' ? 'message.revision' : `message.${direction}`;
    this.record(p, ws, {
      kind,
      entityId: m.id,
      // Keys in sorted order, as the SQLite store writes them.
      data: {
        conversation_id: conversationId,
        created_at: m.at,
        direction,
        id: m.id,
        relates_to: m.relatesTo,
        sender: m.sender ?? null,
        ts: m.ts,
        type: m.type,
        wamid: m.wamid,
      },
      at: m.at,
      content: m.body,
    });
  }

  /** An admin act by WhatsApp (a contact merge): its audit row now, its archive record at flush. */
  protected async recordWhatsAppAct(
    p: Pending,
    action: string,
    ws: string,
    details: Record<string, unknown>,
    at: number,
  ): Promise<void> {
    const row = await p.tx.get<{ id: number }>(
      `INSERT INTO audit_log (at, actor, action, workspace_id, details) VALUES ($1, 'whatsapp', $2, $3, $4::jsonb)
       RETURNING id`,
      [at, action, ws, jsonb(details)],
    );
    const id = row?.id ?? 0;
    this.record(p, ws, {
      kind: 'admin',
      entityId: `audit:${id}`,
      data: { audit_id: id, at, actor: 'whatsapp', action, workspace_id: ws, details },
      at,
      content: null,
    });
  }

  /**
   * Queues one job per enabled connector that mirrors `eventType` (but `excludeConnector`, where
   * the event came from). Answers how many.
   */
  protected async fanOut(
    p: Pending,
    ws: string,
    conversationId: string,
    eventType: DomainEventType,
    entityId: string,
    sortTs: number,
    runAt: number,
    excludeConnector: string | null,
  ): Promise<number> {
    const targets = await this.targetsOf(p.tx, ws, eventType, excludeConnector);
    for (const connectorId of targets) {
      p.jobs.push({ workspaceId: ws, connectorId, conversationId, eventType, entityId, sortTs, runAt });
    }
    return targets.length;
  }

  /**
   * The enabled connectors that mirror `eventType`, read once per transaction and key: a webhook
   * of many messages reads connector_settings once. Not cached across transactions: another
   * gateway may change a connector at any time, and the read is one index range.
   */
  private async targetsOf(
    tx: Tx,
    ws: string,
    eventType: DomainEventType,
    excludeConnector: string | null,
  ): Promise<string[]> {
    const key = `targets:${ws}\u0000${eventType}\u0000${excludeConnector ?? ''}`;
    const known = tx.scratch.get(key) as string[] | undefined;
    if (known) return known;
    const ids = (
      await tx.all<{ connector_id: string }>(
        `SELECT connector_id FROM connector_settings
         WHERE workspace_id = $1 AND enabled AND strpos(events, $2) > 0 AND connector_id IS DISTINCT FROM $3
         ORDER BY connector_id`,
        [ws, `,${eventType},`, excludeConnector],
      )
    ).map((r) => r.connector_id);
    tx.scratch.set(key, ids);
    return ids;
  }

  /**
   * Appends a consent entry (once per id), moves the current state if the entry is the newest of
   * its category, and fans `consent.changed` out to every conversation of the contact. Answers the
   * jobs queued, or -1 when the entry was already recorded.
   */
  protected async appendConsent(
    p: Pending,
    input: RecordConsentInput,
    entryId: string,
    sortTs = input.occurredAt,
  ): Promise<number> {
    const recorded = this.now();
    const inserted = await p.tx.run(
      `INSERT INTO consent_ledger (id, workspace_id, contact_id, category, state, source, actor, evidence_message_id,
         occurred_at, recorded_at, details)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11::jsonb) ON CONFLICT (id) DO NOTHING`,
      [
        entryId,
        input.workspaceId,
        input.contactId,
        input.category,
        input.state,
        input.source,
        input.actor,
        input.evidenceMessageId,
        input.occurredAt,
        recorded,
        jsonb(input.details),
      ],
    );
    if (inserted === 0) return -1;
    this.record(p, input.workspaceId, {
      kind: 'consent',
      entityId: entryId,
      data: {
        id: entryId,
        contact_id: input.contactId,
        category: input.category,
        state: input.state,
        source: input.source,
        actor: input.actor,
        evidence_message_id: input.evidenceMessageId,
        occurred_at: input.occurredAt,
        recorded_at: recorded,
        details: input.details,
      },
      at: recorded,
      content: null,
    });
    // The current state follows the latest occurrence: a late, older entry is history, not news,
    // and no mirror is told of it. The row lock orders two gateways' entries for one category.
    const current = await p.tx.run(
      `INSERT INTO consent_state AS s (workspace_id, contact_id, category, state, source, at, entry_id)
       VALUES ($1, $2, $3, $4, $5, $6, $7)
       ON CONFLICT (workspace_id, contact_id, category) DO UPDATE SET state = excluded.state,
         source = excluded.source, at = excluded.at, entry_id = excluded.entry_id
       WHERE excluded.at >= s.at`,
      [
        input.workspaceId,
        input.contactId,
        input.category,
        input.state,
        input.source,
        input.occurredAt,
        entryId,
      ],
    );
    if (current === 0) return 0;
    const conversations = await p.tx.all<{ id: string }>(
      'SELECT id FROM conversations WHERE workspace_id = $1 AND contact_id = $2 ORDER BY id',
      [input.workspaceId, input.contactId],
    );
    let queued = 0;
    // The connector the change came from hears of it too (it records the source beside the state).
    for (const c of conversations) {
      queued += await this.fanOut(
        p,
        input.workspaceId,
        c.id,
        'consent.changed',
        entryId,
        sortTs,
        this.now(),
        null,
      );
    }
    return queued;
  }
}

// The statuses that supersede one another, and their order. `failed` is left out: it is never
// dropped and drops nothing.
const RANKED_STATUSES = "('sent', 'delivered', 'read', 'played')";
const STATUS_RANK_SQL =
  "CASE s.status WHEN 'sent' THEN 1 WHEN 'delivered' THEN 2 WHEN 'read' THEN 3 ELSE 4 END";

/**
 * Status storms, as the SQLite store's admission does it (core: store/sqlite/jobs.ts,
 * coalesceStatuses): a queued status job is dropped when a status of the same message ranked after
 * it (sent < delivered < read < played) is queued for the same connector and queue, not yet
 * running; mirrors render a status from the message's current state, which the newer one already
 * shows. Run by the transaction that queued `statusIds`, for their messages only (by the partial
 * index jobs_status). A claim that takes a job meanwhile wins: the DELETE re-checks `ready` once
 * the row is free. Dropped jobs are counted per connector in jobs_coalesced, in one statement.
 */
async function coalesceStatuses(tx: Tx, statusIds: readonly string[]): Promise<void> {
  await tx.run(
    `WITH hit AS (
       SELECT DISTINCT s.message_id FROM message_statuses s
       WHERE s.id = ANY($1::text[]) AND s.message_id IS NOT NULL AND s.status IN ${RANKED_STATUSES}),
     queued AS (
       SELECT j.id, j.workspace_id, j.conversation_id, j.connector_id, ${STATUS_RANK_SQL} AS rank
       FROM hit JOIN message_statuses s ON s.message_id = hit.message_id
         JOIN jobs j ON j.entity_id = s.id AND j.event_type = 'message.status'
       WHERE j.state = 'ready' AND s.status IN ${RANKED_STATUSES}),
     gone AS (
       DELETE FROM jobs d WHERE d.state = 'ready' AND d.id IN (
         SELECT q.id FROM queued q WHERE EXISTS (
           SELECT 1 FROM queued l WHERE l.workspace_id = q.workspace_id AND l.conversation_id = q.conversation_id
             AND l.connector_id = q.connector_id AND l.rank > q.rank))
       RETURNING d.connector_id)
     INSERT INTO jobs_coalesced AS c (connector_id, n)
     SELECT connector_id, count(*) FROM gone GROUP BY connector_id ORDER BY connector_id
     ON CONFLICT (connector_id) DO UPDATE SET n = c.n + excluded.n`,
    [statusIds],
  );
}
