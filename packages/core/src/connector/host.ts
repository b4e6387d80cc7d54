import { describeIssues } from '../config/issues.ts';
import type { DomainCommand } from '../domain/commands.ts';
import type { JobEvent } from '../domain/events.ts';
import { WabridgeError } from '../errors/index.ts';
import type { Logger } from '../logger/index.ts';
import type { Metrics } from '../metrics/index.ts';
import type { RoutingCache } from '../routing/index.ts';
import type { SecretBox } from '../secrets/index.ts';
import type { ConfigStore, ConnectorSetting, ConnectorStateStore, GovernanceStore } from '../store/types.ts';
import { type PaceLedger, scopedPaceLedger } from '../util/pace-ledger.ts';
import type {
  ConnectorCheck,
  ConnectorInstance,
  ConnectorManifest,
  ConnectorState,
  MediaAccess,
} from './contract.ts';
import type { ConnectorRegistry } from './registry.ts';

export interface ConnectorHostOptions {
  /** Settings to load connectors, their state, and the audit trail for what they report. */
  store: ConfigStore & ConnectorStateStore & Pick<GovernanceStore, 'appendAudit'>;
  registry: ConnectorRegistry;
  routing: RoutingCache;
  secrets: SecretBox;
  logger: Logger;
  metrics: Metrics;
  media: (workspaceId: string) => MediaAccess;
  publicUrl: string;
  now?: () => number;
  /** Where `deps.emit` sends commands (the command processor); without it connectors get no `emit`. */
  commands?: (workspaceId: string, connectorId: string, commands: DomainCommand[]) => Promise<unknown>;
  /**
   * The pace ledger shared by the processes on the store (the Postgres store's `paceLedger`);
   * each connector gets it scoped to its id as `deps.pacing`. Without it, each process paces alone.
   */
  pacing?: PaceLedger | undefined;
}

/** What `ConnectorHost.test` found for one connector of one workspace. */
export interface ConnectorTestReport {
  workspaceId: string;
  connectorId: string;
  enabled: boolean;
  /** Every check passed. */
  ok: boolean;
  checks: ConnectorCheck[];
}

interface Live {
  updatedAt: number;
  instance: Promise<ConnectorInstance<JobEvent>>;
}

/**
 * Creates and caches one connector instance per (workspace, connector) from the stored settings.
 * An instance is rebuilt when its settings change (seen through the routing cache), so enabling,
 * disabling or reconfiguring a connector needs no restart.
 */
export class ConnectorHost {
  private readonly options: ConnectorHostOptions;
  private readonly live = new Map<string, Live>();

  constructor(options: ConnectorHostOptions) {
    this.options = options;
  }

  get registry(): ConnectorRegistry {
    return this.options.registry;
  }

  /**
   * The live instance, or null when the connector is not enabled in the workspace. An internal
   * connector (the WhatsApp sender) has no settings: it is on in every workspace.
   */
  async instance(workspaceId: string, connectorId: string): Promise<ConnectorInstance<JobEvent> | null> {
    const key = `${workspaceId}/${connectorId}`;
    const manifest = this.options.registry.resolve(connectorId);
    if (manifest?.internal) {
      const current = this.live.get(key);
      if (current) return current.instance;
      return this.cache(key, 0, this.build(manifest, workspaceId, {}));
    }
    const settings = await this.options.routing.connectorSettings(workspaceId);
    const setting = settings.find((s) => s.connectorId === connectorId);
    const current = this.live.get(key);
    if (!setting?.enabled) {
      if (current) await this.retire(key, current);
      return null;
    }
    if (current && current.updatedAt === setting.updatedAt) return current.instance;
    if (current) await this.retire(key, current);
    if (!manifest) return null;
    return this.cache(key, setting.updatedAt, this.create(manifest, setting));
  }

  private cache(
    key: string,
    updatedAt: number,
    instance: Promise<ConnectorInstance<JobEvent>>,
  ): Promise<ConnectorInstance<JobEvent>> {
    const entry = { updatedAt, instance };
    this.live.set(key, entry);
    // A failed creation must not be cached: the next call tries again (the admin may fix the config).
    instance.catch(() => {
      if (this.live.get(key) === entry) this.live.delete(key);
    });
    return instance;
  }

  /** Decrypts the secrets and validates the merged config against the manifest's schema. */
  resolveConfig(
    manifest: ConnectorManifest,
    setting: Pick<ConnectorSetting, 'config' | 'encryptedSecrets'>,
  ): unknown {
    const secrets = setting.encryptedSecrets
      ? (JSON.parse(this.options.secrets.decrypt(setting.encryptedSecrets)) as Record<string, unknown>)
      : {};
    const parsed = manifest.configSchema.safeParse({ ...setting.config, ...secrets });
    if (!parsed.success) {
      const issues = describeIssues(manifest.configSchema, parsed.error.issues);
      throw new WabridgeError('config_invalid', `${manifest.id} configuration is invalid: ${issues}`);
    }
    return parsed.data;
  }

