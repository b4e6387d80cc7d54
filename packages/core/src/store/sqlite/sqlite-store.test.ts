import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';
import { describeStoreConformance } from '../../testing/store-conformance.ts';
import { openSqliteStore } from './index.ts';
import { openThreadedSqliteStore } from './threaded.ts';

const dir = mkdtempSync(join(tmpdir(), 'wabridge-sqlite-'));
let n = 0;
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// A real file (WAL, fsync) rather than :memory:, so the suite exercises what production runs.
describeStoreConformance('sqlite', () => openSqliteStore({ path: join(dir, `store-${n++}.db`) }));

// The same suite through the store thread, which is what the gateway runs.
describeStoreConformance('sqlite (threaded)', () =>
  openThreadedSqliteStore({ path: join(dir, `threaded-${n++}.db`) }),
);
