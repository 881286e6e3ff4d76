/**
 * `lockbox keys rotate`: a new master key for the local store, every data key re-wrapped under
 * it, the sealed values untouched. Crash-safe at every instant (see docs/keys.md):
 *
 *  1. record the rotation in the store's meta table — each key wrapped under the other — so that
 *     from here on the store opens with EITHER key and reads every row;
 *  2. re-wrap the rows in batches, one transaction each (a row's key_id says which key opens it);
 *  3. switch the store's active key (one transaction that also re-wraps rows written meanwhile);
 *  4. install the new key where the source keeps it: the key file, or the KMS-wrapped key file,
 *     replaced atomically (staged as `<file>.next`, fsynced, renamed); env and command sources
 *     cannot be written, so the user puts the new key there;
 *  5. clear the record: from then on only the new key opens the store.
 *
 * A run that finds a rotation in progress resumes it (it never starts a second one).
 */
import { randomBytes } from 'node:crypto';
import { statSync } from 'node:fs';
import { z } from 'zod';
import { LockboxError } from '../errors.js';
import { KEY_BYTES } from '../crypto/envelope.js';
import { Keyring } from '../crypto/keyring.js';
import { readKeyFile, replaceKeyFile } from '../crypto/keyring-files.js';
import {
  connectKmsSource, loadKey, type KeyOrigin, type KeySource,
} from '../crypto/keyring-sources.js';
import type { KmsMasterKeyWrapper } from '../crypto/kms.js';
import { keyIdOf, parseMasterKey, type MasterKey } from '../crypto/master-key.js';
import { parseRotationState, type RotationState } from './key-meta.js';
import { clearRotation, crashPoint, readMetaTable, recordRotation, rewrapBatch, switchActiveKey, type RowCursor } from './rewrap.js';
import { openStoreDatabase } from './schema.js';

/** Rows re-wrapped per transaction unless told otherwise. */
export const DEFAULT_REWRAP_BATCH = 500;

const optionsSchema = z.object({
  storePath: z.string().min(1),
  env: z.record(z.string().optional()),
  providerId: z.string().min(1).default('local'),
  newKeyFile: z.string().min(1).optional(),
  newKeyEnv: z.string().min(1).optional(),
  kmsKeyId: z.string().min(1).optional(),
  batchSize: z.number().int().min(1).max(100_000).default(DEFAULT_REWRAP_BATCH),
}).refine((o) => !(o.newKeyFile && o.newKeyEnv), 'give the new key with --new-key-file or --new-key-env, not both');

/** What rotateMasterKey needs. */
export interface RotateMasterKeyOptions {
  /** The store file (absolute). */
  storePath: string;
  /** The configured key source (resolveKeySource of the local provider's options). */
  source: KeySource;
  /** Environment the current key (and --new-key-env) is read from. */
  env: Record<string, string | undefined>;
  /** Provider id, for messages. @default "local" */
  providerId?: string;
  /** Take the new master key from this file (base64 of 32 bytes). @default a fresh random key (file sources) or a KMS data key (kms) */
  newKeyFile?: string;
  /** Take the new master key from this environment variable. */
  newKeyEnv?: string;
  /** kms sources: wrap the new master key under this KMS key. @default the source's kms_key_id */
  kmsKeyId?: string;
  /** Rows re-wrapped per transaction. @default 500 */
  batchSize?: number;
}

/** What a rotation did. */
export interface RotateMasterKeyResult {
  fromKeyId: string;
  toKeyId: string;
  /** Data keys re-wrapped by this run. */
  rewrapped: number;
  /** True when this run finished a rotation an earlier run had started. */
  resumed: boolean;
  /** The file the new key (or its KMS-wrapped form) was written to; absent for env and command sources. */
  installedAt?: string;
  /** What the user must do now, if anything (env/command sources, a new KMS key). */
  nextStep?: string;
}

