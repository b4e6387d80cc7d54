import type { AuditActor } from '../access/actor.ts';
import type { WorkspaceRole } from '../access/roles.ts';
import type { ThrottleDecision, ThrottleKey, ThrottlePolicy } from '../access/throttle.ts';
import type {
  AdminAccount,
  AdminAccountRecord,
  AdminGrant,
  AdminSessionRecord,
  ApiToken,
  ApiTokenRecord,
} from '../access/types.ts';
import type { DomainEvent, DomainEventType } from '../domain/events.ts';
import type {
  ConsentCategory,
  ConsentEntry,
  ConsentSnapshot,
  ConsentSource,
  ConsentState,
  Contact,
  Conversation,
  ExternalRef,
  Lease,
  Message,
  MessageError,
  MessageStatus,
  PhoneNumber,
  Sender,
  TemplateDefinition,
  Workspace,
  WorkspacePolicies,
} from '../domain/types.ts';
import type { PaceLedger } from '../util/pace-ledger.ts';
import type {
  AddHoldInput,
  EraseInput,
  EraseResult,
  ErasureCertificate,
  LegalHold,
  RetentionRule,
  RetentionRunInput,
  RetentionRunResult,
} from './governance-types.ts';

// Defined with the domain (a `SendRequest` carries one); kept here, where the jobs are.
export type { Lease };

/**
 * The store, by role. Operations are coarse and say what they mean ("ingest this webhook", "record
 * this agent reply"): each is one transaction in the adapter, so SQL and transaction semantics stay
 * inside the adapter. Each role below is a small interface with its own part of the conformance
 * suite (`testing/store-conformance.ts`); code that needs some roles takes only those (routing takes
 * `ConfigStore`, the queue worker jobs, refs, state and reads), and `Store` is all of them.
 * Every query is scoped by workspace.
 */

/** Opening and closing: every adapter has them. */
export interface StoreLifecycle {
  /** Which adapter this is: the SQLite store (core) or the Postgres store (@wabridge/store-postgres). */
  readonly kind: 'sqlite' | 'postgres';
  migrate(): Promise<void>;
  close(): Promise<void>;
}

/**
 * Configuration: workspaces, their numbers and data keys, Meta apps and number credentials,
 * connector settings. Every change moves `configVersion`, which routing caches compare.
 */
export interface ConfigStore {
  createWorkspace(input: {
    id?: string;
    name: string;
    policies?: Partial<WorkspacePolicies>;
  }): Promise<Workspace>;
  getWorkspace(id: string): Promise<Workspace | null>;
  listWorkspaces(): Promise<Workspace[]>;
  updateWorkspace(
    id: string,
    patch: { name?: string; policies?: Partial<WorkspacePolicies> },
  ): Promise<Workspace>;
  deleteWorkspace(id: string): Promise<void>;
  /**
   * A workspace's data key (encryption at rest), base64: the current one (made if it has none)
   * when no id is given, else the one named by a sealed value. For sealing media files outside
   * the store; never logged, never leaves the process.
   */
  dataKey(workspaceId: string, keyId?: string): Promise<{ keyId: string; key: string }>;
  addPhoneNumber(input: PhoneNumber): Promise<void>;
  removePhoneNumber(phoneNumberId: string): Promise<void>;
  listPhoneNumbers(workspaceId?: string): Promise<PhoneNumber[]>;
  resolvePhoneNumber(phoneNumberId: string): Promise<PhoneNumber | null>;
  /** Registers or replaces a Meta app (its secrets and verify token as ciphertexts). */
  putWhatsAppApp(app: Omit<WhatsAppAppRecord, 'createdAt'>): Promise<void>;
  /** `conflict` while a number's credentials name the app, `not_found` when it is not registered. */
  removeWhatsAppApp(appId: string): Promise<void>;
  listWhatsAppApps(): Promise<WhatsAppAppRecord[]>;
  /** A number's own app and token; the number must be in `workspaceId` and the app registered. */
  setNumberCredentials(input: WhatsAppNumberCredentials): Promise<void>;
  /** True when there were credentials to remove. */
  removeNumberCredentials(workspaceId: string, phoneNumberId: string): Promise<boolean>;
  listNumberCredentials(workspaceId?: string): Promise<WhatsAppNumberCredentials[]>;
  setConnector(input: ConnectorSettingInput): Promise<void>;
  getConnector(workspaceId: string, connectorId: string): Promise<ConnectorSetting | null>;
  listConnectors(workspaceId?: string): Promise<ConnectorSetting[]>;
  /** Grows on every change to workspaces, numbers or connector settings; caches compare it. */
  configVersion(): Promise<number>;
}

