import type { IngestStore } from '@wabridge/core';
import type { Queryable } from './database.ts';
import { PgReads } from './reads.ts';

/**
 * The keys that make commands and webhooks idempotent across every gateway on the database:
 * command keys, expiring one-time values (webhook signatures, replay protection), and the routing
 * of kept unrouted changes. The first part of IngestStore; ingest itself and the commands that
 * record messages build on it (ingest.ts, to come).
 */
export abstract class PgCommandKeys
  extends PgReads
  implements Pick<IngestStore, 'claimCommandKey' | 'claimExpiringKey' | 'markUnroutedRouted'>
{
  /**
   * Claims a key in `q` (the caller's transaction, or the pool): true when this call inserted it.
   * The primary key decides between concurrent claimers, in this process or another.
   */
  protected async claimKey(
    q: Queryable,
    ws: string,
    source: string,
    key: string,
    result: string | null,
  ): Promise<boolean> {
    return (
      (await q.run(
        `INSERT INTO command_keys (workspace_id, source, key, result, created_at) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (workspace_id, source, key) DO NOTHING`,
        [ws, source, key, result, this.now()],
      )) === 1
    );
  }

  /**
   * Claims a key with the result its command produced (a message or note id), in the caller's
   * transaction: true when claimed now, else the result stored with it (`''` for none), so a
   * repeated command answers what the first did.
   */
  protected async claimKeyFor(
    tx: Queryable,
    ws: string,
    source: string,
    key: string,
    result: string,
  ): Promise<true | string> {
    if (await this.claimKey(tx, ws, source, key, result)) return true;
    // The first claimer committed (an insert that conflicted waited for it): its row is visible.
    const row = await tx.get<{ result: string | null }>(
      'SELECT result FROM command_keys WHERE workspace_id = $1 AND source = $2 AND key = $3',
      [ws, source, key],
    );
    return row?.result ?? '';
  }

  claimCommandKey(workspaceId: string, source: string, key: string): Promise<boolean> {
    return this.claimKey(this.db, workspaceId, source, key, null);
  }

  claimExpiringKey(workspaceId: string, source: string, key: string, ttlMs: number): Promise<boolean> {
    return this.db.transaction(async (tx) => {
      // The command-key table, under a source of its own: that source's expired keys go first (a
      // range of the primary key, a handful of rows for a window of minutes), then the claim. Of
      // two claimers of an expired key, the second waits on the first's delete, then finds its
      // fresh row and claims nothing.
      await tx.run('DELETE FROM command_keys WHERE workspace_id = $1 AND source = $2 AND created_at <= $3', [
        workspaceId,
        source,
        this.now() - ttlMs,
      ]);
      return this.claimKey(tx, workspaceId, source, key, null);
    });
  }

  async markUnroutedRouted(id: string, workspaceId: string): Promise<boolean> {
    return (
      (await this.db.run(
        'UPDATE unrouted_events SET routed_at = $3, routed_to = $2 WHERE id = $1 AND routed_at IS NULL',
        [id, workspaceId, this.now()],
      )) === 1
    );
  }
}
