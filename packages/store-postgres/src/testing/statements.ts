import pg from 'pg';

/**
 * Statements sent to Postgres while `run` runs, by any connection of this process: counted at the
 * driver's Client.query, which the pool's query and a transaction's statements both go through.
 */
export async function statementsSent<T>(run: () => Promise<T>): Promise<{ result: T; sent: string[] }> {
  const sent: string[] = [];
  const proto = pg.Client.prototype as unknown as { query: (...args: unknown[]) => unknown };
  const query = proto.query;
  proto.query = function (this: unknown, ...args: unknown[]) {
    const sql = args[0];
    sent.push(typeof sql === 'string' ? sql : String((sql as { text?: string }).text));
    return query.apply(this, args);
  };
  try {
    return { result: await run(), sent };
  } finally {
    proto.query = query;
  }
}
