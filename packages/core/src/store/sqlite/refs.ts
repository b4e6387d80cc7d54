import type { ExternalRef } from '../../domain/types.ts';
import type { RefStore } from '../types.ts';
import { SqliteConfig } from './config.ts';
import { json, type RefRow, toRef } from './rows.ts';

/** External refs: what a connector created for an entity (RefStore). */
export abstract class SqliteRefs extends SqliteConfig implements RefStore {
  async getRef(workspaceId: string, connectorId: string, kind: string, entityId: string) {
    const row = this.db.get<RefRow>(
      `SELECT * FROM external_refs WHERE workspace_id = :ws AND connector_id = :connector AND kind = :kind AND entity_id = :entity`,
      { ws: workspaceId, connector: connectorId, kind, entity: entityId },
    );
    return row ? toRef(row) : null;
  }

  async findRefByExternalId(workspaceId: string, connectorId: string, kind: string, externalId: string) {
    const row = this.db.get<RefRow>(
      `SELECT * FROM external_refs WHERE workspace_id = :ws AND connector_id = :connector AND kind = :kind
         AND external_id = :external LIMIT 1`,
      { ws: workspaceId, connector: connectorId, kind, external: externalId },
    );
    return row ? toRef(row) : null;
  }

  putRef(workspaceId: string, ref: ExternalRef): Promise<void> {
    return this.db.write(() => this.upsertRef(workspaceId, ref));
  }

  /**
   * Inserts or replaces a ref. One that is already as given is left alone: a delivery returns its
   * conversation's thread ref with every message, and rewriting the same row (and its two index
   * entries) would dirty pages that each commit then writes to the WAL.
   */
  protected upsertRef(ws: string, ref: ExternalRef): void {
    this.db.run(
      `INSERT INTO external_refs (workspace_id, connector_id, kind, entity_id, external_id, data, created_at)
       VALUES (:ws, :connector, :kind, :entity, :external, :data, :at)
       ON CONFLICT (workspace_id, connector_id, kind, entity_id) DO UPDATE SET external_id = excluded.external_id,
         data = excluded.data
       WHERE external_id IS NOT excluded.external_id OR data IS NOT excluded.data`,
      {
        ws,
        connector: ref.connectorId,
        kind: ref.kind,
        entity: ref.entityId,
        external: ref.externalId,
        data: json(ref.data),
        at: this.now(),
      },
    );
  }
}
