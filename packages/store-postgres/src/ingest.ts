import {
  contentId,
  GLOBAL_ARCHIVE_LOG,
  type IngestMessagesChange,
  type IngestOtherChange,
  type IngestPreferencesChange,
  type IngestResult,
  type IngestStore,
  type IngestUnit,
  PLATFORM_PAYLOAD,
  STATUS_RAW,
  UNROUTED_PAYLOAD,
  WabridgeError,
} from '@wabridge/core';
import { emptyResult, PgBatchIngest, STALE_DATA_KEY } from './batch-ingest.ts';
import { pgErrorCode, type Tx } from './database.ts';
import { type Pending, pendingIn } from './fan-out.ts';
import { GroupCommit, type Settled } from './group-commit.ts';
import { jsonb, type MessageRow } from './rows.ts';

/**
 * Webhooks per group commit at most: a burst beyond it takes more than one. Bounds a transaction's
 * length (its row locks, and the work redone when one webhook of it fails).
 */
const MAX_INGEST_BATCH = 256;

/**
 * Group commits of ingest written at once per process at most, each on a connection of the pool
 * (10 by default, so other calls keep some). A second one starts only while a full batch waits
 * (see GroupCommitOptions.inFlight): a burst beyond one batch overlaps their round trips, and they
 * take turns only from their archive append (the last statement, which locks the archive head) to
 * their commit.
 */
const INGEST_BATCHES_IN_FLIGHT = 4;

/** A webhook of a batch failed for what it carries; `index` is its place in the batch. */
class UnitFailure extends Error {
  readonly index: number;

  constructor(index: number, cause: unknown) {
    super('a webhook of the batch failed', { cause });
    this.index = index;
  }
}

/**
 * An error of the webhook itself, that storing it alone would meet too: the store refused it
 * (WabridgeError: a user without wa_id or BSUID…), or Postgres did for its data (class 22, data
 * exception) or a constraint (class 23). Anything else (a lost connection, a bug) is the batch's.
 */
function isOwnFault(error: unknown): boolean {
  if (error instanceof WabridgeError) return true;
  const code = pgErrorCode(error);
  return code !== undefined && (code.startsWith('22') || code.startsWith('23'));
}

// An outbound message only moves forward: a late `delivered` must not undo `read`.
const STATE_RANK: Record<string, number> = {
  pending: 0,
  sent: 1,
  delivered: 2,
  read: 3,
  played: 4,
  failed: 5,
};

/**
 * WhatsApp ingest on Postgres (IngestStore.ingest), ported from the SQLite store's (core:
 * store/sqlite/ingest.ts): a webhook's units in one transaction, with their archive records
 * (appendMany) and their jobs (the queue's enqueueIn). Any gateway may take any webhook: Meta's
 * retries, delivered to two gateways at once, store once because every row is unique on what the
 * platform names it (a message's wamid, a status's (wamid, status), an event's content id) and
 * inserted ON CONFLICT DO NOTHING; the second insert waits for the first's commit and then counts
 * a duplicate, queueing nothing.
 */
