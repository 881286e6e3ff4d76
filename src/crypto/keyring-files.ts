/**
 * Durable writes of key files (a master key, or a KMS-wrapped one): mode 0600 whatever the umask,
 * fsynced, and replaced atomically — the new content goes to `<file>.next`, is fsynced, then
 * renamed over the file, and the directory is fsynced, so a crash at any instant leaves either
 * the old file or the new one, never a torn one.
 */
import { closeSync, fchmodSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { LockboxError } from '../errors.js';

/** Suffix of the staged copy of a key file while it is being replaced. */
export const STAGED_SUFFIX = '.next';

/**
 * Replaces `path` with `text` atomically (see the module comment). `beforeRename` runs after the
 * staged file is durable and before it replaces the old one (the crash tests' seam).
 */
export function replaceKeyFile(path: string, text: string, beforeRename?: () => void): void {
  const staged = path + STAGED_SUFFIX;
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  writeDurably(staged, text, 'w');
  beforeRename?.();
  renameSync(staged, path);
  syncDirectory(dirname(path));
}

/**
 * Creates `path` with `text` (0600, fsynced, directory fsynced). False when the file already
 * exists (it is left alone).
 */
export function createKeyFileOnce(path: string, text: string): boolean {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  try {
    writeDurably(path, text, 'wx');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  }
  syncDirectory(dirname(path));
  return true;
}

/** The file's text, or undefined when it does not exist; other errors are MASTER_KEY_MISSING naming the file. */
export function readKeyFile(path: string, what: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return undefined;
    throw new LockboxError('MASTER_KEY_MISSING', `cannot read the ${what} ${path} (${code ?? 'error'})`, {
      hint: 'check the file\'s owner and permissions', cause: error,
    });
  }
}

/** Removes a stale staged copy (left by a crash before its rename); missing is fine. */
export function removeStagedKeyFile(path: string): void {
  try {
    unlinkSync(path + STAGED_SUFFIX);
  } catch {
    // nothing staged
  }
}

function writeDurably(path: string, text: string, flags: 'w' | 'wx'): void {
  const fd = openSync(path, flags, 0o600);
  try {
    fchmodSync(fd, 0o600);
    writeSync(fd, text.endsWith('\n') ? text : `${text}\n`);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

function syncDirectory(dir: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(dir, 'r');
    fsyncSync(fd);
  } catch {
    // some platforms (Windows) cannot fsync a directory; the rename is still atomic
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}
