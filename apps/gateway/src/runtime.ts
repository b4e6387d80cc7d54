import { createHmac } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import {
  type AccessOptions,
  AdminAccess,
  ArchiveGovernance,
  type ArchiveStore,
  CommandProcessor,
  ConnectorHost,
  type ConnectorRegistry,
  createSecretBox,
  ensurePrivateDirectory,
  generateMasterKey,
  type IngestTranslator,
  type Logger,
  MediaStore,
  type Metrics,
  openSqliteStore,
  openThreadedSqliteStore,
  parseMasterKey,
  RoutingCache,
  type SecretBox,
  type SharedPacingStore,
  type Store,
  type ThreadedSqliteStore,
  WabridgeError,
  Worker,
  WorkspaceAdmin,
} from '@wabridge/core';
import {
  type CloudApiClient,
  createCloudApiClient,
  WHATSAPP_INGEST_TRANSLATOR,
  WhatsAppApps,
  WhatsAppIngestor,
  WhatsAppSender,
  whatsappSenderConnector,
} from '@wabridge/whatsapp';
import { applyThreadMemorySettings } from '../bin/memory.mjs';
import type { Env } from './env.ts';
import { archiveStoreOf, openChosenStore, usesPostgres } from './store-choice.ts';

export interface RuntimeOptions {
  env: Env;
  registry: ConnectorRegistry;
  logger: Logger;
  metrics: Metrics;
  /** Run the delivery worker in this process. */
  worker: boolean;
  now?: () => number;
  /**
   * Run the SQLite store in its own thread (the default): SQL and fsync off the main thread.
   * Tests that inject a clock or read tables directly use the in-thread store.
   */
  threadedStore?: boolean;
  /** Overrides for tests (fast retries, small leases). */
  workerOptions?: Partial<ConstructorParameters<typeof Worker>[0]>;
  /**
   * In development without WABRIDGE_MASTER_KEY, when to warn that the generated key is in use:
   * at every start (`always`, the servers, whose log is read) or only when it is generated
   * (`once`, the CLI's one-shot commands: once per data directory).
   */
  devKeyWarning?: 'always' | 'once';
  /** Overrides for tests (a cheaper scrypt, a shorter throttle). */
  access?: Partial<Omit<AccessOptions, 'store' | 'now'>>;
}

/**
 * The composition root: every long-lived object of a gateway or worker process, built once from
 * the environment and the registered connectors.
 */
export interface Runtime {
  env: Env;
  logger: Logger;
  metrics: Metrics;
  store: Store;
  routing: RoutingCache;
  secrets: SecretBox;
  admin: WorkspaceAdmin;
  /** Admin accounts, sessions, grants and API tokens (admin API, console, `wabridge admin`). */
  access: AdminAccess;
  registry: ConnectorRegistry;
  /** Meta apps and per-number credentials (the environment's app is the default). */
  whatsappApps: WhatsAppApps;
  /** The Cloud API client for a number: its own token, else WHATSAPP_ACCESS_TOKEN. */
  cloudApi(workspaceId: string, phoneNumberId?: string): Promise<CloudApiClient>;
  host: ConnectorHost;
  ingestor: WhatsAppIngestor;
  /** Where verified webhook bodies go: the store thread when there is one, else `ingestor`. */
  webhooks: IngestTranslator;
  commands: CommandProcessor;
  media: MediaStore;
  /** Erasure and retention with the media files they delete (CLI, console, worker). */
  governance: ArchiveGovernance;
  worker: Worker | null;
  /** The clock of the process (injected by tests): retention runs from the console and the API use it. */
  now: () => number;
  /**
   * Runs `run` with a store whose archive can be read (`archiveReader`), with the master keys:
   * on SQLite a connection of its own to the file (as `wabridge archive …` has), on Postgres the
   * runtime's store (its pool).
   */
  withArchiveStore<T>(run: (store: Store & ArchiveStore) => Promise<T>): Promise<T>;
  /**
   * How long the store thread has gone without answering (ms; 0 when idle or progressing, and
   * always 0 for an in-thread store). Readiness fails while it grows.
   */
  storeStalledForMs(): number;
  close(): Promise<void>;
}

