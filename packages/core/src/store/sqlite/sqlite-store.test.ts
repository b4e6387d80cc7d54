import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';
import { describeStoreConformance } from '../../testing/store-conformance.ts';
import { openSqliteStore } from './index.ts';

const dir = mkdtempSync(join(tmpdir(), 'wabridge-sqlite-'));
let n = 0;
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// A real file (WAL, fsync) rather than :memory:, so the suite exercises what production runs.
describeStoreConformance('sqlite', () => openSqliteStore({ path: join(dir, `store-${n++}.db`) }));