  /**
   * Checks a connector's stored settings against its platform (`ConnectorInstance.test`): with an
   * instance of its own, so what is tested is what is stored, enabled or not, and nothing the live
   * instance holds is disturbed. Never throws for what the test finds (a refused token, a missing
   * channel, settings that do not validate): those are failed checks. Throws `not_found` when the
   * connector was never set up in the workspace.
   */
  async test(
    workspaceId: string,
    connectorId: string,
    options: { timeoutMs?: number } = {},
  ): Promise<ConnectorTestReport> {
    const manifest = this.options.registry.require(connectorId);
    const setting = await this.options.store.getConnector(workspaceId, connectorId);
    if (!setting) {
      const known = await this.options.store.getWorkspace(workspaceId);
      throw new WabridgeError(
        'not_found',
        known
          ? `${connectorId} is not set up in workspace ${workspaceId}: wabridge connector enable ${workspaceId} ${connectorId} --config-file <file>`
          : `workspace ${workspaceId} does not exist`,
        { status: 404 },
      );
    }
    const report = (checks: ConnectorCheck[]): ConnectorTestReport => ({
      workspaceId,
      connectorId,
      enabled: setting.enabled,
      ok: checks.every((c) => c.ok),
      checks,
    });
    let instance: ConnectorInstance;
    try {
      instance = await this.create(manifest, setting);
    } catch (error) {
      return report([{ name: 'settings', ok: false, detail: messageOf(error) }]);
    }
    try {
      if (!instance.test)
        return report([
          { name: 'settings', ok: true, detail: `valid (${manifest.displayName} has no platform check)` },
        ]);
      const timeoutMs = options.timeoutMs ?? 30_000;
      const controller = new AbortController();
      let timer: NodeJS.Timeout | undefined;
      // A check that ignores the signal still ends the test on time.
      const late = new Promise<ConnectorCheck[]>((resolve) => {
        timer = setTimeout(() => {
          controller.abort(new Error('timed out'));
          resolve([
            {
              name: 'platform',
              ok: false,
              detail: `no answer within ${Math.round(timeoutMs / 1000)} s: check the API URL and the network path to ${manifest.displayName}`,
            },
          ]);
        }, timeoutMs);
      });
      try {
        return report(await Promise.race([instance.test(controller.signal), late]));
      } catch (error) {
        return report([{ name: 'platform', ok: false, detail: messageOf(error) }]);
      } finally {
        clearTimeout(timer);
      }
    } finally {
      await Promise.resolve(instance.close?.()).catch(() => {});
    }
  }

  private async create(manifest: ConnectorManifest, setting: ConnectorSetting): Promise<ConnectorInstance> {
    return this.build(manifest, setting.workspaceId, this.resolveConfig(manifest, setting));
  }

  private async build<Event extends JobEvent>(
    manifest: ConnectorManifest<unknown, Event>,
    workspaceId: string,
    config: unknown,
  ): Promise<ConnectorInstance<Event>> {
    const logger = this.options.logger.child({ workspace: workspaceId, connector: manifest.id });
    return manifest.create(config, {
      workspaceId,
      logger,
      metrics: this.options.metrics,
      state: this.state(workspaceId, manifest.id),
      media: this.options.media(workspaceId),
      publicUrl: this.options.publicUrl,
      now: this.options.now ?? Date.now,
      audit: async (action, details) => {
        await this.options.store.appendAudit({
          actor: `connector:${manifest.id}`,
          action,
          workspaceId,
          details: { ...details, connectorId: manifest.id },
        });
      },
      ...(this.options.commands
        ? { emit: this.emitter(workspaceId, manifest.id, this.options.commands) }
        : {}),
      ...(this.options.pacing ? { pacing: scopedPaceLedger(this.options.pacing, `${manifest.id}/`) } : {}),
    });
  }

  private emitter(
    workspaceId: string,
    connectorId: string,
    sink: NonNullable<ConnectorHostOptions['commands']>,
  ): (commands: DomainCommand[]) => Promise<void> {
    return async (commands) => {
      if (commands.length > 0) await sink(workspaceId, connectorId, commands);
    };
  }

  private state(workspaceId: string, connectorId: string): ConnectorState {
    const { store, secrets } = this.options;
    return {
      get: async <T>(key: string) =>
        (await store.getConnectorState(workspaceId, connectorId, key)) as T | null,
      set: (key, value) => store.setConnectorState(workspaceId, connectorId, key, value),
      count: (key, limit) => store.countConnectorState(workspaceId, connectorId, key, limit),
      setSecret: (key, value) =>
        store.setConnectorState(workspaceId, connectorId, `secret:${key}`, secrets.encrypt(value)),
      getSecret: async (key) => {
        const stored = await store.getConnectorState(workspaceId, connectorId, `secret:${key}`);
        return typeof stored === 'string' ? secrets.decrypt(stored) : null;
      },
    };
  }

  /** Connector settings of every workspace (cached). */
  settings(): Promise<ConnectorSetting[]> {
    return this.options.routing.allConnectorSettings();
  }

  /**
   * Runs `maintain()` of every enabled instance; one failing instance does not stop the others.
   * Stops before the next instance once `signal` aborts (the singleton lock was lost).
   */
  async maintainAll(signal?: AbortSignal): Promise<void> {
    const settings = await this.options.routing.allConnectorSettings();
    for (const setting of settings) {
      if (signal?.aborted) {
        this.options.logger.warn({ reason: String(signal.reason) }, 'connector maintenance stopped');
        return;
      }
      if (!setting.enabled) continue;
      try {
        const instance = await this.instance(setting.workspaceId, setting.connectorId);
        await instance?.maintain?.();
      } catch (error) {
        this.options.logger.error(
          { workspace: setting.workspaceId, connector: setting.connectorId, err: error },
          'connector maintenance failed',
        );
      }
    }
  }

  private async retire(key: string, live: Live): Promise<void> {
    this.live.delete(key);
    try {
      await (await live.instance).close?.();
    } catch {
      // A connector that failed to start or to close has nothing left to release.
    }
  }

  async closeAll(): Promise<void> {
    await Promise.all([...this.live.entries()].map(([key, live]) => this.retire(key, live)));
  }
}

const messageOf = (error: unknown): string => (error instanceof Error ? error.message : String(error));
