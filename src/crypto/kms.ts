/**
 * AWS KMS for the `kms` master-key source: a KMS key wraps lockbox's master key (a 32-byte data
 * key made by GenerateDataKey); the store keeps only the KMS ciphertext blob, in a file, and
 * Decrypt unwraps it when the store opens. `@aws-sdk/client-kms` is an optional peer dependency,
 * loaded on first use. Every failure is KMS_ERROR naming the operation, the KMS key id and AWS's
 * error type and message — never key material (AWS error messages do not carry plaintext).
 */
import { LockboxError, isTransient } from '../errors.js';
import { callRemote, loadSdk, type RemoteCallOptions } from '../providers/remote.js';
import { KEY_BYTES } from './envelope.js';

/** The encryption context bound to every wrapped master key (additional authenticated data in KMS). */
export const KMS_ENCRYPTION_CONTEXT: Readonly<Record<string, string>> = Object.freeze({ 'lockbox:purpose': 'master-key' });

/** How to reach KMS. */
export interface KmsConnection {
  /** KMS key (id, ARN, alias name or alias ARN) that wraps the master key. */
  kmsKeyId: string;
  /** AWS region; the SDK's default chain (AWS_REGION, config files) when absent. */
  region?: string;
  /** Endpoint URL (a VPC endpoint, LocalStack, a test emulator). */
  endpoint?: string;
  /** Per-call timeout and retries of transient failures. */
  call: RemoteCallOptions;
  /** Provider id for SDK_MISSING messages. */
  providerId: string;
}

/** A KMS key as DescribeKey reports it (no key material exists client-side). */
export interface KmsKeyDescription {
  arn: string;
  keyState: string;
  enabled: boolean;
}

/** The three calls the keyring makes, plus DescribeKey for `lockbox keys status`. */
export interface KmsMasterKeyWrapper {
  /** A fresh 32-byte master key and its ciphertext blob under `kmsKeyId` (default: the connection's). */
  generate(kmsKeyId?: string): Promise<{ plaintext: Buffer; blob: Buffer }>;
  /** The master key inside `blob`; KMS checks that the connection's key made it. Zero the result after use. */
  decrypt(blob: Buffer): Promise<Buffer>;
  /** Wraps an existing master key under `kmsKeyId` (default: the connection's). */
  encrypt(plaintext: Buffer, kmsKeyId?: string): Promise<Buffer>;
  describe(kmsKeyId?: string): Promise<KmsKeyDescription>;
}

type KmsSdk = typeof import('@aws-sdk/client-kms');

/** Connects to KMS (loading the SDK: SDK_MISSING names the package when it is not installed). */
export async function connectKms(connection: KmsConnection): Promise<KmsMasterKeyWrapper> {
  const sdk: KmsSdk = await loadSdk('@aws-sdk/client-kms', connection.providerId, () => import('@aws-sdk/client-kms'));
  // Retries are callRemote's (jittered, transient failures only), so the SDK makes one attempt.
  const client = new sdk.KMSClient({ region: connection.region, endpoint: connection.endpoint, maxAttempts: 1 });
  const context = { ...KMS_ENCRYPTION_CONTEXT };
  const send = async <T>(operation: string, kmsKeyId: string, command: (signal: AbortSignal) => Promise<T>): Promise<T> => {
    try {
      return await callRemote(connection.providerId, `KMS ${operation}`, connection.call, command, (error) => kmsError(operation, kmsKeyId, error));
    } catch (error) {
      throw kmsError(operation, kmsKeyId, error);
    }
  };
  return {
    async generate(kmsKeyId = connection.kmsKeyId) {
      const out = await send('GenerateDataKey', kmsKeyId, (abortSignal) => client.send(new sdk.GenerateDataKeyCommand({
        KeyId: kmsKeyId, KeySpec: 'AES_256', EncryptionContext: context,
      }), { abortSignal }));
      const plaintext = exactKey(out.Plaintext, 'GenerateDataKey', kmsKeyId);
      if (!out.CiphertextBlob || out.CiphertextBlob.length === 0) {
        plaintext.fill(0);
        throw new LockboxError('KMS_ERROR', `AWS KMS GenerateDataKey with key "${kmsKeyId}" returned no ciphertext blob`, { hint: 'check the endpoint' });
      }
      return { plaintext, blob: Buffer.from(out.CiphertextBlob) };
    },
    async decrypt(blob) {
      const out = await send('Decrypt', connection.kmsKeyId, (abortSignal) => client.send(new sdk.DecryptCommand({
        CiphertextBlob: blob, KeyId: connection.kmsKeyId, EncryptionContext: context,
      }), { abortSignal }));
      return exactKey(out.Plaintext, 'Decrypt', connection.kmsKeyId);
    },
    async encrypt(plaintext, kmsKeyId = connection.kmsKeyId) {
      const out = await send('Encrypt', kmsKeyId, (abortSignal) => client.send(new sdk.EncryptCommand({
        KeyId: kmsKeyId, Plaintext: plaintext, EncryptionContext: context,
      }), { abortSignal }));
      if (!out.CiphertextBlob || out.CiphertextBlob.length === 0) {
        throw new LockboxError('KMS_ERROR', `AWS KMS Encrypt with key "${kmsKeyId}" returned no ciphertext blob`, { hint: 'check the endpoint' });
      }
      return Buffer.from(out.CiphertextBlob);
    },
    async describe(kmsKeyId = connection.kmsKeyId) {
      const out = await send('DescribeKey', kmsKeyId, (abortSignal) => client.send(new sdk.DescribeKeyCommand({ KeyId: kmsKeyId }), { abortSignal }));
      const meta = out.KeyMetadata;
      return { arn: meta?.Arn ?? kmsKeyId, keyState: String(meta?.KeyState ?? 'Unknown'), enabled: meta?.Enabled === true };
    },
  };
}

