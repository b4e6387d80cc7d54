import {
  ARCHIVE_CONTENT_PURPOSE,
  GLOBAL_ARCHIVE_LOG,
  MESSAGE_BODY,
  PLATFORM_PAYLOAD,
  parseOpenedContent,
  STATUS_RAW,
  sealedKeyId,
  UNROUTED_PAYLOAD,
} from '@wabridge/core';
import type { PgArchiveAppender } from './archive.ts';
import type { PgDatabase, Tx } from './database.ts';
import type { PgKeyring } from './keyring.ts';

// `wabridge keys rotate` on Postgres (issue 18 item 3): the SQLite store's rewrapDataKeys,
// rotateDataKey and reencryptBatch (core: store/sqlite/config.ts) with the same meaning, while
// gateways on other machines keep writing.

/** The smallest sealed value (format, key id, IV, tag): shorter, or another first byte, is plain. */
const MIN_SEALED = 1 + 4 + 12 + 16;
const isSealed = (c: string) => `(octet_length(${c}) >= ${MIN_SEALED} AND get_byte(${c}, 0) = 1)`;
/** Sealed with another key than $2, or plain where the plain value is not `plainOk`. */
const stale = (c: string, plainOk: string) =>
  `(CASE WHEN ${isSealed(c)} THEN substring(${c} from 2 for 4) <> $2 ELSE NOT (${plainOk}) END)`;
/** What sealColumn leaves plain: nothing to hide. */
const PLAIN_OK = (c: string) => `${c} = '\\x7b7d'::bytea OR ${c} = '\\x6e756c6c'::bytea`;

interface Place {
  table: string;
  /** The row's key (unique within the rows `where` selects), in the order batches walk. */
  key: string;
  keyType: 'text' | 'bigint';
  column: string;
  purpose: string;
  /** Whose rows, for a workspace ($1) and for the global log; null when it has none there. */
  workspaceWhere: string | null;
  globalWhere: string | null;
}

/**
 * Where sealed values live besides messages (as SEALED_COLUMNS in the SQLite store). A message's
 * body (text and content sealed together, purpose archive.content) is re-sealed apart.
 */
const PLACES: readonly Place[] = [
  {
    table: 'message_statuses',
    key: 'id',
    keyType: 'text',
    column: 'raw',
    purpose: STATUS_RAW,
    workspaceWhere: 'workspace_id = $1',
    globalWhere: null,
  },
  {
    table: 'platform_events',
    key: 'id',
    keyType: 'text',
    column: 'payload',
    purpose: PLATFORM_PAYLOAD,
    workspaceWhere: 'workspace_id = $1',
    globalWhere: 'workspace_id IS NULL AND $1::text IS NOT NULL',
  },
  {
    table: 'unrouted_events',
    key: 'id',
    keyType: 'text',
    column: 'payload',
    purpose: UNROUTED_PAYLOAD,
    workspaceWhere: null,
    globalWhere: '$1::text IS NOT NULL',
  },
  {
    table: 'archive_content',
    key: 'seq',
    keyType: 'bigint',
    column: 'sealed',
    purpose: ARCHIVE_CONTENT_PURPOSE,
    workspaceWhere: 'workspace_id = $1',
    globalWhere: 'workspace_id = $1',
  },
];

/**
 * Where each re-encryption pass is, per workspace, current key and table: the key of the last row
 * a batch re-sealed (the next batch goes on after it, so a pass reads each row about once instead
 * of every batch reading from the start), or absent to start from the beginning. A table is done
 * only when a walk from its beginning reached its end: after a walk that started midway reaches
 * the end, the next batch walks it once more from the beginning.
 */
export type ReencryptCursors = Map<string, string | number>;

export interface KeyRotationDeps {
  db: PgDatabase;
  keyring: PgKeyring;
  archive: PgArchiveAppender;
  cursors: ReencryptCursors;
}