export abstract class PgIngest extends PgBatchIngest implements Pick<IngestStore, 'ingest'> {
  /**
   * Concurrent ingests of this process share transactions and commits (group commit, as the
   * SQLite store's writer thread batches them): see `ingestBatch`.
   */
  readonly #ingests = new GroupCommit<IngestUnit, IngestResult>((units) => this.ingestBatch(units), {
    maxBatch: MAX_INGEST_BATCH,
    // A pool smaller than the default leaves a connection to the process's other calls.
    inFlight: Math.max(1, Math.min(INGEST_BATCHES_IN_FLIGHT, (this.db.pool.options.max ?? 10) - 1)),
  });

  /** Group commits of ingest so far (each one transaction, unless one webhook of it failed). */
  get ingestBatches(): number {
    return this.#ingests.batches;
  }

  ingest(unit: IngestUnit): Promise<IngestResult> {
    return this.#ingests.submit(unit);
  }

  /**
   * Stores a batch of webhooks in one transaction, each answered on its own once it committed.
   * A webhook that fails for what it carries (bad input, a constraint: `isOwnFault`) leaves the
   * batch and the others are stored again without it, so its failure is its alone; the
   * transaction rolled back whole, nothing of it stays. A failure of the batch itself (the
   * connection, the commit, an error no webhook can be blamed for) stores each webhook in a
   * transaction of its own, so each gets the answer it would have had alone. Storing again is
   * safe: every row is inserted once by what the platform names it, and nothing was answered yet.
   */
  private async ingestBatch(units: readonly IngestUnit[]): Promise<Settled<IngestResult>[]> {
    const settled: Settled<IngestResult>[] = new Array(units.length);
    let left = units.map((_, i) => i);
    while (left.length > 0) {
      try {
        const results = await this.storeUnits(left.map((i) => units[i] as IngestUnit));
        left.forEach((i, k) => {
          settled[i] = { ok: true, value: results[k] as IngestResult };
        });
        return settled;
      } catch (error) {
        if (error instanceof UnitFailure) {
          const i = left[error.index] as number;
          settled[i] = { ok: false, error: error.cause };
          left = left.filter((_, k) => k !== error.index);
          continue;
        }
        if (left.length === 1) {
          settled[left[0] as number] = { ok: false, error };
          return settled;
        }
        for (const i of left) {
          try {
            const [result] = await this.storeUnits([units[i] as IngestUnit]);
            settled[i] = { ok: true, value: result as IngestResult };
          } catch (alone) {
            settled[i] = { ok: false, error: alone instanceof UnitFailure ? alone.cause : alone };
          }
        }
        return settled;
      }
    }
    return settled;
  }

  /**
   * One transaction storing `units`: the plain ones together (batch-ingest.ts), then the others
   * one by one, where a webhook's own failure is a `UnitFailure`. Stored again once when a data key
   * the plain ones were sealed with was rotated meanwhile (STALE_DATA_KEY): sealed anew with the
   * new key, nothing of the first attempt kept.
   */
  private async storeUnits(units: readonly IngestUnit[]): Promise<IngestResult[]> {
    try {
      return await this.storeUnitsOnce(units);
    } catch (error) {
      if (pgErrorCode(error) !== STALE_DATA_KEY) throw error;
      return this.storeUnitsOnce(units);
    }
  }

  private storeUnitsOnce(units: readonly IngestUnit[]): Promise<IngestResult[]> {
    return this.db.transaction(async (tx) => {
      const p = pendingIn(tx);
      const plain = units.map((unit) => this.isPlain(unit));
      const others = units.filter((_, i) => !plain[i]);
      // Every wamid of the plain units, then those of the others stored before the batch: the
      // others' duplicates, found before their senders are resolved (see ingestMessages).
      const seen = new Set<string>();
      const plainResults = await this.storePlain(
        p,
        units.filter((_, i) => plain[i]),
        seen,
      );
      if (others.length > 0) for (const wamid of await this.storedWamids(tx, others)) seen.add(wamid);
      const results: IngestResult[] = [];
      for (const [index, unit] of units.entries()) {
        if (plain[index]) {
          results.push(plainResults.shift() as IngestResult);
          continue;
        }
        try {
          results.push(await this.ingestUnit(p, unit, seen));
        } catch (error) {
          throw isOwnFault(error) ? new UnitFailure(index, error) : error;
        }
      }
      // Last: nothing runs after it, so its final archive append may carry the COMMIT.
      await this.flush(p, { thenCommit: true });
      return results;
    });
  }

  /**
   * The wamids of `units`' messages already stored, in one statement for all of them; each message
   * stored by the batch is added as it goes (see ingestMessages).
   */
  private async storedWamids(tx: Tx, units: readonly IngestUnit[]): Promise<Set<string>> {
    const wamids: string[] = [];
    for (const unit of units) {
      for (const change of unit.changes) {
        if (change.kind === 'messages') for (const m of change.messages) wamids.push(m.wamid);
      }
    }
    if (wamids.length === 0) return new Set();
    const rows = await tx.all<{ wamid: string }>('SELECT wamid FROM messages WHERE wamid = ANY($1::text[])', [
      wamids,
    ]);
    return new Set(rows.map((r) => r.wamid));
  }

  private async ingestUnit(p: Pending, unit: IngestUnit, seen: Set<string>): Promise<IngestResult> {
    const tx = p.tx;
    const result = emptyResult();
    for (const change of unit.changes) {
      switch (change.kind) {
        case 'messages':
          await this.ingestMessages(p, change, unit.receivedAt, result, seen);
          break;
        case 'user_preferences':
          await this.ingestPreferences(p, change, result);
          break;
        case 'unrouted':
          result.unrouted += await tx.run(
            `INSERT INTO unrouted_events (id, phone_number_id, field, payload, received_at)
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (id) DO NOTHING`,
            [
              change.id,
              change.phoneNumberId,
              change.field,
              // Not yet in any workspace: sealed with the global log's key.
              await this.sealColumn(tx, GLOBAL_ARCHIVE_LOG, UNROUTED_PAYLOAD, jsonb(change.payload)),
              unit.receivedAt,
            ],
          );
          break;
        case 'other':
          result.platformEvents += await this.insertPlatformEvent(tx, change, unit.receivedAt);
          break;
      }
    }
    return result;
  }

  private async ingestMessages(
    p: Pending,
    change: IngestMessagesChange,
    receivedAt: number,
    result: IngestResult,
    seen: Set<string>,
  ): Promise<void> {
    const tx = p.tx;
    const ws = change.workspaceId;
    for (const message of change.messages) {
      // A re-delivered message is a duplicate before its sender is resolved: resolving would write
      // (recreate a contact a number change has since renumbered, roll a profile name back).
      // `seen` holds those stored before the batch began and those the batch stored since.
      if (seen.has(message.wamid)) {
        result.messagesDuplicate++;
        continue;
      }
      const { contactId, conversationId } = await this.conversationFor(
        tx,
        ws,
        change.phoneNumberId,
        change.displayPhoneNumber,
        message.contact,
      );
      const outbound = message.direction === 'outbound';
      const body = await this.sealBody(tx, ws, message.text, message.content);
      // An outbound one is an echo of the WhatsApp Business app (coexistence): already sent, so
      // stored as `sent`, with no send job.
      const inserted = await tx.run(
        `INSERT INTO messages (id, workspace_id, conversation_id, direction, wamid, type, ts, text, content, state,
           sender, relates_to, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, NULL, $8, $9, $10::jsonb, $11, $12) ON CONFLICT (wamid) DO NOTHING`,
        [
          message.id,
          ws,
          conversationId,
          outbound ? 'outbound' : 'inbound',
          message.wamid,
          message.type,
          message.timestamp,
          body.sealed,
          outbound ? 'sent' : null,
          outbound ? jsonb(message.sender ?? null) : null,
          message.relatesTo,
          receivedAt,
        ],
      );
      seen.add(message.wamid);
      if (inserted === 0) {
        result.messagesDuplicate++;
        continue;
      }
      result.messagesStored++;
      this.recordMessage(p, ws, conversationId, outbound ? 'outbound' : 'inbound', {
        id: message.id,
        wamid: message.wamid,
        type: message.type,
        ts: message.timestamp,
        body,
        relatesTo: message.relatesTo,
        sender: outbound ? (message.sender ?? null) : null,
        at: receivedAt,
      });
      const sortTs = await this.inboundSortTs(tx, ws, message.timestamp, receivedAt, message.relatesTo);
      result.jobsQueued += await this.fanOut(
        p,
        ws,
        conversationId,
        outbound ? 'message.outbound' : 'message.inbound',
        message.id,
        sortTs,
        change.deliverAt,
        null,
      );
      if (message.identityChange) {
        await this.applyIdentityChange(p, ws, contactId, message.identityChange, receivedAt);
      }
      if (message.consent && !outbound) {
        result.consentChanges++;
        result.jobsQueued += await this.appendConsent(
          p,
          {
            commandKey: null,
            workspaceId: ws,
            contactId,
            category: message.consent.category,
            state: message.consent.state,
            source: 'keyword',
            actor: null,
            evidenceMessageId: message.id,
            occurredAt: message.timestamp,
            details: { keyword: message.text },
          },
          message.consent.entryId,
          sortTs,
        );
      }
    }
    for (const status of change.statuses) {
      const callbackMessageId =
        typeof status.raw.biz_opaque_callback_data === 'string' ? status.raw.biz_opaque_callback_data : null;
      // The message's row locked: two statuses of one message (from two gateways) move its state
      // one after the other, each from what the other left.
      let message = await tx.get<MessageRow>(
        'SELECT * FROM messages WHERE wamid = $1 AND workspace_id = $2 FOR UPDATE',
        [status.wamid, ws],
      );
      // A status can overtake our own record of the send; the callback data of every send links it.
      if (!message && callbackMessageId) {
        message = await tx.get<MessageRow>(
          "SELECT * FROM messages WHERE id = $1 AND workspace_id = $2 AND direction = 'outbound' FOR UPDATE",
          [callbackMessageId, ws],
        );
      }
      const inserted = await tx.run(
        `INSERT INTO message_statuses (id, workspace_id, wamid, message_id, status, ts, error, raw)
         VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8) ON CONFLICT (wamid, status) DO NOTHING`,
        [
          status.id,
          ws,
          status.wamid,
          message?.id ?? null,
          status.status,
          status.timestamp,
          status.error ? jsonb(status.error) : null,
          await this.sealColumn(tx, ws, STATUS_RAW, jsonb(status.raw)),
        ],
      );
      if (inserted === 0) {
        result.statusesDuplicate++;
        continue;
      }
      result.statusesStored++;
      this.record(p, ws, {
        kind: 'status',
        entityId: status.id,
        data: {
          id: status.id,
          wamid: status.wamid,
          message_id: message?.id ?? null,
          status: status.status,
          ts: status.timestamp,
          error: status.error ?? null,
        },
        at: this.now(),
        content: await this.archive.sealContent(tx, ws, { raw: status.raw }),
      });
      if (message) {
        result.jobsQueued += await this.applyStatus(
          p,
          message,
          status.id,
          status.wamid,
          status.status,
          status,
        );
      }
    }
    for (const error of change.errors) {
      // Content-derived id, like every other platform event: Meta's retries store the error once.
      const id = contentId('pev', ws, change.phoneNumberId, error);
      result.platformEvents += await this.insertPlatformEvent(
        tx,
        {
          id,
          workspaceId: ws,
          field: 'messages.errors',
          payload: error,
          parseIssues: [],
          origin: change.origin,
        },
        receivedAt,
      );
    }
  }

  /**
   * Where an inbound message sorts in its conversation's queues: within its own second at its
   * arrival, a late one at the end of its second, and a reply or reaction after what it answers.
   */
  private async inboundSortTs(
    tx: Tx,
    ws: string,
    timestamp: number,
    receivedAt: number,
    relatesTo: string | null,
  ): Promise<number> {
    const sortTs = timestamp + Math.min(999, Math.max(0, receivedAt - timestamp));
    if (!relatesTo) return sortTs;
    const related = await tx.get<{ ts: number }>(
      'SELECT ts FROM messages WHERE wamid = $1 AND workspace_id = $2',
      [relatesTo, ws],
    );
    return related && related.ts >= sortTs ? related.ts + 1 : sortTs;
  }

  /** Moves an outbound message's state forward and tells the mirrors. Answers the jobs queued. */
  protected async applyStatus(
    p: Pending,
    message: MessageRow,
    statusId: string,
    wamid: string,
    status: string,
    s: { timestamp: number; error: unknown },
  ): Promise<number> {
    const current = STATE_RANK[message.state ?? 'pending'] ?? 0;
    const next = STATE_RANK[status];
    const realWamid = wamid.startsWith('local:') ? null : wamid;
    if (next !== undefined && (status === 'failed' || (next > current && message.state !== 'failed'))) {
      await p.tx.run(
        'UPDATE messages SET state = $1, error = coalesce($2::jsonb, error), wamid = coalesce(wamid, $3) WHERE id = $4',
        [status, s.error ? jsonb(s.error) : null, realWamid, message.id],
      );
    } else if (message.wamid === null && realWamid !== null) {
      await p.tx.run('UPDATE messages SET wamid = $1 WHERE id = $2', [realWamid, message.id]);
    }
    // Statuses come after their message in every mirror's queue, whatever the clocks say.
    return this.fanOut(
      p,
      message.workspace_id,
      message.conversation_id,
      'message.status',
      statusId,
      Math.max(s.timestamp, message.ts),
      this.now(),
      null,
    );
  }

  private async ingestPreferences(
    p: Pending,
    change: IngestPreferencesChange,
    result: IngestResult,
  ): Promise<void> {
    for (const preference of change.preferences) {
      // A re-delivered preference is a duplicate before its user is resolved (see ingestMessages).
      if (await p.tx.get('SELECT 1 AS found FROM consent_ledger WHERE id = $1', [preference.entryId]))
        continue;
      const { id: contactId } = await this.resolveContact(p.tx, change.workspaceId, preference.contact);
      // A conversation, so the change shows in the mirrors of this number.
      await this.upsertConversation(
        p.tx,
        change.workspaceId,
        contactId,
        change.phoneNumberId,
        change.displayPhoneNumber,
      );
      const queued = await this.appendConsent(
        p,
        {
          commandKey: null,
          workspaceId: change.workspaceId,
          contactId,
          category: preference.category,
          state: preference.state,
          source: 'meta_preference',
          actor: null,
          evidenceMessageId: null,
          occurredAt: preference.occurredAt,
          details: preference.details,
        },
        preference.entryId,
      );
      if (queued >= 0) {
        result.consentChanges++;
        result.jobsQueued += queued;
      }
    }
  }

  /** Stores a platform event once (its id is derived from its content); 1 if it was new. */
  private async insertPlatformEvent(
    tx: Tx,
    event: Omit<IngestOtherChange, 'kind'>,
    receivedAt: number,
  ): Promise<number> {
    return tx.run(
      `INSERT INTO platform_events (id, workspace_id, field, payload, parse_issues, waba_id, entry_time, received_at)
       VALUES ($1, $2, $3, $4, $5::jsonb, $6, $7, $8) ON CONFLICT (id) DO NOTHING`,
      [
        event.id,
        event.workspaceId,
        event.field,
        await this.sealColumn(
          tx,
          event.workspaceId ?? GLOBAL_ARCHIVE_LOG,
          PLATFORM_PAYLOAD,
          jsonb(event.payload),
        ),
        jsonb(event.parseIssues),
        event.origin.wabaId,
        event.origin.entryTime,
        receivedAt,
      ],
    );
  }
}
