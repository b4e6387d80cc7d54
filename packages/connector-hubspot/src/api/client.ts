/**
 * The HubSpot calls the connector makes, through the official SDK, paced per portal and with every
 * failure translated once (`errors.ts`).
 *
 * SDK settings, on purpose:
 * - `numberOfApiCallRetries: 0`: the SDK would sleep in-process (10 s × n after a rolling 429,
 *   200 ms × n after a 5xx), ignore `Retry-After`, give up on DAILY and log with `console`. The
 *   durable queue retries instead: a 429 goes back as `rate_limited` (no attempt used), a 5xx as
 *   `transient` with back-off, and nothing holds a worker slot while HubSpot recovers.
 * - no `limiterOptions`: the SDK keeps its decorators in a process-wide singleton that every
 *   `new Client()` replaces, so a per-portal Bottleneck cannot be had from it. Pacing is ours
 *   (`throttle.ts`), one bucket per portal shared by every instance in the process.
 */
import { createHash } from 'node:crypto';
import { Client } from '@hubspot/api-client';
import type { ConnectorState, Logger, Metrics, PaceLedger } from '@wabridge/core';
import { envProxyInUse, httpFetch, WabridgeError } from '@wabridge/core';
import type { HubSpotConfig } from '../config.ts';
import type { AccessTokenSource } from '../oauth/tokens.ts';
import { errorBody, isHttpError, translateHubSpotError } from './errors.ts';
import { nextMidnight, type PortalThrottle, portalThrottle } from './throttle.ts';

export type ObjectType = 'contacts' | 'communications' | 'deals' | 'tickets';

export interface CrmRecord {
  id: string;
  properties: Record<string, string | null>;
  objectWriteTraceId?: string;
}

/** One failed input of a multi-status answer. */
export interface BatchInputError {
  category: string;
  message: string;
  context: Record<string, string[]>;
  errors: { message?: string; code?: string; context?: Record<string, string[]> }[];
}

export interface BatchResult {
  results: CrmRecord[];
  errors: BatchInputError[];
}

export interface Filter {
  propertyName: string;
  operator: 'EQ' | 'IN' | 'HAS_PROPERTY' | 'CONTAINS_TOKEN';
  value?: string;
  values?: string[];
}

export interface SearchRequest {
  filterGroups: { filters: Filter[] }[];
  properties: string[];
  limit: number;
  after?: string;
}

export interface CreateInput {
  properties: Record<string, string>;
  associations?: {
    to: { id: string };
    types: { associationCategory: 'HUBSPOT_DEFINED'; associationTypeId: number }[];
  }[];
  objectWriteTraceId?: string;
}

export interface PropertyDefinition {
  name: string;
  label: string;
  type: 'string' | 'number' | 'datetime' | 'enumeration';
  fieldType: 'text' | 'number' | 'date' | 'select';
  groupName: string;
  description: string;
  options?: { label: string; value: string; displayOrder: number }[];
  hasUniqueValue?: boolean;
}

export interface ApiDeps {
  config: HubSpotConfig;
  logger: Logger;
  metrics: Metrics;
  state: ConnectorState;
  now: () => number;
  /** The deployment's shared pace ledger (`ConnectorDeps.pacing`), when the store has one. */
  pacing?: PaceLedger;
  /** Access tokens of an OAuth install; without it, the private app's `accessToken` is used. */
  tokens?: AccessTokenSource;
}

/** The SDK's models type string unions as TS enums; the wire values are the same strings. */
const sdk = <T>(value: unknown): T => value as T;

const DAILY_PAUSE_KEY = 'dailyPausedUntil';
/**
 * How often the stored daily pause is read again. Another worker on the same database may have met
 * the DAILY 429 and stored a pause; within this long every worker stops calling the portal too.
 */
export const PAUSE_REFRESH_MS = 5000;

export class HubSpotApi {
  readonly client: Client;
  /** Identifies the portal in logs without revealing the token. */
  readonly portalLabel: string;
  readonly #d: ApiDeps;
  readonly #throttle: PortalThrottle;
  /** When the stored pause was last read (see PAUSE_REFRESH_MS). */
  #pauseReadAt = Number.NEGATIVE_INFINITY;

