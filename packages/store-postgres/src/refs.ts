import type { ExternalRef, RefStore } from '@wabridge/core';
import { PgAccess } from './access.ts';
import type { Queryable } from './database.ts';
import { jsonb, type RefRow, toRef } from './rows.ts';

/** External refs: what a connector created for an entity (RefStore). */
export abstract class PgRefs extends PgAccess implements RefStore {
  async getRef(workspaceId: string, connectorId: string, kind: string, entityId: string) {
    const row = await this.db.get<RefRow>(
      `SELECT * FROM external_refs
       WHERE workspace_id = $1 AND connector_id = $2 AND kind = $3 AND entity_id = $4`,
      [workspaceId, connectorId, kind, entityId],
    );
    return row ? toRef(row) : null;
  }

  async findRefByExternalId(workspaceId: string, connectorId: string, kind: string, externalId: string) {
    const row = await this.db.get<RefRow>(
      `SELECT * FROM external_refs
       WHERE workspace_id = $1 AND connector_id = $2 AND kind = $3 AND external_id = $4 LIMIT 1`,
      [workspaceId, connectorId, kind, externalId],
    );
    return row ? toRef(row) : null;
  }

  async putRef(workspaceId: string, ref: ExternalRef): Promise<void> {
    await this.upsertRef(this.db, workspaceId, ref);
  }

  /** A ref stored or replaced in one statement; the queue's completions call it in their transaction. */
  protected async upsertRef(q: Queryable, ws: string, ref: ExternalRef): Promise<void> {
    await q.run(
      `INSERT INTO external_refs (workspace_id, connector_id, kind, entity_id, external_id, data, created_at)
       VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7)
       ON CONFLICT (workspace_id, connector_id, kind, entity_id) DO UPDATE SET
         external_id = excluded.external_id, data = excluded.data`,
      [ws, ref.connectorId, ref.kind, ref.entityId, ref.externalId, jsonb(ref.data), this.now()],
    );
  }
}
