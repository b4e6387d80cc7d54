import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { ThrottleKey, ThrottlePolicy } from '../../access/throttle.ts';
import type { AdminAccountRecord, AdminSessionRecord, ApiTokenRecord } from '../../access/types.ts';
import type { ArchiveReader } from '../../archive/reader.ts';
import type { Store } from '../types.ts';
import { SqliteGovernance } from './archive-governance.ts';
import { SqliteArchiveReader } from './archive-reader.ts';
import type { SqliteStoreOptions } from './context.ts';

export type { SqliteStoreOptions } from './context.ts';

/** Opens (and migrates) the embedded store. */
export async function openSqliteStore(options: SqliteStoreOptions): Promise<SqliteStore> {
  if (options.path !== ':memory:') mkdirSync(dirname(options.path), { recursive: true });
  const store = new SqliteStore(options);
  await store.migrate();
  return store;
}

/**
 * The embedded store, one class per role, each on top of the ones before it and all on
 * SqliteContext (one connection with its prepared statements, the clock, the keyring, the archive
 * appender and the helpers several roles use):
 *   context.ts → config.ts → refs.ts → connector-state.ts → reads.ts → ingest.ts → jobs.ts →
 *   archive-governance.ts → this class, which adds admin access (its SQL is in access.ts).
 * A chain rather than separate objects so that the methods kept their bodies (`this.db`, the shared
 * helpers) when the store was split; each part `implements` its role interface (types.ts), so the
 * compiler checks each role where it is written. A part may use what the parts below it define:
 * jobs settle sends with ingest's status fan-out, and complete with refs' upsert.
 */
export class SqliteStore extends SqliteGovernance implements Store {
  readonly kind = 'sqlite' as const;
  #archiveReader: ArchiveReader | null = null;

  /** The archive's reads for verify, checkpoints and exports, on this store's connection and keys. */
  get archiveReader(): ArchiveReader {
    this.#archiveReader ??= new SqliteArchiveReader(this.db, this.keyring);
    return this.#archiveReader;
  }

  // --- Admin access (SQL in access.ts) -------------------------------------------------------

  createAdminAccount(account: AdminAccountRecord) {
    return this.access.createAdminAccount(account);
  }

  getAdminAccount(id: string) {
    return this.access.getAdminAccount(id);
  }

  findAdminAccountByEmail(email: string) {
    return this.access.findAdminAccountByEmail(email);
  }

  listAdminAccounts() {
    return this.access.listAdminAccounts();
  }

  updateAdminAccount(id: string, patch: Parameters<Store['updateAdminAccount']>[1]) {
    return this.access.updateAdminAccount(id, patch);
  }

  setAdminGrant(grant: Parameters<Store['setAdminGrant']>[0]) {
    return this.access.setAdminGrant(grant);
  }

  listAdminGrants(filter: Parameters<Store['listAdminGrants']>[0]) {
    return this.access.listAdminGrants(filter);
  }

  createAdminSession(session: AdminSessionRecord) {
    return this.access.createAdminSession(session);
  }

  getAdminSession(idHash: string) {
    return this.access.getAdminSession(idHash);
  }

  touchAdminSession(idHash: string, lastSeenAt: number) {
    return this.access.touchAdminSession(idHash, lastSeenAt);
  }

  deleteAdminSessions(which: Parameters<Store['deleteAdminSessions']>[0]) {
    return this.access.deleteAdminSessions(which);
  }

  createApiToken(token: ApiTokenRecord) {
    return this.access.createApiToken(token);
  }

  getApiTokenByHash(tokenHash: string) {
    return this.access.getApiTokenByHash(tokenHash);
  }

  listApiTokens(workspaceId: string) {
    return this.access.listApiTokens(workspaceId);
  }

  revokeApiToken(workspaceId: string, id: string, at: number) {
    return this.access.revokeApiToken(workspaceId, id, at);
  }

  touchApiToken(id: string, at: number) {
    return this.access.touchApiToken(id, at);
  }

  takeLoginAttempt(keys: readonly ThrottleKey[], at: number, policy: ThrottlePolicy) {
    return this.access.takeLoginAttempt(keys, at, policy);
  }

  clearLoginAttempts(key: string) {
    return this.access.clearLoginAttempts(key);
  }

  purgeAdminAccess(cutoffs: Parameters<Store['purgeAdminAccess']>[0]) {
    return this.access.purgeAdminAccess(cutoffs);
  }
}
