import { chmodSync, existsSync, mkdirSync, mkdtempSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../logger/index.ts';
import { SqliteDatabase } from '../store/sqlite/database.ts';
import { ensurePrivateDirectory } from './private-files.ts';

const mode = (path: string) => statSync(path).mode & 0o777;

// The usual umask, set explicitly so the claims below do not depend on the machine's: under 0022
// a file created with default modes is world-readable (0644), which is what these tests rule out.
let previousUmask = 0;
beforeAll(() => {
  previousUmask = process.umask(0o022);
});
afterAll(() => {
  process.umask(previousUmask);
});

const scratch = () => mkdtempSync(join(tmpdir(), 'wabridge-modes-'));

describe('private data files', () => {
  it('a new database, its WAL and its shared-memory file are 0600 (owner only) under umask 0022', async () => {
    const path = join(scratch(), 'wabridge.db');
    const db = new SqliteDatabase(path, { logger: silentLogger });
    try {
      db.migrate();
      await db.write(() => db.run("INSERT INTO meta (key, value) VALUES ('k', 'v')"));
      expect(existsSync(`${path}-wal`)).toBe(true);
      expect(existsSync(`${path}-shm`)).toBe(true);
      expect(mode(path).toString(8)).toBe('600');
      expect(mode(`${path}-wal`).toString(8)).toBe('600');
      expect(mode(`${path}-shm`).toString(8)).toBe('600');
    } finally {
      await db.close();
    }
  });

  it('a database left world-readable by an older version is narrowed to 0600 with its WAL when opened', async () => {
    const path = join(scratch(), 'old.db');
    const first = new SqliteDatabase(path, { logger: silentLogger });
    first.migrate();
    await first.write(() => first.run("INSERT INTO meta (key, value) VALUES ('k', 'v')"));
    await first.close();
    chmodSync(path, 0o644);
    writeFileSync(`${path}-wal`, '', { mode: 0o644 });
    chmodSync(`${path}-wal`, 0o644);
    const db = new SqliteDatabase(path, { logger: silentLogger });
    try {
      expect(db.get<{ value: string }>("SELECT value FROM meta WHERE key = 'k'")).toEqual({ value: 'v' });
      expect(mode(path).toString(8)).toBe('600');
      expect(mode(`${path}-wal`).toString(8)).toBe('600');
    } finally {
      await db.close();
    }
  });

  it('a data directory it creates is 0700, parents included; an existing open one is reported, not changed', () => {
    const root = scratch();
    const nested = join(root, 'a', 'b');
    expect(ensurePrivateDirectory(nested)).toEqual({ created: true, openToOthers: false });
    expect(mode(nested).toString(8)).toBe('700');
    expect(mode(join(root, 'a')).toString(8)).toBe('700');
    const shared = join(root, 'shared');
    mkdirSync(shared, { mode: 0o755 });
    expect(ensurePrivateDirectory(shared)).toEqual({ created: false, openToOthers: true });
    expect(mode(shared).toString(8)).toBe('755');
  });
});
