import { createSecretBox, type Logger, silentLogger, WabridgeError } from '@wabridge/core';
import { PgArchiveAppender } from './archive.ts';
import { PgDatabase, type Queryable } from './database.ts';
import { PgKeyring } from './keyring.ts';
import { runMigrations } from './migrate.ts';
import { PG_MIGRATIONS } from './schema/index.ts';

export interface PostgresStoreOptions {
  /** postgres://user:password@host:port/database (DATABASE_URL). */
  url: string;
  /** The schema of the store's tables (made by migrate if missing); default: the server's search_path. */
  schema?: string;
  /** Connections in this process's pool (default 10). */
  poolSize?: number;
  /** Named (prepared) statements on the pool's connections (default true; see PgDatabaseOptions). */
  preparedStatements?: boolean;
  logger?: Logger;
  now?: () => number;
  /**
   * The master key (WABRIDGE_MASTER_KEY) that wraps the workspaces' data keys, and previous ones
   * still accepted; without it a fixed all-zero key (tests), as in the SQLite store.
   */
  masterKeys?: { current: Buffer; previous?: readonly Buffer[] };
}

/** The key of stores opened without one: no secrecy, the same code paths (see `masterKeys`). */
const UNKEYED_MASTER_KEY = Buffer.alloc(32);

/**
 * What every part of the Postgres store shares: the pool, the clock, the data keys, the archive
 * appender and the helpers more than one role uses. Each role is a class on top of this one (see store.ts), as in the SQLite
 * store. Writes that must be atomic run in `db.transaction`; everything else is one statement.
 */
export abstract class PgContext {
  readonly db: PgDatabase;
  protected readonly now: () => number;
  protected readonly logger: Logger;
  /** Seals and opens workspace content with the workspaces' data keys. */
  readonly keyring: PgKeyring;
  /** Appends archive records to the workspaces' verifiable logs, in the transactions they record. */
  readonly archive: PgArchiveAppender;

  constructor(options: PostgresStoreOptions) {
    this.db = new PgDatabase({
      url: options.url,
      ...(options.schema === undefined ? {} : { schema: options.schema }),
      ...(options.poolSize === undefined ? {} : { poolSize: options.poolSize }),
      ...(options.preparedStatements === undefined ? {} : { preparedStatements: options.preparedStatements }),
    });
    this.now = options.now ?? Date.now;
    this.logger = options.logger ?? silentLogger;
    const keys = options.masterKeys ?? { current: UNKEYED_MASTER_KEY };
    this.keyring = new PgKeyring(createSecretBox(keys.current, keys.previous ?? []), this.now);
    this.archive = new PgArchiveAppender(this.keyring);
  }

  async migrate(): Promise<void> {
    const applied = await runMigrations(this.db, PG_MIGRATIONS);
    if (applied.length > 0) this.logger.info({ versions: applied }, 'postgres store migrated');
  }

  close(): Promise<void> {
    return this.db.close();
  }

  // --- helpers ---------------------------------------------------------------------------------

  /**
   * Moves the config version routing caches compare; in the transaction of the change, so a cache
   * that saw the new version sees the change. The row lock orders concurrent changes.
   */
  protected async bumpConfigVersion(tx: Queryable): Promise<void> {
    await tx.run("UPDATE meta SET value = (value::bigint + 1)::text WHERE key = 'config_version'");
  }

  /**
   * Fails `not_found` unless the workspace exists; in a transaction its row stays locked (FOR
   * SHARE) until commit, so a concurrent deleteWorkspace waits instead of leaving orphans behind.
   */
  protected async requireWorkspace(q: Queryable, id: string): Promise<void> {
    if (!(await q.get('SELECT 1 AS x FROM workspaces WHERE id = $1 FOR SHARE', [id]))) {
      throw notFoundWorkspace(id);
    }
  }
}

export const notFoundWorkspace = (id: string) =>
  new WabridgeError('not_found', `workspace ${id} does not exist`, { status: 404 });
