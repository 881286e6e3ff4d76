/**
 * Where the local store's master key comes from: an environment variable, a key file, a command
 * that prints it (a password manager), or AWS KMS (a KMS key wraps the master key; the store keeps
 * the wrapped blob in a file). The `master_key` option of the local provider picks one; without
 * it, lockbox keeps its original behaviour: `master_key_env` when set, else `master_key_file`.
 */
import { statSync } from 'node:fs';
import { resolve } from 'node:path';
import { z } from 'zod';
import { LockboxError } from '../errors.js';
import { remoteOptionFields } from '../providers/remote.js';
import { createKeyFileOnce, readKeyFile } from './keyring-files.js';
import { formatCommandLine, runKeyCommand, splitCommandLine } from './keyring-command.js';
import { keyIdOf, loadMasterKey, parseMasterKey, type MasterKey } from './master-key.js';
import type { KmsConnection, KmsMasterKeyWrapper } from './kms.js';

const envSourceSchema = z.object({
  source: z.literal('env'),
  /** Environment variable holding the key (base64 of 32 bytes). @default "LOCKBOX_MASTER_KEY" */
  variable: z.string().min(1).default('LOCKBOX_MASTER_KEY'),
}).strict();

const fileSourceSchema = z.object({
  source: z.literal('file'),
  /** Key file (base64 of 32 bytes), relative to the config file's directory. @default ".lockbox/master.key" */
  path: z.string().min(1).default('.lockbox/master.key'),
}).strict();

const commandSourceSchema = z.object({
  source: z.literal('command'),
  /**
   * Program that prints the base64 key on stdout, run WITHOUT a shell: one string split at
   * spaces ('…' and "…" group words), or a list of words. E.g. `op read op://vault/lockbox/key`.
   */
  command: z.union([z.string().min(1), z.array(z.string()).min(1)]),
  /** Milliseconds the command may run before it is killed. @default 10000 */
  timeout_ms: z.number().int().positive().max(600_000).default(10_000),
}).strict();

const kmsSourceSchema = z.object({
  source: z.literal('kms'),
  /** KMS key that wraps the master key: key id, key ARN, `alias/name` or alias ARN. */
  kms_key_id: z.string().min(1),
  /** AWS region. @default the SDK's own (AWS_REGION, the profile) */
  region: z.string().min(1).optional(),
  /** KMS endpoint URL (VPC endpoint, LocalStack, an emulator). @default AWS's endpoint for the region */
  endpoint: z.string().url().optional(),
  /**
   * File holding the KMS ciphertext blob of the master key (base64), relative to the config
   * file's directory; created on first use when the store does not exist yet. @default ".lockbox/master.key.kms"
   */
  wrapped_key_file: z.string().min(1).default('.lockbox/master.key.kms'),
  ...remoteOptionFields,
}).strict();

/** The `master_key` option of the local provider. */
export const masterKeySourceSchema = z.discriminatedUnion('source', [envSourceSchema, fileSourceSchema, commandSourceSchema, kmsSourceSchema]);
export type MasterKeySourceOptions = z.input<typeof masterKeySourceSchema>;

/** A master-key source with absolute paths and parsed command line. */
export type KeySource =
  | { source: 'env-or-file'; variable: string; path: string }
  | { source: 'env'; variable: string }
  | { source: 'file'; path: string }
  | { source: 'command'; argv: string[]; timeoutMs: number }
  | { source: 'kms'; connection: Omit<KmsConnection, 'providerId'>; wrappedKeyFile: string };

/** Where a loaded key came from (a rotation installs the new key there when it can). */
export type KeyOrigin =
  | { kind: 'env'; variable: string }
  | { kind: 'file'; path: string }
  | { kind: 'command'; command: string }
  | { kind: 'kms'; wrappedKeyFile: string; kmsKeyId: string };

/** A master key and its origin. */
export interface LoadedMasterKey {
  key: MasterKey;
  origin: KeyOrigin;
}

/** What loading needs besides the source. */
export interface KeyLoadContext {
  env: Record<string, string | undefined>;
  /** The store the key is for (a KMS source creates its wrapped key only when the store is new). */
  storePath: string;
  /** Provider id, for SDK_MISSING messages. */
  providerId: string;
}

/** The local provider's key options (its `master_key`, `master_key_env`, `master_key_file`). */
export interface LocalKeyOptions {
  master_key?: z.infer<typeof masterKeySourceSchema>;
  master_key_env: string;
  master_key_file: string;
}

/** Resolves the options against the config file's directory. */
export function resolveKeySource(options: LocalKeyOptions, baseDir: string): KeySource {
  const spec = options.master_key;
  if (spec === undefined) return { source: 'env-or-file', variable: options.master_key_env, path: resolve(baseDir, options.master_key_file) };
  switch (spec.source) {
    case 'env': return { source: 'env', variable: spec.variable };
    case 'file': return { source: 'file', path: resolve(baseDir, spec.path) };
    case 'command': return { source: 'command', argv: typeof spec.command === 'string' ? splitCommandLine(spec.command) : spec.command, timeoutMs: spec.timeout_ms };
    case 'kms': return {
      source: 'kms',
      wrappedKeyFile: resolve(baseDir, spec.wrapped_key_file),
      connection: {
        kmsKeyId: spec.kms_key_id, region: spec.region, endpoint: spec.endpoint,
        call: { timeout_ms: spec.timeout_ms, retries: spec.retries, retry_base_ms: spec.retry_base_ms },
      },
    };
  }
}