  constructor(deps: ApiDeps) {
    this.#d = deps;
    const { config } = deps;
    this.client = new Client({
      ...(config.accessToken ? { accessToken: config.accessToken } : {}),
      basePath: config.basePath.replace(/\/$/, ''),
      numberOfApiCallRetries: 0,
      ...(envProxyInUse() ? {} : { httpAgent: keepAliveAgent(config.basePath) }),
    });
    // An OAuth install always has its portal id; a private app may not.
    this.portalLabel =
      config.portalId ??
      `token:${createHash('sha256')
        .update(config.accessToken ?? '')
        .digest('hex')
        .slice(0, 10)}`;
    this.#throttle = portalThrottle(
      `${config.basePath}|${this.portalLabel}`,
      config.rateLimit,
      deps.now,
      deps.pacing,
    );
  }

  /** Epoch ms until which this portal's daily budget is spent (0 when it is not). */
  get pausedUntil(): number {
    return this.#throttle.pausedUntil;
  }

  /**
   * Runs one SDK call: refuses at once while the portal's daily budget is spent, waits for a
   * token, translates failures, and turns a DAILY 429 into a pause of the whole portal.
   */
  async call<T>(
    operation: string,
    kind: 'general' | 'search',
    fn: (client: Client) => Promise<T>,
  ): Promise<T> {
    await this.#checkPause();
    const pacer = kind === 'search' ? this.#throttle.search : this.#throttle.general;
    await pacer.acquire(this.portalLabel);
    const tokens = this.#d.tokens;
    try {
      if (tokens) this.client.setAccessToken(await tokens.accessToken());
      return await fn(this.client);
    } catch (raw) {
      const error = translateHubSpotError(raw, operation);
      if (tokens && error.code === 'auth_failed' && error.details?.status === 401) {
        throw await this.#afterRefused(tokens, error);
      }
      if (error.code === 'daily_quota') throw await this.#pauseForTheDay(operation, error);
      if (error.code === 'rate_limited') {
        // Slow every caller of this portal, not only the one that hit the wall.
        await pacer.block(this.portalLabel, error.retryAfterMs ?? 1000);
        this.#d.metrics.increment('connector_alerts_total', { connector: 'hubspot', kind: 'rate_limited' });
      }
      throw error;
    }
  }

  /**
   * HubSpot refused an OAuth access token we thought alive: refresh now. A refused refresh says
   * why (the app was uninstalled); a fresh token makes the failure one to retry, not to dead-letter.
   */
  async #afterRefused(tokens: AccessTokenSource, error: WabridgeError): Promise<WabridgeError> {
    tokens.invalidate();
    try {
      await tokens.accessToken();
    } catch (refused) {
      return refused instanceof WabridgeError ? refused : error;
    }
    return new WabridgeError('transient', `${error.message} (the access token was renewed; retrying)`, {
      details: error.details ?? {},
      cause: error,
    });
  }

  async #checkPause(): Promise<void> {
    const now = this.#d.now();
    if (now >= this.#throttle.pausedUntil && now - this.#pauseReadAt >= PAUSE_REFRESH_MS) {
      // A pause survives a restart (the daily budget does not come back because we did), and one
      // stored by another worker on the same database reaches this one within PAUSE_REFRESH_MS.
      this.#pauseReadAt = now;
      const stored = await this.#d.state.get<number>(DAILY_PAUSE_KEY);
      if (typeof stored === 'number')
        this.#throttle.pausedUntil = Math.max(this.#throttle.pausedUntil, stored);
    }
    if (now < this.#throttle.pausedUntil) {
      throw new WabridgeError(
        'daily_quota',
        `HubSpot daily API limit of portal ${this.portalLabel} is spent; deliveries resume at ${new Date(this.#throttle.pausedUntil).toISOString()}`,
        { retryAfterMs: this.#throttle.pausedUntil - now, details: { portal: this.portalLabel } },
      );
    }
  }

  async #pauseForTheDay(operation: string, error: WabridgeError): Promise<WabridgeError> {
    const now = this.#d.now();
    const until = nextMidnight(now, this.#d.config.dailyResetTimeZone);
    const fresh = this.#throttle.pausedUntil < until;
    this.#throttle.pausedUntil = Math.max(this.#throttle.pausedUntil, until);
    if (fresh) {
      await this.#d.state.set(DAILY_PAUSE_KEY, until);
      this.#d.metrics.increment('connector_alerts_total', { connector: 'hubspot', kind: 'daily_quota' });
      // The alert: nothing reaches HubSpot for this portal until the reset.
      this.#d.logger.error(
        {
          portal: this.portalLabel,
          operation,
          resumesAt: new Date(until).toISOString(),
          alert: 'hubspot_daily_limit',
        },
        'HubSpot daily API limit reached: deliveries to this portal are paused until the daily reset',
      );
    }
    return new WabridgeError('daily_quota', error.message, {
      retryAfterMs: until - now,
      details: error.details ?? {},
      cause: error.cause,
    });
  }

  // --- Account -----------------------------------------------------------------------------------

  /**
   * The account the token belongs to (`GET /account-info/v3/details`; the SDK has no client for
   * it, so it goes through `apiRequest`, which hands back the raw answer whatever its status).
   */
  accountDetails(): Promise<{
    portalId: number;
    timeZone?: string;
    accountType?: string;
    uiDomain?: string;
  }> {
    return this.call('account-info.details', 'general', async (c) => {
      const response = await c.apiRequest({ method: 'GET', path: '/account-info/v3/details' });
      const text = await response.text();
      if (!response.ok)
        throw new HubSpotAnswerError(response.status, text, Object.fromEntries(response.headers));
      return JSON.parse(text) as {
        portalId: number;
        timeZone?: string;
        accountType?: string;
        uiDomain?: string;
      };
    });
  }

  /** Reads one contact: the token may read the CRM's contacts (`crm.objects.contacts.read`). */
  async probeContacts(): Promise<void> {
    await this.call('contacts.list', 'general', (c) => c.crm.contacts.basicApi.getPage(1));
  }

  // --- Objects -----------------------------------------------------------------------------------

  async search(
    type: 'contacts' | 'communications',
    request: SearchRequest,
  ): Promise<{ results: CrmRecord[]; after: string | null }> {
    const response = await this.call(`${type}.search`, 'search', (c) =>
      type === 'contacts'
        ? c.crm.contacts.searchApi.doSearch(sdk(request))
        : c.crm.objects.communications.searchApi.doSearch(sdk(request)),
    );
    return {
      results: response.results.map(record),
      after: response.paging?.next?.after ?? null,
    };
  }

  async batchCreate(type: 'contacts' | 'communications', inputs: CreateInput[]): Promise<BatchResult> {
    const response = await this.call(`${type}.batch.create`, 'general', (c) =>
      this.#batchApi(c, type).create(sdk({ inputs: inputs.map((i) => ({ associations: [], ...i })) })),
    );
    return batchResult(response);
  }

  async batchUpsert(
    type: 'contacts' | 'communications',
    inputs: {
      id: string;
      idProperty: string;
      properties: Record<string, string>;
      objectWriteTraceId?: string;
    }[],
  ): Promise<BatchResult> {
    const response = await this.call(`${type}.batch.upsert`, 'general', (c) =>
      this.#batchApi(c, type).upsert(sdk({ inputs })),
    );
    return batchResult(response);
  }

  async batchUpdate(
    type: 'contacts' | 'communications',
    inputs: { id: string; properties: Record<string, string>; objectWriteTraceId?: string }[],
  ): Promise<BatchResult> {
    const response = await this.call(`${type}.batch.update`, 'general', (c) =>
      this.#batchApi(c, type).update(sdk({ inputs })),
    );
    return batchResult(response);
  }

  async batchRead(
    type: ObjectType,
    ids: string[],
    properties: string[],
    idProperty?: string,
  ): Promise<BatchResult> {
    const request = {
      inputs: ids.map((id) => ({ id })),
      properties,
      propertiesWithHistory: [],
      ...(idProperty ? { idProperty } : {}),
    };
    const response = await this.call(`${type}.batch.read`, 'general', (c) =>
      type === 'deals'
        ? c.crm.deals.batchApi.read(sdk(request), false)
        : type === 'tickets'
          ? c.crm.tickets.batchApi.read(sdk(request), false)
          : this.#batchApi(c, type).read(sdk(request), false),
    );
    return batchResult(response);
  }

  async batchArchive(type: 'communications', ids: string[]): Promise<void> {
    await this.call(`${type}.batch.archive`, 'general', (c) =>
      c.crm.objects.communications.batchApi.archive({ inputs: ids.map((id) => ({ id })) }),
    );
  }

  /** Ids of `to` objects associated with each `from` object (one call for up to 100). */
  async associations(
    from: 'contacts',
    to: 'deals' | 'tickets',
    ids: string[],
  ): Promise<Map<string, string[]>> {
    const response = await this.call(`associations.${from}.${to}.read`, 'general', (c) =>
      c.crm.associations.v4.batchApi.getPage(from, to, { inputs: ids.map((id) => ({ id })) }),
    );
    const out = new Map<string, string[]>();
    for (const result of response.results) {
      out.set(
        String(result._from.id),
        result.to.map((t) => String(t.toObjectId)),
      );
    }
    return out;
  }

  // --- Properties --------------------------------------------------------------------------------

  /** Creates a property group; false when it already existed. */
  async createGroup(
    type: 'contacts' | 'communications',
    group: { name: string; label: string },
  ): Promise<boolean> {
    try {
      await this.call(`${type}.groups.create`, 'general', (c) =>
        c.crm.properties.groupsApi.create(type, { ...group, displayOrder: -1 }),
      );
      return true;
    } catch (error) {
      if (error instanceof WabridgeError && error.code === 'conflict') return false;
      throw error;
    }
  }

  /** Creates properties; the answer lists per name what failed (e.g. `CONFLICT` when it exists). */
  async createProperties(
    type: 'contacts' | 'communications',
    definitions: PropertyDefinition[],
  ): Promise<{ created: string[]; failed: { name: string; category: string; message: string }[] }> {
    const response = await this.call(`${type}.properties.create`, 'general', (c) =>
      c.crm.properties.batchApi.create(type, sdk({ inputs: definitions })),
    );
    const failed = ('errors' in response ? (response.errors ?? []) : []).map((e) => ({
      name: e.context?.name?.[0] ?? '',
      category: e.category,
      message: e.message,
    }));
    return { created: response.results.map((p) => p.name), failed };
  }

  async readProperties(
    type: 'contacts' | 'communications',
    names: string[],
  ): Promise<Map<string, { hasUniqueValue: boolean; options: string[] }>> {
    const response = await this.call(`${type}.properties.read`, 'general', (c) =>
      c.crm.properties.batchApi.read(type, { inputs: names.map((name) => ({ name })), archived: false }),
    );
    return new Map(
      response.results.map((p) => [
        p.name,
        { hasUniqueValue: p.hasUniqueValue ?? false, options: (p.options ?? []).map((o) => o.value) },
      ]),
    );
  }

  // --- Files -------------------------------------------------------------------------------------

  async uploadFile(
    file: { bytes: Uint8Array; filename: string },
    folderPath: string,
  ): Promise<{ id: string; url: string }> {
    const response = await this.call('files.upload', 'general', (c) =>
      c.files.filesApi.upload(
        { data: Buffer.from(file.bytes), name: file.filename },
        undefined,
        folderPath,
        file.filename,
        undefined,
        // Uploads are not idempotent by themselves: a retry after a crash that uploads the same
        // file again (same name, same folder) gets the file uploaded the first time.
        JSON.stringify({
          access: 'PRIVATE',
          overwrite: false,
          duplicateValidationStrategy: 'RETURN_EXISTING',
          duplicateValidationScope: 'EXACT_FOLDER',
        }),
      ),
    );
    const body = response as { id?: unknown; url?: unknown };
    return { id: String(body.id ?? ''), url: String(body.url ?? '') };
  }

  /** Deletes an uploaded file; one already gone counts as deleted. */
  async deleteFile(id: string): Promise<void> {
    try {
      await this.call('files.delete', 'general', (c) => c.files.filesApi.archive(id));
    } catch (error) {
      if (error instanceof WabridgeError && error.details?.status === 404) return;
      throw error;
    }
  }

  #batchApi(c: Client, type: 'contacts' | 'communications') {
    return type === 'contacts' ? c.crm.contacts.batchApi : c.crm.objects.communications.batchApi;
  }
}

