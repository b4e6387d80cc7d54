import type { z } from 'zod';
import type { DomainCommand } from '../domain/commands.ts';
import type { DomainEvent, DomainEventType, JobEvent } from '../domain/events.ts';
import type { ExternalRef, StatusName } from '../domain/types.ts';
import type { Logger } from '../logger/index.ts';
import type { Metrics } from '../metrics/index.ts';
import type { PaceLedger } from '../util/pace-ledger.ts';

/**
 * The connector contract. A connector package exports one manifest; the gateway registers
 * manifests explicitly (no import side effects) and creates one instance per workspace that enables
 * the connector.
 *
 * Delivery is at-least-once: a job may run again after a crash or a timeout. A connector makes its
 * effects idempotent with `ctx.idempotencyKey`, the refs it already recorded (`ctx.refs`), and
 * `ctx.refs.checkpoint()` before a multi-step effect (see "Exactly-once effects" in docs/architecture.md).
 */
export interface ConnectorManifest<Config = unknown, Event extends JobEvent = DomainEvent> {
  /** Short stable id: `slack`, `hubspot`, `teams`. Used in URLs, job rows and refs. */
  id: string;
  /**
   * Part of the bridge rather than a platform users connect (the WhatsApp sender, which owns the
   * `send` jobs): on in every workspace without settings, never listed to users (admin console,
   * config file, `registry.list()`), registered with `registry.withInternal`. Its jobs run through
   * the same worker path as every connector's.
   */
  internal?: boolean;
  displayName: string;
  configSchema: z.ZodType<Config>;
  /** Config fields stored encrypted and never shown or logged (`botToken`, `signingSecret` …). */
  secretFields: readonly string[];
  capabilities: ConnectorCapabilities;
  create(config: Config, deps: ConnectorDeps): ConnectorInstance<Event> | Promise<ConnectorInstance<Event>>;
}

export interface ConnectorCapabilities {
  /** Event types the connector mirrors; other events are not delivered to it. */
  events: readonly DomainEventType[];
  /** The connector accepts platform callbacks (`inbound`). */
  inbound: boolean;
  /**
   * The connector can take several events per call (`deliverBatch`); the queue then hands it up to
   * `maxSize` ready events of one workspace at once, keeping each conversation's order.
   */
  batch?: { maxSize: number };
  /**
   * The message statuses the connector shows (default: every one). A `message.status` job of
   * another status is completed without calling the connector: a CRM that only records failures
   * (HubSpot: `['failed']`) makes no delivery for the sent, delivered and read of a campaign.
   */
  statuses?: readonly StatusName[];
}

export interface ConnectorInstance<Event extends JobEvent = DomainEvent> {
  /** Mirrors one event. Throw a `WabridgeError` to tell the queue whether to retry. */
  deliver(event: Event, ctx: DeliveryContext): Promise<DeliveryResult>;
  /**
   * Mirrors several events at once (declared with `capabilities.batch`). Returns one outcome per
   * event, in the same order; a rejected outcome is retried or dead-lettered on its own.
   */
  deliverBatch?(items: readonly BatchItem<Event>[]): Promise<BatchOutcome[]>;
  /** The platform's callbacks, mounted at `/hooks/<connector>/<workspace>/…`. */
  inbound?: InboundHandler;
  /** Fetches an attachment an agent sent (`Attachment.ref`), so it can be sent to WhatsApp. */
  fetchAttachment?(ref: string): Promise<{ bytes: Uint8Array; mimeType: string; filename: string }>;
  /**
   * Periodic upkeep (subscription renewal, token refresh). Called about once a minute by one worker
   * of the deployment at a time.
   */
  maintain?(): Promise<void>;
  /**
   * Checks the settings against the platform without changing anything there: the credentials
   * (the platform's identity call) and each place the connector will write to. One check per
   * thing tried, in that order; a failed check says what to fix. Used by
   * `wabridge connector test` (and meant for an admin API), through `ConnectorHost.test`.
   */
  test?(signal: AbortSignal): Promise<ConnectorCheck[]>;
  close?(): Promise<void>;
}

/** One result of `ConnectorInstance.test`. */
export interface ConnectorCheck {
  /** What was checked: `token`, `channel C0123ABCD`, `account`. */
  name: string;
  ok: boolean;
  /** What works (`bot @wabridge in team Acme`) or what is wrong and how to fix it, in one sentence. */
  detail: string;
}

export interface BatchItem<Event extends JobEvent = DomainEvent> {
  event: Event;
  ctx: DeliveryContext;
}

export type BatchOutcome = { ok: true; result: DeliveryResult } | { ok: false; error: unknown };

export interface DeliveryResult {
  /** Refs created on the platform, stored atomically with the job's completion. */
  refs?: ExternalRefInput[];
}

export type ExternalRefInput = Omit<ExternalRef, 'connectorId'>;

