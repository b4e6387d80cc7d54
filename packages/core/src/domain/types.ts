/**
 * The domain wabridge keeps: workspaces own phone numbers; a contact talks to a business number
 * in one conversation; messages flow both ways; consent is a ledger per contact.
 * Timestamps are epoch milliseconds throughout.
 */

export interface Workspace {
  id: string;
  name: string;
  policies: WorkspacePolicies;
  createdAt: number;
}

export interface PhoneNumber {
  phoneNumberId: string;
  workspaceId: string;
  displayPhoneNumber: string | null;
  wabaId: string | null;
}

/** How a phone number is shown in mirrors: in full, with the middle hidden, or only its last 4 digits. */
export type NumberMasking = 'none' | 'partial' | 'last4';

export interface OptOutKeywords {
  /** Whole-message keywords (case and accent insensitive) that opt the contact out of all messages. */
  stop: string[];
  /** Keywords that opt the contact back in. */
  start: string[];
}

export interface TemplateDefinition {
  name: string;
  language: string;
  category: 'marketing' | 'utility' | 'authentication';
  /** Body text with {{1}}…{{n}} placeholders, shown to agents when they pick a template. */
  body: string;
  /** Number of body parameters the template takes. */
  parameters: number;
}

export interface WorkspacePolicies {
  numberMasking: NumberMasking;
  /** Keyword lists by language tag; all lists are checked. */
  optOutKeywords: Record<string, OptOutKeywords>;
  /** Templates agents may send when the 24-hour window is closed. */
  templates: TemplateDefinition[];
  /** Delay before an inbound message is mirrored, so webhooks that arrive out of order can be sorted. */
  reorderWindowMs: number;
  /**
   * Keep agents' internal notes (replies in a mirrored thread that are not sent to the customer)
   * in the archive, marked internal (issue 18, item 1). Off by default: a note stays on its
   * platform only. Notes are never sent to WhatsApp nor mirrored elsewhere, whatever this says.
   */
  archiveInternalNotes: boolean;
}

export const DEFAULT_OPT_OUT_KEYWORDS: Record<string, OptOutKeywords> = {
  en: {
    stop: ['stop', 'unsubscribe', 'stop all', 'cancel', 'end', 'quit', 'opt out'],
    start: ['start', 'unstop', 'subscribe', 'opt in'],
  },
  es: { stop: ['baja', 'parar', 'detener', 'cancelar'], start: ['alta', 'reanudar'] },
  pt: { stop: ['parar', 'sair', 'cancelar'], start: ['voltar', 'retomar'] },
  de: { stop: ['stopp', 'abmelden'], start: ['anmelden'] },
  fr: { stop: ['arret', 'desabonner', 'desinscrire'], start: ['reprendre'] },
};

export const DEFAULT_POLICIES: WorkspacePolicies = {
  numberMasking: 'partial',
  optOutKeywords: DEFAULT_OPT_OUT_KEYWORDS,
  templates: [],
  reorderWindowMs: 0,
  archiveInternalNotes: false,
};

export interface Contact {
  id: string;
  workspaceId: string;
  /** WhatsApp id (usually the phone number in E.164 without '+'); absent for username-only users. */
  waId: string | null;
  /** Business-scoped user id (BSUID), e.g. `US.13491208655302741918`. */
  bsuid: string | null;
  parentBsuid: string | null;
  username: string | null;
  profileName: string | null;
  createdAt: number;
  updatedAt: number;
}

export interface Conversation {
  id: string;
  workspaceId: string;
  contactId: string;
  phoneNumberId: string;
  /** The business number as customers see it, when known. */
  displayPhoneNumber: string | null;
  /** WhatsApp time of the newest inbound message: the 24-hour window runs from here. */
  lastInboundAt: number | null;
  createdAt: number;
  /** Set when the conversation was erased; the row stays as a tombstone. */
  erasedAt: number | null;
  /**
   * Set when an erasure was asked while the law still requires keeping the content (GDPR art.
   * 18): the content stays, and no mirror or read sees it.
   */
  restrictedAt: number | null;
}

export type Direction = 'inbound' | 'outbound';

/** Progress of an outbound message. `pending` = recorded, not yet accepted by WhatsApp. */
export type OutboundState = 'pending' | 'sent' | 'delivered' | 'read' | 'played' | 'failed';

export interface Sender {
  /** The connector the agent wrote from (`slack`, `teams`, …) or `api`/`admin`. */
  via: string;
  /**
   * The platform's name for people (`Microsoft Teams`) when `via` is a connector, written by the
   * core from the connector's manifest so that no renderer needs a table of other platforms.
   */
  viaName?: string | null;
  agentId: string | null;
  agentName: string | null;
}

export interface MessageError {
  code: number | string;
  title: string;
  /** What the error means, in words an agent understands. */
  meaning: string;
  /** What to do about it. */
  action: string;
}