/** Rotates (or finishes rotating) the master key of the store at `storePath`. */
export async function rotateMasterKey(input: RotateMasterKeyOptions): Promise<RotateMasterKeyResult> {
  const { source } = input;
  const parsed = optionsSchema.safeParse({ ...input, source: undefined });
  if (!parsed.success) throw new LockboxError('INVALID_ARGUMENT', parsed.error.issues.map((i) => i.message).join('; '), { hint: 'see `lockbox keys rotate --help`' });
  const options = parsed.data;
  if (options.kmsKeyId !== undefined && source.source !== 'kms') {
    throw new LockboxError('INVALID_ARGUMENT', '--kms-key-id applies only when the master key comes from AWS KMS', { hint: 'set master_key: { source: kms, kms_key_id: … } on the local provider' });
  }
  assertStoreExists(options.storePath);
  let kms: KmsMasterKeyWrapper | undefined;
  const kmsClient = async () => (kms ??= await connectKmsSource(source as Extract<KeySource, { source: 'kms' }>, options.providerId));
  const loaded = await loadKey(source, { env: options.env, storePath: options.storePath, providerId: options.providerId });
  const keyring = new Keyring(loaded.key);
  let given: MasterKey | undefined;
  let opened: ReturnType<typeof openStoreDatabase> | undefined;
  try {
    given = givenKey(options);
    opened = openStoreDatabase(options.storePath, keyring);
    const { db, storeId } = opened;
    let state = parseRotationState(readMetaTable(db));
    const resumed = state !== undefined;
    if (state !== undefined) {
      if (given !== undefined && given.keyId !== state.to) {
        throw new LockboxError('INVALID_ARGUMENT', `a rotation to master key id ${state.to} is in progress; the new key given has id ${given.keyId}`, {
          hint: 'run `lockbox keys rotate` without a new key to finish it first',
        });
      }
    } else {
      const kmsKeyId = source.source === 'kms' ? options.kmsKeyId ?? source.connection.kmsKeyId : undefined;
      const fresh = given === undefined ? await freshKey(loaded.origin, kmsKeyId, kmsClient) : { key: given, blob: undefined };
      try {
        if (fresh.key.keyId === keyring.active.keyId) {
          throw new LockboxError('INVALID_ARGUMENT', `the new master key is the current one (key id ${fresh.key.keyId})`, { hint: 'give a different key, or none to have one made' });
        }
        const wrappedKey = kmsKeyId === undefined ? undefined : fresh.blob ?? await (await kmsClient()).encrypt(fresh.key.key, kmsKeyId);
        state = recordRotation(db, storeId, keyring, fresh.key, kmsKeyId === undefined ? undefined : { kmsKeyId, wrappedKey: wrappedKey! });
      } catch (error) {
        if (keyring.get(fresh.key.keyId) !== fresh.key) fresh.key.key.fill(0);
        throw error;
      }
      crashPoint('rotation-recorded');
    }
    let rewrapped = 0;
    if (keyring.active.keyId !== state.to) {
      let cursor: RowCursor | undefined;
      do {
        const batch = rewrapBatch(db, storeId, keyring, state.to, cursor, options.batchSize);
        rewrapped += batch.rewrapped;
        if (cursor === undefined) crashPoint('batch-committed');
        cursor = batch.cursor;
      } while (cursor !== undefined);
    }
    rewrapped += switchActiveKey(db, storeId, keyring, state.to);
    crashPoint('key-switched');
    const installed = await install(loaded.origin, keyring.active, state, options, kmsClient);
    crashPoint('key-installed');
    clearRotation(db);
    crashPoint('rotation-cleared');
    return { fromKeyId: state.from, toKeyId: state.to, rewrapped, resumed, ...installed };
  } finally {
    opened?.db.close();
    keyring.zero();
    if (given !== undefined && keyring.get(given.keyId) !== given) given.key.fill(0);
  }
}

