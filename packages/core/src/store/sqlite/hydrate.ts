import type { Message } from '../../domain/types.ts';
import { answeringReads, type HydrateReads } from '../../queue/hydrate.ts';
import type { Job } from '../types.ts';
import { CONVERSATION_COLUMNS } from './reads.ts';
import {
  type ContactRow,
  type ConversationRow,
  type MessageRow,
  toConsentSnapshot,
  toContact,
  toConversation,
  toWorkspace,
  type WorkspaceRow,
} from './rows.ts';

// Each part's columns under a prefix of its own: the parts share column names (id, workspace_id,
// created_at), and one row carries them all.
const WORKSPACE = ['id', 'name', 'policies', 'created_at'] as const satisfies readonly (keyof WorkspaceRow)[];
const CONVERSATION = [
  'id',
  'workspace_id',
  'contact_id',
  'phone_number_id',
  'display_phone_number',
  'last_inbound_at',
  'created_at',
  'erased_at',
  'restricted_at',
] as const satisfies readonly (keyof ConversationRow)[];
const CONTACT = [
  'id',
  'workspace_id',
  'wa_id',
  'bsuid',
  'parent_bsuid',
  'username',
  'profile_name',
  'created_at',
  'updated_at',
] as const satisfies readonly (keyof ContactRow)[];
const MESSAGE = [
  'id',
  'workspace_id',
  'conversation_id',
  'direction',
  'wamid',
  'type',
  'ts',
  'text',
  'content',
  'state',
  'error',
  'sender',
  'relates_to',
  'created_at',
] as const satisfies readonly (keyof MessageRow)[];

const prefixed = (alias: string, prefix: string, columns: readonly string[]) =>
  columns.map((column) => `${alias}.${column} AS ${prefix}${column}`).join(', ');

/**
 * What core's hydrateEvent reads for a message job (:ws workspace, :conversation, :message), in
 * one statement instead of six: the workspace, the conversation (with its last inbound time, as
 * getConversation reads it), its contact, the contact's consent rows, the message, and whether
 * the message has revisions (edits, a deletion: rare, read by listRevisions then). Each part is
 * null where its row is missing. Always one row.
 */
export const HYDRATE_MESSAGE_SQL = `
SELECT ${prefixed('w', 'w_', WORKSPACE)},
  ${prefixed('cv', 'c_', CONVERSATION)},
  ${prefixed('k', 'k_', CONTACT)},
  (SELECT json_group_array(json_array(s.category, s.state, s.source, s.at)) FROM consent_state s
     WHERE s.workspace_id = :ws AND s.contact_id = cv.contact_id) AS consent,
  ${prefixed('m', 'm_', MESSAGE)},
  -- Spelled like listRevisions' predicate (the partial index messages_revisions).
  EXISTS (SELECT 1 FROM messages r WHERE r.relates_to = m.wamid AND r.type IN ('edit', 'revoke')
    AND r.workspace_id = :ws) AS revised
FROM (SELECT 1) one
LEFT JOIN workspaces w ON w.id = :ws
LEFT JOIN (SELECT ${CONVERSATION_COLUMNS} FROM conversations c WHERE c.id = :conversation AND c.workspace_id = :ws) cv
LEFT JOIN contacts k ON k.id = cv.contact_id AND k.workspace_id = :ws
LEFT JOIN messages m ON m.id = :message AND m.workspace_id = :ws`;

export type HydrateRow = Record<string, unknown> & { consent: string; revised: number };

/** A part of a HYDRATE_MESSAGE_SQL row: its columns, and their names in the row (made once). */
const partOf = (prefix: string, columns: readonly string[]) => ({
  columns,
  keys: columns.map((column) => `${prefix}${column}`),
});
const WORKSPACE_PART = partOf('w_', WORKSPACE);
const CONVERSATION_PART = partOf('c_', CONVERSATION);
const CONTACT_PART = partOf('k_', CONTACT);
const MESSAGE_PART = partOf('m_', MESSAGE);

/** One part of a HYDRATE_MESSAGE_SQL row, by its own column names; null when its row is missing (its first column, `id`, is NULL). */
function part<T>(row: HydrateRow, { columns, keys }: ReturnType<typeof partOf>): T | null {
  if (row[keys[0] as string] === null) return null;
  const out: Record<string, unknown> = {};
  for (let i = 0; i < columns.length; i++) out[columns[i] as string] = row[keys[i] as string];
  return out as T;
}

/**
 * The store as core's hydrateEvent sees it for one message job: the reads `row` holds are
 * answered from it, for exactly the keys it was read for; any other read (a related message,
 * the revisions of a revised message, another conversation) goes to the store as before. So the
 * event is built by the same code, from the same rows, as without the prefetch.
 */
export function prefetchedReads(
  store: HydrateReads,
  job: Job,
  row: HydrateRow,
  toMessage: (row: MessageRow) => Message,
): HydrateReads {
  const ws = job.workspaceId;
  const workspace = part<WorkspaceRow>(row, WORKSPACE_PART);
  const conversation = part<ConversationRow>(row, CONVERSATION_PART);
  const contact = part<ContactRow>(row, CONTACT_PART);
  const message = part<MessageRow>(row, MESSAGE_PART);
  const contactId = conversation?.contact_id ?? null;
  const answered: Partial<HydrateReads> = {
    getWorkspace: async (id) => (id === ws ? workspace && toWorkspace(workspace) : store.getWorkspace(id)),
    getConversation: async (w, id) =>
      w === ws && id === job.conversationId
        ? conversation && toConversation(conversation)
        : store.getConversation(w, id),
    getContact: async (w, id) =>
      w === ws && id === contactId ? contact && toContact(contact) : store.getContact(w, id),
    consentSnapshot: async (w, id) =>
      w === ws && id === contactId
        ? toConsentSnapshot(JSON.parse(row.consent) as [string, string, string, number][])
        : store.consentSnapshot(w, id),
    getMessage: async (w, id) =>
      w === ws && id === job.entityId ? message && toMessage(message) : store.getMessage(w, id),
    listRevisions: async (w, wamid) =>
      w === ws && message !== null && wamid === message.wamid && !row.revised
        ? []
        : store.listRevisions(w, wamid),
  };
  return answeringReads(store, answered);
}
