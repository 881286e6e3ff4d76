/**
 * The SDK side of the gcp provider: lazy loading of `@google-cloud/secret-manager`, building its
 * client (gRPC by default, REST with `fallback`), one call wrapper that puts every RPC under
 * `callRemote` (timeout + lockbox's retry policy; gax's own retries are switched off per call),
 * and the classification of Google errors (gRPC status codes, also what gax's REST transport
 * reports) into lockbox's codes.
 */
import type { SecretManagerServiceClient } from '@google-cloud/secret-manager';
import { LockboxError } from '../errors.js';
import { callRemote, classifyError, loadSdk, type RemoteCallOptions } from './remote.js';

/** The npm package the provider needs. */
export const SDK_PACKAGE = '@google-cloud/secret-manager';

/** The client methods the provider uses (a real SecretManagerServiceClient satisfies it). */
export type SecretManagerClient = Pick<SecretManagerServiceClient,
  'accessSecretVersion' | 'getSecret' | 'createSecret' | 'updateSecret' | 'deleteSecret' | 'addSecretVersion'
  | 'listSecrets' | 'listSecretVersions' | 'disableSecretVersion' | 'enableSecretVersion' | 'destroySecretVersion' | 'close'>;

/** What the client is built from. */
export interface ClientSettings {
  /** `host`, `host:port` or `http(s)://host:port`; undefined = secretmanager.googleapis.com. */
  apiEndpoint?: string;
  /** REST transport instead of gRPC. */
  fallback: boolean;
  /** An auth client for gax (tests, custom credentials); undefined = Application Default Credentials. */
  authClient?: unknown;
}

/** gRPC status codes (google.rpc.Code) the provider tells apart. */
export const GRPC = {
  INVALID_ARGUMENT: 3, DEADLINE_EXCEEDED: 4, NOT_FOUND: 5, ALREADY_EXISTS: 6, PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8, FAILED_PRECONDITION: 9, ABORTED: 10, INTERNAL: 13, UNAVAILABLE: 14, UNAUTHENTICATED: 16,
} as const;

/** Imports the SDK; SDK_MISSING naming the package when it is not installed. */
export function loadSecretManagerSdk(
  providerId: string,
  importer: () => Promise<typeof import('@google-cloud/secret-manager')> = () => import('@google-cloud/secret-manager'),
): Promise<typeof import('@google-cloud/secret-manager')> {
  return loadSdk(SDK_PACKAGE, providerId, importer);
}

/** Builds a SecretManagerServiceClient from the provider's settings. */
export async function createSdkClient(providerId: string, settings: ClientSettings): Promise<SecretManagerClient> {
  const sdk = await loadSecretManagerSdk(providerId);
  const endpoint = settings.apiEndpoint === undefined ? {} : parseEndpoint(providerId, settings.apiEndpoint, settings.fallback);
  return new sdk.SecretManagerServiceClient({
    ...endpoint,
    ...(settings.fallback ? { fallback: true } : {}),
    ...(settings.authClient === undefined ? {} : { authClient: settings.authClient as never }),
  });
}

/** Splits `api_endpoint` into gax's apiEndpoint / port / protocol. */
export function parseEndpoint(providerId: string, endpoint: string, fallback: boolean): { apiEndpoint: string; port?: number; protocol?: string } {
  const withScheme = /^[a-z]+:\/\//i.test(endpoint) ? endpoint : `https://${endpoint}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    throw configError(providerId, `api_endpoint "${endpoint}" is not a host, host:port or URL`);
  }
  const protocol = url.protocol.replace(/:$/, '');
  if (protocol !== 'http' && protocol !== 'https') throw configError(providerId, `api_endpoint "${endpoint}" must use http or https`);
  if (protocol === 'http' && !fallback) {
    throw configError(providerId, `api_endpoint "${endpoint}" is plain http, which only the REST transport can use: set fallback: true`);
  }
  const port = url.port ? Number(url.port) : protocol === 'http' ? 80 : undefined;
  return { apiEndpoint: url.hostname, ...(port === undefined ? {} : { port }), ...(fallback ? { protocol } : {}) };
}

/** Per-call gax options: no gax retries (callRemote's policy rules), no auto-pagination. */
export function callOptions(timeoutMs: number): { retry: null; timeout: number; autoPaginate: false } {
  return { retry: null, timeout: timeoutMs, autoPaginate: false };
}

