import { type Logger, openSqliteStore, type Store, WabridgeError } from '@wabridge/core';
import { openPostgresStore } from '@wabridge/store-postgres';
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
    return await openPostgresStore({
      url: env.postgresUrl,
      ...(env.DATABASE_SCHEMA ? { schema: env.DATABASE_SCHEMA } : {}),
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
 * What the SQLite-only parts say on Postgres: they read or copy the database file directly
 * (archive verify/checkpoints/exports, the audit trail's file reads, `wabridge backup`).
 */
export function sqliteOnly(what: string): WabridgeError {
  // config_invalid, not unavailable: retrying cannot help, only another DATABASE_URL would.
  return new WabridgeError(
    'config_invalid',
    `${what} reads the SQLite file directly and is not built for Postgres yet (DATABASE_URL is a postgres:// URL); use the server's own tools (pg_dump) for backups`,
  );
}