/**
 * Key rotation (encryption at rest, issue 18 item 3), for `wabridge keys rotate`: both stores
 * implement it (the SQLite store on a direct connection to its file, the Postgres store on its
 * pool). Not a role of `Store`: the gateway's threaded SQLite store does not forward it.
 */
export interface KeyRotationStore {
  /** The id of the master key data keys are wrapped with from now on. */
  readonly masterKeyId: string;
  /**
   * Re-wraps every data key not wrapped by the current master key (after WABRIDGE_MASTER_KEY
   * changed and the old one moved to WABRIDGE_MASTER_KEY_PREVIOUS); answers how many. The content
   * itself is untouched.
   */
  rewrapDataKeys(): Promise<number>;
  /**
   * A new current data key for the workspace (or the global log), for every write from now on,
   * in every process; the old one is kept to read what it sealed. Answers the new key's id.
   */
  rotateDataKey(workspaceId: string): Promise<string>;
  /**
   * Re-seals up to `limit` values of the workspace not sealed with its current data key (or not
   * sealed at all), in one short write transaction, so running gateways keep serving between
   * batches: messages' bodies, statuses' raw objects, kept platform (and, for the global log,
   * unrouted) events, archive contents. Answers how many it re-sealed: 0 when done.
   */
  reencryptBatch(workspaceId: string, limit?: number): Promise<number>;
}

/** The store as `keys rotate` takes it, when it is one (see KeyRotationStore). */
export function keyRotationStoreOf<S extends object>(store: S): (S & KeyRotationStore) | null {
  return 'reencryptBatch' in store && 'rotateDataKey' in store ? (store as S & KeyRotationStore) : null;
}

/** Admin access (src/access): accounts, role grants, sessions, API tokens, sign-in throttling. */
export interface AccessStore {
  /** Fails `conflict` when the email is taken. */
  createAdminAccount(account: AdminAccountRecord): Promise<void>;
  getAdminAccount(id: string): Promise<AdminAccountRecord | null>;
  /** Emails are compared lowercased. */
  findAdminAccountByEmail(email: string): Promise<AdminAccountRecord | null>;
  listAdminAccounts(): Promise<AdminAccount[]>;
  updateAdminAccount(
    id: string,
    patch: { name?: string; passwordHash?: string; owner?: boolean; disabledAt?: number | null },
  ): Promise<void>;
  /** Grants `role` in the workspace (replacing the previous one), or revokes it with `null`. */
  setAdminGrant(grant: {
    accountId: string;
    workspaceId: string;
    role: WorkspaceRole | null;
    at: number;
  }): Promise<void>;
  listAdminGrants(filter: { accountId?: string; workspaceId?: string }): Promise<AdminGrant[]>;
  createAdminSession(session: AdminSessionRecord): Promise<void>;
  getAdminSession(idHash: string): Promise<AdminSessionRecord | null>;
  touchAdminSession(idHash: string, lastSeenAt: number): Promise<void>;
  /** Deletes one session, or every session of an account (but `except`). Returns how many. */
  deleteAdminSessions(which: { idHash: string } | { accountId: string; except?: string }): Promise<number>;
  createApiToken(token: ApiTokenRecord): Promise<void>;
  getApiTokenByHash(tokenHash: string): Promise<ApiTokenRecord | null>;
  listApiTokens(workspaceId: string): Promise<ApiToken[]>;
  /** False when the workspace has no such token (or it was revoked before). */
  revokeApiToken(workspaceId: string, id: string, at: number): Promise<boolean>;
  touchApiToken(id: string, at: number): Promise<void>;
  /**
   * Counts one sign-in attempt against every key, in one transaction, unless one of them is
   * locked (see access/throttle.ts): then nothing is counted and the wait is returned.
   */
  takeLoginAttempt(
    keys: readonly ThrottleKey[],
    at: number,
    policy: ThrottlePolicy,
  ): Promise<ThrottleDecision>;
  /** Forgets the failures of a key (a successful sign-in). */
  clearLoginAttempts(key: string): Promise<void>;
  /**
   * Deletes sessions unused since `lastSeenBefore` or begun before `createdBefore`, and throttle
   * counts last touched before `attemptsBefore`: what no request can use any more. Returns how many.
   */
  purgeAdminAccess(cutoffs: {
    lastSeenBefore: number;
    createdBefore: number;
    attemptsBefore: number;
  }): Promise<number>;
}

