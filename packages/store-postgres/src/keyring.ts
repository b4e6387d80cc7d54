import { createSecretKey, type KeyObject, randomBytes } from 'node:crypto';
import { openWith, type SecretBox, sealedKeyId, sealWith, WabridgeError } from '@wabridge/core';
import type { Queryable, Tx } from './database.ts';

/**
 * The workspaces' data keys on Postgres (encryption at rest, issue 18 item 3), in the format of
 * the SQLite store's DataKeyring (core: vault/keyring.ts), whose sealWith and openWith do the
 * cryptography: a copy moved between the stores opens the same. What differs is only how keys are
 * read: asynchronously, on the connection of the caller's transaction.
 *
 * Unwrapped keys are cached by id for the life of the store (a key id names one key forever); which
 * key is current is read once in each transaction that seals (one indexed read), so a rotation
 * made by another process is followed from its next transaction on.
 */
export class PgKeyring {
  readonly #box: SecretBox;
  readonly #now: () => number;
  readonly #keys = new Map<string, Map<string, KeyObject>>();
  /**
   * Each workspace's current key as last read by a transaction of this process: batch ingest seals
   * with it before its transaction begins, and its statement checks it is still current (see
   * schema/ingest-batch.ts), so a rotation by another process is followed from the next batch on.
   */
  readonly #current = new Map<string, { id: string; key: KeyObject }>();

  constructor(box: SecretBox, now: () => number) {
    this.#box = box;
    this.#now = now;
  }

  /**
   * The workspace's current key, made if it has none; call in the write transaction that seals
   * with it. Of two processes making a first key at once, one commits it (the partial unique index
   * data_keys_current) and the other takes that one.
   */
  async current(q: Tx, workspaceId: string): Promise<{ id: string; key: KeyObject }> {
    // Read once per transaction: a batch sealing many values of one workspace reads it once.
    const scratchKey = `data-key:${workspaceId}`;
    const known = q.scratch.get(scratchKey) as { id: string; key: KeyObject } | undefined;
    if (known) return known;
    let row = await q.get<{ key_id: string }>(
      'SELECT key_id FROM data_keys WHERE workspace_id = $1 AND retired_at IS NULL',
      [workspaceId],
    );
    if (!row) {
      row = await q.get<{ key_id: string }>(
        `INSERT INTO data_keys (workspace_id, key_id, wrapped, created_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT (workspace_id) WHERE retired_at IS NULL DO NOTHING RETURNING key_id`,
        [
          workspaceId,
          randomBytes(4).toString('hex'),
          this.#box.encrypt(randomBytes(32).toString('base64')),
          this.#now(),
        ],
      );
      // Another transaction made it first and committed: a new statement sees its key.
      row ??= await q.get<{ key_id: string }>(
        'SELECT key_id FROM data_keys WHERE workspace_id = $1 AND retired_at IS NULL',
        [workspaceId],
      );
      if (!row) throw new WabridgeError('internal', `workspace ${workspaceId} has no current data key`);
    }
    const current = { id: row.key_id, key: await this.byId(q, workspaceId, row.key_id) };
    q.scratch.set(scratchKey, current);
    this.#current.set(workspaceId, current);
    return current;
  }

  /** The workspace's current key as this process last read it, if it did (see `#current`). */
  lastCurrent(workspaceId: string): { id: string; key: KeyObject } | undefined {
    return this.#current.get(workspaceId);
  }

  /** Forgets what `lastCurrent` answers for the workspace (it was found no longer current). */
  forgetCurrent(workspaceId: string): void {
    this.#current.delete(workspaceId);
  }

