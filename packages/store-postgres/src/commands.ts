import {
  type ConsentEntry,
  type IngestStore,
  newId,
  type RecordConsentInput,
  type RecordNoticeInput,
  type RecordOutboundInput,
  WabridgeError,
  WHATSAPP_SENDER,
} from '@wabridge/core';
import type { Tx } from './database.ts';
import { pendingIn } from './fan-out.ts';
import { PgIngest } from './ingest.ts';
import { type ConsentRow, type ContactRow, jsonb, toConsentEntry } from './rows.ts';

/**
 * The connectors' commands that record and queue (of IngestStore): a reply to send, a notice to a
 * connector, a consent change. Each claims its command key first, in its transaction: of two
 * gateways running one command at once, the second waits on the key's row, then answers what the
 * first produced.
 */
export abstract class PgCommands
  extends PgIngest
  implements Pick<IngestStore, 'recordOutbound' | 'recordNotice' | 'recordConsent'>
{
  recordOutbound(input: RecordOutboundInput): Promise<{ duplicate: boolean; messageId: string }> {
    return this.db.transaction(async (tx) => {
      const ws = input.workspaceId;
      const m = input.message;
      const claimed = await this.claimKeyFor(tx, ws, input.commandKey.source, input.commandKey.key, m.id);
      if (claimed !== true) return { duplicate: true, messageId: claimed };
      await requireConversation(tx, ws, input.conversationId);
      const at = this.now();
      const body = await this.sealBody(tx, ws, m.text, m.content);
      await tx.run(
        `INSERT INTO messages (id, workspace_id, conversation_id, direction, wamid, type, ts, text, content, state, sender,
           relates_to, created_at)
         VALUES ($1, $2, $3, 'outbound', NULL, $4, $5, NULL, $6, 'pending', $7::jsonb, $8, $9)`,
        [m.id, ws, input.conversationId, m.type, m.timestamp, body.sealed, jsonb(m.sender), m.relatesTo, at],
      );
      const p = pendingIn(tx);
      this.recordMessage(p, ws, input.conversationId, 'outbound', {
        id: m.id,
        wamid: null,
        type: m.type,
        ts: m.timestamp,
        body,
        relatesTo: m.relatesTo,
        sender: m.sender,
        at,
      });
      p.jobs.push({
        workspaceId: ws,
        connectorId: WHATSAPP_SENDER,
        conversationId: input.conversationId,
        eventType: 'send',
        entityId: m.id,
        sortTs: m.timestamp,
        runAt: at,
      });
      await this.fanOut(
        p,
        ws,
        input.conversationId,
        'message.outbound',
        m.id,
        m.timestamp,
        this.now(),
        input.originRef?.connectorId ?? null,
      );
      if (input.originRef) {
        await this.upsertRef(tx, ws, {
          connectorId: input.originRef.connectorId,
          kind: 'message',
          entityId: m.id,
          externalId: input.originRef.externalId,
          data: input.originRef.data,
        });
      }
      await this.flush(p);
      return { duplicate: false, messageId: m.id };
    });
  }

  recordNotice(input: RecordNoticeInput): Promise<{ duplicate: boolean; noticeId: string }> {
    return this.db.transaction(async (tx) => {
      const ws = input.workspaceId;
      const n = input.notice;
      if (input.commandKey) {
        const claimed = await this.claimKeyFor(tx, ws, input.commandKey.source, input.commandKey.key, n.id);
        if (claimed !== true) return { duplicate: true, noticeId: claimed };
      }
      await requireConversation(tx, ws, input.conversationId);
      await tx.run(
        `INSERT INTO notices (id, workspace_id, conversation_id, connector_id, kind, text, in_reply_to, templates,
           message_id, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb, $9, $10)`,
        [
          n.id,
          ws,
          input.conversationId,
          input.connectorId,
          n.kind,
          n.text,
          n.inReplyTo,
          jsonb(n.templates),
          n.messageId,
          n.createdAt,
        ],
      );
      // Only to the connector the notice is for, when it is enabled and takes notices.
      const wanted = await tx.get(
        `SELECT 1 AS x FROM connector_settings
         WHERE workspace_id = $1 AND connector_id = $2 AND enabled AND strpos(events, ',notice,') > 0`,
        [ws, input.connectorId],
      );
      if (wanted) {
        await this.queue.enqueueIn(tx.client, [
          {
            workspaceId: ws,
            connectorId: input.connectorId,
            conversationId: input.conversationId,
            eventType: 'notice',
            entityId: n.id,
            sortTs: n.createdAt,
            runAt: n.createdAt,
          },
        ]);
      }
      return { duplicate: false, noticeId: n.id };
    });
  }

  recordConsent(input: RecordConsentInput): Promise<{ duplicate: boolean; entry: ConsentEntry | null }> {
    return this.db.transaction(async (tx) => {
      const entryId = newId('cns');
      if (input.commandKey) {
        const claimed = await this.claimKeyFor(
          tx,
          input.workspaceId,
          input.commandKey.source,
          input.commandKey.key,
          entryId,
        );
        if (claimed !== true) return { duplicate: true, entry: null };
      }
      const contact = await tx.get<ContactRow>(
        'SELECT * FROM contacts WHERE id = $1 AND workspace_id = $2 FOR SHARE',
        [input.contactId, input.workspaceId],
      );
      if (!contact) {
        throw new WabridgeError('not_found', `contact ${input.contactId} does not exist`, { status: 404 });
      }
      const p = pendingIn(tx);
      await this.appendConsent(p, input, entryId);
      // Read before the flush, which appends the archive record last (it holds the archive head).
      const row = await tx.get<ConsentRow>('SELECT * FROM consent_ledger WHERE id = $1', [entryId]);
      await this.flush(p);
      return { duplicate: false, entry: row ? toConsentEntry(row) : null };
    });
  }
}

/** Fails `not_found` unless the conversation exists; its row stays locked (FOR SHARE) until commit. */
async function requireConversation(tx: Tx, ws: string, id: string): Promise<void> {
  if (
    !(await tx.get('SELECT 1 AS x FROM conversations WHERE id = $1 AND workspace_id = $2 FOR SHARE', [
      id,
      ws,
    ]))
  ) {
    throw new WabridgeError('not_found', `conversation ${id} does not exist in workspace ${ws}`, {
      status: 404,
    });
  }
}
