/**
 * An in-process AWS KMS emulator speaking the JSON 1.1 protocol (X-Amz-Target:
 * TrentService.Encrypt | Decrypt | GenerateDataKey | DescribeKey) closely enough that
 * `@aws-sdk/client-kms` cannot tell, built on the generic server in aws-json.ts.
 *
 * Symmetric keys only. Each key holds 32 random bytes; a ciphertext blob is
 *   0x01 | key id length (1) | key id (UUID, ASCII) | iv (12) | tag (16) | AES-256-GCM ciphertext
 * with the encryption context (canonical JSON) and the key id as additional data — so Decrypt
 * without KeyId finds the key in the blob (as AWS does), a KeyId naming another key is
 * IncorrectKeyException, and a changed blob or encryption context is InvalidCiphertextException.
 * Key states: Enabled, Disabled (DisabledException), PendingDeletion (KMSInvalidStateException);
 * a deleted key is NotFoundException. `denyKey` stands for a key policy that refuses an operation
 * (AccessDeniedException). Not covered: asymmetric and HMAC keys, grants, multi-region keys,
 * ReEncrypt, aliases management calls (aliases are created with the key).
 */
import { createCipheriv, createDecipheriv, randomBytes, randomUUID } from 'node:crypto';
import { AwsServiceError, EMULATOR_ACCOUNT_ID, epochSeconds, startAwsJsonServer, validationError, type AwsJsonServer } from './aws-json.js';

export type KmsKeyState = 'Enabled' | 'Disabled' | 'PendingDeletion';

export interface KmsEmulatorOptions {
  /** Region used in ARNs. @default "us-east-1" */
  region?: string;
  /** Access key ids that may call (see aws-json.ts for the defaults). */
  accessKeyIds?: string[];
  deniedAccessKeyIds?: string[];
}

/** A key as tests see it (no material). */
export interface KmsKeySnapshot {
  keyId: string;
  arn: string;
  state: KmsKeyState;
  aliases: string[];
}

export interface KmsEmulator extends AwsJsonServer {
  readonly region: string;
  /** Creates a symmetric ENCRYPT_DECRYPT key (optionally with an alias `alias/…`), as the console would. */
  createKey(options?: { alias?: string; description?: string }): { keyId: string; arn: string };
  /** Enables, disables or schedules the deletion of a key. */
  setKeyState(keyId: string, state: KmsKeyState): void;
  /** Deletes a key for good: every call naming it is NotFoundException. */
  deleteKey(keyId: string): void;
  /** A key policy refusing `operations` (default: all) on this key to every caller. */
  denyKey(keyId: string, operations?: string[]): void;
  /** The key a key id, ARN, alias or alias ARN names. */
  inspect(keyIdOrAlias: string): KmsKeySnapshot | undefined;
}

interface StoredKey {
  keyId: string;
  arn: string;
  state: KmsKeyState;
  material: Buffer;
  description: string;
  created: Date;
  denied: Set<string> | 'all' | undefined;
}

type Input = Record<string, unknown>;
const BLOB_VERSION = 1;
const MAX_PLAINTEXT_BYTES = 4096;

