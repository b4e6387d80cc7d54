import { describeArchiveConformance } from '@wabridge/core/testing';
import { openTestStore } from './testing/open.ts';

// Core's archive conformance part on Postgres: `archive verify` (with and without the data keys),
// checkpoints and the contact and eDiscovery exports, through PgArchiveReader, with the log's rows
// changed by plain SQL on the store's schema as someone with write access to the database would.
describeArchiveConformance('postgres', async () => {
  const store = await openTestStore();
  return {
    store,
    sql: (statement, params = []) => {
      let n = 0;
      return store.db.all(
        statement.replace(/\?/g, () => `$${++n}`),
        params,
      );
    },
    close: () => store.close(),
  };
});