/** The new key given with --new-key-file / --new-key-env, if any. */
function givenKey(options: z.infer<typeof optionsSchema>): MasterKey | undefined {
  if (options.newKeyFile !== undefined) {
    const text = readKeyFile(options.newKeyFile, 'new master key file');
    if (text === undefined) throw new LockboxError('MASTER_KEY_MISSING', `the new master key file ${options.newKeyFile} does not exist`, { hint: 'write the key (openssl rand -base64 32) to that file first' });
    return parseMasterKey(text, `new key file ${options.newKeyFile}`);
  }
  if (options.newKeyEnv !== undefined) {
    const text = options.env[options.newKeyEnv];
    if (text === undefined || text.trim() === '') throw new LockboxError('MASTER_KEY_MISSING', `the environment variable ${options.newKeyEnv} (--new-key-env) is not set`, { hint: 'set it to the new base64 master key' });
    return parseMasterKey(text, options.newKeyEnv);
  }
  return undefined;
}

/** A key made for the rotation: random for key files, a KMS data key (with its blob) for KMS. */
async function freshKey(origin: KeyOrigin, kmsKeyId: string | undefined, kmsClient: () => Promise<KmsMasterKeyWrapper>): Promise<{ key: MasterKey; blob?: Buffer }> {
  if (origin.kind === 'file') {
    const key = randomBytes(KEY_BYTES);
    return { key: { key, keyId: keyIdOf(key), source: 'a new random key' } };
  }
  if (origin.kind === 'kms') {
    const target = kmsKeyId ?? origin.kmsKeyId;
    const { plaintext, blob } = await (await kmsClient()).generate(target);
    return { key: { key: plaintext, keyId: keyIdOf(plaintext), source: `a new data key of AWS KMS key "${target}"` }, blob };
  }
  const where = origin.kind === 'env' ? `the environment variable ${origin.variable}` : `the command ${JSON.stringify(origin.command)}`;
  throw new LockboxError('INVALID_ARGUMENT', `the master key comes from ${where}, which lockbox cannot write a new key to`, {
    hint: 'give the new key with --new-key-env VAR or --new-key-file PATH (e.g. from openssl rand -base64 32), then store it where the key comes from',
  });
}

/** Step 4: puts the new key where the source keeps it (atomically), or says what the user must do. */
async function install(
  origin: KeyOrigin, key: MasterKey, state: RotationState, options: z.infer<typeof optionsSchema>, kmsClient: () => Promise<KmsMasterKeyWrapper>,
): Promise<Pick<RotateMasterKeyResult, 'installedAt' | 'nextStep'>> {
  const staged = () => crashPoint('key-file-staged');
  switch (origin.kind) {
    case 'file':
      replaceKeyFile(origin.path, key.key.toString('base64'), staged);
      return { installedAt: origin.path };
    case 'kms': {
      const kmsKeyId = state.kms_key_id ?? origin.kmsKeyId;
      const blob = state.kms_wrapped_key ?? (await (await kmsClient()).encrypt(key.key, kmsKeyId)).toString('base64');
      replaceKeyFile(origin.wrappedKeyFile, blob, staged);
      const moved = kmsKeyId !== origin.kmsKeyId;
      return {
        installedAt: origin.wrappedKeyFile,
        nextStep: moved ? `set master_key.kms_key_id to "${kmsKeyId}" in the local provider's options: the master key is now wrapped by that KMS key` : undefined,
      };
    }
    case 'env':
    case 'command': {
      const from = options.newKeyEnv ? `the value of ${options.newKeyEnv}` : options.newKeyFile ? `the content of ${options.newKeyFile}` : 'the new key';
      const where = origin.kind === 'env' ? `the environment variable ${origin.variable}` : `where the command ${JSON.stringify(origin.command)} reads it`;
      return { nextStep: `put ${from} (key id ${key.keyId}) in ${where}: the old key no longer opens the store` };
    }
  }
}

function assertStoreExists(path: string): void {
  let size = 0;
  try {
    size = statSync(path).size;
  } catch {
    // missing: size stays 0
  }
  if (size === 0) {
    throw new LockboxError('STORE_ERROR', `there is no local store at ${path}`, { hint: 'run `lockbox init` first, or point the local provider\'s path at the store' });
  }
}
