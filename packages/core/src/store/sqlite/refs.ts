import type { ExternalRef } from '../../domain/types.ts';
import type { RefStore } from '../types.ts';
import { SqliteConfig } from './config.ts';
import { json, type RefRow, toRef } from './rows.ts';

// `source` is the row to write: VALUES, or a SELECT that yields it only under a condition (a
// SELECT before ON CONFLICT needs a WHERE clause, which SQLite's upsert grammar requires).
const upsertRefSql = (
  source: string,
) => `INSERT INTO external_refs (workspace_id, connector_id, kind, entity_id, external_id, data, created_at)
  ${source}
  ON CONFLICT (workspace_id, connector_id, kind, entity_id) DO UPDATE SET external_id = excluded.external_id,
    data = excluded.data
  WHERE external_id IS NOT excluded.external_id OR data IS NOT excluded.data`;

const refParams = (ws: string, ref: ExternalRef) => ({
  ws,
  connector: ref.connectorId,
  kind: ref.kind,
  entity: ref.entityId,
  external: ref.externalId,
  data: json(ref.data),
});
const UPSERT_REF_SQL = upsertRefSql('VALUES (:ws, :connector, :kind, :entity, :external, :data, :at)');
const UPSERT_REF_HOLDING_SQL = upsertRefSql(
  `SELECT :ws, :connector, :kind, :entity, :external, :data, :at FROM jobs
   WHERE id = :id AND lease_token = :token AND state = 'running' AND workspace_id = :ws`,
);

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
    this.db.run(UPSERT_REF_SQL, {
      ...refParams(ws, ref),
      at: this.now(),
    });
  }

  /**
   * upsertRef for the holder of a job's lease, in one statement: the ref is written only while
   * job `id` of workspace `ws` is running under `token`. Returns whether the lease is held; a ref
   * that was already as given changes nothing, and only then is the lease looked up apart.
   */
  protected upsertRefHolding(ws: string, ref: ExternalRef, lease: { jobId: number; token: string }): boolean {
    const { changes } = this.db.run(UPSERT_REF_HOLDING_SQL, {
      ...refParams(ws, ref),
      at: this.now(),
      id: lease.jobId,
      token: lease.token,
    });
    if (changes > 0) return true;
    return (
      this.db.get(
        "SELECT 1 AS found FROM jobs WHERE id = :id AND lease_token = :token AND state = 'running' AND workspace_id = :ws",
        { id: lease.jobId, token: lease.token, ws },
      ) !== undefined
    );
  }
}
