import { type JobStore, type Lease, type MessageError, newId, WabridgeError } from '@wabridge/core';
import { PgCommands } from './commands.ts';
import type { Tx } from './database.ts';
import { pendingIn } from './fan-out.ts';
import { jsonb, type MessageRow, type StatusRow } from './rows.ts';

/**
 * What the WhatsApp sender's job records of its send (of JobStore): the wamid WhatsApp answered,
 * or the failure. In one transaction with the job's row locked (FOR UPDATE), so a worker that
 * lost its lease records nothing, as the SQLite store's (core: store/sqlite/jobs.ts).
 */
export abstract class PgSends extends PgCommands implements Pick<JobStore, 'markAccepted' | 'markFailed'> {
  markAccepted(lease: Lease, messageId: string, wamid: string): Promise<void> {
    return this.db.transaction(async (tx) => {
      const ws = await requireLease(tx, lease);
      await tx.run('UPDATE messages SET wamid = coalesce(wamid, $1) WHERE id = $2 AND workspace_id = $3', [
        wamid,
        messageId,
        ws,
      ]);
      // Statuses that overtook the send response (and had no callback data) are linked now.
      const orphans = await tx.all<StatusRow>(
        `SELECT * FROM message_statuses WHERE wamid = $1 AND workspace_id = $2 AND message_id IS NULL
         ORDER BY ts, id FOR UPDATE`,
        [wamid, ws],
      );
      const p = pendingIn(tx);
      for (const orphan of orphans) {
        const message = await tx.get<MessageRow>('SELECT * FROM messages WHERE id = $1 FOR UPDATE', [
          messageId,
        ]);
        if (!message) break;
        await tx.run('UPDATE message_statuses SET message_id = $1 WHERE id = $2', [messageId, orphan.id]);
        await this.applyStatus(p, message, orphan.id, orphan.wamid, orphan.status, {
          timestamp: orphan.ts,
          error: orphan.error,
        });
      }
      await this.flush(p);
    });
  }

  markFailed(lease: Lease, messageId: string, error: MessageError): Promise<void> {
    return this.db.transaction(async (tx) => {
      const ws = await requireLease(tx, lease);
      const message = await tx.get<MessageRow>(
        'SELECT * FROM messages WHERE id = $1 AND workspace_id = $2 FOR UPDATE',
        [messageId, ws],
      );
      if (!message) throw new WabridgeError('not_found', `message ${messageId} does not exist`);
      const statusId = newId('st');
      const wamid = message.wamid ?? `local:${message.id}`;
      const failedAt = this.now();
      const inserted = await tx.run(
        `INSERT INTO message_statuses (id, workspace_id, wamid, message_id, status, ts, error, raw)
         VALUES ($1, $2, $3, $4, 'failed', $5, $6::jsonb, $7) ON CONFLICT (wamid, status) DO NOTHING`,
        [statusId, ws, wamid, message.id, failedAt, jsonb(error), Buffer.from('{}', 'utf8')],
      );
      if (inserted === 0) return;
      const p = pendingIn(tx);
      this.record(p, ws, {
        kind: 'status',
        entityId: statusId,
        data: { id: statusId, wamid, message_id: message.id, status: 'failed', ts: failedAt, error },
        at: this.now(),
        content: await this.archive.sealContent(tx, ws, { raw: {} }),
      });
      await this.applyStatus(p, message, statusId, wamid, 'failed', { timestamp: this.now(), error });
      await this.flush(p);
    });
  }
}

/** The job's workspace while `lease` holds it, its row locked until commit; else `stale_lease`. */
async function requireLease(tx: Tx, lease: Lease): Promise<string> {
  const row = await tx.get<{ workspace_id: string }>(
    "SELECT workspace_id FROM jobs WHERE id = $1 AND lease_token = $2 AND state = 'running' FOR UPDATE",
    [lease.jobId, lease.token],
  );
  if (!row) throw new WabridgeError('stale_lease', `job ${lease.jobId} is no longer held by this worker`);
  return row.workspace_id;
}