export interface DeliveryContext {
  /** Stable across attempts of this job: `<event id>:<connector id>`. */
  idempotencyKey: string;
  /** 1 on the first attempt. */
  attempt: number;
  refs: RefAccess;
  /** Links between targets: where a contact lives on other platforms (see `LinkAccess`). */
  links: LinkAccess;
  /**
   * Another registered connector's name for people (`HubSpot`), for words such as "opted out in
   * HubSpot" without a table of platforms in every connector. Absent in hand-built contexts.
   */
  platformName?: (connectorId: string) => string | undefined;
  logger: Logger;
  signal: AbortSignal;
}

/**
 * Links to a contact's record on each platform, shared between connectors: one publishes (the CRM
 * connector its contact's page), the others show them (a button on a card) without knowing who
 * published, so no connector reads another's refs. Keyed by contact: a platform record stands for
 * the person, across the conversations they have with several business numbers.
 */
export interface LinkAccess {
  /** Publishes (or replaces) this connector's link for one of our contacts. Fenced like `checkpoint`. */
  publish(link: { contactId: string; label: string; url: string }): Promise<void>;
  /** Withdraws this connector's link for the contact (its record is gone or no longer linked). */
  withdraw(contactId: string): Promise<void>;
  /** The links the other connectors published for the contact, in the registry's order. */
  list(contactId: string): Promise<PublishedLink[]>;
}

export interface PublishedLink {
  label: string;
  url: string;
}

export interface RefAccess {
  /** A ref this connector (or another, by id) recorded for one of our entities. */
  get(kind: ExternalRef['kind'], entityId: string, connectorId?: string): Promise<ExternalRef | null>;
  /**
   * Records a ref now, before the job completes: call it right after a platform call succeeds in a
   * multi-step delivery, so a retry after a crash finds it and does not repeat the step. Fenced by
   * the job's lease: it fails if this attempt no longer owns the job.
   */
  checkpoint(ref: ExternalRefInput): Promise<void>;
}

export interface InboundHandler {
  /**
   * Verifies and answers one platform callback. It must not touch the store: it returns the
   * response to send and the commands to record; the gateway records the commands durably before
   * the response goes out. `path` is what follows `/hooks/<connector>/<workspace>`.
   */
  handle(request: Request, ctx: InboundContext): Promise<InboundResult>;
}

export interface InboundContext {
  path: string;
  /** Raw request body, read once by the gateway (size-limited) for signature checks. */
  rawBody: Uint8Array;
  /** Resolves one of our refs by its external id, e.g. to recognise the connector's own posts. */
  findRefByExternalId(kind: ExternalRef['kind'], externalId: string): Promise<ExternalRef | null>;
  /**
   * Remembers a one-time value of this connector and workspace (a request signature) for `ttlMs`,
   * durably: false when it was remembered before within that time, also by another gateway
   * process or before a restart. For replay protection; a host without a store may omit it.
   */
  claimOnce?(key: string, ttlMs: number): Promise<boolean>;
}

export interface InboundResult {
  response: Response;
  commands: DomainCommand[];
}

export interface ConnectorDeps {
  workspaceId: string;
  logger: Logger;
  metrics: Metrics;
  /** Durable key-value state of this connector in this workspace (cursors, subscription ids …). */
  state: ConnectorState;
  /** Media of WhatsApp messages, for re-hosting on the platform. */
  media: MediaAccess;
  /** The gateway's public base URL (for links and webhook registration). */
  publicUrl: string;
  now(): number;
  /**
   * Records commands the connector found outside a platform callback (e.g. replies read back
   * after missed change notifications), exactly like the commands `inbound.handle` returns.
   * Resolves once they are durably recorded; absent when the host has no command processor.
   */
  emit?(commands: DomainCommand[]): Promise<void>;
  /**
   * Appends an entry to the workspace's audit trail, as the connector (`connector:<id>`), for what
   * the platform did to the connection (an app uninstalled, a grant revoked). Never secrets.
   */
  audit?(action: string, details: Record<string, unknown>): Promise<void>;
  /**
   * Where the connector's `Pacer`s keep their lanes (`new Pacer({ …, ledger: deps.pacing })`):
   * shared by every process on the database when the store can share them (Postgres), so the
   * platform's limits hold for the deployment, not per worker. Absent: each process paces alone.
   * Lanes are already named per connector; keys must say whose limit they are (a team, a portal).
   */
  pacing?: PaceLedger;
}

export interface ConnectorState {
  get<T = unknown>(key: string): Promise<T | null>;
  set(key: string, value: unknown): Promise<void>;
  /**
   * Adds one to the counter `key` unless it has reached `limit`, atomically for every worker on the
   * store: the new count, or null when the limit was already reached (a shared daily quota).
   */
  count(key: string, limit: number): Promise<number | null>;
  /** Like set, but the value is encrypted at rest (refresh tokens and the like). */
  setSecret(key: string, value: string): Promise<void>;
  getSecret(key: string): Promise<string | null>;
}

export interface MediaAccess {
  /** Downloads the media of a WhatsApp message (cached locally after the first download). */
  fetch(
    messageId: string,
  ): Promise<{ bytes: Uint8Array; mimeType: string; filename: string; sha256: string }>;
  /** A signed, expiring gateway URL for the media of a message (for platforms that link to it). */
  url(messageId: string, ttlMs?: number): string;
}
