import {
  type AuditActor,
  auditActor,
  checkDays,
  describeRule,
  type GovernanceStore,
  HELD_MESSAGE_SQL,
  RETENTION_KINDS,
  type RetentionKind,
  type RetentionRule,
  type RetentionRunInput,
  type RetentionRunResult,
  type RuleRow,
  requireActor,
  toRule,
  WabridgeError,
} from '@wabridge/core';
import type { Tx } from './database.ts';
import { PgHolds } from './holds.ts';

const DAY_MS = 86_400_000;
const DEFAULT_RUN_LIMIT = 10_000;
/** What purged content leaves behind in a BYTEA content column: `{}`, as the SQLite store does. */
const EMPTY_OBJECT = Buffer.from('{}');

/**
 * Retention (issue 18, item 4; of GovernanceStore): per workspace and record kind, how long content
 * is kept. A run removes the content of what expired and no hold covers; rows and the archive's
 * leaves stay, marked purged, and the run is an admin act. Rules and wording are the SQLite
 * store's (core); the SQL that picks what expired is the same.
 */
export abstract class PgRetention
  extends PgHolds
  implements Pick<GovernanceStore, 'setRetention' | 'listRetention' | 'runRetention'>
{
  setRetention(input: {
    workspaceId: string;
    kind: string;
    keepDays: number | null;
    afterLastMessageDays: number | null;
    actor: AuditActor;
  }): Promise<RetentionRule | null> {
    return this.db.transaction(async (tx) => {
      const ws = input.workspaceId;
      await this.requireWorkspace(tx, ws);
      const { name: actor, act } = requireActor(input.actor, 'who sets the rule');
      if (!(RETENTION_KINDS as readonly string[]).includes(input.kind)) {
        throw new WabridgeError(
          'bad_request',
          `no record kind ${input.kind}: retention rules exist for ${RETENTION_KINDS.join(', ')}`,
          { status: 400 },
        );
      }
      const kind = input.kind as RetentionKind;
      const keepDays = checkDays(input.keepDays, 'keep days');
      const afterLastMessageDays = checkDays(input.afterLastMessageDays, 'days after the last message');
      const at = this.now();
      if (keepDays === null && afterLastMessageDays === null) {
        await tx.run('DELETE FROM retention_rules WHERE workspace_id = $1 AND record_kind = $2', [ws, kind]);
        await this.recordActOf(tx, act, 'retention.remove', ws, { kind });
        return null;
      }
      await tx.run(
        `INSERT INTO retention_rules (workspace_id, record_kind, keep_days, after_last_message_days, updated_by, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (workspace_id, record_kind) DO UPDATE SET keep_days = excluded.keep_days,
           after_last_message_days = excluded.after_last_message_days, updated_by = excluded.updated_by,
           updated_at = excluded.updated_at`,
        [ws, kind, keepDays, afterLastMessageDays, actor, at],
      );
      const rule: RetentionRule = { kind, keepDays, afterLastMessageDays, updatedBy: actor, updatedAt: at };
      await this.recordActOf(tx, act, 'retention.set', ws, {
        kind,
        keepDays,
        afterLastMessageDays,
        rule: describeRule(rule),
      });
      return rule;
    });
  }

  async listRetention(workspaceId: string): Promise<RetentionRule[]> {
    return (
      await this.db.all<RuleRow>(
        'SELECT * FROM retention_rules WHERE workspace_id = $1 ORDER BY record_kind',
        [workspaceId],
      )
    ).map(toRule);
  }

  /**
   * Applies the workspace's rules at `input.now`; a dry run only counts. The workspace's row is
   * locked FOR UPDATE first: a hold being set (which holds it FOR SHARE) commits before the run
   * reads the holds, or waits for the run; and two runs at once take turns.
   */
  runRetention(input: RetentionRunInput): Promise<RetentionRunResult> {
    return this.db.transaction(async (tx) => {
      const ws = input.workspaceId;
      if (!(await tx.get('SELECT 1 AS x FROM workspaces WHERE id = $1 FOR UPDATE', [ws]))) {
        throw new WabridgeError('not_found', `workspace ${ws} does not exist`, { status: 404 });
      }
      const limit = input.limit ?? DEFAULT_RUN_LIMIT;
      const result: RetentionRunResult = {
        workspaceId: ws,
        at: input.now,
        dryRun: input.dryRun,
        kinds: [],
        purgedMessageIds: [],
      };
      const purgedStatuses: string[] = [];
      const purgedNotes: string[] = [];
      const rules = (
        await tx.all<RuleRow>('SELECT * FROM retention_rules WHERE workspace_id = $1 ORDER BY record_kind', [
          ws,
        ])
      ).map(toRule);
      for (const rule of rules) {
        const from = expiredFrom(rule);
        const params = [ws, input.now];
        const held =
          (await tx.get<{ n: number }>(`SELECT count(*) AS n ${from} AND ${HELD_MESSAGE_SQL}`, params))?.n ??
          0;
        const text = describeRule(rule);
        if (input.dryRun) {
          // What would go in all, not only in one run's batch.
          const due =
            (await tx.get<{ n: number }>(`SELECT count(*) AS n ${from} AND NOT ${HELD_MESSAGE_SQL}`, params))
              ?.n ?? 0;
          result.kinds.push({ kind: rule.kind, rule: text, purged: due, held });
          continue;
        }
        const id = rule.kind === 'statuses' ? 's.id' : 'm.id';
        const ids = (
          await tx.all<{ id: string }>(`SELECT ${id} AS id ${from} AND NOT ${HELD_MESSAGE_SQL} LIMIT $3`, [
            ...params,
            limit,
          ])
        ).map((r) => r.id);
        result.kinds.push({ kind: rule.kind, rule: text, purged: ids.length, held });
        if (ids.length === 0) continue;
        await purgeContent(tx, rule.kind, ws, ids, input.now);
        if (rule.kind === 'messages') result.purgedMessageIds.push(...ids);
        else if (rule.kind === 'notes') purgedNotes.push(...ids);
        else purgedStatuses.push(...ids);
        // The archive keeps the records' leaves; their sealed content goes, and a purge record says so.
        await this.archive.purge(
          tx,
          ws,
          await this.archiveSeqsOfEntities(tx, ws, ids),
          {
            actor: `retention:${rule.kind}`,
            reason: `retention rule: ${text}`,
            details: {
              rule: {
                kind: rule.kind,
                keepDays: rule.keepDays,
                afterLastMessageDays: rule.afterLastMessageDays,
              },
              runBy: auditActor(input.actor).actor,
            },
          },
          this.now(),
        );
      }
      if (
        !input.dryRun &&
        (result.purgedMessageIds.length > 0 || purgedStatuses.length > 0 || purgedNotes.length > 0)
      ) {
        await this.recordActOf(tx, input.actor, 'retention.purge', ws, {
          at: input.now,
          rules: result.kinds.map((k) => ({ kind: k.kind, rule: k.rule, purged: k.purged, held: k.held })),
          messages: result.purgedMessageIds,
          statuses: purgedStatuses,
          ...(purgedNotes.length > 0 ? { notes: purgedNotes } : {}),
        });
      }
      return result;
    });
  }
}