/** Runs one RPC under callRemote, building the client on first use. */
export class GcpCaller {
  #client?: Promise<SecretManagerClient>;

  constructor(
    readonly providerId: string,
    readonly remote: RemoteCallOptions,
    private readonly factory: () => Promise<SecretManagerClient>,
  ) {}

  /** `operation` is the RPC name, `target` the secret id (both appear in error messages). */
  call<T>(operation: string, target: string, fn: (client: SecretManagerClient, options: ReturnType<typeof callOptions>) => Promise<T>): Promise<T> {
    const label = `${operation} of "${target}"`;
    return callRemote(this.providerId, label, this.remote, async () => fn(await this.client(), callOptions(this.remote.timeout_ms)),
      (error) => classifyGoogleError(this.providerId, label, error));
  }

  async close(): Promise<void> {
    const client = this.#client;
    this.#client = undefined;
    if (client) await (await client.catch(() => undefined))?.close();
  }

  private client(): Promise<SecretManagerClient> {
    this.#client ??= this.factory().catch((error: unknown) => {
      this.#client = undefined;
      throw error;
    });
    return this.#client;
  }
}

/** The gRPC status code behind an error (a LockboxError's cause, or the error itself). */
export function grpcCodeOf(error: unknown): number | undefined {
  const source = error instanceof LockboxError ? error.cause : error;
  const code = (source as { code?: unknown } | null | undefined)?.code;
  return typeof code === 'number' ? code : undefined;
}

/** True for NOT_FOUND, and for FAILED_PRECONDITION (a disabled or destroyed version). */
export function isMissing(error: unknown): boolean {
  const code = grpcCodeOf(error);
  return code === GRPC.NOT_FOUND || code === GRPC.FAILED_PRECONDITION;
}

/**
 * Maps a Google error to lockbox's codes: UNAUTHENTICATED → AUTH_FAILED and PERMISSION_DENIED →
 * PERMISSION_DENIED (never transient), RESOURCE_EXHAUSTED → THROTTLED, UNAVAILABLE / INTERNAL →
 * PROVIDER_UNAVAILABLE, DEADLINE_EXCEEDED → TIMEOUT (all transient), NOT_FOUND → NOT_FOUND,
 * ALREADY_EXISTS, ABORTED → CONFLICT, other statuses PROVIDER_ERROR. Network errors (transient)
 * and missing Application Default Credentials (AUTH_FAILED) are recognised; anything else is
 * PROVIDER_ERROR, so callers only ever see LockboxErrors.
 */
