/**
 * Creating a local store for `lockbox init` (initLocalStore), and the error mapping the local
 * provider shares with it (storeError).
 */
import { statSync } from 'node:fs';
import { resolve } from 'node:path';
import { LockboxError } from '../errors.js';
import { createKeyFile, parseMasterKey, type MasterKey } from '../crypto/master-key.js';
import { Keyring } from '../crypto/keyring.js';
import { openStoreDatabase } from '../store/schema.js';

/** Result of initLocalStore. */
export interface InitLocalStoreResult {
  storeId: string;
  /** True when the store file was created now; false when it already existed (and opened with the key). */
  created: boolean;
  /** True when a new key file was written. */
  keyFileCreated: boolean;
}

/** What initLocalStore needs. */
export interface InitLocalStoreOptions {
  /** The SQLite file to create (absolute, or relative to the working directory). */
  path: string;
  /** Where to write a fresh key when no key is given. */
  masterKeyFile?: string;
  /** A master key (base64 of 32 bytes) to use instead of writing a key file. */
  masterKey?: string;
  /** Environment to take the key from when `masterKey` is not given. */
  env?: Record<string, string | undefined>;
  /** Variable of `env` holding the key. @default "LOCKBOX_MASTER_KEY" */
  masterKeyEnv?: string;
}

/**
 * Creates a store for `lockbox init`. With a key (`masterKey`, or set in `env`): no key file is
 * written; the store is created, or an existing one is checked against the key (created: false).
 * Without one: a fresh key is written to `masterKeyFile` (mode 0600; ALREADY_EXISTS if that file
 * exists, or if the store exists without it — a store is never paired with a new key).
 */
export function initLocalStore(options: InitLocalStoreOptions): InitLocalStoreResult {
  const path = resolve(options.path);
  const envVar = options.masterKeyEnv ?? 'LOCKBOX_MASTER_KEY';
  const fromEnv = options.env?.[envVar];
  let masterKey: MasterKey;
  let keyFileCreated = false;
  if (options.masterKey !== undefined) {
    masterKey = parseMasterKey(options.masterKey, 'the master key given');
  } else if (fromEnv !== undefined && fromEnv.trim() !== '') {
    masterKey = parseMasterKey(fromEnv, envVar);
  } else if (options.masterKeyFile === undefined) {
    throw new LockboxError('MASTER_KEY_MISSING', `no master key: ${envVar} is not set and no key file path was given`, {
      hint: `set ${envVar}, or let lockbox init write a key file`,
    });
  } else {
    const keyFile = resolve(options.masterKeyFile);
    if (fileSize(keyFile) !== undefined) {
      throw new LockboxError('ALREADY_EXISTS', `the master key file ${keyFile} already exists`, {
        hint: 'lockbox init never overwrites a key: a store sealed with it would become unreadable',
      });
    }
    if ((fileSize(path) ?? 0) > 0) {
      throw new LockboxError('ALREADY_EXISTS', `the store ${path} already exists but its key file ${keyFile} does not`, {
        hint: `set ${envVar} to the key this store was created with; init never pairs a store with a new key`,
      });
    }
    masterKey = parseMasterKey(createKeyFile(keyFile), `key file ${keyFile}`);
    keyFileCreated = true;
  }
  const keyring = new Keyring(masterKey);
  try {
    const opened = openStoreDatabase(path, keyring);
    opened.db.close();
    return { storeId: opened.storeId, created: opened.created, keyFileCreated };
  } catch (error) {
    throw storeError(error, path);
  } finally {
    keyring.zero();
  }
}

/** LockboxErrors pass through; SQLite and file-system errors become STORE_ERROR (BUSY is transient). */
export function storeError(error: unknown, path: string, provider?: string): LockboxError {
  if (error instanceof LockboxError) return error;
  const code = (error as { code?: unknown }).code;
  const detail = error instanceof Error ? error.message : String(error);
  const busy = code === 'SQLITE_BUSY' || code === 'SQLITE_LOCKED';
  return new LockboxError('STORE_ERROR', `the local store ${path} failed: ${detail}`, {
    provider,
    cause: error,
    transient: busy,
    hint: busy ? 'another process holds the store; retry' : 'check the path, its permissions and free disk space',
  });
}

function fileSize(path: string): number | undefined {
  try {
    return statSync(path).size;
  } catch {
    return undefined;
  }
}