/**
 * Writes that come in: WhatsApp webhook contents and the connectors' commands (agent replies,
 * notices, consent), each one transaction that also queues the delivery jobs it causes; the keys
 * that make them idempotent.
 */
export interface IngestStore {
  /**
   * Stores webhook contents and fans out delivery jobs, in one transaction per call (adapters may
   * group-commit concurrent calls). Idempotent: a message already stored (same wamid) or a status
   * already stored (same wamid and status) changes nothing and creates no job.
   */
  ingest(unit: IngestUnit): Promise<IngestResult>;
  /** Records an outbound message with its send job and mirror jobs. Idempotent on the key. */
  recordOutbound(input: RecordOutboundInput): Promise<{ duplicate: boolean; messageId: string }>;
  /** Records a notice for one connector's agents and its delivery job. Idempotent on the key. */
  recordNotice(input: RecordNoticeInput): Promise<{ duplicate: boolean; noticeId: string }>;
  /**
   * Archives an internal note, or an edit or deletion of one (no job: notes go nowhere).
   * Idempotent on the key. `noteId` is null for an edit or deletion of a note the archive does
   * not hold (written while the policy was off, or not a note at all).
   */
  recordNote(input: RecordNoteInput): Promise<{ duplicate: boolean; noteId: string | null }>;
  /** Appends to the consent ledger and fans out `consent.changed`. Idempotent on the key. */
  recordConsent(input: RecordConsentInput): Promise<{ duplicate: boolean; entry: ConsentEntry | null }>;
  /** Marks a command key as seen without other effects; false when it was seen before. */
  claimCommandKey(workspaceId: string, source: string, key: string): Promise<boolean>;
  /**
   * Marks a one-time value (a webhook signature) as seen for `ttlMs`; false when it was seen
   * within that time. Durable and shared by every process on the store, so replay protection
   * survives a restart; entries older than `ttlMs` of the same source are forgotten.
   */
  claimExpiringKey(workspaceId: string, source: string, key: string, ttlMs: number): Promise<boolean>;
  /**
   * A kept change was ingested into `workspaceId` after all: it leaves the unrouted list (the row
   * stays, saying when and where it went). False if it was routed already or does not exist.
   */
  markUnroutedRouted(id: string, workspaceId: string): Promise<boolean>;
}

/**
 * The delivery queue: claiming, settling and watching jobs under a lease, and the outcome of
 * WhatsApp sends (which settle a send job's message).
 */
export interface JobStore {
  claimJobs(options: ClaimOptions): Promise<Job[]>;
  /** Claims up to `limit` ready jobs of one connector in one workspace, each conversation's prefix in order. */
  claimBatch(options: ClaimOptions & { workspaceId: string; connectorId: string }): Promise<Job[]>;
  /**
   * Optional: the event a claimed job stands for, built in one call, or null when there is nothing
   * to deliver. Without it the worker builds the event from the reads above (queue/hydrate.ts).
   */
  hydrateEvent?(job: Job, now: number): Promise<DomainEvent | null>;
  /** Completes a job and stores the refs it created. False if the lease was lost (stale worker). */
  completeJob(lease: Lease, refs: ExternalRef[]): Promise<boolean>;
  retryJob(lease: Lease, retry: { runAt: number; error: string; countAttempt: boolean }): Promise<boolean>;
  deadLetterJob(lease: Lease, reason: string): Promise<boolean>;
  /** Records a ref mid-delivery (see `RefAccess.checkpoint`). False if the lease was lost. */
  checkpointRef(lease: Lease, workspaceId: string, ref: ExternalRef): Promise<boolean>;
  extendLease(lease: Lease, until: number): Promise<boolean>;
  /** WhatsApp accepted the message: remember its wamid (statuses arrive later by webhook). */
  markAccepted(lease: Lease, messageId: string, wamid: string): Promise<void>;
  /** The send failed for good: the message is `failed` and every mirror hears about it. */
  markFailed(lease: Lease, messageId: string, error: MessageError): Promise<void>;
  listDeadJobs(options?: { workspaceId?: string; connectorId?: string; limit?: number }): Promise<DeadJob[]>;
  /** Moves dead jobs back to the queue, keeping their place in their conversation's order. Returns how many. */
  replayDeadJobs(
    ids: readonly number[] | 'all',
    options?: { workspaceId?: string; connectorId?: string },
  ): Promise<number>;
  jobStats(): Promise<JobStats>;
  /**
   * Per (workspace, connector) that has delivered, failed or has jobs waiting to retry or dead:
   * when a delivery last worked and last failed, why, and how many jobs wait to retry or are dead.
   */
  connectorHealth(): Promise<ConnectorHealth[]>;
  /** The earliest `runAt` of a ready job, so an idle worker knows when to look again. */
  nextRunAt(): Promise<number | null>;
  /**
   * Optional: calls `onJobs` when another process may have queued jobs that are ready now, so an
   * idle worker claims at once instead of at its next poll (Postgres: LISTEN/NOTIFY). A hint, not
   * the queue: one missed costs a poll interval. Stores without it (SQLite) are polled.
   */
  watchJobs?(onJobs: () => void): JobWatch;
}

