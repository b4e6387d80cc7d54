import type { ConnectorStateStore } from '@wabridge/core';
import { PgRefs } from './refs.ts';
import { jsonb } from './rows.ts';

/** Connector state and named leases (ConnectorStateStore); each method is one atomic statement. */
export abstract class PgConnectorState extends PgRefs implements ConnectorStateStore {
  async getConnectorState(workspaceId: string, connectorId: string, key: string): Promise<unknown> {
    const row = await this.db.get<{ value: unknown }>(
      'SELECT value FROM connector_state WHERE workspace_id = $1 AND connector_id = $2 AND key = $3',
      [workspaceId, connectorId, key],
    );
    return row ? row.value : null;
  }

  async setConnectorState(
    workspaceId: string,
    connectorId: string,
    key: string,
    value: unknown,
  ): Promise<void> {
    await this.db.run(
      `INSERT INTO connector_state (workspace_id, connector_id, key, value, updated_at)
       VALUES ($1, $2, $3, $4::jsonb, $5)
       ON CONFLICT (workspace_id, connector_id, key) DO UPDATE SET value = excluded.value,
         updated_at = excluded.updated_at`,
      [workspaceId, connectorId, key, jsonb(value), this.now()],
    );
  }

  /** DELETE … RETURNING: of two concurrent takers, the second finds the row gone and gets null. */
  async takeConnectorState(workspaceId: string, connectorId: string, key: string): Promise<unknown> {
    const row = await this.db.get<{ value: unknown }>(
      'DELETE FROM connector_state WHERE workspace_id = $1 AND connector_id = $2 AND key = $3 RETURNING value',
      [workspaceId, connectorId, key],
    );
    return row ? row.value : null;
  }

  /**
   * One upsert whose update is conditional: at the limit it changes nothing and returns no row.
   * Concurrent counters serialise on the row, each seeing the count the one before it left.
   */
  async countConnectorState(
    workspaceId: string,
    connectorId: string,
    key: string,
    limit: number,
  ): Promise<number | null> {
    if (limit < 1) return null;
    const row = await this.db.get<{ count: string }>(
      `INSERT INTO connector_state AS s (workspace_id, connector_id, key, value, updated_at)
       VALUES ($1, $2, $3, '1'::jsonb, $4)
       ON CONFLICT (workspace_id, connector_id, key) DO UPDATE
         SET value = to_jsonb((s.value #>> '{}')::bigint + 1), updated_at = excluded.updated_at
         WHERE (s.value #>> '{}')::bigint < $5
       RETURNING (value #>> '{}')::bigint AS count`,
      [workspaceId, connectorId, key, this.now(), limit],
    );
    return row ? Number(row.count) : null;
  }

  /**
   * One upsert: taken when free, expired, or already ours (renewed); a row comes back only then.
   * Two processes racing for a free lease serialise on the primary key, and the second sees the
   * first's holder in its WHERE.
   */
  async tryAcquireLease(name: string, holder: string, until: number): Promise<boolean> {
    const row = await this.db.get(
      `INSERT INTO leases (name, holder, until) VALUES ($1, $2, $3)
       ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, until = excluded.until
       WHERE leases.holder = excluded.holder OR leases.until < $4
       RETURNING 1 AS x`,
      [name, holder, until, this.now()],
    );
    return row !== null;
  }
}
