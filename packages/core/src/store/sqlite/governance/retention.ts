import { type AuditActor, auditActor } from '../../../access/actor.ts';
import { WabridgeError } from '../../../errors/index.ts';
import {
  RETENTION_KINDS,
  type RetentionKind,
  type RetentionRule,
  type RetentionRunInput,
  type RetentionRunResult,
} from '../../governance-types.ts';
import type { SqliteDatabase } from '../database.ts';
import { purgeNotes } from '../notes.ts';
import { DAY_MS, type GovernanceContext, requireActor, requireWorkspace } from './context.ts';
import { HELD_MESSAGE_SQL } from './holds.ts';
import { purgeMessages, purgeStatuses } from './purge.ts';

// Retention (issue 18, item 4): per workspace and record kind, how long content is kept. A run
// removes the content (and, through the caller, the media files) of what expired and no hold
// covers; the rows and the archive's leaves stay, marked purged, and the run is an admin act of
// the archive naming the rule and the records.

export interface RuleRow {
  record_kind: string;
  keep_days: number | null;
  after_last_message_days: number | null;
  updated_by: string;
  updated_at: number;
}

export const toRule = (r: RuleRow): RetentionRule => ({
  kind: r.record_kind as RetentionKind,
  keepDays: r.keep_days,
  afterLastMessageDays: r.after_last_message_days,
  updatedBy: r.updated_by,
  updatedAt: r.updated_at,
});

/** A rule in words, as runs and refusals quote it. */
export function describeRule(
  rule: Pick<RetentionRule, 'kind' | 'keepDays' | 'afterLastMessageDays'>,
): string {
  const days = (n: number) => `${n} day${n === 1 ? '' : 's'}`;
  const parts: string[] = [];
  if (rule.keepDays !== null) parts.push(`keep ${rule.kind} ${days(rule.keepDays)}`);
  if (rule.afterLastMessageDays !== null)
    parts.push(
      `delete ${rule.kind} ${days(rule.afterLastMessageDays)} after the conversation's last message`,
    );
  return parts.join(', then ') || `keep ${rule.kind} forever`;
}

export function checkDays(value: number | null, what: string): number | null {
  if (value === null) return null;
  if (!Number.isInteger(value) || value < 0 || value > 36_500)
    throw new WabridgeError(
      'bad_request',
      `${what} must be a whole number of days from 0 to 36500, not ${value}`,
      {
        status: 400,
      },
    );
  return value;
}

export function listRetention(db: SqliteDatabase, ws: string): RetentionRule[] {
  return db
    .all<RuleRow>('SELECT * FROM retention_rules WHERE workspace_id = :ws ORDER BY record_kind', { ws })
    .map(toRule);
}

export function ruleFor(db: SqliteDatabase, ws: string, kind: RetentionKind): RetentionRule | null {
  const row = db.get<RuleRow>(
    'SELECT * FROM retention_rules WHERE workspace_id = :ws AND record_kind = :kind',
    {
      ws,
      kind,
    },
  );
  return row ? toRule(row) : null;
}

/** Sets (or, with both periods null, removes) the rule of one record kind. */
export function setRetention(
  ctx: GovernanceContext,
  input: {
    workspaceId: string;
    kind: string;
    keepDays: number | null;
    afterLastMessageDays: number | null;
    actor: AuditActor;
  },
): RetentionRule | null {
  const { db } = ctx;
  const ws = input.workspaceId;
  requireWorkspace(db, ws);
  const { name: actor, act } = requireActor(input.actor, 'who sets the rule');
  if (!(RETENTION_KINDS as readonly string[]).includes(input.kind))
    throw new WabridgeError(
      'bad_request',
      `no record kind ${input.kind}: retention rules exist for ${RETENTION_KINDS.join(', ')}`,
      { status: 400 },
    );
  const kind = input.kind as RetentionKind;
  const keepDays = checkDays(input.keepDays, 'keep days');
  const afterLastMessageDays = checkDays(input.afterLastMessageDays, 'days after the last message');
  const at = ctx.now();
  if (keepDays === null && afterLastMessageDays === null) {
    db.run('DELETE FROM retention_rules WHERE workspace_id = :ws AND record_kind = :kind', { ws, kind });
    ctx.recordAct(act, 'retention.remove', ws, { kind });
    return null;
  }
  db.run(
    `INSERT INTO retention_rules (workspace_id, record_kind, keep_days, after_last_message_days, updated_by, updated_at)
     VALUES (:ws, :kind, :keep, :after, :by, :at)
     ON CONFLICT (workspace_id, record_kind) DO UPDATE SET keep_days = excluded.keep_days,
       after_last_message_days = excluded.after_last_message_days, updated_by = excluded.updated_by, updated_at = excluded.updated_at`,
    { ws, kind, keep: keepDays, after: afterLastMessageDays, by: actor, at },
  );
  const rule: RetentionRule = { kind, keepDays, afterLastMessageDays, updatedBy: actor, updatedAt: at };
  ctx.recordAct(act, 'retention.set', ws, {
    kind,
    keepDays,
    afterLastMessageDays,
    rule: describeRule(rule),
  });
  return rule;
}