  /** The key with this id (cached once unwrapped). */
  async byId(q: Queryable, workspaceId: string, id: string): Promise<KeyObject> {
    let keys = this.#keys.get(workspaceId);
    const cached = keys?.get(id);
    if (cached) return cached;
    const row = await q.get<{ wrapped: string }>(
      'SELECT wrapped FROM data_keys WHERE workspace_id = $1 AND key_id = $2',
      [workspaceId, id],
    );
    if (!row) throw new WabridgeError('internal', `workspace ${workspaceId} has no data key ${id}`);
    const key = createSecretKey(Buffer.from(this.#box.decrypt(row.wrapped), 'base64'));
    if (!keys) {
      keys = new Map();
      this.#keys.set(workspaceId, keys);
    }
    keys.set(id, key);
    return key;
  }

  /** Seals with a key from `current` (the same format as the SQLite store's). */
  seal(current: { id: string; key: KeyObject }, workspaceId: string, purpose: string, plain: Uint8Array) {
    return sealWith(current.id, current.key, workspaceId, purpose, plain);
  }

  /** Opens a sealed value with the key it names. */
  async open(q: Queryable, workspaceId: string, purpose: string, sealed: Uint8Array): Promise<Buffer> {
    const id = sealedKeyId(sealed);
    if (id === null) {
      throw new WabridgeError('internal', `a ${purpose} value of ${workspaceId} is not a sealed value`);
    }
    return openWith(await this.byId(q, workspaceId, id), workspaceId, purpose, sealed);
  }

  /** Every data key of the workspace, raw (for `archive verify`'s content checker, in this process). */
  async exportAll(q: Queryable, workspaceId: string): Promise<Array<{ keyId: string; key: Buffer }>> {
    const rows = await q.all<{ key_id: string }>(
      'SELECT key_id FROM data_keys WHERE workspace_id = $1 ORDER BY created_at',
      [workspaceId],
    );
    const keys: Array<{ keyId: string; key: Buffer }> = [];
    for (const row of rows) {
      keys.push({ keyId: row.key_id, key: (await this.byId(q, workspaceId, row.key_id)).export() });
    }
    return keys;
  }

  /** The master key's id, as named in wrapped data keys. */
  get masterKeyId(): string {
    return this.#box.keyId;
  }

  /**
   * Makes a new current key for the workspace and retires the old one (kept, to open what it
   * sealed); call in a transaction of its own. Answers the new key's id. Two rotations of one
   * store take turns on the table's lock (SHARE ROW EXCLUSIVE: itself and every INSERT or UPDATE
   * of data_keys wait, reads do not), so the second retires the first's key instead of both
   * making one. A transaction elsewhere that read the old key as current before this commits goes
   * on sealing with it, which stays readable; see key-rotation.ts for how a rotation waits those out.
   */
  async rotate(tx: Tx, workspaceId: string): Promise<string> {
    await tx.run('LOCK TABLE data_keys IN SHARE ROW EXCLUSIVE MODE');
    const at = this.#now();
    await tx.run('UPDATE data_keys SET retired_at = $2 WHERE workspace_id = $1 AND retired_at IS NULL', [
      workspaceId,
      at,
    ]);
    const id = randomBytes(4).toString('hex');
    await tx.run(
      'INSERT INTO data_keys (workspace_id, key_id, wrapped, created_at) VALUES ($1, $2, $3, $4)',
      [workspaceId, id, this.#box.encrypt(randomBytes(32).toString('base64')), at],
    );
    tx.scratch.delete(`data-key:${workspaceId}`);
    return id;
  }

  /**
   * Re-wraps every data key not wrapped by the current master key; answers how many. Under the
   * same table lock as `rotate`: two at once do the work once. Keys cached unwrapped stay valid
   * (the key is the same, only its wrapping changes).
   */
  async rewrap(tx: Tx): Promise<number> {
    await tx.run('LOCK TABLE data_keys IN SHARE ROW EXCLUSIVE MODE');
    const rows = await tx.all<{ workspace_id: string; key_id: string; wrapped: string }>(
      'SELECT workspace_id, key_id, wrapped FROM data_keys ORDER BY workspace_id, key_id',
    );
    let changed = 0;
    for (const row of rows) {
      if (!this.#box.needsRotation(row.wrapped)) continue;
      await tx.run('UPDATE data_keys SET wrapped = $3 WHERE workspace_id = $1 AND key_id = $2', [
        row.workspace_id,
        row.key_id,
        this.#box.encrypt(this.#box.decrypt(row.wrapped)),
      ]);
      changed++;
    }
    return changed;
  }

  /** Forgets a workspace's cached keys (they were deleted with it). */
  forget(workspaceId: string): void {
    this.#keys.delete(workspaceId);
  }
}