/** A running `JobStore.watchJobs`. */
export interface JobWatch {
  /** Settles once the watch is in place, or failed to start (it then retries on its own). */
  readonly listening: Promise<void>;
  close(): Promise<void>;
}

/**
 * External refs: what a connector created for an entity (a Slack message for a wamid), by entity
 * or by its external id.
 */
export interface RefStore {
  getRef(
    workspaceId: string,
    connectorId: string,
    kind: string,
    entityId: string,
  ): Promise<ExternalRef | null>;
  findRefByExternalId(
    workspaceId: string,
    connectorId: string,
    kind: string,
    externalId: string,
  ): Promise<ExternalRef | null>;
  putRef(workspaceId: string, ref: ExternalRef): Promise<void>;
}

/**
 * Connector state and coordination: a connector's own key-value state per workspace, and named
 * leases for singleton work.
 */
export interface ConnectorStateStore {
  getConnectorState(workspaceId: string, connectorId: string, key: string): Promise<unknown>;
  setConnectorState(workspaceId: string, connectorId: string, key: string, value: unknown): Promise<void>;
  /**
   * Reads and deletes a state entry in one step (null when absent): of two callers taking the same
   * key, one gets it. For single-use values such as an OAuth `state`.
   */
  takeConnectorState(workspaceId: string, connectorId: string, key: string): Promise<unknown>;
  /**
   * Adds one to a counter kept as connector state, in one atomic step, unless it has reached
   * `limit`: the new count, or null when the counter was already at `limit` (nothing changed). Every
   * process on the database counts against the same row, so a platform's daily quota is shared.
   */
  countConnectorState(
    workspaceId: string,
    connectorId: string,
    key: string,
    limit: number,
  ): Promise<number | null>;
  /** A named lease for singleton work (maintenance); true when `holder` owns it until `until`. */
  tryAcquireLease(name: string, holder: string, until: number): Promise<boolean>;
}

/** What `ExclusiveStore.runExclusive` did: ran `fn` (with its value), or found the work running elsewhere. */
export type ExclusiveOutcome<T> = { ran: true; value: T } | { ran: false };

/**
 * A store several processes share (Postgres) can run singleton work under a lock the database
 * drops with the holder's connection: `fn` runs only while no other process runs work of the same
 * name, and a crashed holder frees it at once (no lease to wait out). Stores of one host (SQLite)
 * do not offer it; their named leases do the job. `lost` aborts when the lock is lost while `fn`
 * runs (its connection cut): another process may start the work then, so `fn` stops at its next step.
 */
export interface ExclusiveStore {
  runExclusive<T>(name: string, fn: (lost: AbortSignal) => Promise<T>): Promise<ExclusiveOutcome<T>>;
}

/** A store several processes share offers a pace ledger shared by all of them (see PaceLedger). */
export interface SharedPacingStore {
  readonly paceLedger: PaceLedger;
}

/**
 * Reads of what was ingested and recorded: contacts, conversations, messages, statuses, consent,
 * notices, kept platform events, activity counts. Every read is scoped by workspace.
 */
