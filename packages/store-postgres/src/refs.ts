import type { ExternalRef, RefStore } from '@wabridge/core';
import { PgAccess } from './access.ts';
import { StatementBatch } from './batch.ts';
import type { Queryable } from './database.ts';
import type { Param } from './queue/settle.ts';
import { jsonb, type RefRow, toRef } from './rows.ts';

/**
 * A ref by the entity it stands for: the workers read one or two per delivered job. One seek in the
 * primary key, which leads with entity_id so no other index competes for it (schema/refs-lookups.ts).
 */
export const GET_REF = `SELECT * FROM external_refs
  WHERE workspace_id = $1 AND connector_id = $2 AND kind = $3 AND entity_id = $4`;

/**
 * GET_REF for many keys in one statement (see StatementBatch): a row per key found, with the key's
 * place (`ord`, from 1). The lookup is a LATERAL subquery with LIMIT 1 (the key is unique anyway)
 * so it stays one primary-key seek per key: as a plain join, a planner without statistics on
 * external_refs could pick a hash join over the whole table.
 */
export const GET_REFS = `SELECT k.ord, r.* FROM unnest($1::text[], $2::text[], $3::text[], $4::text[])
  WITH ORDINALITY AS k(workspace_id, connector_id, kind, entity_id, ord)
  CROSS JOIN LATERAL (SELECT * FROM external_refs e WHERE e.entity_id = k.entity_id
    AND e.workspace_id = k.workspace_id AND e.connector_id = k.connector_id AND e.kind = k.kind LIMIT 1) r`;

type RefKey = readonly [workspaceId: string, connectorId: string, kind: string, entityId: string];

/** A ref by the platform's id (a command from a thread finds its conversation): one seek in external_refs_external. */
export const FIND_REF_BY_EXTERNAL_ID = `SELECT * FROM external_refs
  WHERE workspace_id = $1 AND connector_id = $2 AND kind = $3 AND external_id = $4 LIMIT 1`;

/** External refs: what a connector created for an entity (RefStore). */
export abstract class PgRefs extends PgAccess implements RefStore {
  /** Lookups by entity asked for together go as one statement (a worker's jobs ask together). */
  #refReads: StatementBatch<RefKey, ExternalRef | null> | undefined;

  getRef(workspaceId: string, connectorId: string, kind: string, entityId: string) {
    this.#refReads ??= new StatementBatch((keys) => this.readRefs(keys));
    return this.#refReads.get([workspaceId, connectorId, kind, entityId]);
  }

  private async readRefs(keys: RefKey[]): Promise<(ExternalRef | null)[]> {
    if (keys.length === 1) {
      const row = await this.db.get<RefRow>(GET_REF, keys[0] as RefKey);
      return [row ? toRef(row) : null];
    }
    const found = await this.db.all<RefRow & { ord: number }>(GET_REFS, [
      keys.map((k) => k[0]),
      keys.map((k) => k[1]),
      keys.map((k) => k[2]),
      keys.map((k) => k[3]),
    ]);
    const refs: (ExternalRef | null)[] = keys.map(() => null);
    for (const { ord, ...row } of found) refs[Number(ord) - 1] = toRef(row);
    return refs;
  }

  async findRefByExternalId(workspaceId: string, connectorId: string, kind: string, externalId: string) {
    const row = await this.db.get<RefRow>(FIND_REF_BY_EXTERNAL_ID, [
      workspaceId,
      connectorId,
      kind,
      externalId,
    ]);
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

  /**
   * Refs stored or replaced as a part of a job's settlement (see queue/settle.ts): written only if
   * its `job` part settled the job, in the job's workspace. A ref given twice
   * keeps the last (one upsert cannot change a row twice).
   */
  protected refsPart(refs: readonly ExternalRef[]): (param: Param) => string[] {
    const byKey = new Map(refs.map((r) => [JSON.stringify([r.connectorId, r.kind, r.entityId]), r]));
    if (byKey.size === 0) return () => [];
    const rows = [...byKey.values()].map((r) => ({
      connector_id: r.connectorId,
      kind: r.kind,
      entity_id: r.entityId,
      external_id: r.externalId,
      data: r.data ?? null,
    }));
    return (param) => [
      `refs AS (INSERT INTO external_refs (workspace_id, connector_id, kind, entity_id, external_id, data, created_at)
        SELECT job.workspace_id, r.connector_id, r.kind,
          r.entity_id, r.external_id, coalesce(r.data, 'null'::jsonb), ${param(this.now())}::bigint
        FROM job, jsonb_to_recordset(${param(JSON.stringify(rows))}::jsonb)
          AS r(connector_id text, kind text, entity_id text, external_id text, data jsonb)
        ON CONFLICT (workspace_id, connector_id, kind, entity_id) DO UPDATE SET
          external_id = excluded.external_id, data = excluded.data)`,
    ];
  }

  /**
   * refsPart for a settlement of several jobs (see PgJobs's batches): each job's refs, written only
   * if its own lease held (its row is in `job`), in the job's workspace. Two jobs
   * of one batch writing the same ref make the statement fail (one upsert cannot change a row
   * twice): the batch is then settled one job at a time.
   */
  protected refsOfJobsPart(
    jobs: readonly { jobId: number; refs: readonly ExternalRef[] }[],
  ): (param: Param) => string[] {
    const rows = jobs.flatMap(({ jobId, refs }) => {
      const byKey = new Map(refs.map((r) => [JSON.stringify([r.connectorId, r.kind, r.entityId]), r]));
      return [...byKey.values()].map((r) => ({
        job_id: jobId,
        connector_id: r.connectorId,
        kind: r.kind,
        entity_id: r.entityId,
        external_id: r.externalId,
        data: r.data ?? null,
      }));
    });
    if (rows.length === 0) return () => [];
    return (param) => [
      `refs AS (INSERT INTO external_refs (workspace_id, connector_id, kind, entity_id, external_id, data, created_at)
        SELECT job.workspace_id, r.connector_id, r.kind, r.entity_id, r.external_id,
          coalesce(r.data, 'null'::jsonb), ${param(this.now())}::bigint
        FROM jsonb_to_recordset(${param(JSON.stringify(rows))}::jsonb)
          AS r(job_id bigint, connector_id text, kind text, entity_id text, external_id text, data jsonb)
          JOIN job ON job.id = r.job_id
        ON CONFLICT (workspace_id, connector_id, kind, entity_id) DO UPDATE SET
          external_id = excluded.external_id, data = excluded.data)`,
    ];
  }
}