/** One line naming the source (no key material), for `lockbox keys status` and messages. */
export function describeKeySource(source: KeySource): string {
  switch (source.source) {
    case 'env-or-file': return `environment variable ${source.variable}, else key file ${source.path}`;
    case 'env': return `environment variable ${source.variable}`;
    case 'file': return `key file ${source.path}`;
    case 'command': return `command ${JSON.stringify(formatCommandLine(source.argv))}`;
    case 'kms': return `AWS KMS key "${source.connection.kmsKeyId}" (wrapped key file ${source.wrappedKeyFile})`;
  }
}

/** Loads the key synchronously for env and file sources; undefined for command and kms (use loadKey). */
export function loadKeySync(source: KeySource, env: Record<string, string | undefined>): LoadedMasterKey | undefined {
  switch (source.source) {
    case 'env-or-file': {
      const key = loadMasterKey({ env, envVar: source.variable, keyFile: source.path });
      return { key, origin: key.source === source.variable ? { kind: 'env', variable: source.variable } : { kind: 'file', path: source.path } };
    }
    case 'env': {
      const text = env[source.variable];
      if (text === undefined || text.trim() === '') {
        throw new LockboxError('MASTER_KEY_MISSING', `no master key: the environment variable ${source.variable} is not set`, {
          hint: `set ${source.variable} to the base64 master key (master_key.source is env)`,
        });
      }
      return { key: parseMasterKey(text, source.variable), origin: { kind: 'env', variable: source.variable } };
    }
    case 'file': {
      const text = readKeyFile(source.path, 'master key file');
      if (text === undefined) {
        throw new LockboxError('MASTER_KEY_MISSING', `no master key: the key file ${source.path} does not exist`, {
          hint: 'run `lockbox init` to create a store and its key, or point master_key.path at the key file',
        });
      }
      return { key: parseMasterKey(text, `key file ${source.path}`), origin: { kind: 'file', path: source.path } };
    }
    default:
      return undefined;
  }
}

/** Loads the master key from any source. */
export async function loadKey(source: KeySource, context: KeyLoadContext): Promise<LoadedMasterKey> {
  const loaded = loadKeySync(source, context.env);
  if (loaded) return loaded;
  if (source.source === 'command') {
    const key = await runKeyCommand(source.argv, source.timeoutMs, context.env);
    return { key, origin: { kind: 'command', command: formatCommandLine(source.argv) } };
  }
  if (source.source !== 'kms') throw new Error(`unreachable key source ${source.source}`);
  return loadKmsKey(source, await connectKmsSource(source, context.providerId), context.storePath);
}

/** A KMS connection for a kms source (the SDK loads lazily). */
export async function connectKmsSource(source: Extract<KeySource, { source: 'kms' }>, providerId: string): Promise<KmsMasterKeyWrapper> {
  const { connectKms } = await import('./kms.js');
  return connectKms({ ...source.connection, providerId });
}

/** A master key from KMS plaintext bytes (ownership passes to the key). */
export function kmsMasterKey(plaintext: Buffer, source: Extract<KeySource, { source: 'kms' }>): MasterKey {
  return { key: plaintext, keyId: keyIdOf(plaintext), source: describeKeySource(source) };
}

/** The blob in a wrapped key file's text; MASTER_KEY_INVALID when it is not base64. */
export function parseWrappedKeyFile(text: string, path: string): Buffer {
  const trimmed = text.trim();
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(trimmed)) {
    throw new LockboxError('MASTER_KEY_INVALID', `the KMS-wrapped master key file ${path} is not valid base64`, {
      hint: 'restore the file from a backup; it holds the KMS ciphertext blob of the master key',
    });
  }
  return Buffer.from(trimmed, 'base64');
}

async function loadKmsKey(source: Extract<KeySource, { source: 'kms' }>, kms: KmsMasterKeyWrapper, storePath: string): Promise<LoadedMasterKey> {
  const origin: KeyOrigin = { kind: 'kms', wrappedKeyFile: source.wrappedKeyFile, kmsKeyId: source.connection.kmsKeyId };
  let text = readKeyFile(source.wrappedKeyFile, 'KMS-wrapped master key file');
  if (text === undefined) {
    if (fileSize(storePath) > 0) {
      throw new LockboxError('MASTER_KEY_MISSING', `the store ${storePath} exists but its KMS-wrapped master key file ${source.wrappedKeyFile} does not`, {
        hint: 'restore the file from a backup (without the KMS key it is useless, so it can be backed up beside the store)',
      });
    }
    const { plaintext, blob } = await kms.generate();
    if (createKeyFileOnce(source.wrappedKeyFile, blob.toString('base64'))) return { key: kmsMasterKey(plaintext, source), origin };
    plaintext.fill(0); // another process created the store's key first: use that one
    text = readKeyFile(source.wrappedKeyFile, 'KMS-wrapped master key file') ?? '';
  }
  const plaintext = await kms.decrypt(parseWrappedKeyFile(text, source.wrappedKeyFile));
  return { key: kmsMasterKey(plaintext, source), origin };
}

function fileSize(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}