export interface ReadStore {
  getContact(workspaceId: string, id: string): Promise<Contact | null>;
  getConversation(workspaceId: string, id: string): Promise<Conversation | null>;
  listConversations(
    workspaceId: string,
    options?: { contactId?: string; limit?: number },
  ): Promise<Conversation[]>;
  getMessage(workspaceId: string, id: string): Promise<Message | null>;
  getMessageByWamid(workspaceId: string, wamid: string): Promise<Message | null>;
  listMessages(workspaceId: string, conversationId: string, options?: { limit?: number }): Promise<Message[]>;
  /** The edits and revokes of the message with this wamid, oldest first (see `deriveRevision`). */
  listRevisions(workspaceId: string, wamid: string): Promise<Message[]>;
  getStatus(workspaceId: string, id: string): Promise<MessageStatus | null>;
  getConsentEntry(workspaceId: string, id: string): Promise<ConsentEntry | null>;
  consentSnapshot(workspaceId: string, contactId: string): Promise<ConsentSnapshot>;
  consentHistory(workspaceId: string, contactId: string): Promise<ConsentEntry[]>;
  getNotice(workspaceId: string, id: string): Promise<StoredNotice | null>;
  /**
   * Kept changes for numbers no workspace owned, not yet routed, oldest first; `after` pages on
   * from the last one of the previous page.
   */
  listUnrouted(options?: { limit?: number; after?: UnroutedEvent }): Promise<UnroutedEvent[]>;
  /** How many kept changes are still unrouted. */
  countUnrouted(): Promise<number>;
  /**
   * Kept platform events, newest first: of one workspace, of none (`workspaceId: null`) or all
   * (omitted); `before` pages on from the last one of the previous page.
   */
  listPlatformEvents(options?: {
    workspaceId?: string | null;
    field?: string;
    limit?: number;
    before?: PlatformEvent;
  }): Promise<PlatformEvent[]>;
  /** How much one workspace has carried: conversations and messages each way (for the admin console). */
  workspaceActivity(workspaceId: string): Promise<WorkspaceActivity>;
}

/**
 * Archive and governance: the audit trail, archive content and its purges, legal holds, retention
 * and erasure (see governance-types.ts).
 */
export interface GovernanceStore {
  appendAudit(entry: {
    actor: string;
    action: string;
    workspaceId: string | null;
    details: Record<string, unknown>;
    /** The entry's id; its archive record is `audit:<id>` in the workspace's log (or `_global`). */
  }): Promise<number>;
  /** The audit trail, newest first; `workspaceId: null` is the global log. */
  listAudit(filter: AuditFilter): Promise<AuditEntry[]>;
  /**
   * Purges the content of archive records, given by seq or by entity (message ids, status ids,
   * consent entry ids), and records the purge (a `purge` record: who, why, which). The records'
   * leaves stay: `archive verify` reports them as purged. Holds are the caller's to check first.
   */
  purgeArchiveContent(input: {
    workspaceId: string;
    seqs?: readonly number[];
    entityIds?: readonly string[];
    by: PurgeReason;
  }): Promise<PurgeResult>;
  /** The content of archive records, opened, in the order asked; null when purged or none. */
  archiveContent(
    workspaceId: string,
    seqs: readonly number[],
  ): Promise<Array<{ seq: number; content: unknown }>>;
  addHold(input: AddHoldInput): Promise<LegalHold>;
  /** Every hold of a workspace, active and released, oldest first. */
  listHolds(workspaceId: string): Promise<LegalHold[]>;
  releaseHold(input: {
    workspaceId: string;
    holdId: string;
    actor: AuditActor;
    reason: string;
  }): Promise<LegalHold>;
  /** Sets one record kind's rule; both periods null removes it (answers null then). */
  setRetention(input: {
    workspaceId: string;
    kind: string;
    keepDays: number | null;
    afterLastMessageDays: number | null;
    actor: AuditActor;
  }): Promise<RetentionRule | null>;
  listRetention(workspaceId: string): Promise<RetentionRule[]>;
  /** Purges the content of what the rules let go at `now` and no hold covers (one transaction). */
  runRetention(input: RetentionRunInput): Promise<RetentionRunResult>;
  /**
   * Erases (or, under a retention obligation, restricts) a contact's or a conversation's content
   * and queues `conversation.erased` for the connectors; refuses under a legal hold, changing
   * nothing. Cached media files are the caller's to delete (then `recordErasureFiles`).
   */
  erase(input: EraseInput): Promise<EraseResult>;
  recordErasureFiles(input: {
    workspaceId: string;
    erasureId: string;
    files: readonly string[];
    actor: AuditActor;
  }): Promise<void>;
  /** An erasure's certificate with each connector's confirmation as it stands now. */
  getErasure(workspaceId: string, erasureId: string): Promise<ErasureCertificate | null>;
}