/** Re-seals up to `limit` values of the workspace not sealed with its current key; 0 when done. */
export function reencryptBatch(deps: KeyRotationDeps, workspaceId: string, limit: number): Promise<number> {
  const { db, keyring } = deps;
  return db.transaction(async (tx) => {
    const current = await keyring.current(tx, workspaceId);
    const kid = Buffer.from(current.id, 'hex');
    let done = 0;
    // Where the walks are now; kept once committed (a transaction retried from the start, after a
    // deadlock, starts from where the last committed batch left off).
    const moved = new Map<string, string | number | undefined>();
    tx.afterCommit(() => {
      for (const [key, at] of moved) {
        if (at === undefined) deps.cursors.delete(key);
        else deps.cursors.set(key, at);
      }
    });
    const walk = async (
      name: string,
      step: (after: string | number | undefined, budget: number) => Promise<Array<string | number>>,
    ) => {
      const cursorKey = `${workspaceId}\0${current.id}\0${name}`;
      for (;;) {
        const after = moved.has(cursorKey) ? moved.get(cursorKey) : deps.cursors.get(cursorKey);
        const budget = limit - done;
        const keys = await step(after, budget);
        done += keys.length;
        if (keys.length === budget) {
          moved.set(cursorKey, keys[keys.length - 1]);
          return;
        }
        // The end: done with this table when the walk started at its beginning, else once more.
        moved.set(cursorKey, undefined);
        if (after === undefined) return;
      }
    };

    await walk('messages', async (after, budget) => {
      const rows = await tx.all<{ id: string; text: string | null; content: Buffer }>(
        `SELECT id, text, content FROM messages
         WHERE workspace_id = $1 AND ${stale('content', "content = '\\x7b7d'::bytea AND text IS NULL")}
           AND ($3::text IS NULL OR id > $3) ORDER BY id LIMIT $4 FOR UPDATE`,
        [workspaceId, kid, after ?? null, budget],
      );
      const sealed: Buffer[] = [];
      for (const row of rows) sealed.push(await resealBody(deps, tx, current, workspaceId, row));
      if (rows.length > 0) {
        await tx.run(
          `UPDATE messages m SET text = NULL, content = v.content
           FROM unnest($1::text[], $2::bytea[]) AS v(id, content) WHERE m.id = v.id`,
          [rows.map((r) => r.id), sealed],
        );
      }
      return rows.map((r) => r.id);
    });
    for (const place of PLACES) {
      if (done >= limit) break;
      const where = workspaceId === GLOBAL_ARCHIVE_LOG ? place.globalWhere : place.workspaceWhere;
      if (where === null) continue;
      await walk(place.table, async (after, budget) => {
        const rows = await tx.all<{ k: string | number; v: Buffer }>(
          `SELECT ${place.key} AS k, ${place.column} AS v FROM ${place.table}
           WHERE ${where} AND ${stale(place.column, PLAIN_OK(place.column))}
             AND ($3::${place.keyType} IS NULL OR ${place.key} > $3)
           ORDER BY ${place.key} LIMIT $4 FOR UPDATE`,
          [workspaceId, kid, after ?? null, budget],
        );
        const sealed: Buffer[] = [];
        for (const row of rows) {
          const plain =
            sealedKeyId(row.v) === null ? row.v : await keyring.open(tx, workspaceId, place.purpose, row.v);
          sealed.push(keyring.seal(current, workspaceId, place.purpose, plain));
        }
        if (rows.length > 0) {
          await tx.run(
            `UPDATE ${place.table} t SET ${place.column} = v.v
             FROM unnest($2::${place.keyType}[], $3::bytea[]) AS v(k, v)
             WHERE t.${place.key} = v.k AND ${where.replaceAll('workspace_id', 't.workspace_id')}`,
            [workspaceId, rows.map((r) => r.k), sealed],
          );
        }
        return rows.map((r) => r.k);
      });
    }
    return done;
  });
}

/**
 * A message's body sealed with the current key: one sealed in the shared form (its archive
 * content's salt and canonical JSON) keeps its plaintext, so it still equals its archive content;
 * one in the earlier form (MESSAGE_BODY, from a SQLite copy) or plain is sealed in the shared form.
 */
async function resealBody(
  deps: KeyRotationDeps,
  tx: Tx,
  current: Awaited<ReturnType<PgKeyring['current']>>,
  ws: string,
  row: { text: string | null; content: Buffer },
): Promise<Buffer> {
  let body: { text: string | null; content: unknown };
  if (sealedKeyId(row.content) === null) {
    body = { text: row.text, content: JSON.parse(row.content.toString('utf8')) };
  } else {
    let opened: Buffer;
    try {
      opened = await deps.keyring.open(tx, ws, ARCHIVE_CONTENT_PURPOSE, row.content);
    } catch {
      const text = (await deps.keyring.open(tx, ws, MESSAGE_BODY, row.content)).toString('utf8');
      const split = text.indexOf('\n');
      body = { text: JSON.parse(text.slice(0, split)), content: JSON.parse(text.slice(split + 1)) };
      return (await deps.archive.sealContent(tx, ws, { content: body.content ?? null, text: body.text }))
        .sealed;
    }
    // Checked to be the shared form before it is re-sealed as it is.
    parseOpenedContent(opened);
    return deps.keyring.seal(current, ws, ARCHIVE_CONTENT_PURPOSE, opened);
  }
  return (await deps.archive.sealContent(tx, ws, { content: body.content ?? null, text: body.text })).sealed;
}

/** How long a rotation waits for transactions older than it (see waitForOlderTransactions). */
const OLDER_TRANSACTIONS_WAIT_MS = 60_000;
const POLL_MS = 20;

/**
 * Waits until every transaction on the database that was open when the rotation committed has
 * ended, as CREATE INDEX CONCURRENTLY waits out older transactions: one of them may have read the
 * old key as current (PgKeyring reads it once per transaction) and still seal with it. Its values
 * stay readable (the old key is kept), but a re-encryption pass that finished before it committed
 * would leave them on the old key. Transactions begun later read the new key. Gives up after a
 * minute (a long transaction such as pg_dump's); what such a transaction seals is re-sealed by the
 * next `keys rotate --workspace`. Answers how many were still open when it gave up (0: none).
 */
export async function waitForOlderTransactions(
  db: PgDatabase,
  waitMs = OLDER_TRANSACTIONS_WAIT_MS,
): Promise<number> {
  // As text: a Date would drop the microseconds, and miss a transaction begun in that instant.
  const mark = await db.get<{ at: string }>('SELECT statement_timestamp()::text AS at');
  const deadline = Date.now() + waitMs;
  for (;;) {
    // Backends of other roles show no xact_start without pg_read_all_stats: gateways connect as
    // the store's own role, whose sessions are visible.
    const row = await db.get<{ n: number }>(
      `SELECT count(*)::int AS n FROM pg_stat_activity
       WHERE datname = current_database() AND pid <> pg_backend_pid()
         AND backend_type = 'client backend' AND xact_start < $1::timestamptz`,
      [mark?.at],
    );
    const open = row?.n ?? 0;
    if (open === 0 || Date.now() >= deadline) return open;
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}