export interface Message {
  id: string;
  workspaceId: string;
  conversationId: string;
  direction: Direction;
  /** WhatsApp message id; null for an outbound message WhatsApp has not accepted yet. */
  wamid: string | null;
  /** WhatsApp message type (`text`, `image`, `reaction`, … or any future type). */
  type: string;
  /** WhatsApp time (inbound) or the time the agent wrote it (outbound). */
  timestamp: number;
  /** Human-readable text of the message, when it has any. */
  text: string | null;
  /**
   * The message as WhatsApp sent it (inbound, unknown fields kept) or the send request (outbound).
   * Erased messages have `{}` here and `text` null.
   */
  content: Record<string, unknown>;
  state: OutboundState | null;
  error: MessageError | null;
  sender: Sender | null;
  /** wamid this message replies to, reacts to, edits or deletes, when it does. */
  relatesTo: string | null;
  createdAt: number;
  /**
   * What the message shows now, after the edits and deletions kept beside it (see
   * {@link deriveRevision}). Set on the messages of the events mirrors receive; absent otherwise.
   */
  revision?: MessageRevision | null;
}

/** Message types that change an earlier message instead of adding one (rows of their own). */
export const CHANGE_TYPES: ReadonlySet<string> = new Set(['edit', 'revoke']);

/**
 * A message as its author's later edits and deletion left it. The archive keeps the original row
 * and every edit and revoke as rows of their own (each with its wamid and time); this is derived.
 */
export interface MessageRevision {
  /** The newest edit's text (its body, or caption), or null when not edited or the edit had none. */
  text: string | null;
  /** The newest edit's new version as WhatsApp sent it (`edit.message`), when edited. */
  content: Record<string, unknown> | null;
  edits: number;
  /** WhatsApp time of the newest edit. */
  editedAt: number | null;
  /** WhatsApp time of the deletion ("delete for everyone"). */
  revokedAt: number | null;
}

/**
 * Folds the edits and revokes of one message, oldest first, into what the message shows now. Null
 * when there are none. A deletion wins over every edit, whatever order they arrived in.
 */
export function deriveRevision(changes: readonly Message[]): MessageRevision | null {
  let revision: MessageRevision | null = null;
  for (const change of changes) {
    revision ??= { text: null, content: null, edits: 0, editedAt: null, revokedAt: null };
    if (change.type === 'revoke') {
      revision.revokedAt = Math.min(revision.revokedAt ?? change.timestamp, change.timestamp);
    } else if (change.type === 'edit') {
      revision.edits += 1;
      if (revision.editedAt === null || change.timestamp >= revision.editedAt) {
        const edit = change.content.edit as { message?: unknown } | undefined;
        const next = edit?.message;
        revision.editedAt = change.timestamp;
        revision.text = change.text;
        revision.content =
          typeof next === 'object' && next !== null ? (next as Record<string, unknown>) : null;
      }
    }
  }
  return revision;
}

export type StatusName = 'sent' | 'delivered' | 'read' | 'played' | 'failed' | (string & {});

export interface MessageStatus {
  id: string;
  workspaceId: string;
  wamid: string;
  messageId: string | null;
  status: StatusName;
  timestamp: number;
  error: MessageError | null;
  raw: Record<string, unknown>;
}

export type ConsentCategory = 'all' | 'marketing';
export type ConsentState = 'opted_in' | 'opted_out';
/**
 * Who changed consent: the bridge's own sources (an opt-out keyword, WhatsApp's user preferences, an
 * administrator, the API, a send WhatsApp refused), or the id of the connector whose platform
 * recorded the change (a CRM's consent property).
 */
export type ConsentSource =
  | 'keyword'
  | 'meta_preference'
  | 'admin'
  | 'api'
  | 'platform_error'
  | (string & {});

export interface ConsentEntry {
  id: string;
  workspaceId: string;
  contactId: string;
  category: ConsentCategory;
  state: ConsentState;
  source: ConsentSource;
  /** Who made the change, when known (`<connector>:portal/123:user/456`, an admin's name …). */
  actor: string | null;
  /** The message (our id) that carried the change, for keyword and platform-error sources. */
  evidenceMessageId: string | null;
  occurredAt: number;
  recordedAt: number;
  details: Record<string, unknown>;
}

/** Current consent per category; a category with no entry is `opted_in` (Meta's default). */
export type ConsentSnapshot = Record<
  ConsentCategory,
  { state: ConsentState; source: ConsentSource | null; at: number | null }
>;

/** A reference a connector created on its platform for one of our entities. */
export interface ExternalRef {
  connectorId: string;
  kind: 'conversation' | 'message' | 'contact' | (string & {});
  entityId: string;
  externalId: string;
  data: Record<string, unknown>;
}

export const WINDOW_MS = 24 * 60 * 60 * 1000;

export function windowState(conversation: Pick<Conversation, 'lastInboundAt'>, now: number): WindowState {
  if (conversation.lastInboundAt === null) return { open: false, closesAt: null };
  const closesAt = conversation.lastInboundAt + WINDOW_MS;
  return { open: now < closesAt, closesAt };
}

export interface WindowState {
  open: boolean;
  closesAt: number | null;
}

/** Shows a phone number the way the workspace policy allows. */
export function maskNumber(number: string | null, masking: NumberMasking): string | null {
  if (number === null) return null;
  const digits = number.replace(/[^\d]/g, '');
  const plus = `+${digits}`;
  if (masking === 'none' || digits.length < 6) return plus;
  if (masking === 'last4') return `•••• ${digits.slice(-4)}`;
  return `+${digits.slice(0, 2)}${'•'.repeat(Math.max(0, digits.length - 6))}${digits.slice(-4)}`;
}

/** A job's claim: the store settles a job, and fences the writes made for it, only with its lease. */
export interface Lease {
  jobId: number;
  token: string;
}
