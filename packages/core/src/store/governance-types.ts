import type { AuditActor } from '../access/actor.ts';

// What the store keeps about the archive's governance (issue 18, items 4-6): legal holds,
// retention rules and their purges, erasures and their certificates.

/** What a legal hold covers. */
export type HoldScope =
  | { kind: 'workspace' }
  | { kind: 'contact'; contactId: string }
  | { kind: 'conversation'; conversationId: string }
  /** Messages whose WhatsApp time falls in [from, to] (epoch ms, both inclusive). */
  | { kind: 'range'; from: number; to: number };

export interface LegalHold {
  id: string;
  workspaceId: string;
  scope: HoldScope;
  reason: string;
  createdBy: string;
  createdAt: number;
  /** Null while the hold is active. */
  released: { at: number; by: string; reason: string } | null;
}

export interface AddHoldInput {
  workspaceId: string;
  /** A contact scope may name the contact by id, WhatsApp number (wa_id) or BSUID. */
  scope: HoldScope;
  reason: string;
  /** Who acts (`cli:ana`), or from the admin API with where the request came from. */
  actor: AuditActor;
}

/** The record kinds a retention rule applies to. */
export const RETENTION_KINDS = ['messages', 'statuses', 'notes'] as const;
export type RetentionKind = (typeof RETENTION_KINDS)[number];

/**
 * How long one kind of record is kept. `keepDays` is an obligation (SEC 17a-4, FINRA 4511: six
 * years): content younger than that is never purged, and an erasure of it becomes a restriction;
 * older content is purged. `afterLastMessageDays` purges a conversation's content that many days
 * after its last message. With both, content goes when both allow it.
 */
export interface RetentionRule {
  kind: RetentionKind;
  keepDays: number | null;
  afterLastMessageDays: number | null;
  updatedBy: string;
  updatedAt: number;
}

export interface RetentionRunInput {
  workspaceId: string;
  /** The time the rules are evaluated at (injected, so tests and what-ifs do not depend on the clock). */
  now: number;
  dryRun: boolean;
  /** Who acts (`cli:ana`), or from the admin API with where the request came from. */
  actor: AuditActor;
  /** At most this many records per kind in one run (the rest waits for the next run). */
  limit?: number;
}

export interface RetentionRunResult {
  workspaceId: string;
  at: number;
  dryRun: boolean;
  /** Per kind: what the rule said and what was (or, dry, would be) purged. */
  kinds: {
    kind: RetentionKind;
    rule: string;
    purged: number;
    /** Expired but kept: a legal hold covers them. */
    held: number;
  }[];
  /** Messages whose content (and media) was removed: their cached media files go too. */
  purgedMessageIds: string[];
}

/** Who an erasure is about. */
export type ErasureSubject =
  /** A contact by WhatsApp number (wa_id, digits; a leading + is ignored), BSUID, or contact id. */
  { kind: 'contact'; identifier: string } | { kind: 'conversation'; conversationId: string };

export interface EraseInput {
  workspaceId: string;
  subject: ErasureSubject;
  /** Who acts (`cli:ana`), or from the admin API with where the request came from. */
  actor: AuditActor;
  reason: string;
}

/** Whether the content was deleted, or kept restricted because the law requires keeping it. */
export type ErasureOutcome = 'erased' | 'restricted';

/**
 * What an erasure removed where (JSON, part of the archive). Platform ids are those wabridge
 * knew for the conversation when it asked each connector to remove its copy.
 */
export interface ErasureCertificate {
  id: string;
  workspaceId: string;
  outcome: ErasureOutcome;
  /** Why the outcome is a restriction (the rule that obliges keeping), else null. */
  restrictionGround: string | null;
  subject: { kind: ErasureSubject['kind']; contactId: string };
  requestedBy: string;
  reason: string;
  requestedAt: number;
  wabridge: {
    conversations: string[];
    /** Messages whose text, content and media were deleted (restricted: kept, marked). */
    messages: number;
    statuses: number;
    notices: number;
    /** Archived internal notes of agents (notes, edits, deletions): content deleted (restricted: kept). */
    internalNotes: number;
    /** Queued jobs of the contact removed (they would have carried its data). */
    jobsRemoved: number;
    /** Cached media files deleted from disk, as `<workspace>/<message id>.bin|.json`. */
    mediaFiles: string[];
    contactIdentifiersCleared: boolean;
  };
  connectors: ErasureConnectorPart[];
}

export interface ErasureConnectorPart {
  connectorId: string;
  conversationId: string;
  /** The platform's ids of wabridge's copies (thread, card, timeline entries), when known. */
  platformIds: { kind: string; entityId: string; externalId: string }[];
  /** `queued`/`retrying` until the connector's job completes (`confirmed`) or is dead-lettered (`dead`). */
  state: 'queued' | 'retrying' | 'confirmed' | 'dead';
  confirmedAt: number | null;
  /** The last error of a retrying or dead job. */
  error: string | null;
}

/** The messages an erasure removed, for deleting their cached media files. */
export interface EraseResult {
  certificate: ErasureCertificate;
  messageIds: string[];
}
