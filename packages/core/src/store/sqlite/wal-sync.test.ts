import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { OrderedWalSync, walFileSync } from './wal-sync.ts';

/** A sync the test ends by hand, and what each batch was answered, in order. */
function harness() {
  const syncs: { resolve: () => void; reject: (error: Error) => void }[] = [];
  const sync = () =>
    new Promise<void>((resolve, reject) => {
      syncs.push({ resolve, reject });
    });
  const answered: string[] = [];
  const wal = new OrderedWalSync(sync);
  const commit = (name: string, durable: boolean) =>
    wal.committed(durable, (error) =>
      answered.push(error === undefined ? name : `${name}: ${String(error)}`),
    );
  // Lets the promise reactions of an ended sync run.
  const settle = () => new Promise((resolve) => setImmediate(resolve));
  return { wal, syncs, answered, commit, settle };
}

describe('answers after the WAL is synced, in commit order', () => {
  it('answers a durable batch only after a sync that began after its commit', async () => {
    const { syncs, answered, commit, settle } = harness();
    commit('ingest', true);
    expect(syncs).toHaveLength(1);
    await settle();
    expect(answered).toEqual([]);
    syncs[0]?.resolve();
    await settle();
    expect(answered).toEqual(['ingest']);
  });

  it('answers a batch that needs no sync at once when nothing before it waits', () => {
    const { wal, syncs, answered, commit } = harness();
    commit('claim', false);
    expect(answered).toEqual(['claim']);
    expect(syncs).toHaveLength(0);
    expect(wal.busy).toBe(false);
  });

  it('holds a batch that needs no sync behind a durable one committed before it, without a sync of its own', async () => {
    const { wal, syncs, answered, commit, settle } = harness();
    commit('ingest', true);
    commit('claim of its jobs', false);
    await settle();
    expect(answered).toEqual([]);
    syncs[0]?.resolve();
    await settle();
    expect(answered).toEqual(['ingest', 'claim of its jobs']);
    expect(wal.syncs).toBe(1);
    expect(wal.busy).toBe(false);
  });

  it('covers the batches committed during a sync with the next one, and every batch before it with one', async () => {
    const { wal, syncs, answered, commit, settle } = harness();
    commit('a', true);
    commit('b', true); // committed while a's sync runs: its commit may be after the sync's start
    commit('c', false);
    commit('d', true);
    expect(syncs).toHaveLength(1);
    syncs[0]?.resolve();
    await settle();
    expect(answered).toEqual(['a']);
    expect(syncs).toHaveLength(2); // b and d (and c between them) wait for one sync
    commit('e', false);
    syncs[1]?.resolve();
    await settle();
    expect(answered).toEqual(['a', 'b', 'c', 'd', 'e']);
    expect(wal.syncs).toBe(2);
  });

  it('refuses the batches a failed sync covered, and syncs again for the next', async () => {
    const { syncs, answered, commit, settle, wal } = harness();
    commit('a', true);
    commit('b', false);
    syncs[0]?.reject(new Error('EIO'));
    await settle();
    expect(answered).toEqual(['a: Error: EIO', 'b: Error: EIO']);
    commit('c', true);
    syncs[1]?.resolve();
    await settle();
    expect(answered.at(-1)).toBe('c');
    await wal.settled();
  });
});

describe('the WAL file sync', () => {
  it('syncs the -wal file beside the database, and fails clearly when there is none', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'wabridge-walsync-'));
    const missing = walFileSync(join(dir, 'none.db'));
    await expect(missing.sync()).rejects.toThrow(/ENOENT/);
    writeFileSync(join(dir, 'db.sqlite-wal'), 'frames');
    const file = walFileSync(join(dir, 'db.sqlite'));
    await file.sync();
    await file.sync();
    await file.close();
  });
});
