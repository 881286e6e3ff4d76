import { chmodSync, closeSync, existsSync, fchmodSync, mkdirSync, openSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

// File helpers shared by every SQLite database lockbox opens (the local store, config secrets).

/** Creates the file with mode 0600 (umask-independent) or tightens an existing one to 0600. */
export function createPrivateFile(path: string): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  try {
    const fd = openSync(path, 'wx', 0o600);
    try {
      fchmodSync(fd, 0o600);
    } finally {
      closeSync(fd);
    }
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    if ((statSync(path).mode & 0o077) !== 0) chmodSync(path, 0o600);
  }
}

/** SQLite gives -wal/-shm the database file's mode; this makes sure of it. */
export function restrictSidecarFiles(path: string): void {
  for (const suffix of ['-wal', '-shm']) {
    try {
      if ((statSync(path + suffix).mode & 0o077) !== 0) chmodSync(path + suffix, 0o600);
    } catch {
      // not created yet: SQLite creates it with the database file's mode
    }
  }
}

let addonPath: string | null | undefined;
/**
 * better-sqlite3's compiled addon, loaded straight from its known place in the package: the
 * `bindings` search better-sqlite3 does otherwise costs a few milliseconds of every CLI start.
 * Falls back to that search (undefined) when the addon is elsewhere.
 */
export function sqliteAddon(): string | undefined {
  if (addonPath === undefined) {
    try {
      const requireHere = createRequire(import.meta.url);
      const candidate = join(dirname(requireHere.resolve('better-sqlite3/package.json')), 'build', 'Release', 'better_sqlite3.node');
      addonPath = existsSync(candidate) ? candidate : null;
    } catch {
      addonPath = null;
    }
  }
  return addonPath ?? undefined;
}