export async function startKmsEmulator(options: KmsEmulatorOptions = {}): Promise<KmsEmulator> {
  const region = options.region ?? 'us-east-1';
  const keys = new Map<string, StoredKey>();
  const aliases = new Map<string, string>();
  const arnPrefix = `arn:aws:kms:${region}:${EMULATOR_ACCOUNT_ID}`;

  const find = (id: string): StoredKey | undefined => {
    if (id.startsWith('alias/')) return keys.get(aliases.get(id) ?? '');
    if (id.startsWith(`${arnPrefix}:alias/`)) return keys.get(aliases.get(id.slice(arnPrefix.length + 1)) ?? '');
    if (id.startsWith(`${arnPrefix}:key/`)) return keys.get(id.slice(arnPrefix.length + 5));
    return keys.get(id);
  };
  const resolve = (id: string): StoredKey => {
    const key = find(id);
    if (key) return key;
    if (id.startsWith('alias/') || id.includes(':alias/')) throw new AwsServiceError('NotFoundException', `Alias ${id.startsWith('arn:') ? id : `${arnPrefix}:${id}`} is not found.`);
    throw new AwsServiceError('NotFoundException', `Key '${id.startsWith('arn:') ? id : `${arnPrefix}:key/${id}`}' does not exist`);
  };
  const usable = (key: StoredKey, operation: string): StoredKey => {
    if (key.denied === 'all' || key.denied?.has(operation)) {
      throw new AwsServiceError('AccessDeniedException', `User: arn:aws:iam::${EMULATOR_ACCOUNT_ID}:user/emulator is not authorized to perform: kms:${operation} on resource: ${key.arn} because no resource-based policy allows the kms:${operation} action`);
    }
    if (key.state === 'Disabled') throw new AwsServiceError('DisabledException', `${key.arn} is disabled.`);
    if (key.state === 'PendingDeletion') throw new AwsServiceError('KMSInvalidStateException', `${key.arn} is pending deletion.`);
    return key;
  };

  const handlers = {
    Encrypt(input: Input) {
      const key = usable(resolve(requiredString(input, 'KeyId', 'keyId')), 'Encrypt');
      const plaintext = blob(input, 'Plaintext', 'plaintext');
      if (plaintext.length > MAX_PLAINTEXT_BYTES) throw validationError('plaintext', `Member must have length less than or equal to ${MAX_PLAINTEXT_BYTES}`);
      return { CiphertextBlob: seal(key, plaintext, context(input)).toString('base64'), KeyId: key.arn, EncryptionAlgorithm: 'SYMMETRIC_DEFAULT' };
    },
    GenerateDataKey(input: Input) {
      const key = usable(resolve(requiredString(input, 'KeyId', 'keyId')), 'GenerateDataKey');
      const plaintext = randomBytes(dataKeyLength(input));
      return { CiphertextBlob: seal(key, plaintext, context(input)).toString('base64'), Plaintext: plaintext.toString('base64'), KeyId: key.arn };
    },
    Decrypt(input: Input) {
      const sealed = blob(input, 'CiphertextBlob', 'ciphertextBlob');
      const parsed = parseBlob(sealed);
      const requested = input.KeyId === undefined ? undefined : resolve(requiredString(input, 'KeyId', 'keyId'));
      if (parsed === undefined) throw new AwsServiceError('InvalidCiphertextException', '');
      if (requested !== undefined && requested.keyId !== parsed.keyId) {
        throw new AwsServiceError('IncorrectKeyException', 'The key ID in the request does not identify a CMK that can perform this operation.');
      }
      const key = usable(requested ?? resolve(parsed.keyId), 'Decrypt');
      const plaintext = open(key, parsed, context(input));
      if (plaintext === undefined) throw new AwsServiceError('InvalidCiphertextException', '');
      return { KeyId: key.arn, Plaintext: plaintext.toString('base64'), EncryptionAlgorithm: 'SYMMETRIC_DEFAULT' };
    },
    DescribeKey(input: Input) {
      const key = resolve(requiredString(input, 'KeyId', 'keyId'));
      if (key.denied === 'all' || key.denied?.has('DescribeKey')) usable(key, 'DescribeKey');
      return {
        KeyMetadata: {
          AWSAccountId: EMULATOR_ACCOUNT_ID, KeyId: key.keyId, Arn: key.arn, CreationDate: epochSeconds(key.created),
          Enabled: key.state === 'Enabled', Description: key.description, KeyUsage: 'ENCRYPT_DECRYPT', KeyState: key.state,
          Origin: 'AWS_KMS', KeyManager: 'CUSTOMER', CustomerMasterKeySpec: 'SYMMETRIC_DEFAULT', KeySpec: 'SYMMETRIC_DEFAULT',
          EncryptionAlgorithms: ['SYMMETRIC_DEFAULT'], MultiRegion: false,
        },
      };
    },
  };

  const server = await startAwsJsonServer({
    targetPrefix: 'TrentService',
    signingName: 'kms',
    handlers,
    internalErrorType: 'KMSInternalException',
    accessKeyIds: options.accessKeyIds,
    deniedAccessKeyIds: options.deniedAccessKeyIds,
  });
  return Object.assign(Object.create(server) as AwsJsonServer, {
    region,
    close: () => server.close(),
    createKey(spec: { alias?: string; description?: string } = {}) {
      const keyId = randomUUID();
      const key: StoredKey = { keyId, arn: `${arnPrefix}:key/${keyId}`, state: 'Enabled', material: randomBytes(32), description: spec.description ?? '', created: new Date(), denied: undefined };
      keys.set(keyId, key);
      if (spec.alias !== undefined) {
        if (!spec.alias.startsWith('alias/')) throw new Error('an alias starts with "alias/"');
        aliases.set(spec.alias, keyId);
      }
      return { keyId, arn: key.arn };
    },
    setKeyState(keyId: string, state: KmsKeyState) {
      resolveForTest(keyId).state = state;
    },
    deleteKey(keyId: string) {
      const key = resolveForTest(keyId);
      key.material.fill(0);
      keys.delete(key.keyId);
      for (const [alias, target] of aliases) if (target === key.keyId) aliases.delete(alias);
    },
    denyKey(keyId: string, operations?: string[]) {
      resolveForTest(keyId).denied = operations === undefined ? 'all' : new Set(operations);
    },
    inspect(keyIdOrAlias: string): KmsKeySnapshot | undefined {
      const key = find(keyIdOrAlias);
      if (!key) return undefined;
      return { keyId: key.keyId, arn: key.arn, state: key.state, aliases: [...aliases].filter(([, id]) => id === key.keyId).map(([alias]) => alias) };
    },
  }) as KmsEmulator;

  function resolveForTest(keyId: string): StoredKey {
    const key = find(keyId);
    if (!key) throw new Error(`no emulated KMS key ${keyId}`);
    return key;
  }
}

