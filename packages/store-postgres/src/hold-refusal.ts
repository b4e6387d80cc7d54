import { describeHold, type HoldRow, toHold, WabridgeError } from '@wabridge/core';
import type { Queryable } from './database.ts';

/**
 * Refuses `what` (a workspace deletion) while any legal hold of the workspace is active, in the
 * SQLite store's words. Apart from holds.ts so that roles below it in the chain (config) use it.
 */
export async function refuseUnderHold(q: Queryable, ws: string, what: string): Promise<void> {
  const active = (
    await q.all<HoldRow>(
      'SELECT * FROM legal_holds WHERE workspace_id = $1 AND released_at IS NULL ORDER BY created_at, id',
      [ws],
    )
  ).map(toHold);
  if (active.length > 0) {
    throw new WabridgeError(
      'conflict',
      `${what} refused: ${active.map(describeHold).join('; ')}. Nothing was changed; release the hold first (wabridge hold release).`,
      { status: 409, details: { holds: active.map((h) => h.id) } },
    );
  }
}
