import {
  answeringReads,
  CONVERSATION_COLUMNS,
  type HydrateReads,
  type Job,
  type Message,
} from '@wabridge/core';
import { type ConsentStateRow, toConsentSnapshot } from './reads.ts';
import {
  type ContactRow,
  type ConversationRow,
  type MessageRow,
  toContact,
  toConversation,
  toWorkspace,
  type WorkspaceRow,
} from './rows.ts';

/**
 * A message row as JSON, its BYTEA content as base64 (to_jsonb would write it in the server's
 * bytea_output format).
 */
const messageJson = (alias: string) =>
  `(to_jsonb(${alias}) - 'content') || jsonb_build_object('content', encode(${alias}.content, 'base64'))`;

/**
 * What core's hydrateEvent reads for a message job ($1 workspace, $2 conversation, $3 message), in
 * one statement: each part as the store's own read would answer it (the same columns, the same
 * order of revisions), null or [] where there is nothing. Always one row.
 */
export const HYDRATE_MESSAGE_SQL = `
WITH conv AS (SELECT ${CONVERSATION_COLUMNS} FROM conversations c WHERE c.id = $2 AND c.workspace_id = $1),
     msg AS (SELECT * FROM messages WHERE id = $3 AND workspace_id = $1)
SELECT
  (SELECT to_jsonb(w) FROM workspaces w WHERE w.id = $1) AS workspace,
  (SELECT to_jsonb(conv) FROM conv) AS conversation,
  (SELECT to_jsonb(k) FROM contacts k JOIN conv ON k.id = conv.contact_id WHERE k.workspace_id = $1) AS contact,
  (SELECT coalesce(jsonb_agg(jsonb_build_object('category', s.category, 'state', s.state, 'source', s.source, 'at', s.at)), '[]'::jsonb)
     FROM consent_state s JOIN conv ON s.contact_id = conv.contact_id WHERE s.workspace_id = $1) AS consent,
  (SELECT ${messageJson('msg')} FROM msg) AS message,
  -- Spelled like listRevisions (the partial index messages_revisions), in its order.
  (SELECT coalesce(jsonb_agg(${messageJson('r')} ORDER BY r.ts, r.created_at, r.id), '[]'::jsonb)
     FROM msg JOIN messages r ON r.relates_to = msg.wamid AND r.type IN ('edit', 'revoke') AND r.workspace_id = $1
  ) AS revisions`;

/**
 * HYDRATE_MESSAGE_SQL for many jobs in one statement (see StatementBatch in batch.ts): the same
 * reads, per key of the arrays ($1 workspaces, $2 conversations, $3 messages), as a LATERAL
 * subquery, one row per key with its place (`ord`, from 1).
 */
export const HYDRATE_MESSAGES_SQL = `SELECT k.ord, h.* FROM unnest($1::text[], $2::text[], $3::text[])
  WITH ORDINALITY AS k(workspace_id, conversation_id, message_id, ord)
  CROSS JOIN LATERAL (${HYDRATE_MESSAGE_SQL.replaceAll('$1', 'k.workspace_id')
    .replaceAll('$2', 'k.conversation_id')
    .replaceAll('$3', 'k.message_id')}) h`;

type JsonMessageRow = Omit<MessageRow, 'content'> & { content: string };

export interface HydrateRow {
  workspace: WorkspaceRow | null;
  conversation: ConversationRow | null;
  contact: ContactRow | null;
  consent: ConsentStateRow[];
  message: JsonMessageRow | null;
  revisions: JsonMessageRow[];
}

/**
 * The store as core's hydrateEvent sees it for one message job: the reads `row` holds are answered
 * from it, for exactly the keys it was read for; any other read (a related message, another
 * conversation) goes to the store as before.
 */
export function prefetchedReads(
  store: HydrateReads,
  job: Job,
  row: HydrateRow,
  toMessage: (row: MessageRow) => Promise<Message>,
): HydrateReads {
  const ws = job.workspaceId;
  const contactId = row.conversation?.contact_id ?? null;
  const message = (r: JsonMessageRow) => toMessage({ ...r, content: Buffer.from(r.content, 'base64') });
  const answered: Partial<HydrateReads> = {
    getWorkspace: async (id) =>
      id === ws ? (row.workspace ? toWorkspace(row.workspace) : null) : store.getWorkspace(id),
    getConversation: async (w, id) =>
      w === ws && id === job.conversationId
        ? row.conversation
          ? toConversation(row.conversation)
          : null
        : store.getConversation(w, id),
    getContact: async (w, id) =>
      w === ws && id === contactId ? (row.contact ? toContact(row.contact) : null) : store.getContact(w, id),
    consentSnapshot: async (w, id) =>
      w === ws && id === contactId ? toConsentSnapshot(row.consent) : store.consentSnapshot(w, id),
    getMessage: async (w, id) =>
      w === ws && id === job.entityId ? (row.message ? message(row.message) : null) : store.getMessage(w, id),
    listRevisions: async (w, wamid) =>
      w === ws && row.message !== null && wamid === row.message.wamid
        ? Promise.all(row.revisions.map(message))
        : store.listRevisions(w, wamid),
  };
  return answeringReads(store, answered);
}