/** Every role: what the SQLite store (direct or threaded) implements. */
export interface Store
  extends StoreLifecycle,
    ConfigStore,
    AccessStore,
    IngestStore,
    JobStore,
    RefStore,
    ConnectorStateStore,
    ReadStore,
    GovernanceStore {}

/**
 * What every role but the lifecycle offers, by name: the store thread forwards exactly these.
 * `watchJobs` is not among them: SQLite has no notifications to watch (its workers poll).
 */
export type StoreMethod = Exclude<keyof Store, keyof StoreLifecycle | 'watchJobs'>;

/** A Meta app registered besides the environment's default one (issue 20). */
export interface WhatsAppAppRecord {
  appId: string;
  name: string | null;
  /** SecretBox ciphertext of a JSON array of app secrets (several during a rotation). */
  secretsEnc: string;
  /** SecretBox ciphertext of the GET handshake's hub.verify_token, if the app has its own. */
  verifyTokenEnc: string | null;
  createdAt: number;
  updatedAt: number;
}

/** A number's own credentials: the app that signs its webhooks and the token its sends use. */
export interface WhatsAppNumberCredentials {
  phoneNumberId: string;
  workspaceId: string;
  appId: string;
  wabaId: string;
  /** SecretBox ciphertext of the access token. */
  accessTokenEnc: string;
  updatedAt: number;
}

export interface ConnectorSettingInput {
  workspaceId: string;
  connectorId: string;
  enabled: boolean;
  /** Event types the connector mirrors (from its manifest); fan-out only queues these. */
  events: readonly string[];
  /** Non-secret config fields. */
  config: Record<string, unknown>;
  /** Secret fields, already encrypted by the caller (`secrets/`). */
  encryptedSecrets: string | null;
}

export interface ConnectorSetting extends ConnectorSettingInput {
  updatedAt: number;
}

// --- Ingest --------------------------------------------------------------------------------------

export interface IngestUnit {
  receivedAt: number;
  changes: IngestChange[];
}

export type IngestChange =
  | IngestMessagesChange
  | IngestPreferencesChange
  | IngestUnroutedChange
  | IngestOtherChange;

export interface ContactIdentity {
  waId: string | null;
  bsuid: string | null;
  parentBsuid: string | null;
  username: string | null;
  profileName: string | null;
}

export interface IngestMessagesChange {
  kind: 'messages';
  workspaceId: string;
  phoneNumberId: string;
  displayPhoneNumber: string | null;
  /** When mirrors may see the inbound messages (received time + the workspace's reorder window). */
  deliverAt: number;
  messages: IngestMessage[];
  statuses: IngestStatus[];
  /** Value-level errors Meta reported (system / app problems). */
  errors: Record<string, unknown>[];
  /** Where the change came from, recorded with the errors. */
  origin: ChangeOrigin;
}

/** Where Meta says a change came from: its entry's id (the WhatsApp Business Account) and `time`. */
export interface ChangeOrigin {
  wabaId: string | null;
  /** The entry's `time` as Meta sent it (Unix seconds), when it was a number. */
  entryTime: number | null;
}

export interface IngestMessage {
  id: string;
  wamid: string;
  contact: ContactIdentity;
  type: string;
  timestamp: number;
  text: string | null;
  content: Record<string, unknown>;
  relatesTo: string | null;
  /** A consent change this message carries (opt-out keyword), recorded only if the message is new. */
  consent: { category: ConsentCategory; state: ConsentState; entryId: string } | null;
  /**
   * A changed identity announced by a system message (number change, new BSUID): the new
   * identifiers, which the contact of `contact` (the old identity) takes over.
   */
  identityChange: { waId: string | null; bsuid: string | null; parentBsuid?: string | null } | null;
  /**
   * `outbound` for a message the business sent itself outside wabridge (an echo of the WhatsApp
   * Business app): stored as sent, mirrored like an agent's message, never sent again. Default
   * `inbound`.
   */
  direction?: 'inbound' | 'outbound';
  /** Who sent an outbound message (see `direction`). */
  sender?: Sender | null;
}

