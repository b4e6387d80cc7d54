import type { PhoneNumber, Workspace } from '../domain/types.ts';
import type { ConfigStore, ConnectorSetting } from '../store/types.ts';

export interface Route {
  workspace: Workspace;
  phoneNumber: PhoneNumber;
}

/**
 * An in-memory copy of workspaces, numbers and connector settings for the hot path. It reloads
 * when the store's config version moves; the version is read at most every `checkEveryMs`, which
 * bounds how long another process's change takes to be seen here.
 */
export class RoutingCache {
  private readonly store: ConfigStore;
  private readonly checkEveryMs: number;
  private version = -1;
  private checkedAt = 0;
  private loading: Promise<void> | null = null;
  private byNumber = new Map<string, Route>();
  private workspaces = new Map<string, Workspace>();
  private connectors = new Map<string, ConnectorSetting[]>();

  constructor(store: ConfigStore, options: { checkEveryMs?: number } = {}) {
    this.store = store;
    this.checkEveryMs = options.checkEveryMs ?? 1000;
  }

  /** Forces the next read to check the store (call after a local admin change). */
  invalidate(): void {
    this.checkedAt = 0;
  }

  async route(phoneNumberId: string): Promise<Route | null> {
    await this.fresh();
    const route = this.byNumber.get(phoneNumberId);
    if (route) return route;
    // A miss may only mean another process assigned the number a moment ago: check the store
    // before calling the number unrouted.
    this.checkedAt = 0;
    await this.fresh();
    return this.byNumber.get(phoneNumberId) ?? null;
  }

  async workspace(id: string): Promise<Workspace | null> {
    await this.fresh();
    return this.workspaces.get(id) ?? null;
  }

  async connectorSettings(workspaceId: string): Promise<ConnectorSetting[]> {
    await this.fresh();
    return this.connectors.get(workspaceId) ?? [];
  }

  async allConnectorSettings(): Promise<ConnectorSetting[]> {
    await this.fresh();
    return [...this.connectors.values()].flat();
  }

  private async fresh(now = Date.now()): Promise<void> {
    // Until the first load has finished, every caller waits for it: an empty cache must never
    // answer (it would route live traffic to "unrouted").
    if (this.version >= 0 && now - this.checkedAt < this.checkEveryMs) {
      // Half-way to due, the check starts without anyone waiting for it: with reads coming at
      // least that often (live traffic), no webhook or delivery waits for a round trip to the
      // store (one more batch, often behind a commit and its fsync), and the copy is still never
      // older than `checkEveryMs`. A check that fails here is retried by the next read that is
      // due, which waits for it and sees its error.
      if (now - this.checkedAt >= this.checkEveryMs / 2 && !this.loading) this.check(now).catch(() => {});
      return;
    }
    await (this.loading ?? this.check(now));
  }

  /** Starts a check of the store's config version (and a reload if it moved), or joins the one running. */
  private check(now: number): Promise<void> {
    this.loading ??= this.reload(now).finally(() => {
      this.loading = null;
    });
    return this.loading;
  }

  private async reload(now: number): Promise<void> {
    const version = await this.store.configVersion();
    if (version === this.version) {
      this.checkedAt = now;
      return;
    }
    const [workspaces, numbers, connectors] = await Promise.all([
      this.store.listWorkspaces(),
      this.store.listPhoneNumbers(),
      this.store.listConnectors(),
    ]);
    this.workspaces = new Map(workspaces.map((w) => [w.id, w]));
    this.byNumber = new Map();
    for (const number of numbers) {
      const workspace = this.workspaces.get(number.workspaceId);
      if (workspace) this.byNumber.set(number.phoneNumberId, { workspace, phoneNumber: number });
    }
    this.connectors = new Map();
    for (const setting of connectors) {
      const list = this.connectors.get(setting.workspaceId) ?? [];
      list.push(setting);
      this.connectors.set(setting.workspaceId, list);
    }
    this.version = version;
    this.checkedAt = now;
  }
}
