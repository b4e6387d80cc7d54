import { type ArchiveStore, type Logger, openSqliteStore, type Store, WabridgeError } from '@wabridge/core';
import type { Env } from './env.ts';

/**
 * The one place that decides which store a process opens: Postgres when DATABASE_URL is a
 * postgres:// URL (N gateways and M workers on one database), else the SQLite file exactly as
 * before. `serve`, `worker` and every admin command that opens the store come through here.
 */
export function usesPostgres(env: Env): boolean {
  return env.postgresUrl !== null;
}

export interface StoreChoiceOptions {
  logger?: Logger;
  now?: () => number;
  masterKeys?: { current: Buffer; previous?: readonly Buffer[] };
}

export async function openChosenStore(env: Env, options: StoreChoiceOptions = {}): Promise<Store> {
  if (env.postgresUrl === null) return openSqliteStore({ path: env.databasePath, ...options });
  try {
    // Loaded here, not at the top: a SQLite gateway never loads the Postgres store and its
    // driver (pg, ~40 modules, 1.6 MB of the main thread's live heap, which its old generation
    // then multiplies; docs/performance.md, "Memory under backlog").
    const { openPostgresStore } = await import('@wabridge/store-postgres');
    return await openPostgresStore({
      url: env.postgresUrl,
      ...(env.DATABASE_SCHEMA ? { schema: env.DATABASE_SCHEMA } : {}),
      preparedStatements: env.DATABASE_PREPARED_STATEMENTS,
      ...options,
    });
  } catch (error) {
    // One line at start instead of a driver stack trace; the URL is not echoed (it may hold a password).
    const reason = (error instanceof Error ? error.message : String(error)).split('\n')[0];
    throw new WabridgeError('unavailable', `cannot open the Postgres store at DATABASE_URL: ${reason}`, {
      cause: error,
    });
  }
}

/**
 * The store with its archive's reads (verify, checkpoints, exports): the Postgres store has them
 * on its pool; the threaded SQLite store has not (its callers open a direct connection instead).
 */
export function archiveStoreOf(store: Store): (Store & ArchiveStore) | null {
  return 'archiveReader' in store ? (store as Store & ArchiveStore) : null;
}

/**
 * What the SQLite-only parts say on Postgres: they read or write the database file directly (a
 * direct connection to the SQLite file asked for while DATABASE_URL is a postgres:// URL).
 */
export function sqliteOnly(what: string): WabridgeError {
  // config_invalid, not unavailable: retrying cannot help, only another DATABASE_URL would.
  return new WabridgeError(
    'config_invalid',
    `${what} reads the SQLite file directly and is not built for Postgres yet (DATABASE_URL is a postgres:// URL)`,
  );
}

/** `wabridge backup` on Postgres: the server's own tools back it up, not a copy of a file. */
export function backupOnPostgres(): WabridgeError {
  return new WabridgeError(
    'config_invalid',
    '`wabridge backup` copies the SQLite file; this store is Postgres (DATABASE_URL is a postgres:// URL): back it up with pg_dump (e.g. pg_dump --format=custom --schema=<DATABASE_SCHEMA> "$DATABASE_URL" > wabridge.dump), or your server\'s base backups and point-in-time recovery',
  );
}
