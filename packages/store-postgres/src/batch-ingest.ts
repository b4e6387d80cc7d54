import type { KeyObject } from 'node:crypto';
import type { IngestMessage, IngestMessagesChange, IngestResult, IngestUnit } from '@wabridge/core';
import { newId } from '@wabridge/core';
import type { SealedContent } from './archive.ts';
import { PgContacts } from './contacts.ts';
import { pgErrorCode } from './database.ts';
import type { Pending } from './fan-out.ts';

/** A message of a plain webhook, where it came from, and what became of it. */
interface Item {
  unit: number;
  change: IngestMessagesChange;
  message: IngestMessage;
  receivedAt: number;
  /** Stored before, or earlier in the batch: counted a duplicate, nothing resolved or written. */
  duplicate: boolean;
}

/**
 * A row `ingest_plain` answers: a message it stored (1-based place in its arrays), or (item null)
 * the head of a log the batch appends to, locked until COMMIT.
 */
type StoredRow =
  | { item: number; conversation_id: string; jobs: number; log_id: null }
  | {
      item: null;
      log_id: string;
      log_size: number;
      log_epoch: string;
      log_append_id: string | null;
      log_edge: Buffer[];
    };

/** The SQLSTATE `ingest_plain` refuses a batch with when a key it was sealed with was rotated. */
export const STALE_DATA_KEY = 'WBK01';

/** An ingest's counts before anything is stored. */
export const emptyResult = (): IngestResult => ({
  messagesStored: 0,
  messagesDuplicate: 0,
  statusesStored: 0,
  statusesDuplicate: 0,
  consentChanges: 0,
  jobsQueued: 0,
  unrouted: 0,
  platformEvents: 0,
});

/**
 * The common webhook, stored for a whole group commit by one statement, `ingest_plain`
 * (schema/ingest-batch.ts), instead of seven: new inbound messages (no reply, reaction, consent
 * keyword or identity change) of customers known by wa_id alone. The process seals the bodies
 * (with the workspace's current key as it last read it; the statement checks it is still current)
 * and, from what the statement answers (which messages it stored, in which conversations, how many
 * jobs each queued), builds their archive records, appended by `flush` as before. What each row
 * becomes is what the per-message path (ingest.ts) makes of the same webhooks one after another: a
 * customer's profile takes the latest non-null values, a contact another gateway made meanwhile is
 * found again, a message another gateway stored meanwhile is a duplicate. A statement that fails
 * fails the batch, which then stores each webhook alone (see ingestBatch). Everything else takes
 * the per-message path.
 */
export abstract class PgBatchIngest extends PgContacts {
  /** Whether every change of the unit can take the batch path. */
  protected isPlain(unit: IngestUnit): boolean {
    return unit.changes.every(
      (change) =>
        change.kind === 'messages' &&
        change.statuses.length === 0 &&
        change.errors.length === 0 &&
        change.messages.every(
          (m) =>
            (m.direction ?? 'inbound') === 'inbound' &&
            m.relatesTo === null &&
            m.consent === null &&
            m.identityChange === null &&
            m.contact.waId !== null &&
            m.contact.waId !== '' &&
            m.contact.bsuid === null &&
            (m.contact.parentBsuid ?? null) === null,
        ),
    );
  }

  /**
   * Stores plain units (see isPlain) in `p`'s transaction; answers each unit's result. Every
   * wamid of them joins `seen` (for the batch's other units). Refused with STALE_DATA_KEY when a
   * workspace's key was rotated since this process read it; the key is forgotten, so the batch
   * stored again seals with the new one.
   */
  protected async storePlain(
    p: Pending,
    units: readonly IngestUnit[],
    seen: Set<string>,
  ): Promise<IngestResult[]> {
    const items: Item[] = [];
    units.forEach((unit, index) => {
      for (const change of unit.changes) {
        if (change.kind !== 'messages') continue;
        for (const message of change.messages) {
          const duplicate = seen.has(message.wamid);
          seen.add(message.wamid);
          items.push({ unit: index, change, message, receivedAt: unit.receivedAt, duplicate });
        }
      }
    });
    const results = units.map(emptyResult);
    const fresh = items.filter((item) => !item.duplicate);
    const keys = new Map<string, { id: string; key: KeyObject }>();
    for (const { change } of fresh) {
      const ws = change.workspaceId;
      if (!keys.has(ws)) keys.set(ws, this.keyring.lastCurrent(ws) ?? (await this.keyring.current(p.tx, ws)));
    }
    const bodies = fresh.map(({ change, message }) =>
      this.archive.sealContentWith(
        keys.get(change.workspaceId) as { id: string; key: KeyObject },
        change.workspaceId,
        {
          content: message.content ?? null,
          text: message.text,
        },
      ),
    );
    const now = this.now();
    let rows: StoredRow[] = [];
    if (fresh.length > 0) {
      try {
        rows = await p.tx.all<StoredRow>(
          `SELECT * FROM ingest_plain($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12,
             $13, $14, $15, $16, $17, $18, $19, $20)`,
          [
            now,
            this.queue.channel,
            [...keys.keys()],
            [...keys.values()].map((k) => k.id),
            fresh.map((i) => i.message.id),
            fresh.map((i) => i.change.workspaceId),
            fresh.map((i) => i.message.contact.waId),
            fresh.map((i) => i.message.contact.username),
            fresh.map((i) => i.message.contact.profileName),
            fresh.map(() => newId('ct')),
            fresh.map((i) => i.change.phoneNumberId),
            fresh.map((i) => i.change.displayPhoneNumber),
            fresh.map(() => newId('cv')),
            fresh.map((i) => i.message.wamid),
            fresh.map((i) => i.message.type),
            fresh.map((i) => i.message.timestamp),
            bodies.map((b) => b.sealed),
            fresh.map((i) => i.receivedAt),
            // As inboundSortTs: within its own second at its arrival, a late one at the end of it.
            fresh.map(
              (i) => i.message.timestamp + Math.min(999, Math.max(0, i.receivedAt - i.message.timestamp)),
            ),
            fresh.map((i) => i.change.deliverAt),
          ],
        );
      } catch (error) {
        if (pgErrorCode(error) === STALE_DATA_KEY)
          for (const ws of keys.keys()) this.keyring.forgetCurrent(ws);
        throw error;
      }
    }
    const stored = new Map<number, { conversation_id: string; jobs: number }>();
    for (const row of rows) {
      if (row.item !== null) stored.set(row.item - 1, row);
      else {
        this.archive.noteLockedHead(p.tx, row.log_id, {
          size: row.log_size,
          epoch: row.log_epoch,
          appendId: row.log_append_id,
          edge: row.log_edge,
        });
      }
    }
    let k = 0;
    for (const item of items) {
      const result = results[item.unit] as IngestResult;
      const place = item.duplicate ? -1 : k++;
      const row = stored.get(place);
      if (!row) {
        result.messagesDuplicate++;
        continue;
      }
      const { message, change } = item;
      result.messagesStored++;
      result.jobsQueued += row.jobs;
      this.recordMessage(p, change.workspaceId, row.conversation_id, 'inbound', {
        id: message.id,
        wamid: message.wamid,
        type: message.type,
        ts: message.timestamp,
        body: bodies[place] as SealedContent,
        relatesTo: null,
        sender: null,
        at: item.receivedAt,
      });
    }
    return results;
  }
}
