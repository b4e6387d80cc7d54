// The stores bench:e2e runs the gateway on (--store sqlite | postgres | both). Each phase of a run
// (ingest only, end to end) gets a store of its own, empty: a data directory for SQLite, a fresh
// schema for Postgres (dropped after). Each tells the bench its queue depth and, for Postgres, the
// CPU the database server's processes spent for the gateway (they are part of a delivery's cost).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { freshSchema, testDatabaseUrl } from '@wabridge/store-postgres/testing';
import pg from 'pg';

export type StoreName = 'sqlite' | 'postgres';

export interface ServerUsage {
  cpuSeconds: number;
  privateMb: number;
}

export interface StorePhase {
  /** What the gateway's processes add to their environment to open this store. */
  env: NodeJS.ProcessEnv;
  /** Jobs queued or in flight (jobs waiting for admission included). */
  backlog(): Promise<number>;
  /**
   * The database server's processes serving the gateway: CPU seconds they have used so far and
   * their private resident memory now (MB; RssAnon: the shared buffers they map are the server's,
   * not theirs), or null when the store runs inside the gateway (SQLite). Call it often: a server
   * process that ends between two calls (a pool closing an idle connection) takes its last share
   * of CPU with it.
   */
  server(): Promise<ServerUsage | null>;
  close(): Promise<void>;
}

/** Opens an empty store for one phase; `dataDir` is the gateway's data directory (media, keys). */
export function openStorePhase(store: StoreName, dataDir: string, label: string): Promise<StorePhase> {
  return store === 'sqlite' ? Promise.resolve(sqlitePhase(dataDir)) : postgresPhase(label);
}

function sqlitePhase(dataDir: string): StorePhase {
  let db: DatabaseSync | null = null;
  return {
    env: {},
    async backlog() {
      // Opened on first use: the gateway's setup creates the file.
      db ??= new DatabaseSync(join(dataDir, 'wabridge.db'), { readOnly: true, timeout: 5000 });
      const row = db
        .prepare('SELECT (SELECT count(*) FROM jobs) + (SELECT count(*) FROM jobs_new) AS n')
        .get();
      return Number(row?.n);
    },
    server: async () => null,
    async close() {
      db?.close();
    },
  };
}

/**
 * A fresh schema on the test server (WABRIDGE_TEST_DATABASE_URL, default 127.0.0.1:5432/test).
 * The gateway's connections carry an application_name of their own, so the server processes
 * serving them (one backend per pooled connection) are told from other clients of a shared server
 * and from the bench's own connection. The server's shared processes (WAL writer, checkpointer,
 * autovacuum) serve every database on it and are not counted.
 */
async function postgresPhase(label: string): Promise<StorePhase> {
  const { schema, drop } = await freshSchema('wb_bench');
  const applicationName = `wabridge-bench-${label}-${process.pid}`;
  const url = new URL(testDatabaseUrl);
  url.searchParams.set('application_name', applicationName);
  const bench = new pg.Client({ connectionString: testDatabaseUrl });
  await bench.connect();
  /** CPU seconds last seen per server process, kept after it ends. */
  const seen = new Map<number, number>();
  return {
    env: { DATABASE_URL: url.toString(), DATABASE_SCHEMA: schema },
    async backlog() {
      const { rows } = await bench.query<{ n: number }>(`SELECT count(*)::int AS n FROM "${schema}".jobs`);
      return rows[0]?.n ?? 0;
    },
    async server() {
      const { rows } = await bench.query<{ pid: number }>(
        'SELECT pid FROM pg_stat_activity WHERE application_name = $1',
        [applicationName],
      );
      let privateMb = 0;
      for (const { pid } of rows) {
        const usage = processUsage(pid);
        if (usage === null) continue;
        seen.set(pid, Math.max(seen.get(pid) ?? 0, usage.cpuSeconds));
        privateMb += usage.privateMb;
      }
      return { cpuSeconds: [...seen.values()].reduce((a, b) => a + b, 0), privateMb };
    },
    async close() {
      await bench.end();
      await drop();
    },
  };
}

/** User + system CPU seconds of one process so far (USER_HZ 100) and its RssAnon, or null (Linux /proc). */
function processUsage(pid: number): ServerUsage | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const anonKb = Number(/RssAnon:\s+(\d+)/.exec(status)?.[1] ?? 0);
    return { cpuSeconds: (Number(fields[11]) + Number(fields[12])) / 100, privateMb: anonKb / 1024 };
  } catch {
    return null;
  }
}