export interface IngestStatus {
  id: string;
  wamid: string;
  status: string;
  timestamp: number;
  recipient: ContactIdentity;
  error: MessageError | null;
  raw: Record<string, unknown>;
}

export interface IngestPreferencesChange {
  kind: 'user_preferences';
  workspaceId: string;
  phoneNumberId: string;
  displayPhoneNumber: string | null;
  preferences: {
    entryId: string;
    contact: ContactIdentity;
    category: ConsentCategory;
    state: ConsentState;
    occurredAt: number;
    details: Record<string, unknown>;
  }[];
}

/** A change for a number no workspace owns: kept so it can be replayed once a workspace claims it. */
export interface IngestUnroutedChange {
  kind: 'unrouted';
  id: string;
  phoneNumberId: string | null;
  field: string;
  payload: unknown;
}

/** Anything else Meta sent (account updates, template status, unparseable values): kept verbatim. */
export interface IngestOtherChange {
  kind: 'other';
  id: string;
  workspaceId: string | null;
  field: string;
  payload: unknown;
  parseIssues: string[];
  origin: ChangeOrigin;
}

export interface IngestResult {
  messagesStored: number;
  messagesDuplicate: number;
  statusesStored: number;
  statusesDuplicate: number;
  consentChanges: number;
  jobsQueued: number;
  unrouted: number;
  /** Platform events stored (not seen before). */
  platformEvents: number;
}

// --- Commands ------------------------------------------------------------------------------------

export interface CommandKey {
  /** Where the command came from (`slack`, `teams`, `api` …). */
  source: string;
  key: string;
}

export interface RecordOutboundInput {
  commandKey: CommandKey;
  workspaceId: string;
  conversationId: string;
  message: {
    id: string;
    type: string;
    text: string | null;
    content: Record<string, unknown>;
    sender: Sender;
    relatesTo: string | null;
    timestamp: number;
  };
  /** The agent's own message on the origin connector: recorded as that connector's ref. */
  originRef: { connectorId: string; externalId: string; data: Record<string, unknown> } | null;
}

export interface RecordNoticeInput {
  commandKey: CommandKey | null;
  workspaceId: string;
  conversationId: string;
  connectorId: string;
  notice: StoredNotice;
}

export interface StoredNotice {
  id: string;
  kind: string;
  text: string;
  inReplyTo: string | null;
  templates: TemplateDefinition[];
  messageId: string | null;
  createdAt: number;
}

/**
 * An agent's internal note in a mirrored thread, kept in the archive when the workspace's policy
 * `archiveInternalNotes` is on (issue 18, item 1): the note as written (`note`), an edit of it
 * (`edit`, a new version) or its deletion (`revoke`). Never sent, never mirrored.
 */
export interface RecordNoteInput {
  commandKey: CommandKey;
  workspaceId: string;
  connectorId: string;
  /** The note's own message on the platform (for an edit or a deletion: the note it changes). */
  externalId: string;
  /** The platform thread (the conversation's ref on the connector). */
  threadId: string;
  action: 'note' | 'edit' | 'revoke';
  /** The conversation, for a new note; an edit or a deletion takes its note's. */
  conversationId: string | null;
  agent: { id: string; name: string | null };
  /** What the note says after this version; null for a deletion. */
  text: string | null;
  attachments: ReadonlyArray<{ ref: string; filename: string; mimeType: string; size: number | null }>;
  at: number;
}

export interface RecordConsentInput {
  commandKey: CommandKey | null;
  workspaceId: string;
  contactId: string;
  category: ConsentCategory;
  state: ConsentState;
  source: ConsentSource;
  actor: string | null;
  evidenceMessageId: string | null;
  occurredAt: number;
  details: Record<string, unknown>;
}

/**
 * What Meta sent that is not a message, status or consent change, or that we could not read whole
 * (account and template updates, value-level errors, unknown keys and types), kept as it came.
 */
export interface PlatformEvent {
  id: string;
  /** Null when no workspace could be told (a change for a whole WABA, an unreadable body). */
  workspaceId: string | null;
  field: string;
  payload: unknown;
  /** Why it was kept whole: what did not parse or was not read. */
  parseIssues: string[];
  wabaId: string | null;
  entryTime: number | null;
  receivedAt: number;
}