function record(raw: {
  id: string;
  properties: Record<string, string | null>;
  objectWriteTraceId?: string;
}): CrmRecord {
  return {
    id: String(raw.id),
    properties: { ...raw.properties },
    ...(raw.objectWriteTraceId ? { objectWriteTraceId: raw.objectWriteTraceId } : {}),
  };
}

function batchResult(response: {
  results: { id: string; properties: Record<string, string | null>; objectWriteTraceId?: string }[];
  errors?: {
    category: string;
    message: string;
    context: Record<string, string[]>;
    errors?: BatchInputError['errors'];
  }[];
}): BatchResult {
  return {
    results: response.results.map(record),
    errors: (response.errors ?? []).map((e) => ({
      category: e.category,
      message: e.message,
      context: e.context ?? {},
      errors: e.errors ?? [],
    })),
  };
}

export { errorBody, isHttpError };

/**
 * The SDK takes no fetch, but with an `httpAgent` its generated API clients send through its own
 * `node:http` transport (`sendNodeRequest` in its `services/http/Transport`) instead of the global
 * fetch: given core's kept-alive agents, every CRM call reuses a pool of sockets and skips fetch's
 * cost. `apiRequest` (only `accountDetails`) still uses the global fetch. Not when Node proxies
 * outbound calls (`envProxyInUse`): the SDK's transport then goes through the global fetch, which
 * honours the proxy.
 */
function keepAliveAgent(basePath: string) {
  return basePath.startsWith('https:') ? httpFetch.nodeAgents.https : httpFetch.nodeAgents.http;
}

/** A non-2xx answer to an `apiRequest` call, shaped like the SDK's own ApiException for the translator. */
class HubSpotAnswerError extends Error {
  readonly code: number;
  readonly body: string;
  readonly headers: Record<string, string>;

  constructor(code: number, body: string, headers: Record<string, string>) {
    super(`HTTP ${code}`);
    this.code = code;
    this.body = body;
    this.headers = headers;
  }
}
