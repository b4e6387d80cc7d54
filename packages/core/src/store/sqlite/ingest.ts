import type { DomainEventType } from '../../domain/events.ts';
import type { ConsentEntry, MessageError } from '../../domain/types.ts';
import { WabridgeError } from '../../errors/index.ts';
import { contentId, newId } from '../../ids/index.ts';
import {
  type ContactIdentity,
  type IngestMessagesChange,
  type IngestOtherChange,
  type IngestPreferencesChange,
  type IngestResult,
  type IngestStore,
  type IngestUnit,
  type RecordConsentInput,
  type RecordNoteInput,
  type RecordNoticeInput,
  type RecordOutboundInput,
  WHATSAPP_SENDER,
} from '../types.ts';
import { GLOBAL_ARCHIVE_LOG, type SealedContent } from './archive.ts';
import { PLATFORM_PAYLOAD, type SqliteStoreOptions, STATUS_RAW, UNROUTED_PAYLOAD } from './context.ts';
import { recordNote } from './notes.ts';
import { SqliteReads } from './reads.ts';
import { type ConsentRow, type ContactRow, json, type MessageRow, toConsentEntry } from './rows.ts';

// An outbound message only moves forward: a late `delivered` must not undo `read`.
const STATE_RANK: Record<string, number> = {
  pending: 0,
  sent: 1,
  delivered: 2,
  read: 3,
  played: 4,
  failed: 5,
};

/** WhatsApp ingest and the connectors' commands, with the fan-out of their jobs (IngestStore). */
export abstract class SqliteIngest extends SqliteReads implements IngestStore {
  private readonly identities = new Map<string, { contactId: string; conversationId: string }>();
  /** Per (workspace, event type, connector left out): where a fan-out goes (see fanOut). */
  private readonly fanOutTargets = new Map<string, { connectors: string; count: number }>();
  /** The config version the two caches above were filled under. */
  private cachedConfigVersion = '';

  constructor(options: SqliteStoreOptions) {
    super(options);
    this.db.onRollback(() => {
      this.identities.clear();
      this.fanOutTargets.clear();
    });
  }

  // --- WhatsApp ingest -----------------------------------------------------------------------

  ingest(unit: IngestUnit): Promise<IngestResult> {
    return this.db.write(() => {
      const result: IngestResult = {
        messagesStored: 0,
        messagesDuplicate: 0,
        statusesStored: 0,
        statusesDuplicate: 0,
        consentChanges: 0,
        jobsQueued: 0,
        unrouted: 0,
        platformEvents: 0,
      };
      for (const change of unit.changes) {
        switch (change.kind) {
          case 'messages':
            this.ingestMessages(change, unit.receivedAt, result);
            break;
          case 'user_preferences':
            this.ingestPreferences(change, result);
            break;
          case 'unrouted':
            result.unrouted += this.db.run(
              `INSERT INTO unrouted_events (id, phone_number_id, field, payload, received_at)
               VALUES (:id, :pn, :field, :payload, :at) ON CONFLICT (id) DO NOTHING`,
              {
                id: change.id,
                pn: change.phoneNumberId,
                field: change.field,
                // Not yet in any workspace: sealed with the global log's key.
                payload: this.sealColumn(GLOBAL_ARCHIVE_LOG, UNROUTED_PAYLOAD, json(change.payload)),
                at: unit.receivedAt,
              },
            ).changes;
            break;
          case 'other':
            result.platformEvents += this.insertPlatformEvent(change, unit.receivedAt);
            break;
        }
      }
      return result;
    });
  }

