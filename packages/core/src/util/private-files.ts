import { chmodSync, closeSync, existsSync, fchmodSync, mkdirSync, openSync, statSync } from 'node:fs';

/**
 * Files of the gateway's data (the database, its WAL, cached media) hold customer messages and
 * encrypted secrets: they are for the gateway's own user only. Modes are set explicitly rather
 * than left to the process umask, which is 0022 on most systems (world-readable files).
 */
export const PRIVATE_FILE_MODE = 0o600;
export const PRIVATE_DIR_MODE = 0o700;

/**
 * Makes `path` (an SQLite database file) and the files SQLite keeps beside it private.
 *
 * SQLite creates a new database file with mode 0644 and then forces that mode with fchmod, so a
 * umask cannot narrow it. Its WAL (`-wal`), shared-memory (`-shm`) and rollback journal files are
 * created with the mode of the database file itself (SQLite's unix VFS, `findCreateFileMode`).
 * So the database file is created here first, with 0600, before SQLite opens it: every file
 * SQLite adds afterwards inherits 0600, on any umask and in worker threads (where `process.umask`
 * cannot be changed). A database left 0644 by an older version is narrowed here too, with
 * whatever WAL and SHM files it has.
 */
export function preparePrivateDatabaseFile(path: string): void {
  if (path === '' || path === ':memory:' || path.startsWith('file:')) return;
  const fd = openSync(path, 'a', PRIVATE_FILE_MODE);
  try {
    fchmodSync(fd, PRIVATE_FILE_MODE);
  } finally {
    closeSync(fd);
  }
  for (const suffix of ['-wal', '-shm', '-journal']) {
    if (existsSync(path + suffix)) chmodSync(path + suffix, PRIVATE_FILE_MODE);
  }
}

/**
 * Creates a directory for the gateway's data, private (0700) when this call creates it. A
 * directory that already exists keeps its mode (it may be a mount point an operator set up);
 * the answer says whether others can enter it, so the caller can warn.
 */
export function ensurePrivateDirectory(path: string): { created: boolean; openToOthers: boolean } {
  const created = mkdirSync(path, { recursive: true, mode: PRIVATE_DIR_MODE }) !== undefined;
  // mkdir's mode is narrowed by the umask but never widened; chmod makes it exactly 0700.
  if (created) chmodSync(path, PRIVATE_DIR_MODE);
  return { created, openToOthers: (statSync(path).mode & 0o077) !== 0 };
}
