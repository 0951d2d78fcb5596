import { chmodSync, closeSync, existsSync, mkdirSync, openSync } from 'node:fs';

/** Mode of the folders a service creates for its data: the service's user alone may list or enter them. */
export const PRIVATE_FOLDER_MODE = 0o700;
/** Mode of projection files: they hold what the service projects, password and session hashes included. */
export const PRIVATE_FILE_MODE = 0o600;

/** Creates a data folder (and its parents) that only the service's user can enter; an existing one is left as it is. */
export function makePrivateFolder(path: string): void {
  mkdirSync(path, { recursive: true, mode: PRIVATE_FOLDER_MODE });
}

/**
 * Makes sure a SQLite file is the service user's alone before SQLite opens it: created 0600 if new, closed up
 * if an older release left it (or its -wal, -shm) readable by others. SQLite gives the -wal and -shm files it
 * creates the mode of the database file.
 */
export function makePrivateDatabaseFile(file: string): void {
  // SQLite's name for a database that is no file.
  if (file === ':memory:') return;
  closeSync(openSync(file, 'a', PRIVATE_FILE_MODE));
  for (const suffix of ['', '-wal', '-shm']) {
    if (existsSync(file + suffix)) chmodSync(file + suffix, PRIVATE_FILE_MODE);
  }
}
