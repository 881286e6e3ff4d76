/**
 * `lockbox keys status`: which master key the store's rows are wrapped by, read from the store's
 * plaintext bookkeeping (meta key_id, each row's key_id) — never key material — and whether the
 * configured source's key opens the store.
 */
import { statSync } from 'node:fs';
import Database from 'better-sqlite3';
import { LockboxError } from '../errors.js';
import { Keyring } from '../crypto/keyring.js';
import { connectKmsSource, describeKeySource, loadKey, type KeySource } from '../crypto/keyring-sources.js';
import { parseRotationState } from './key-meta.js';
import { countVersionsByKey, readMetaTable } from './rewrap.js';
import { openStoreDatabase } from './schema.js';
import { sqliteAddon } from './sqlite-files.js';

/** What `lockbox keys status` reports. */
export interface MasterKeyStatus {
  /** The store file. */
  store: string;
  /** The configured master-key source, in words. */
  source: string;
  /** Id of the key the store seals new versions under (meta key_id). */
  activeKeyId: string;
  /** A rotation an earlier `lockbox keys rotate` started and did not finish. */
  rotation?: { fromKeyId: string; toKeyId: string; startedAt: string; versionsLeft: number };
  /** Versions holding a value, per id of the master key wrapping their data key. */
  keys: Array<{ keyId: string; versions: number; active: boolean }>;
  /** Versions whose value was destroyed or purged (no key). */
  erasedVersions: number;
  /** Whether the configured key opens the store (its id when it does; the error when not). */
  configuredKey: { opens: true; keyId: string } | { opens: false; code: string; message: string };
  /** kms sources: the KMS key as DescribeKey reports it, or why it could not be described. */
  kmsKey?: { arn: string; keyState: string; enabled: boolean } | { code: string; message: string };
}

/** Reads the status of the store at `storePath` configured with `source`. */
export async function masterKeyStatus(options: { storePath: string; source: KeySource; env: Record<string, string | undefined>; providerId?: string }): Promise<MasterKeyStatus> {
  const { storePath, source, env } = options;
  const providerId = options.providerId ?? 'local';
  const bookkeeping = readBookkeeping(storePath);
  const status: MasterKeyStatus = { store: storePath, source: describeKeySource(source), ...bookkeeping, configuredKey: await tryConfiguredKey(source, storePath, env, providerId) };
  if (source.source === 'kms') {
    try {
      status.kmsKey = await (await connectKmsSource(source, providerId)).describe();
    } catch (error) {
      status.kmsKey = describeError(error);
    }
  }
  return status;
}

function readBookkeeping(storePath: string): Pick<MasterKeyStatus, 'activeKeyId' | 'rotation' | 'keys' | 'erasedVersions'> {
  if (fileSize(storePath) === 0) {
    throw new LockboxError('STORE_ERROR', `there is no local store at ${storePath}`, { hint: 'run `lockbox init` first, or point the local provider\'s path at the store' });
  }
  const db = new Database(storePath, { fileMustExist: true, timeout: 5000, nativeBinding: sqliteAddon() });
  try {
    const hasMeta = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'").pluck().get();
    const meta = hasMeta ? readMetaTable(db) : new Map<string, string>();
    const activeKeyId = meta.get('key_id');
    if (activeKeyId === undefined) throw new LockboxError('STORE_ERROR', `${storePath} is not a lockbox store`, { hint: 'point the local provider\'s path at a lockbox store' });
    const { byKey, erased } = countVersionsByKey(db);
    const state = parseRotationState(meta);
    const rotation = state && {
      fromKeyId: state.from, toKeyId: state.to, startedAt: state.started_at,
      versionsLeft: byKey.filter((k) => k.keyId !== state.to).reduce((sum, k) => sum + k.versions, 0),
    };
    return { activeKeyId, rotation, keys: byKey.map((k) => ({ ...k, active: k.keyId === activeKeyId })), erasedVersions: erased };
  } catch (error) {
    if (error instanceof LockboxError) throw error;
    throw new LockboxError('STORE_ERROR', `the local store ${storePath} could not be read: ${(error as Error).message}`, { cause: error, hint: 'check the path and its permissions' });
  } finally {
    db.close();
  }
}

async function tryConfiguredKey(source: KeySource, storePath: string, env: Record<string, string | undefined>, providerId: string): Promise<MasterKeyStatus['configuredKey']> {
  let keyring: Keyring | undefined;
  try {
    const loaded = await loadKey(source, { env, storePath, providerId });
    keyring = new Keyring(loaded.key);
    openStoreDatabase(storePath, keyring).db.close();
    return { opens: true, keyId: loaded.key.keyId };
  } catch (error) {
    return { opens: false, ...describeError(error) };
  } finally {
    keyring?.zero();
  }
}

function describeError(error: unknown): { code: string; message: string } {
  if (error instanceof LockboxError) return { code: error.code, message: error.describe() };
  return { code: 'STORE_ERROR', message: error instanceof Error ? error.message : String(error) };
}

function fileSize(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}