/**
 * The FROM and WHERE of a rule's expired records at $2 in workspace $1, as `m` (a message or an
 * internal note, which the hold check reads as a message) of conversation `c`, and `s` for a
 * status. Walked by conversation, so a run reads the workspace's conversations and its expired
 * records, not whole tables. A conversation's last message is its newest by WhatsApp time.
 */
function expiredFrom(rule: RetentionRule): string {
  const expiry = (ts: string) => {
    const conditions: string[] = [];
    if (rule.keepDays !== null) conditions.push(`${ts} < $2::bigint - ${rule.keepDays * DAY_MS}`);
    if (rule.afterLastMessageDays !== null) {
      conditions.push(
        `(SELECT l.ts FROM messages l WHERE l.conversation_id = c.id ORDER BY l.ts DESC LIMIT 1) < $2::bigint - ${rule.afterLastMessageDays * DAY_MS}`,
      );
    }
    return conditions.join(' AND ');
  };
  if (rule.kind === 'messages') {
    return `FROM conversations c JOIN messages m ON m.conversation_id = c.id
      WHERE c.workspace_id = $1 AND m.purged_at IS NULL AND ${expiry('m.ts')}`;
  }
  if (rule.kind === 'notes') {
    return `FROM conversations c JOIN internal_notes m ON m.conversation_id = c.id
      WHERE c.workspace_id = $1 AND m.purged_at IS NULL AND ${expiry('m.ts')}`;
  }
  return `FROM conversations c JOIN messages m ON m.conversation_id = c.id JOIN message_statuses s ON s.message_id = m.id
    WHERE c.workspace_id = $1 AND s.purged_at IS NULL AND ${expiry('s.ts')}`;
}

/**
 * Removes the content of these records and keeps the rows, as the SQLite store does (purge.ts):
 * a message keeps `text` null and `content` `{}`, a status `raw` `{}`, a note only its mark.
 */
async function purgeContent(
  tx: Tx,
  kind: RetentionKind,
  ws: string,
  ids: string[],
  at: number,
): Promise<void> {
  if (kind === 'messages') {
    await tx.run(
      `UPDATE messages SET text = NULL, content = $3, purged_at = $4, purged_by = $5
       WHERE workspace_id = $1 AND id = ANY($2::text[])`,
      [ws, ids, EMPTY_OBJECT, at, `retention:${kind}`],
    );
  } else if (kind === 'statuses') {
    await tx.run(
      'UPDATE message_statuses SET raw = $3, purged_at = $4 WHERE workspace_id = $1 AND id = ANY($2::text[])',
      [ws, ids, EMPTY_OBJECT, at],
    );
  } else {
    await tx.run(
      `UPDATE internal_notes SET purged_at = $3
       WHERE workspace_id = $1 AND id = ANY($2::text[]) AND purged_at IS NULL`,
      [ws, ids, at],
    );
  }
}