export async function createRuntime(options: RuntimeOptions): Promise<Runtime> {
  const { env, logger, metrics, registry } = options;
  const now = options.now ?? Date.now;
  const dataDir = ensurePrivateDirectory(env.dataDir);
  if (dataDir.openToOthers) {
    logger.warn(
      { path: env.dataDir },
      'the data directory can be read by other users: chmod 700 it (the files in it are 0600)',
    );
  }
  // The master key wraps the connector secrets and the workspaces' data keys (content at rest).
  const masterKeys = loadMasterKeys(env, logger, options.devKeyWarning ?? 'always');
  const masterKey = masterKeys.current;
  // The threads started from here on (the store's) get a smaller young generation than this one,
  // where the process runs with serve's memory settings (bin/memory.mjs).
  applyThreadMemorySettings({ env: process.env }, setFlagsFromString);
  // The store thread (and its checkpoint thread) serialise writes to the SQLite file; Postgres
  // takes concurrent writers itself, so it runs in this thread.
  const threaded: ThreadedSqliteStore | null =
    options.threadedStore === false || options.now || usesPostgres(env)
      ? null
      : await openThreadedSqliteStore({
          path: env.databasePath,
          masterKeys,
          // The thread's records name their own component (e.g. ingest).
          logger,
          ingestTranslator: WHATSAPP_INGEST_TRANSLATOR,
          metrics,
          ingestLimits: {
            maxPending: env.WEBHOOK_STORE_QUEUE_MAX,
            maxPendingBytes: env.WEBHOOK_STORE_QUEUE_MAX_BYTES,
            deadlineMs: env.WEBHOOK_STORE_TIMEOUT_MS,
          },
        });
  const store: Store = threaded ?? (await openChosenStore(env, { logger, now, masterKeys }));
  const secrets = createSecretBox(masterKeys.current, masterKeys.previous);
  // Postgres shares the platforms' rate limits between the workers on it; SQLite paces per process.
  const pacing = (store as Partial<SharedPacingStore>).paceLedger;
  const routing = new RoutingCache(store);
  const cloudApiClient = (accessToken: string) =>
    createCloudApiClient({
      accessToken,
      baseUrl: env.WHATSAPP_API_BASE_URL,
      apiVersion: env.WHATSAPP_API_VERSION,
      ...(env.WHATSAPP_MEDIA_HOSTS ? { mediaHostAllowList: env.WHATSAPP_MEDIA_HOSTS } : {}),
      mediaAllowPrivateNetwork: env.WHATSAPP_MEDIA_ALLOW_PRIVATE_NETWORK,
    });
  const whatsappApps = new WhatsAppApps({
    store,
    secrets,
    defaults: { secrets: env.WHATSAPP_APP_SECRET ?? [], verifyToken: env.WHATSAPP_VERIFY_TOKEN ?? null },
    // A token is tried before it is stored: it must read the number's profile.
    probeToken: async ({ phoneNumberId, accessToken }) => {
      try {
        await cloudApiClient(accessToken).getPhoneNumber(phoneNumberId);
        return null;
      } catch (error) {
        const reason = (error instanceof Error ? error.message : String(error)).split('\n')[0];
        return `the access token cannot read number ${phoneNumberId} through the Cloud API: ${reason}`;
      }
    },
    now,
  });
  const client = env.WHATSAPP_ACCESS_TOKEN ? cloudApiClient(env.WHATSAPP_ACCESS_TOKEN) : null;
  // One client per number with a token of its own, made again when its token changes.
  const ownClients = new Map<string, { token: string; client: CloudApiClient }>();
  const clientFor = async (workspaceId: string, phoneNumberId?: string): Promise<CloudApiClient> => {
    const own = phoneNumberId ? await whatsappApps.credentialsFor(phoneNumberId) : null;
    // Scoped by workspace: a number's token never serves another workspace's conversation.
    if (own && own.workspaceId === workspaceId) {
      const cached = ownClients.get(own.phoneNumberId);
      if (cached?.token === own.accessToken) return cached.client;
      const made = cloudApiClient(own.accessToken);
      ownClients.set(own.phoneNumberId, { token: own.accessToken, client: made });
      return made;
    }
    if (!client)
      throw new WabridgeError(
        'auth_failed',
        phoneNumberId
          ? `number ${phoneNumberId} has no access token of its own and WHATSAPP_ACCESS_TOKEN is not set`
          : 'WHATSAPP_ACCESS_TOKEN is not set: cannot call the WhatsApp Cloud API',
      );
    return client;
  };
  // Media links are signed with a key derived from the master key, so they survive restarts.
  const media = new MediaStore({
    store,
    client: clientFor,
    dir: join(env.dataDir, 'media'),
    signingKey: createHmac('sha256', masterKey).update('wabridge media links').digest(),
    publicUrl: env.publicUrl,
    now,
  });
  const governance = new ArchiveGovernance({
    store,
    media,
    logger: logger.child({ component: 'governance' }),
  });
  // The WhatsApp sender is the internal connector of the `send` jobs, delivered like every other
  // connector's. It asks the host for the agent's connector (attachments), so it is made after the
  // host, below, and only where a worker runs.
  let sender: WhatsAppSender | null = null;
  const senderConnector = whatsappSenderConnector({
    send: (request, signal) => {
      if (!sender) throw new WabridgeError('unavailable', 'the WhatsApp sender runs only with a worker');
      return sender.send(request, signal);
    },
  });
  const host = new ConnectorHost({
    store,
    registry: registry.withInternal([senderConnector]),
    routing,
    secrets,
    logger,
    metrics,
    media: (workspaceId) => media.forWorkspace(workspaceId),
    publicUrl: env.publicUrl,
    now,
    pacing,
    // Commands a connector finds during maintenance (resync) go through the same processor as
    // its callbacks; `commands` is assigned below, before any connector instance exists.
    commands: (workspaceId, connectorId, list) => commands.accept(workspaceId, connectorId, list),
  });
  let worker: Worker | null = null;
  if (options.worker) {
    // Always made: numbers may bring their own tokens (wabridge number credentials).
    sender = new WhatsAppSender({
      store,
      host,
      client: clientFor,
      logger: logger.child({ component: 'sender' }),
      now,
      pacing,
    });
    if (!env.WHATSAPP_ACCESS_TOKEN)
      logger.warn(
        {},
        'WHATSAPP_ACCESS_TOKEN is not set: only numbers with their own token can send (agent replies of the others wait in the queue)',
      );
    worker = new Worker({
      store,
      host,
      logger: logger.child({ component: 'worker' }),
      metrics,
      concurrency: env.WORKER_CONCURRENCY,
      leaseMs: env.JOB_LEASE_MS,
      now,
      backoff: { baseMs: 1000, factor: 2, capMs: 300_000, maxAttempts: env.JOB_MAX_ATTEMPTS },
      // The retention purge of every workspace with a rule (media files included).
      upkeep: (at, signal) => governance.runRetentionEverywhere(at, undefined, signal),
      ...options.workerOptions,
    });
  }
  const commands = new CommandProcessor({
    store,
    platformName: (id) => registry.get(id)?.displayName,
    logger: logger.child({ component: 'commands' }),
    metrics,
    now,
    onQueued: () => worker?.notify(),
  });
  const ingestor = new WhatsAppIngestor({
    store,
    routing,
    logger: logger.child({ component: 'ingest' }),
    metrics,
    now,
  });
  const webhooks: IngestTranslator = threaded ?? ingestor;
  const admin = new WorkspaceAdmin({ store, registry, secrets, media });
  const access = new AdminAccess({
    store,
    now,
    session: {
      idleMs: env.ADMIN_SESSION_IDLE_MINUTES * 60_000,
      absoluteMs: env.ADMIN_SESSION_MAX_HOURS * 3_600_000,
    },
    ...options.access,
  });
  return {
    env,
    logger,
    metrics,
    store,
    routing,
    secrets,
    admin,
    access,
    registry,
    whatsappApps,
    cloudApi: clientFor,
    host,
    ingestor,
    webhooks,
    commands,
    media,
    governance,
    worker,
    now,
    async withArchiveStore(run) {
      if (usesPostgres(env)) {
        const archive = archiveStoreOf(store);
        if (!archive) throw new WabridgeError('internal', 'the Postgres store has no archive reader');
        return run(archive);
      }
      const direct = await openSqliteStore({ path: env.databasePath, masterKeys });
      try {
        return await run(direct);
      } finally {
        await direct.close();
      }
    },
    storeStalledForMs: () => threaded?.stalledForMs() ?? 0,
    async close() {
      await worker?.stop();
      await host.closeAll();
      await store.close();
    },
  };
}

