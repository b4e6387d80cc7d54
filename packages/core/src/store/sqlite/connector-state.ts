import type { ConnectorStateStore } from '../types.ts';
import { SqliteRefs } from './refs.ts';
import { json } from './rows.ts';

/** Connector state and named leases (ConnectorStateStore). */
export abstract class SqliteConnectorState extends SqliteRefs implements ConnectorStateStore {
  // --- Connector state and coordination -------------------------------------------------------

  async getConnectorState(workspaceId: string, connectorId: string, key: string): Promise<unknown> {
    const row = this.db.get<{ value: string }>(
      'SELECT value FROM connector_state WHERE workspace_id = :ws AND connector_id = :connector AND key = :key',
      { ws: workspaceId, connector: connectorId, key },
    );
    return row ? (JSON.parse(row.value) as unknown) : null;
  }

  setConnectorState(workspaceId: string, connectorId: string, key: string, value: unknown): Promise<void> {
    return this.db.write(() => {
      this.db.run(
        `INSERT INTO connector_state (workspace_id, connector_id, key, value, updated_at) VALUES (:ws, :connector, :key, :value, :at)
         ON CONFLICT (workspace_id, connector_id, key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`,
        { ws: workspaceId, connector: connectorId, key, value: json(value), at: this.now() },
      );
    });
  }

  takeConnectorState(workspaceId: string, connectorId: string, key: string): Promise<unknown> {
    return this.db.write(() => {
      const row = this.db.get<{ value: string }>(
        'DELETE FROM connector_state WHERE workspace_id = :ws AND connector_id = :connector AND key = :key RETURNING value',
        { ws: workspaceId, connector: connectorId, key },
      );
      return row ? (JSON.parse(row.value) as unknown) : null;
    });
  }

  /** One upsert whose update is conditional: at the limit it changes nothing and returns no row. */
  countConnectorState(
    workspaceId: string,
    connectorId: string,
    key: string,
    limit: number,
  ): Promise<number | null> {
    return this.db.write(() => {
      if (limit < 1) return null;
      const row = this.db.get<{ value: string }>(
        `INSERT INTO connector_state (workspace_id, connector_id, key, value, updated_at) VALUES (:ws, :connector, :key, '1', :at)
         ON CONFLICT (workspace_id, connector_id, key) DO UPDATE
           SET value = CAST(CAST(connector_state.value AS INTEGER) + 1 AS TEXT), updated_at = excluded.updated_at
           WHERE CAST(connector_state.value AS INTEGER) < :limit
         RETURNING value`,
        { ws: workspaceId, connector: connectorId, key, at: this.now(), limit },
      );
      return row ? Number(row.value) : null;
    });
  }

  tryAcquireLease(name: string, holder: string, until: number): Promise<boolean> {
    return this.db.write(() => {
      this.db.run(
        `INSERT INTO leases (name, holder, until) VALUES (:name, :holder, :until)
         ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, until = excluded.until
         WHERE leases.holder = excluded.holder OR leases.until < :now`,
        { name, holder, until, now: this.now() },
      );
      const row = this.db.get<{ holder: string }>('SELECT holder FROM leases WHERE name = :name', { name });
      return row?.holder === holder;
    });
  }
}