function seal(key: StoredKey, plaintext: Buffer, encryptionContext: string): Buffer {
  const id = Buffer.from(key.keyId, 'ascii');
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key.material, iv);
  cipher.setAAD(aad(key.keyId, encryptionContext));
  const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return Buffer.concat([Buffer.from([BLOB_VERSION, id.length]), id, iv, cipher.getAuthTag(), ciphertext]);
}

function parseBlob(sealed: Buffer): { keyId: string; iv: Buffer; tag: Buffer; ciphertext: Buffer } | undefined {
  if (sealed.length < 2 || sealed[0] !== BLOB_VERSION) return undefined;
  const idEnd = 2 + sealed[1]!;
  if (sealed.length < idEnd + 28) return undefined;
  const keyId = sealed.subarray(2, idEnd).toString('ascii');
  if (!/^[0-9a-f-]{36}$/.test(keyId)) return undefined;
  return { keyId, iv: sealed.subarray(idEnd, idEnd + 12), tag: sealed.subarray(idEnd + 12, idEnd + 28), ciphertext: sealed.subarray(idEnd + 28) };
}

function open(key: StoredKey, parsed: { keyId: string; iv: Buffer; tag: Buffer; ciphertext: Buffer }, encryptionContext: string): Buffer | undefined {
  try {
    const decipher = createDecipheriv('aes-256-gcm', key.material, parsed.iv);
    decipher.setAAD(aad(key.keyId, encryptionContext));
    decipher.setAuthTag(parsed.tag);
    return Buffer.concat([decipher.update(parsed.ciphertext), decipher.final()]);
  } catch {
    return undefined;
  }
}

function aad(keyId: string, encryptionContext: string): Buffer {
  return Buffer.from(`kms-emulator\0${keyId}\0${encryptionContext}`);
}

/** The encryption context as canonical JSON (sorted keys): what must match between Encrypt and Decrypt. */
function context(input: Input): string {
  const value = input.EncryptionContext;
  if (value === undefined || value === null) return '{}';
  if (typeof value !== 'object' || Array.isArray(value) || Object.values(value).some((v) => typeof v !== 'string')) {
    throw new AwsServiceError('SerializationException', 'EncryptionContext must be a map of strings to strings');
  }
  const entries = Object.entries(value as Record<string, string>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return JSON.stringify(entries);
}

function dataKeyLength(input: Input): number {
  const spec = input.KeySpec;
  const bytes = input.NumberOfBytes;
  if (spec !== undefined && bytes !== undefined) throw validationError('keySpec', 'Please specify either number of bytes or key spec, not both');
  if (spec === 'AES_256') return 32;
  if (spec === 'AES_128') return 16;
  if (spec !== undefined) throw validationError('keySpec', 'Member must satisfy enum value set: [AES_256, AES_128]');
  if (typeof bytes === 'number' && Number.isInteger(bytes) && bytes >= 1 && bytes <= 1024) return bytes;
  if (bytes !== undefined) throw validationError('numberOfBytes', 'Member must have value between 1 and 1024');
  throw new AwsServiceError('ValidationException', 'Please specify either number of bytes or key spec.');
}

function requiredString(input: Input, member: string, wireName: string): string {
  const value = input[member];
  if (value === undefined || value === null) throw validationError(wireName, 'Member must not be null');
  if (typeof value !== 'string' || value.length < 1 || value.length > 2048) throw validationError(wireName, 'Member must have length between 1 and 2048');
  return value;
}

function blob(input: Input, member: string, wireName: string): Buffer {
  const value = input[member];
  if (value === undefined || value === null) throw validationError(wireName, 'Member must not be null');
  if (typeof value !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(value)) throw new AwsServiceError('SerializationException', `${member} is not valid base64`);
  const bytes = Buffer.from(value, 'base64');
  if (bytes.length === 0) throw validationError(wireName, 'Member must have length greater than or equal to 1');
  return bytes;
}