/** The current master key and the previous ones still accepted (WABRIDGE_MASTER_KEY_PREVIOUS). */
export function loadMasterKeys(
  env: Env,
  logger: Logger,
  warn: 'always' | 'once',
): { current: Buffer; previous: Buffer[] } {
  return {
    current: loadMasterKey(env, logger, warn),
    previous: (env.WABRIDGE_MASTER_KEY_PREVIOUS ?? []).map((k) =>
      parseMasterKey(k, 'WABRIDGE_MASTER_KEY_PREVIOUS'),
    ),
  };
}

/**
 * The master key comes from WABRIDGE_MASTER_KEY. In development only, a missing key is generated
 * once into the data directory (with a warning), so `npm start` works on a fresh clone.
 */
function loadMasterKey(env: Env, logger: Logger, warn: 'always' | 'once'): Buffer {
  if (env.WABRIDGE_MASTER_KEY) return parseMasterKey(env.WABRIDGE_MASTER_KEY);
  if (!env.devMode) throw new Error('WABRIDGE_MASTER_KEY is required in production');
  const path = join(env.dataDir, 'dev-master.key');
  const generated = !existsSync(path);
  if (generated) writeFileSync(path, `${generateMasterKey()}\n`, { mode: 0o600 });
  if (generated || warn === 'always') {
    logger.warn(
      { path },
      'development mode: using a generated master key; set WABRIDGE_MASTER_KEY in production',
    );
  }
  return parseMasterKey(readFileSync(path, 'utf8'), path);
}