/**
 * SQL true when a rule lets message `m` (of conversation `c`) go at :now. A conversation's last
 * message is its newest by WhatsApp time (one seek back in `messages_conversation`).
 */
function expirySql(rule: RetentionRule, tsColumn: string): string {
  const conditions: string[] = [];
  if (rule.keepDays !== null) conditions.push(`${tsColumn} < :now - ${rule.keepDays * DAY_MS}`);
  if (rule.afterLastMessageDays !== null)
    conditions.push(
      `(SELECT l.ts FROM messages l WHERE l.conversation_id = c.id ORDER BY l.ts DESC LIMIT 1) < :now - ${rule.afterLastMessageDays * DAY_MS}`,
    );
  return conditions.join(' AND ');
}

const DEFAULT_RUN_LIMIT = 10_000;

/** Applies the workspace's rules at `input.now`; a dry run only counts. Call inside `db.write`. */
export function runRetention(ctx: GovernanceContext, input: RetentionRunInput): RetentionRunResult {
  const { db } = ctx;
  const ws = input.workspaceId;
  requireWorkspace(db, ws);
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
  for (const rule of listRetention(db, ws)) {
    // Walked by conversation (conversations_contact, then messages_conversation by time), so a
    // run reads the workspace's conversations and its expired messages, not the whole table.
    // Internal notes are read as `m` too (the hold check reads m.workspace_id, conversation_id, ts).
    const from =
      rule.kind === 'messages'
        ? `FROM conversations c JOIN messages m ON m.conversation_id = c.id
           WHERE c.workspace_id = :ws AND m.purged_at IS NULL AND ${expirySql(rule, 'm.ts')}`
        : rule.kind === 'notes'
          ? `FROM conversations c JOIN internal_notes m ON m.conversation_id = c.id
           WHERE c.workspace_id = :ws AND m.purged_at IS NULL AND ${expirySql(rule, 'm.ts')}`
          : `FROM conversations c JOIN messages m ON m.conversation_id = c.id JOIN message_statuses s ON s.message_id = m.id
           WHERE c.workspace_id = :ws AND s.purged_at IS NULL AND ${expirySql(rule, 's.ts')}`;
    const id = rule.kind === 'statuses' ? 's.id' : 'm.id';
    const params = { ws, now: input.now };
    const held =
      db.get<{ n: number }>(`SELECT COUNT(*) AS n ${from} AND ${HELD_MESSAGE_SQL}`, params)?.n ?? 0;
    const text = describeRule(rule);
    if (input.dryRun) {
      // What would go in all, not only in one run's batch.
      const due =
        db.get<{ n: number }>(`SELECT COUNT(*) AS n ${from} AND NOT ${HELD_MESSAGE_SQL}`, params)?.n ?? 0;
      result.kinds.push({ kind: rule.kind, rule: text, purged: due, held });
      continue;
    }
    const ids = db
      .all<{ id: string }>(`SELECT ${id} AS id ${from} AND NOT ${HELD_MESSAGE_SQL} LIMIT :limit`, {
        ...params,
        limit,
      })
      .map((r) => r.id);
    result.kinds.push({ kind: rule.kind, rule: text, purged: ids.length, held });
    if (ids.length === 0) continue;
    if (rule.kind === 'messages') {
      purgeMessages(db, ws, ids, input.now, `retention:${rule.kind}`);
      result.purgedMessageIds.push(...ids);
    } else if (rule.kind === 'notes') {
      purgeNotes(db, ws, ids, input.now);
      purgedNotes.push(...ids);
    } else {
      purgeStatuses(db, ws, ids, input.now);
      purgedStatuses.push(...ids);
    }
    // The archive keeps the records' leaves; their sealed content goes, and a purge record says so.
    ctx.purgeArchive(ws, ids, {
      actor: `retention:${rule.kind}`,
      reason: `retention rule: ${text}`,
      details: {
        rule: { kind: rule.kind, keepDays: rule.keepDays, afterLastMessageDays: rule.afterLastMessageDays },
        runBy: auditActor(input.actor).actor,
      },
    });
  }
  if (
    !input.dryRun &&
    (result.purgedMessageIds.length > 0 || purgedStatuses.length > 0 || purgedNotes.length > 0)
  ) {
    ctx.recordAct(input.actor, 'retention.purge', ws, {
      at: input.now,
      rules: result.kinds.map((k) => ({ kind: k.kind, rule: k.rule, purged: k.purged, held: k.held })),
      messages: result.purgedMessageIds,
      statuses: purgedStatuses,
      ...(purgedNotes.length > 0 ? { notes: purgedNotes } : {}),
    });
  }
  return result;
}