export interface UnroutedEvent {
  id: string;
  phoneNumberId: string | null;
  field: string;
  payload: unknown;
  receivedAt: number;
}

// --- Jobs ----------------------------------------------------------------------------------------

/** Pseudo-connector id of the jobs that send to WhatsApp. */
export const WHATSAPP_SENDER = 'whatsapp';

export interface Job {
  id: number;
  workspaceId: string;
  connectorId: string;
  conversationId: string;
  eventType: DomainEventType | 'send';
  /** The entity the event is about: message, status, consent entry or notice id. */
  entityId: string;
  /** Order within the conversation's queue (WhatsApp time for inbound messages). */
  sortTs: number;
  attempts: number;
  runAt: number;
  createdAt: number;
  lease: Lease;
}

export interface ClaimOptions {
  limit: number;
  leaseMs: number;
  workerId: string;
  now?: number;
  /** Only claim jobs for these connectors (a worker that has not loaded some connectors skips them). */
  connectorIds?: readonly string[];
}

export interface DeadJob {
  id: number;
  workspaceId: string;
  connectorId: string;
  conversationId: string;
  eventType: string;
  entityId: string;
  attempts: number;
  reason: string;
  failedAt: number;
  createdAt: number;
}

export interface JobStats {
  ready: number;
  running: number;
  dead: number;
  /** Status jobs dropped before they ran because a newer status of their message superseded them (ever). */
  coalesced: number;
  byConnector: Record<string, { ready: number; running: number; dead: number; coalesced: number }>;
}

export interface WorkspaceActivity {
  conversations: number;
  /** Messages customers sent (stored by ingest). */
  inbound: number;
  /** Messages the business sent (agents' replies, templates, business-app echoes). */
  outbound: number;
  /** When a customer last wrote, or null. */
  lastInboundAt: number | null;
}

export interface ConnectorHealth {
  workspaceId: string;
  connectorId: string;
  /** When a job of this connector last completed (recorded at most once a second). */
  lastSuccessAt: number | null;
  /** When a delivery last failed (rate limits, which only ask us to wait, are not failures). */
  lastErrorAt: number | null;
  /** That failure as the worker recorded it: `<code>: <message>`. */
  lastError: string | null;
  /** Jobs that failed and wait for (or are in) another attempt. */
  retrying: number;
  dead: number;
}

// --- Audit trail ---------------------------------------------------------------------------------

/** One act of the audit trail (issue 18, item 8; issue 19). */
export interface AuditEntry {
  readonly id: number;
  /** When it happened (ms since the epoch). */
  readonly at: number;
  readonly actor: string;
  readonly action: string;
  readonly workspaceId: string | null;
  readonly details: Record<string, unknown>;
  /** The archive log that holds its record: the workspace, or `_global`. */
  readonly log: string;
  /** Its record's place in that log (`wabridge archive prove`); null for acts older than the archive. */
  readonly seq: number | null;
}

export interface AuditFilter {
  /** A workspace's trail, or `null` for acts on no workspace; absent: every entry. */
  workspaceId?: string | null;
  actor?: string;
  /** An action (`connector.enable`), or a prefix ending in `*` (`connector.*`) or a dot (`connector.`). */
  action?: string;
  /** From this time on (ms since the epoch), inclusive. */
  since?: number;
  /** Before this time, exclusive. */
  until?: number;
  /** `newest` first (the default; page on with `beforeId`) or `oldest` first (page on with `afterId`). */
  order?: 'newest' | 'oldest';
  /** Entries with an id below this one (paging newest first). */
  beforeId?: number;
  /** Entries with an id above this one (paging oldest first). */
  afterId?: number;
  /** At most this many (default 100, at most 5000). */
  limit?: number;
}

/** Which records' content a purge removed, and on whose word. */
export interface PurgeReason {
  /** Who purged: `retention:<policy>`, `cli:<user>`, `erasure:<request id>`… */
  readonly actor: string;
  /** Why, in words (shown by `archive verify` and the audit trail). */
  readonly reason: string;
  /** Anything else worth keeping with it (the policy, the request): no personal data. */
  readonly details?: Record<string, unknown>;
}

export interface PurgeResult {
  /** The seq of the `purge` record, or null when there was nothing to purge (nothing recorded). */
  readonly purgeSeq: number | null;
  /** The records whose content was deleted, in order. */
  readonly purged: readonly number[];
}