/** Hints per AWS error type: what the user can do about it. */
const HINTS: Record<string, string> = {
  NotFoundException: 'check master_key.kms_key_id and the region: no such KMS key exists there',
  DisabledException: 'the KMS key is disabled: enable it (aws kms enable-key)',
  KMSInvalidStateException: 'the KMS key is pending deletion or unavailable: cancel the deletion (aws kms cancel-key-deletion)',
  AccessDeniedException: 'grant these AWS credentials kms:Decrypt, kms:Encrypt and kms:GenerateDataKey on the key (key policy or IAM)',
  IncorrectKeyException: 'the wrapped master key file was made with another KMS key: set master_key.kms_key_id to that key (after `lockbox keys rotate --kms-key-id`, the new one)',
  InvalidCiphertextException: 'the wrapped master key file is corrupt or was not made by lockbox for this key: restore it from a backup',
  InvalidKeyUsageException: 'use a symmetric ENCRYPT_DECRYPT KMS key',
  UnrecognizedClientException: 'the AWS credentials are invalid: check AWS_ACCESS_KEY_ID / the profile',
  CredentialsProviderError: 'no AWS credentials were found: set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or run on a role',
};
const TRANSIENT_TYPES = new Set(['ThrottlingException', 'KMSInternalException', 'DependencyTimeoutException', 'KeyUnavailableException', 'ServiceUnavailable', 'InternalFailure']);

/** Maps anything KMS or the SDK throws to KMS_ERROR (transient for network, 5xx and throttling). */
export function kmsError(operation: string, kmsKeyId: string, error: unknown): LockboxError {
  if (error instanceof LockboxError && error.code === 'KMS_ERROR') return error;
  if (error instanceof LockboxError && error.code === 'SDK_MISSING') return error;
  const e = (typeof error === 'object' && error !== null ? error : {}) as { name?: string; message?: string; code?: string; $metadata?: { httpStatusCode?: number } };
  const prefix = `AWS KMS ${operation} with key "${kmsKeyId}" failed`;
  if (error instanceof LockboxError) {
    // TIMEOUT / PROVIDER_UNAVAILABLE from callRemote: keep its wording and transience.
    return new LockboxError('KMS_ERROR', `${prefix}: ${error.message}`, { transient: error.transient, cause: error, hint: error.hint });
  }
  const type = e.name && e.name !== 'Error' ? e.name : e.code ?? 'error';
  const status = e.$metadata?.httpStatusCode;
  const transient = TRANSIENT_TYPES.has(type) || isTransient(error);
  const detail = typeof e.message === 'string' && e.message !== '' ? `: ${clip(e.message)}` : '';
  return new LockboxError('KMS_ERROR', `${prefix}: ${type}${status ? ` (HTTP ${status})` : ''}${detail}`, {
    transient,
    cause: error,
    hint: HINTS[type] ?? (transient ? 'KMS is unreachable or busy; retry, and check the endpoint and the network' : 'see the AWS KMS documentation for this error'),
  });
}

/** The 32 key bytes of a KMS response as a Buffer over the same memory (so zeroing it zeroes the SDK's copy). */
function exactKey(plaintext: Uint8Array | undefined, operation: string, kmsKeyId: string): Buffer {
  const length = plaintext?.length ?? 0;
  if (plaintext === undefined || length !== KEY_BYTES) {
    plaintext?.fill(0);
    throw new LockboxError('KMS_ERROR', `AWS KMS ${operation} with key "${kmsKeyId}" returned ${length} bytes; a master key is ${KEY_BYTES}`, {
      hint: 'the wrapped master key file does not hold a lockbox master key: restore it from a backup',
    });
  }
  return Buffer.from(plaintext.buffer, plaintext.byteOffset, plaintext.byteLength);
}

function clip(text: string): string {
  const line = text.replace(/\s+/g, ' ').trim();
  return line.length > 300 ? `${line.slice(0, 297)}...` : line;
}