  private ingestMessages(change: IngestMessagesChange, receivedAt: number, result: IngestResult): void {
    const ws = change.workspaceId;
    for (const message of change.messages) {
      const key = identityKey(ws, change.phoneNumberId, change.displayPhoneNumber, message.contact);
      const known = this.knownConversation(key);
      // A re-delivered message is a duplicate before its sender is resolved: resolving would write
      // (recreate the contact a number change has since renumbered, roll a profile name back). A
      // sender known as they are now writes nothing, so only the others cost this lookup.
      if (
        !known &&
        this.db.get('SELECT 1 AS found FROM messages WHERE wamid = :wamid', { wamid: message.wamid })
      ) {
        result.messagesDuplicate++;
        continue;
      }
      // The 24-hour window is read from the messages themselves (see CONVERSATION_COLUMNS).
      const { contactId, conversationId } =
        known ??
        this.conversationFor(key, ws, change.phoneNumberId, change.displayPhoneNumber, message.contact);
      const outbound = message.direction === 'outbound';
      const body = this.sealBody(ws, message.text, message.content);
      const inserted = outbound
        ? this.insertEcho(ws, conversationId, message, body, receivedAt)
        : this.db.run(
            `INSERT INTO messages (id, workspace_id, conversation_id, direction, wamid, type, ts, text, content, relates_to, created_at)
             VALUES (:id, :ws, :conversation, 'inbound', :wamid, :type, :ts, :text, :content, :relates, :at)
             ON CONFLICT (wamid) DO NOTHING`,
            {
              id: message.id,
              ws,
              conversation: conversationId,
              wamid: message.wamid,
              type: message.type,
              ts: message.timestamp,
              text: null,
              content: body.sealed,
              relates: message.relatesTo,
              at: receivedAt,
            },
          );
      if (inserted.changes === 0) {
        result.messagesDuplicate++;
        continue;
      }
      result.messagesStored++;
      this.archiveMessage(ws, conversationId, outbound ? 'outbound' : 'inbound', {
        id: message.id,
        wamid: message.wamid,
        type: message.type,
        ts: message.timestamp,
        body,
        relatesTo: message.relatesTo,
        sender: outbound ? (message.sender ?? null) : null,
        at: receivedAt,
      });
      const sortTs = this.inboundSortTs(ws, message.timestamp, receivedAt, message.relatesTo);
      result.jobsQueued += this.fanOut(
        ws,
        conversationId,
        outbound ? 'message.outbound' : 'message.inbound',
        message.id,
        sortTs,
        change.deliverAt,
        null,
      );
      if (message.identityChange) {
        this.applyIdentityChange(ws, contactId, message.identityChange, receivedAt);
        this.identities.clear();
      }
      if (message.consent && !outbound) {
        result.consentChanges++;
        result.jobsQueued += this.appendConsent(
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
      let message = this.db.get<MessageRow>(
        'SELECT * FROM messages WHERE wamid = :wamid AND workspace_id = :ws',
        {
          wamid: status.wamid,
          ws,
        },
      );
      // A status can overtake our own record of the send (we learn the wamid from the send
      // response); the callback data we attach to every send links it anyway.
      if (!message && callbackMessageId) {
        message = this.db.get<MessageRow>(
          "SELECT * FROM messages WHERE id = :id AND workspace_id = :ws AND direction = 'outbound'",
          { id: callbackMessageId, ws },
        );
      }
      const inserted = this.db.run(
        `INSERT INTO message_statuses (id, workspace_id, wamid, message_id, status, ts, error, raw)
         VALUES (:id, :ws, :wamid, :message, :status, :ts, :error, :raw) ON CONFLICT (wamid, status) DO NOTHING`,
        {
          id: status.id,
          ws,
          wamid: status.wamid,
          message: message?.id ?? null,
          status: status.status,
          ts: status.timestamp,
          error: status.error ? json(status.error) : null,
          raw: this.sealColumn(ws, STATUS_RAW, json(status.raw)),
        },
      );
      if (inserted.changes === 0) {
        result.statusesDuplicate++;
        continue;
      }
      result.statusesStored++;
      // Keys in sorted order: the record is then written by JSON.stringify (see canonicalJson).
      this.archiveStatus(ws, {
        error: status.error ?? null,
        id: status.id,
        message_id: message?.id ?? null,
        raw: status.raw,
        status: status.status,
        ts: status.timestamp,
        wamid: status.wamid,
      });
      if (message) {
        result.jobsQueued += this.applyStatus(
          message,
          status.id,
          status.wamid,
          status.status,
          status.timestamp,
          status.error,
        );
      }
    }
    for (const error of change.errors) {
      // Content-derived id, like every other platform event: Meta's retries store the error once.
      const id = contentId('pev', ws, change.phoneNumberId, error);
      result.platformEvents += this.insertPlatformEvent(
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
   * Where an inbound message sorts in its conversation's queues. WhatsApp times are whole seconds
   * while our own messages carry milliseconds, so within one second the order would be a guess:
   * a message that reached us within its own second sorts at its arrival (our clock, like our own
   * messages); a late one at the end of its second. A reply or reaction sorts after the message it
   * answers in any case.
   */
  private inboundSortTs(ws: string, timestamp: number, receivedAt: number, relatesTo: string | null): number {
    const sortTs = timestamp + Math.min(999, Math.max(0, receivedAt - timestamp));
    if (!relatesTo) return sortTs;
    const related = this.db.get<{ ts: number }>(
      'SELECT ts FROM messages WHERE wamid = :wamid AND workspace_id = :ws',
      {
        wamid: relatesTo,
        ws,
      },
    );
    return related && related.ts >= sortTs ? related.ts + 1 : sortTs;
  }

  /**
   * A message the business sent from the WhatsApp Business app (coexistence): an outbound message
   * WhatsApp has already sent, so it is stored as `sent` and gets no send job. Unique on its wamid
   * like every message, so Meta's retries store it once.
   */
  private insertEcho(
    ws: string,
    conversationId: string,
    message: IngestMessagesChange['messages'][number],
    body: SealedContent,
    receivedAt: number,
  ): { changes: number } {
    return this.db.run(
      `INSERT INTO messages (id, workspace_id, conversation_id, direction, wamid, type, ts, text, content, state, sender,
         relates_to, created_at)
       VALUES (:id, :ws, :conversation, 'outbound', :wamid, :type, :ts, :text, :content, 'sent', :sender, :relates, :at)
       ON CONFLICT (wamid) DO NOTHING`,
      {
        id: message.id,
        ws,
        conversation: conversationId,
        wamid: message.wamid,
        type: message.type,
        ts: message.timestamp,
        text: null,
        content: body.sealed,
        sender: json(message.sender ?? null),
        relates: message.relatesTo,
        at: receivedAt,
      },
    );
  }

  /** Moves an outbound message's state forward and tells the mirrors. Returns jobs queued. */
  protected applyStatus(
    message: MessageRow,
    statusId: string,
    wamid: string,
    status: string,
    timestamp: number,
    error: MessageError | null,
  ): number {
    const current = STATE_RANK[message.state ?? 'pending'] ?? 0;
    const next = STATE_RANK[status];
    if (next !== undefined && (status === 'failed' || (next > current && message.state !== 'failed'))) {
      this.db.run(
        'UPDATE messages SET state = :state, error = coalesce(:error, error), wamid = coalesce(wamid, :wamid) WHERE id = :id',
        {
          state: status,
          error: error ? json(error) : null,
          wamid: wamid.startsWith('local:') ? null : wamid,
          id: message.id,
        },
      );
    } else if (message.wamid === null && !wamid.startsWith('local:')) {
      this.db.run('UPDATE messages SET wamid = :wamid WHERE id = :id', { wamid, id: message.id });
    }
    // Statuses come after their message in every mirror's queue, whatever the clocks say.
    const sortTs = Math.max(timestamp, message.ts);
    return this.fanOut(
      message.workspace_id,
      message.conversation_id,
      'message.status',
      statusId,
      sortTs,
      this.now(),
      null,
    );
  }

  private ingestPreferences(change: IngestPreferencesChange, result: IngestResult): void {
    for (const preference of change.preferences) {
      // A re-delivered preference is a duplicate before its user is resolved: resolving would write
      // (recreate a contact under a number the customer has since left), like a re-delivered message.
      if (this.db.get('SELECT 1 AS found FROM consent_ledger WHERE id = :id', { id: preference.entryId }))
        continue;
      const contactId = this.resolveContact(change.workspaceId, preference.contact);
      // Make sure a conversation exists, so the change shows in the mirrors of this number.
      this.upsertConversation(change.workspaceId, contactId, change.phoneNumberId, change.displayPhoneNumber);
      const queued = this.appendConsent(
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
  private insertPlatformEvent(event: Omit<IngestOtherChange, 'kind'>, receivedAt: number): number {
    return this.db.run(
      `INSERT INTO platform_events (id, workspace_id, field, payload, parse_issues, waba_id, entry_time, received_at)
       VALUES (:id, :ws, :field, :payload, :issues, :waba, :time, :at) ON CONFLICT (id) DO NOTHING`,
      {
        id: event.id,
        ws: event.workspaceId,
        field: event.field,
        payload: this.sealColumn(
          event.workspaceId ?? GLOBAL_ARCHIVE_LOG,
          PLATFORM_PAYLOAD,
          json(event.payload),
        ),
        issues: json(event.parseIssues),
        waba: event.origin.wabaId,
        time: event.origin.entryTime,
        at: receivedAt,
      },
    ).changes;
  }

  /**
   * The contact and conversation of a customer seen before with the same identifiers and profile,
   * from memory: such a message costs no contact lookup and no conversation write. The cache only
   * holds rows this connection read or wrote: it is dropped when a transaction rolls back and when
   * the config version moves (a deleted workspace), so it never names a row that does not exist.
   */
  private knownConversation(key: string): { contactId: string; conversationId: string } | undefined {
    this.checkConfigVersion();
    return this.identities.get(key);
  }

  /**
   * Drops the caches of rows that workspace and connector changes can invalidate when the config
   * version has moved. Only called inside a write transaction, which holds the database's write
   * lock: no other process can move the version until it ends, and this store's own moves reset
   * the check (bumpConfigVersion). So one read per transaction, not one per message.
   */
  private checkConfigVersion(): void {
    if (this.configCheckedIn === this.db.transactions) return;
    const version =
      this.db.get<{ value: string }>("SELECT value FROM meta WHERE key = 'config_version'")?.value ?? '';
    if (version !== this.cachedConfigVersion) {
      this.identities.clear();
      this.fanOutTargets.clear();
      this.cachedConfigVersion = version;
    }
    this.configCheckedIn = this.db.transactions;
  }

  /** Resolves (and remembers) the contact and conversation of a customer not known as they are. */
  private conversationFor(
    key: string,
    ws: string,
    phoneNumberId: string,
    displayPhoneNumber: string | null,
    identity: ContactIdentity,
  ): { contactId: string; conversationId: string } {
    const contactId = this.resolveContact(ws, identity);
    const conversationId = this.upsertConversation(ws, contactId, phoneNumberId, displayPhoneNumber);
    if (this.identities.size >= 50_000) this.identities.clear();
    this.identities.set(key, { contactId, conversationId });
    return { contactId, conversationId };
  }

  /**
   * Finds the contact by parent BSUID, BSUID, then WhatsApp id, creating it when none matches, and
   * fills in identifiers it did not have (a phone-only contact gains its BSUID and vice versa).
   */
  private resolveContact(ws: string, identity: ContactIdentity): string {
    let row: ContactRow | undefined;
    if (identity.parentBsuid) {
      row = this.db.get<ContactRow>(
        'SELECT * FROM contacts WHERE workspace_id = :ws AND parent_bsuid = :v LIMIT 1',
        {
          ws,
          v: identity.parentBsuid,
        },
      );
    }
    if (!row && identity.bsuid) {
      row = this.db.get<ContactRow>('SELECT * FROM contacts WHERE workspace_id = :ws AND bsuid = :v', {
        ws,
        v: identity.bsuid,
      });
    }
    if (!row && identity.waId) {
      row = this.db.get<ContactRow>('SELECT * FROM contacts WHERE workspace_id = :ws AND wa_id = :v', {
        ws,
        v: identity.waId,
      });
    }
    const now = this.now();
    if (!row) {
      if (!identity.waId && !identity.bsuid && !identity.parentBsuid) {
        throw new WabridgeError('bad_request', 'a WhatsApp user came without wa_id or BSUID');
      }
      const id = newId('ct');
      this.db.run(
        `INSERT INTO contacts (id, workspace_id, wa_id, bsuid, parent_bsuid, username, profile_name, created_at, updated_at)
         VALUES (:id, :ws, :wa, :bsuid, :parent, :username, :name, :at, :at)`,
        {
          id,
          ws,
          wa: identity.waId,
          bsuid: identity.bsuid,
          parent: identity.parentBsuid,
          username: identity.username,
          name: identity.profileName,
          at: now,
        },
      );
      return id;
    }
    const changed =
      (identity.waId && identity.waId !== row.wa_id) ||
      (identity.bsuid && identity.bsuid !== row.bsuid) ||
      (identity.parentBsuid && identity.parentBsuid !== row.parent_bsuid) ||
      (identity.username && identity.username !== row.username) ||
      (identity.profileName && identity.profileName !== row.profile_name);
    if (changed) {
      // Identifiers are unique per workspace; OR IGNORE keeps the row as it is rather than steal one.
      this.db.run(
        `UPDATE OR IGNORE contacts SET wa_id = coalesce(:wa, wa_id), bsuid = coalesce(:bsuid, bsuid),
           parent_bsuid = coalesce(:parent, parent_bsuid), updated_at = :at WHERE id = :id`,
        { wa: identity.waId, bsuid: identity.bsuid, parent: identity.parentBsuid, at: now, id: row.id },
      );
      this.db.run(
        `UPDATE contacts SET username = coalesce(:username, username), profile_name = coalesce(:name, profile_name),
           updated_at = :at WHERE id = :id`,
        { username: identity.username, name: identity.profileName, at: now, id: row.id },
      );
    }
    return row.id;
  }

  /**
   * A system message says the contact now has a new number or BSUID: the contact takes the new
   * identifiers, so later messages land in the same conversation. When messages from the new
   * identity came first (and made a contact of their own), that contact is merged into this one.
   */
  private applyIdentityChange(
    ws: string,
    contactId: string,
    change: { waId: string | null; bsuid: string | null; parentBsuid?: string | null },
    at: number,
  ): void {
    const parent = change.parentBsuid ?? null;
    const others = this.db.all<{ id: string }>(
      `SELECT id FROM contacts WHERE workspace_id = :ws AND id <> :id
         AND ((:wa IS NOT NULL AND wa_id = :wa) OR (:bsuid IS NOT NULL AND bsuid = :bsuid)
           OR (:parent IS NOT NULL AND parent_bsuid = :parent))`,
      { ws, id: contactId, wa: change.waId, bsuid: change.bsuid, parent },
    );
    for (const other of others) this.mergeContact(ws, other.id, contactId, at);
    this.db.run(
      `UPDATE OR IGNORE contacts SET wa_id = coalesce(:wa, wa_id), bsuid = coalesce(:bsuid, bsuid),
         parent_bsuid = coalesce(:parent, parent_bsuid), updated_at = :at
       WHERE id = :id AND workspace_id = :ws`,
      { wa: change.waId, bsuid: change.bsuid, parent, at: this.now(), id: contactId, ws },
    );
  }

  /**
   * Moves everything of contact `from` to contact `into`: its conversations (one per business
   * number: when `into` already has one for the number, the messages and the jobs not yet done move
   * into it), its consent ledger and current consent. The `from` row stays, without identifiers,
   * saying where it went; the audit log records the merge. Posts already mirrored for the merged
   * conversation stay where they are; nothing after the merge goes there.
   */
  private mergeContact(ws: string, from: string, into: string, at: number): void {
    const conversations = this.db.all<{ id: string; phone_number_id: string }>(
      'SELECT id, phone_number_id FROM conversations WHERE workspace_id = :ws AND contact_id = :from',
      { ws, from },
    );
    const moved: Record<string, string> = {};
    for (const conversation of conversations) {
      const target = this.db.get<{ id: string }>(
        `SELECT id FROM conversations WHERE workspace_id = :ws AND contact_id = :into AND phone_number_id = :pn`,
        { ws, into, pn: conversation.phone_number_id },
      );
      if (!target) {
        this.db.run('UPDATE conversations SET contact_id = :into WHERE id = :id', {
          into,
          id: conversation.id,
        });
        continue;
      }
      const params = { from: conversation.id, to: target.id };
      for (const table of ['messages', 'notices', 'jobs', 'jobs_new', 'dead_jobs']) {
        this.db.run(`UPDATE ${table} SET conversation_id = :to WHERE conversation_id = :from`, params);
      }
      this.db.run('UPDATE conversations SET merged_into = :to WHERE id = :from', params);
      moved[conversation.id] = target.id;
    }
    this.db.run(
      'UPDATE consent_ledger SET contact_id = :into WHERE workspace_id = :ws AND contact_id = :from',
      {
        ws,
        into,
        from,
      },
    );
    // The newer state of each category wins, as when the entries arrive one by one.
    this.db.run(
      `INSERT INTO consent_state (workspace_id, contact_id, category, state, source, at, entry_id)
       SELECT workspace_id, :into, category, state, source, at, entry_id FROM consent_state
       WHERE workspace_id = :ws AND contact_id = :from
       ON CONFLICT (workspace_id, contact_id, category) DO UPDATE SET state = excluded.state,
         source = excluded.source, at = excluded.at, entry_id = excluded.entry_id
       WHERE excluded.at > consent_state.at`,
      { ws, into, from },
    );
    this.db.run('DELETE FROM consent_state WHERE workspace_id = :ws AND contact_id = :from', { ws, from });
    this.db.run(
      `UPDATE contacts SET wa_id = NULL, bsuid = NULL, parent_bsuid = NULL, merged_into = :into, updated_at = :at
       WHERE id = :from AND workspace_id = :ws`,
      { ws, from, into, at: this.now() },
    );
    const mergeDetails = {
      from,
      into,
      reason: 'WhatsApp announced a changed number or user id that had already written',
      conversations: moved,
    };
    const audit = this.db.run(
      `INSERT INTO audit_log (at, actor, action, workspace_id, details) VALUES (:at, 'whatsapp', 'contact.merged', :ws, :details)`,
      { at, ws, details: json(mergeDetails) },
    );
    this.archiveAdmin(audit.lastInsertRowid, at, 'whatsapp', 'contact.merged', ws, mergeDetails);
  }

  private upsertConversation(
    ws: string,
    contactId: string,
    phoneNumberId: string,
    displayPhoneNumber: string | null,
  ): string {
    const row = this.db.get<{ id: string }>(
      `INSERT INTO conversations (id, workspace_id, contact_id, phone_number_id, display_phone_number, created_at)
       VALUES (:id, :ws, :contact, :pn, :display, :at)
       ON CONFLICT (workspace_id, contact_id, phone_number_id) DO UPDATE SET
         display_phone_number = coalesce(excluded.display_phone_number, display_phone_number)
       RETURNING id`,
      {
        id: newId('cv'),
        ws,
        contact: contactId,
        pn: phoneNumberId,
        display: displayPhoneNumber,
        at: this.now(),
      },
    );
    if (!row) throw new WabridgeError('internal', 'conversation upsert returned no row');
    return row.id;
  }

  /**
   * Queues one job per enabled connector that mirrors `eventType`, in one statement.
   * `excludeConnector` is the connector the event came from (no echo back to it).
   */
  private fanOut(
    ws: string,
    conversationId: string,
    eventType: DomainEventType,
    entityId: string,
    sortTs: number,
    runAt: number,
    excludeConnector: string | null,
  ): number {
    const targets = this.targetsOf(ws, eventType, excludeConnector);
    if (targets.count === 0) return 0;
    this.db.run(
      `INSERT INTO jobs_new (workspace_id, connectors, conversation_id, event_type, entity_id, sort_ts, run_at, created_at)
       VALUES (:ws, :connectors, :conversation, :type, :entity, :sort, :run, :at)`,
      {
        ws,
        connectors: targets.connectors,
        conversation: conversationId,
        type: eventType,
        entity: entityId,
        sort: sortTs,
        run: runAt,
        at: this.now(),
      },
    );
    return targets.count;
  }

  /** The enabled connectors that mirror `eventType` (as a JSON array) and how many they are. */
  private targetsOf(
    ws: string,
    eventType: DomainEventType,
    excludeConnector: string | null,
  ): { connectors: string; count: number } {
    this.checkConfigVersion();
    const key = `${ws}\u0000${eventType}\u0000${excludeConnector ?? ''}`;
    let targets = this.fanOutTargets.get(key);
    if (!targets) {
      const ids = this.db
        .all<{ connector_id: string }>(
          `SELECT connector_id FROM connector_settings
           WHERE workspace_id = :ws AND enabled = 1 AND instr(events, :marker) > 0 AND connector_id IS NOT :exclude
           ORDER BY connector_id`,
          { ws, marker: `,${eventType},`, exclude: excludeConnector },
        )
        .map((row) => row.connector_id);
      targets = { connectors: JSON.stringify(ids), count: ids.length };
      if (this.fanOutTargets.size >= 10_000) this.fanOutTargets.clear();
      this.fanOutTargets.set(key, targets);
    }
    return targets;
  }

  private enqueueOne(
    ws: string,
    connectorId: string,
    conversationId: string,
    eventType: DomainEventType | 'send',
    entityId: string,
    sortTs: number,
  ): void {
    this.db.run(
      `INSERT INTO jobs_new (workspace_id, connectors, conversation_id, event_type, entity_id, sort_ts, run_at, created_at)
       VALUES (:ws, json_array(:connector), :conversation, :type, :entity, :sort, :at, :at)`,
      {
        ws,
        connector: connectorId,
        conversation: conversationId,
        type: eventType,
        entity: entityId,
        sort: sortTs,
        at: this.now(),
      },
    );
  }

  /**
   * Appends a consent entry (once per id), moves the current state if the entry is the newest for
   * its category, and fans `consent.changed` out to every conversation of the contact.
   * Returns the number of jobs queued, or -1 when the entry was already recorded.
   */
  private appendConsent(input: RecordConsentInput, entryId: string, sortTs = input.occurredAt): number {
    const recorded = this.now();
    const inserted = this.db.run(
      `INSERT INTO consent_ledger (id, workspace_id, contact_id, category, state, source, actor, evidence_message_id,
         occurred_at, recorded_at, details)
       VALUES (:id, :ws, :contact, :category, :state, :source, :actor, :evidence, :occurred, :recorded, :details)
       ON CONFLICT (id) DO NOTHING`,
      {
        id: entryId,
        ws: input.workspaceId,
        contact: input.contactId,
        category: input.category,
        state: input.state,
        source: input.source,
        actor: input.actor,
        evidence: input.evidenceMessageId,
        occurred: input.occurredAt,
        recorded,
        details: json(input.details),
      },
    );
    if (inserted.changes === 0) return -1;
    this.archive.append(
      input.workspaceId,
      'consent',
      entryId,
      // Keys in sorted order: the record is then written by JSON.stringify (see canonicalJson).
      {
        actor: input.actor,
        category: input.category,
        contact_id: input.contactId,
        details: input.details,
        evidence_message_id: input.evidenceMessageId,
        id: entryId,
        occurred_at: input.occurredAt,
        recorded_at: recorded,
        source: input.source,
        state: input.state,
      },
      recorded,
    );
    // The ledger keeps every entry; the current state follows the latest occurrence, so a late,
    // older webhook cannot undo a newer change. Such an entry is history, not news: no mirror is
    // told (a thread would announce an opt-in the contact has since withdrawn).
    const current = this.db.run(
      `INSERT INTO consent_state (workspace_id, contact_id, category, state, source, at, entry_id)
       VALUES (:ws, :contact, :category, :state, :source, :at, :entry)
       ON CONFLICT (workspace_id, contact_id, category) DO UPDATE SET state = excluded.state, source = excluded.source,
         at = excluded.at, entry_id = excluded.entry_id
       WHERE excluded.at >= consent_state.at`,
      {
        ws: input.workspaceId,
        contact: input.contactId,
        category: input.category,
        state: input.state,
        source: input.source,
        at: input.occurredAt,
        entry: entryId,
      },
    );
    if (current.changes === 0) return 0;
    let queued = 0;
    const conversations = this.db.all<{ id: string }>(
      'SELECT id FROM conversations WHERE workspace_id = :ws AND contact_id = :contact',
      { ws: input.workspaceId, contact: input.contactId },
    );
    // The connector the change came from hears about it too: it records the change's source and
    // time beside the state (HubSpot's properties would otherwise keep the previous source). Its
    // own callbacks drop the echo, since the state does not change.
    for (const conversation of conversations) {
      queued += this.fanOut(
        input.workspaceId,
        conversation.id,
        'consent.changed',
        entryId,
        sortTs,
        this.now(),
        null,
      );
    }
    return queued;
  }

  // --- Connector commands --------------------------------------------------------------------

  private claimKey(ws: string, source: string, key: string, result: string | null): string | true {
    const existing = this.db.get<{ result: string | null }>(
      'SELECT result FROM command_keys WHERE workspace_id = :ws AND source = :source AND key = :key',
      { ws, source, key },
    );
    if (existing) return existing.result ?? '';
    this.db.run(
      'INSERT INTO command_keys (workspace_id, source, key, result, created_at) VALUES (:ws, :source, :key, :result, :at)',
      { ws, source, key, result, at: this.now() },
    );
    return true;
  }

  claimCommandKey(workspaceId: string, source: string, key: string): Promise<boolean> {
    return this.db.write(() => this.claimKey(workspaceId, source, key, null) === true);
  }

  claimExpiringKey(workspaceId: string, source: string, key: string, ttlMs: number): Promise<boolean> {
    return this.db.write(() => {
      // The command-key table, under a source of its own: expired keys of that source go first
      // (a range of the primary key, a handful of rows for a window of minutes), then the claim.
      this.db.run(
        'DELETE FROM command_keys WHERE workspace_id = :ws AND source = :source AND created_at <= :cutoff',
        { ws: workspaceId, source, cutoff: this.now() - ttlMs },
      );
      return this.claimKey(workspaceId, source, key, null) === true;
    });
  }

  recordOutbound(input: RecordOutboundInput): Promise<{ duplicate: boolean; messageId: string }> {
    return this.db.write(() => {
      const ws = input.workspaceId;
      const claimed = this.claimKey(ws, input.commandKey.source, input.commandKey.key, input.message.id);
      if (claimed !== true) return { duplicate: true, messageId: claimed };
      this.requireConversation(ws, input.conversationId);
      const m = input.message;
      const at = this.now();
      const body = this.sealBody(ws, m.text, m.content);
      this.db.run(
        `INSERT INTO messages (id, workspace_id, conversation_id, direction, wamid, type, ts, text, content, state, sender,
           relates_to, created_at)
         VALUES (:id, :ws, :conversation, 'outbound', NULL, :type, :ts, :text, :content, 'pending', :sender, :relates, :at)`,
        {
          id: m.id,
          ws,
          conversation: input.conversationId,
          type: m.type,
          ts: m.timestamp,
          text: null,
          content: body.sealed,
          sender: json(m.sender),
          relates: m.relatesTo,
          at,
        },
      );
      this.archiveMessage(ws, input.conversationId, 'outbound', {
        id: m.id,
        wamid: null,
        type: m.type,
        ts: m.timestamp,
        body,
        relatesTo: m.relatesTo,
        sender: m.sender,
        at,
      });
      this.enqueueOne(ws, WHATSAPP_SENDER, input.conversationId, 'send', m.id, m.timestamp);
      this.fanOut(
        ws,
        input.conversationId,
        'message.outbound',
        m.id,
        m.timestamp,
        this.now(),
        input.originRef?.connectorId ?? null,
      );
      if (input.originRef) {
        this.upsertRef(ws, {
          connectorId: input.originRef.connectorId,
          kind: 'message',
          entityId: m.id,
          externalId: input.originRef.externalId,
          data: input.originRef.data,
        });
      }
      return { duplicate: false, messageId: m.id };
    });
  }

  recordNotice(input: RecordNoticeInput): Promise<{ duplicate: boolean; noticeId: string }> {
    return this.db.write(() => {
      const ws = input.workspaceId;
      if (input.commandKey) {
        const claimed = this.claimKey(ws, input.commandKey.source, input.commandKey.key, input.notice.id);
        if (claimed !== true) return { duplicate: true, noticeId: claimed };
      }
      this.requireConversation(ws, input.conversationId);
      const n = input.notice;
      this.db.run(
        `INSERT INTO notices (id, workspace_id, conversation_id, connector_id, kind, text, in_reply_to, templates, message_id, created_at)
         VALUES (:id, :ws, :conversation, :connector, :kind, :text, :reply, :templates, :message, :at)`,
        {
          id: n.id,
          ws,
          conversation: input.conversationId,
          connector: input.connectorId,
          kind: n.kind,
          text: n.text,
          reply: n.inReplyTo,
          templates: json(n.templates),
          message: n.messageId,
          at: n.createdAt,
        },
      );
      this.db.run(
        `INSERT INTO jobs_new (workspace_id, connectors, conversation_id, event_type, entity_id, sort_ts, run_at, created_at)
         SELECT :ws, json_array(connector_id), :conversation, 'notice', :entity, :at, :at, :at FROM connector_settings
         WHERE workspace_id = :ws AND connector_id = :connector AND enabled = 1 AND instr(events, ',notice,') > 0`,
        {
          ws,
          conversation: input.conversationId,
          entity: n.id,
          at: n.createdAt,
          connector: input.connectorId,
        },
      );
      return { duplicate: false, noticeId: n.id };
    });
  }

  recordNote(input: RecordNoteInput): Promise<{ duplicate: boolean; noteId: string | null }> {
    return this.db.write(() =>
      recordNote(
        {
          db: this.db,
          archive: this.archive,
          claimKey: (ws, source, key, result) => this.claimKey(ws, source, key, result),
          requireConversation: (ws, id) => this.requireConversation(ws, id),
        },
        input,
      ),
    );
  }

  recordConsent(input: RecordConsentInput): Promise<{ duplicate: boolean; entry: ConsentEntry | null }> {
    return this.db.write(() => {
      const entryId = newId('cns');
      if (input.commandKey) {
        const claimed = this.claimKey(
          input.workspaceId,
          input.commandKey.source,
          input.commandKey.key,
          entryId,
        );
        if (claimed !== true) return { duplicate: true, entry: null };
      }
      const contact = this.db.get<ContactRow>(
        'SELECT * FROM contacts WHERE id = :id AND workspace_id = :ws',
        {
          id: input.contactId,
          ws: input.workspaceId,
        },
      );
      if (!contact)
        throw new WabridgeError('not_found', `contact ${input.contactId} does not exist`, { status: 404 });
      this.appendConsent(input, entryId);
      const row = this.db.get<ConsentRow>('SELECT * FROM consent_ledger WHERE id = :id', { id: entryId });
      return { duplicate: false, entry: row ? toConsentEntry(row) : null };
    });
  }

  markUnroutedRouted(id: string, workspaceId: string): Promise<boolean> {
    return this.db.write(
      () =>
        this.db.run(
          'UPDATE unrouted_events SET routed_at = :at, routed_to = :ws WHERE id = :id AND routed_at IS NULL',
          { id, ws: workspaceId, at: this.now() },
        ).changes === 1,
    );
  }
}

/** What the conversation cache is keyed by: every field that resolving the sender could write. */
function identityKey(
  ws: string,
  phoneNumberId: string,
  displayPhoneNumber: string | null,
  identity: ContactIdentity,
): string {
  return `${ws}|${phoneNumberId}|${identity.waId ?? ''}|${identity.bsuid ?? ''}|${identity.parentBsuid ?? ''}|${identity.username ?? ''}|${identity.profileName ?? ''}|${displayPhoneNumber ?? ''}`;
}
