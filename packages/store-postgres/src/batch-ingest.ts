import type { IngestMessage, IngestMessagesChange, IngestResult, IngestUnit } from '@wabridge/core';
import { newId, WabridgeError } from '@wabridge/core';
import type { SealedContent } from './archive.ts';
import { PgContacts } from './contacts.ts';
import type { Tx } from './database.ts';
import type { Pending } from './fan-out.ts';

/** A message of a plain webhook, where it came from, and what became of it. */
interface Item {
  unit: number;
  change: IngestMessagesChange;
  message: IngestMessage;
  receivedAt: number;
  /** Stored before, or earlier in the batch: counted a duplicate, nothing resolved or written. */
  duplicate: boolean;
  contactId?: string;
  conversationId?: string;
  body?: SealedContent;
}

/** A customer's contact as the batch found or made it, with its conversations by number. */
interface Contact {
  id: string;
  username: string | null;
  profileName: string | null;
  conversations: Map<string, { id: string; displayPhoneNumber: string | null }>;
}

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
 * The common webhook, stored for a whole group commit in a handful of statements instead of a few
 * per message: new inbound messages (no reply, reaction, consent keyword or identity change) of
 * customers known by wa_id alone. Per workspace, one statement finds their contacts (locked FOR KEY
 * SHARE, as findContact locks them, for the erasure protocol) and their conversations on the
 * numbers written to, one makes the missing contacts and one the missing conversations; then one
 * statement stores every message. What each row becomes is what the per-message path
 * (ingest.ts) makes of the same webhooks one after another: a customer's profile takes the latest
 * non-null values, a contact another gateway made meanwhile is found again, a message another
 * gateway stored meanwhile is a duplicate. A statement that fails fails the batch, which then
 * stores each webhook alone (see ingestBatch). Everything else takes the per-message path.
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

  /** Stores plain units (see isPlain) in `p`'s transaction; answers each unit's result. */
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
    const fresh = items.filter((item) => !item.duplicate);
    const byWorkspace = new Map<string, Item[]>();
    for (const item of fresh) {
      const list = byWorkspace.get(item.change.workspaceId);
      if (list) list.push(item);
      else byWorkspace.set(item.change.workspaceId, [item]);
    }
    for (const [ws, list] of byWorkspace) await this.#resolve(p.tx, ws, list);
    for (const item of fresh) {
      item.body = await this.sealBody(p.tx, item.change.workspaceId, item.message.text, item.message.content);
    }
    const stored = await this.#insertMessages(p.tx, fresh);
    const results = units.map(emptyResult);
    for (const item of items) {
      const result = results[item.unit] as IngestResult;
      if (item.duplicate || !stored.has(item.message.wamid)) {
        result.messagesDuplicate++;
        continue;
      }
      const { message, change } = item;
      const ws = change.workspaceId;
      const conversationId = item.conversationId as string;
      result.messagesStored++;
      this.recordMessage(p, ws, conversationId, 'inbound', {
        id: message.id,
        wamid: message.wamid,
        type: message.type,
        ts: message.timestamp,
        body: item.body as SealedContent,
        relatesTo: null,
        sender: null,
        at: item.receivedAt,
      });
      // As inboundSortTs: within its own second at its arrival, a late one at the end of it.
      const sortTs = message.timestamp + Math.min(999, Math.max(0, item.receivedAt - message.timestamp));
      result.jobsQueued += await this.fanOut(
        p,
        ws,
        conversationId,
        'message.inbound',
        message.id,
        sortTs,
        change.deliverAt,
        null,
      );
    }
    return results;
  }

  /** Sets each item's contact and conversation, made or updated as needed. */
  async #resolve(tx: Tx, ws: string, items: readonly Item[]): Promise<void> {
    // Rows are written in key order (customers, conversations, messages): two gateways' batches
    // making the same new rows wait for one another instead of deadlocking.
    const waIds = [...new Set(items.map((item) => item.message.contact.waId as string))].sort();
    const numbers = [...new Set(items.map((item) => item.change.phoneNumberId))];
    const contacts = await this.#find(tx, ws, waIds, numbers);
    // A customer's latest non-null profile values, as messages one after another leave them.
    const latest = new Map<string, { username: string | null; profileName: string | null }>();
    for (const item of items) {
      const { waId, username, profileName } = item.message.contact;
      const last = latest.get(waId as string);
      latest.set(waId as string, {
        username: username ?? last?.username ?? null,
        profileName: profileName ?? last?.profileName ?? null,
      });
    }
    const missing = waIds.filter((waId) => !contacts.has(waId));
    if (missing.length > 0) {
      const now = this.now();
      // Another gateway making the same customer conflicts here and waits for it; what it made is
      // found by the next statement.
      const made = await tx.all<{ id: string; wa_id: string }>(
        `INSERT INTO contacts (id, workspace_id, wa_id, bsuid, parent_bsuid, username, profile_name, created_at, updated_at)
         SELECT id, $1, wa_id, NULL, NULL, username, profile_name, $2, $2
         FROM unnest($3::text[], $4::text[], $5::text[], $6::text[]) AS n(id, wa_id, username, profile_name)
         ON CONFLICT DO NOTHING RETURNING id, wa_id`,
        [
          ws,
          now,
          missing.map(() => newId('ct')),
          missing,
          missing.map((waId) => latest.get(waId)?.username ?? null),
          missing.map((waId) => latest.get(waId)?.profileName ?? null),
        ],
      );
      for (const row of made) {
        const profile = latest.get(row.wa_id);
        contacts.set(row.wa_id, {
          id: row.id,
          username: profile?.username ?? null,
          profileName: profile?.profileName ?? null,
          conversations: new Map(),
        });
      }
      const lost = missing.filter((waId) => !contacts.has(waId));
      if (lost.length > 0) {
        for (const [waId, contact] of await this.#find(tx, ws, lost, numbers)) contacts.set(waId, contact);
      }
    }
    const now = this.now();
    for (const [waId, profile] of latest) {
      const contact = contacts.get(waId);
      if (!contact) throw new WabridgeError('internal', 'a contact conflicted but cannot be found');
      if (
        (profile.username && profile.username !== contact.username) ||
        (profile.profileName && profile.profileName !== contact.profileName)
      ) {
        await tx.run(
          `UPDATE contacts SET username = coalesce($1, username), profile_name = coalesce($2, profile_name),
             updated_at = $3 WHERE id = $4`,
          [profile.username, profile.profileName, now, contact.id],
        );
      }
    }
    // Conversations: kept as they are when there (read, not upserted, as upsertConversation does),
    // made or given a display number otherwise, one statement for all.
    const wanted = new Map<string, { contactId: string; phone: string; display: string | null }>();
    for (const item of items) {
      const contact = contacts.get(item.message.contact.waId as string) as Contact;
      item.contactId = contact.id;
      const phone = item.change.phoneNumberId;
      const display = item.change.displayPhoneNumber;
      const found = contact.conversations.get(phone);
      const key = `${contact.id}\u0000${phone}`;
      if (found && (display === null || display === found.displayPhoneNumber) && !wanted.has(key)) {
        item.conversationId = found.id;
        continue;
      }
      const before = wanted.get(key);
      wanted.set(key, { contactId: contact.id, phone, display: display ?? before?.display ?? null });
    }
    if (wanted.size > 0) {
      const list = [...wanted.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, w]) => w);
      const rows = await tx.all<{ id: string; contact_id: string; phone_number_id: string }>(
        `INSERT INTO conversations AS c (id, workspace_id, contact_id, phone_number_id, display_phone_number, created_at)
         SELECT id, $1, contact_id, phone, display, $2
         FROM unnest($3::text[], $4::text[], $5::text[], $6::text[]) AS n(id, contact_id, phone, display)
         ON CONFLICT (workspace_id, contact_id, phone_number_id) DO UPDATE SET
           display_phone_number = coalesce(excluded.display_phone_number, c.display_phone_number)
         RETURNING id, contact_id, phone_number_id`,
        [
          ws,
          now,
          list.map(() => newId('cv')),
          list.map((w) => w.contactId),
          list.map((w) => w.phone),
          list.map((w) => w.display),
        ],
      );
      const ids = new Map(rows.map((r) => [`${r.contact_id}\u0000${r.phone_number_id}`, r.id]));
      for (const item of items) {
        item.conversationId ??= ids.get(`${item.contactId}\u0000${item.change.phoneNumberId}`);
        if (!item.conversationId) throw new WabridgeError('internal', 'conversation upsert returned no row');
      }
    }
  }

  /**
   * The contacts of `waIds` in `ws`, locked FOR KEY SHARE until commit (see findContact), each with
   * its conversations on `numbers`. One index probe per customer and per contact, whatever the
   * planner believes of the tables: each lookup is a LATERAL subquery on its unique key, and the
   * conversations' is kept from being flattened (OFFSET 0). Written as one join, the planner with
   * no statistics yet (new tables, until autovacuum's first ANALYZE) estimated a handful of rows
   * per workspace and scanned all of the workspace's conversations once per contact found: 6 ms
   * per batch of 25 after 7,000 messages, 40% of the server's CPU per webhook, growing with the
   * workspace (see docs/performance.md, "Ingest on Postgres").
   */
  async #find(
    tx: Tx,
    ws: string,
    waIds: readonly string[],
    numbers: readonly string[],
  ): Promise<Map<string, Contact>> {
    const rows = await tx.all<{
      id: string;
      wa_id: string;
      username: string | null;
      profile_name: string | null;
      phone_number_id: string | null;
      conversation_id: string | null;
      display_phone_number: string | null;
    }>(
      `SELECT c.id, c.wa_id, c.username, c.profile_name, cv.phone_number_id, cv.id AS conversation_id,
         cv.display_phone_number
       FROM unnest($2::text[]) AS w(wa_id)
       CROSS JOIN LATERAL (SELECT id, wa_id, username, profile_name FROM contacts
         WHERE workspace_id = $1 AND wa_id = w.wa_id FOR KEY SHARE) c
       LEFT JOIN LATERAL (SELECT id, phone_number_id, display_phone_number FROM conversations
         WHERE workspace_id = $1 AND contact_id = c.id AND phone_number_id = ANY($3::text[]) OFFSET 0) cv ON true`,
      [ws, waIds, numbers],
    );
    const contacts = new Map<string, Contact>();
    for (const row of rows) {
      let contact = contacts.get(row.wa_id);
      if (!contact) {
        contact = {
          id: row.id,
          username: row.username,
          profileName: row.profile_name,
          conversations: new Map(),
        };
        contacts.set(row.wa_id, contact);
      }
      if (row.conversation_id !== null && row.phone_number_id !== null) {
        contact.conversations.set(row.phone_number_id, {
          id: row.conversation_id,
          displayPhoneNumber: row.display_phone_number,
        });
      }
    }
    return contacts;
  }

  /** Inserts the messages in one statement; answers the wamids stored (not another's meanwhile). */
  async #insertMessages(tx: Tx, unordered: readonly Item[]): Promise<Set<string>> {
    if (unordered.length === 0) return new Set();
    const items = [...unordered].sort((a, b) =>
      a.message.wamid < b.message.wamid ? -1 : a.message.wamid > b.message.wamid ? 1 : 0,
    );
    const rows = await tx.all<{ wamid: string }>(
      `INSERT INTO messages (id, workspace_id, conversation_id, direction, wamid, type, ts, text, content, state,
         sender, relates_to, created_at)
       SELECT id, ws, conversation, 'inbound', wamid, type, ts, NULL, content, NULL, NULL, NULL, created
       FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bigint[], $7::bytea[], $8::bigint[])
         AS n(id, ws, conversation, wamid, type, ts, content, created)
       ON CONFLICT (wamid) DO NOTHING RETURNING wamid`,
      [
        items.map((i) => i.message.id),
        items.map((i) => i.change.workspaceId),
        items.map((i) => i.conversationId),
        items.map((i) => i.message.wamid),
        items.map((i) => i.message.type),
        items.map((i) => i.message.timestamp),
        items.map((i) => (i.body as SealedContent).sealed),
        items.map((i) => i.receivedAt),
      ],
    );
    return new Set(rows.map((r) => r.wamid));
  }
}