export function classifyGoogleError(providerId: string, operation: string, error: unknown): LockboxError {
  if (error instanceof LockboxError) return error;
  const code = grpcCodeOf(error);
  const details = (error as { details?: unknown } | null)?.details;
  const detail = truncate(typeof details === 'string' && details ? details : String((error as Error | null)?.message ?? ''));
  const make = (lockboxCode: ConstructorParameters<typeof LockboxError>[0], status: string, transient: boolean, hint: string): LockboxError =>
    new LockboxError(lockboxCode, `provider "${providerId}": ${operation} failed: ${status}${detail ? ` (${detail})` : ''}`, {
      provider: providerId, transient, hint, cause: error,
    });
  switch (code) {
    case GRPC.UNAUTHENTICATED: return make('AUTH_FAILED', 'UNAUTHENTICATED', false, HINTS.auth);
    case GRPC.PERMISSION_DENIED: return make('PERMISSION_DENIED', 'PERMISSION_DENIED', false, HINTS.permission);
    case GRPC.RESOURCE_EXHAUSTED: return make('THROTTLED', 'RESOURCE_EXHAUSTED', true, 'Secret Manager throttled the request; lower the request rate or raise the cache TTL');
    case GRPC.UNAVAILABLE: return make('PROVIDER_UNAVAILABLE', 'UNAVAILABLE', true, HINTS.network);
    case GRPC.INTERNAL: return make('PROVIDER_UNAVAILABLE', 'INTERNAL', true, HINTS.network);
    case GRPC.DEADLINE_EXCEEDED: return make('TIMEOUT', 'DEADLINE_EXCEEDED', true, 'raise timeout_ms for this provider, or check the network');
    case GRPC.NOT_FOUND: return make('NOT_FOUND', 'NOT_FOUND', false, 'verify the secret exists in the Secret Manager console (`gcloud secrets list`)');
    case GRPC.ALREADY_EXISTS: return make('ALREADY_EXISTS', 'ALREADY_EXISTS', false, 'the secret already exists');
    case GRPC.ABORTED: return make('CONFLICT', 'ABORTED', false, 'a concurrent write won; re-read and retry');
    case undefined: break;
    default: return make('PROVIDER_ERROR', STATUS_NAMES[code] ?? `gRPC status ${code}`, false, 'see the Secret Manager documentation for this status');
  }
  const message = (error as Error | null)?.message ?? '';
  if (/default credentials|Could not refresh access token|invalid_grant/i.test(message)) {
    return new LockboxError('AUTH_FAILED', `provider "${providerId}": ${operation} failed: no usable Google credentials (${truncate(message)})`, {
      provider: providerId, hint: HINTS.auth, cause: error,
    });
  }
  const cause = (error as { cause?: unknown } | null)?.cause;
  const known = classifyError(providerId, operation, error) ?? (cause ? classifyError(providerId, operation, cause) : undefined);
  if (known) return known;
  if (error instanceof TypeError && message === 'fetch failed') {
    const why = (cause as Error | undefined)?.message ?? message;
    return new LockboxError('PROVIDER_UNAVAILABLE', `provider "${providerId}" is unavailable: ${operation} failed (${truncate(why)})`, {
      provider: providerId, transient: true, hint: HINTS.network, cause: error,
    });
  }
  return new LockboxError('PROVIDER_ERROR', `provider "${providerId}": ${operation} failed: ${truncate(message || String(error))}`, {
    provider: providerId, hint: 'see the cause; check the Secret Manager documentation and `lockbox doctor`', cause: error,
  });
}

/** What to do, in the words of seed 002's troubleshooting section. */
export const HINTS = {
  auth: 'check credentials with `gcloud auth list`; for development run `gcloud auth application-default login`, for production set GOOGLE_APPLICATION_CREDENTIALS to a service-account key file',
  permission: 'the service account needs the Secret Manager Secret Accessor role (roles/secretmanager.secretAccessor; writes need roles/secretmanager.admin); test secret access with `gcloud secrets versions access latest --secret=<id>`',
  network: 'verify network connectivity to Secret Manager (secretmanager.googleapis.com, or api_endpoint) and check the application logs',
};

const STATUS_NAMES: Record<number, string> = {
  1: 'CANCELLED', 2: 'UNKNOWN', 3: 'INVALID_ARGUMENT', 9: 'FAILED_PRECONDITION', 11: 'OUT_OF_RANGE', 12: 'UNIMPLEMENTED', 15: 'DATA_LOSS',
};

/** CRC32C (Castagnoli) of a payload, sent as `data_crc32c` so Secret Manager verifies the upload. */
export function crc32c(data: Uint8Array): number {
  let crc = 0xffffffff;
  for (const byte of data) crc = CRC32C_TABLE[(crc ^ byte) & 0xff]! ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

/** A protobuf Timestamp (`{seconds, nanos}`, seconds as a string or Long-like) as a Date. */
export function toDate(timestamp: { seconds?: unknown; nanos?: number | null } | null | undefined): Date | undefined {
  if (!timestamp || timestamp.seconds === undefined || timestamp.seconds === null) return undefined;
  return new Date(Number(String(timestamp.seconds)) * 1000 + Math.floor((timestamp.nanos ?? 0) / 1e6));
}

/** The last path segment of a resource name (`projects/1/secrets/s/versions/3` → "3"). */
export function lastSegment(name: string | null | undefined): string {
  return (name ?? '').split('/').at(-1) ?? '';
}

function configError(providerId: string, message: string): LockboxError {
  return new LockboxError('CONFIG_INVALID', `provider "${providerId}": ${message}`, {
    provider: providerId, hint: 'see docs/providers/gcp.md for the gcp options',
  });
}

function truncate(text: string): string {
  return text.length > 200 ? `${text.slice(0, 197)}...` : text;
}

const CRC32C_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0x82f63b78 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
