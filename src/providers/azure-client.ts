/**
 * The azure provider's link to the SDK: lazy loading of `@azure/keyvault-secrets` and
 * `@azure/identity`, the SecretClient's options, error classification for the SDK's error shapes
 * (RestError with Key Vault's `{"error":{"code","message","innererror"}}`, credential errors,
 * the challenge-resource check, TLS trust), and the ordering of versions.
 */
import { readFile } from 'node:fs/promises';
import type { SecretClient, SecretProperties } from '@azure/keyvault-secrets';
import { LockboxError, type ErrorCode } from '../errors.js';
import { classifyError, httpStatusError, loadSdk } from './remote.js';
import { WRITTEN_TAG, type MappedName } from './azure-names.js';

/** A TokenCredential (`{ getToken(scopes, options) }`), e.g. DefaultAzureCredential. */
export type AzureCredential = ConstructorParameters<typeof SecretClient>[1];

/** What building a SecretClient needs. */
export interface AzureClientSettings {
  providerId: string;
  vaultUrl: string;
  disableChallengeResourceVerification: boolean;
  /** Absolute path of a PEM CA bundle to trust instead of Node's bundled CAs. */
  caFile?: string;
}

/** What seed 002's troubleshooting section tells a user to check, per error code. */
export const AZURE_HINTS: Partial<Record<ErrorCode, string>> = {
  AUTH_FAILED: 'check credentials: `az account show`; DefaultAzureCredential tries AZURE_CLIENT_ID/AZURE_CLIENT_SECRET/AZURE_TENANT_ID, then managed identity, then the Azure CLI (`az login`)',
  PERMISSION_DENIED: 'grant the identity secret permissions get and list (set, delete, recover, purge to write): `az keyvault set-policy --name <vault> --spn <id> --secret-permissions get list`; test with `az keyvault secret show --vault-name <vault> --name <secret>`',
  PROVIDER_UNAVAILABLE: 'verify network connectivity to vault_url (firewall, private endpoint, DNS) and `lockbox health`',
};

const CREDENTIAL_ERRORS = new Set(['CredentialUnavailableError', 'AggregateAuthenticationError', 'AuthenticationError', 'AuthenticationRequiredError']);
const TLS_ERRORS = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT', 'SELF_SIGNED_CERT_IN_CHAIN', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_HAS_EXPIRED', 'CERT_NOT_YET_VALID', 'ERR_TLS_CERT_ALTNAME_INVALID',
]);

/** Builds a SecretClient. The SDK's own retries are off: callRemote is the one retry layer. */
export async function createSecretClient(settings: AzureClientSettings, credential?: AzureCredential): Promise<SecretClient> {
  const { providerId } = settings;
  const sdk = await loadSdk('@azure/keyvault-secrets', providerId, () => import('@azure/keyvault-secrets'));
  const tokenCredential = credential ?? await defaultCredential(providerId);
  const ca = settings.caFile === undefined ? undefined : await readCa(providerId, settings.caFile);
  return new sdk.SecretClient(settings.vaultUrl, tokenCredential, {
    disableChallengeResourceVerification: settings.disableChallengeResourceVerification,
    retryOptions: { maxRetries: 0 },
    userAgentOptions: { userAgentPrefix: 'lockbox' },
    ...(ca === undefined ? {} : { tlsOptions: { ca } }),
  });
}

/** HTTP status of an SDK error (RestError.statusCode), if any. */
export function statusOf(error: unknown): number | undefined {
  const status = (error as { statusCode?: unknown } | null)?.statusCode;
  return typeof status === 'number' ? status : undefined;
}

/** Key Vault's innererror code (e.g. SecretDisabled, SecretTooLarge, ObjectIsDeletedButRecoverable). */
export function innerCodeOf(error: unknown): string | undefined {
  const details = (error as { details?: { error?: { innerError?: { code?: unknown } } } } | null)?.details;
  const code = details?.error?.innerError?.code;
  return typeof code === 'string' ? code : undefined;
}

/** Turns an SDK error into a LockboxError with seed 002's troubleshooting hints; never undefined. */
export function classifyAzureError(providerId: string, operation: string, error: unknown): LockboxError {
  if (error instanceof LockboxError) return error;
  const e = (typeof error === 'object' && error !== null ? error : {}) as { name?: string; code?: unknown; message?: string };
  const message = typeof e.message === 'string' ? e.message : String(error);
  if (e.name && CREDENTIAL_ERRORS.has(e.name)) {
    return new LockboxError('AUTH_FAILED', `provider "${providerId}": ${operation} failed: no Azure credential could get a token (${e.name})`, {
      provider: providerId, cause: error, hint: AZURE_HINTS.AUTH_FAILED,
    });
  }
  if (/challenge resource .* does not match/.test(message)) {
    return new LockboxError('AUTH_FAILED', `provider "${providerId}": ${operation} failed: the vault's authentication challenge names a resource that does not match the domain of vault_url`, {
      provider: providerId, cause: error,
      hint: 'check vault_url (https://<vault>.vault.azure.net/); for emulators, custom domains or private endpoints set disable_challenge_resource_verification: true',
    });
  }
  if (typeof e.code === 'string' && TLS_ERRORS.has(e.code)) {
    return new LockboxError('PROVIDER_ERROR', `provider "${providerId}": ${operation} failed: the vault's TLS certificate is not trusted (${e.code})`, {
      provider: providerId, cause: error, hint: 'set ca_file to the PEM of the CA that signed it (private CA, TLS-inspecting proxy, emulator)',
    });
  }
  const status = statusOf(error);
  if (status === 400 && (innerCodeOf(error) === 'SecretTooLarge' || /maximum permitted length/.test(message))) {
    return new LockboxError('VALUE_TOO_LARGE', `provider "${providerId}": ${operation} failed: Key Vault accepts secret values of at most 25,600 characters`, {
      provider: providerId, cause: error, hint: 'store a smaller value, or keep the data elsewhere and store its key here',
    });
  }
  if (status !== undefined && status >= 400) {
    const detail = `${typeof e.code === 'string' ? `${e.code}: ` : ''}${message}`.slice(0, 300);
    const base = httpStatusError(providerId, operation, status, detail, error);
    return new LockboxError(base.code, base.message, { provider: providerId, transient: base.transient, cause: error, hint: AZURE_HINTS[base.code] ?? base.hint });
  }
  const network = classifyError(providerId, operation, error);
  if (network) return new LockboxError(network.code, network.message, { provider: providerId, transient: network.transient, cause: error, hint: AZURE_HINTS[network.code] ?? network.hint });
  if (e.code === 'ENOTFOUND') {
    return new LockboxError('PROVIDER_UNAVAILABLE', `provider "${providerId}": ${operation} failed: the vault's host name does not resolve (ENOTFOUND)`, {
      provider: providerId, cause: error, hint: 'check vault_url and DNS (private endpoints need their private DNS zone)',
    });
  }
  return new LockboxError('PROVIDER_ERROR', `provider "${providerId}": ${operation} failed: ${typeof e.code === 'string' ? e.code : e.name ?? 'error'}`, {
    provider: providerId, cause: error, hint: 'see the cause; `lockbox health` checks the connection',
  });
}

/** One remote call with the provider's timeout, retries and classification, given the SDK client. */
export type RemoteCall = <T>(operation: string, fn: (client: SecretClient, signal: AbortSignal) => Promise<T>) => Promise<T>;

/**
 * Walks a paged listing, one page per call (each with its own timeout and retries). The SDK's
 * mapped pages drop their continuation token, so a retried page restarts the listing and skips
 * the pages already seen. A 404 (versions of a missing secret) is an empty listing.
 */
export async function walkPages(
  call: RemoteCall,
  operation: string,
  open: (client: SecretClient, signal: AbortSignal) => { byPage(): AsyncIterableIterator<SecretProperties[]> },
  visit: (properties: SecretProperties) => void,
): Promise<void> {
  let iterator: AsyncIterableIterator<SecretProperties[]> | undefined;
  let consumed = 0;
  let attempt = 0;
  for (;;) {
    const page = await call(operation, async (client, signal) => {
      const mine = ++attempt;
      let pages = iterator;
      iterator = undefined; // claimed: a retry after a failure or timeout starts over
      try {
        if (!pages) {
          pages = open(client, signal).byPage();
          for (let seen = 0; seen < consumed; seen++) await pages.next();
        }
        const result = await pages.next();
        if (mine === attempt) iterator = pages;
        return result.done ? undefined : result.value;
      } catch (error) {
        if (statusOf(error) === 404) return undefined;
        throw error;
      }
    });
    if (!page) return;
    consumed++;
    page.forEach(visit);
  }
}

/**
 * Orders versions oldest first: Key Vault's `created` (whole seconds), then lockbox's write-time
 * tag for versions created within the same second, then the version id.
 */
export function compareVersions(a: SecretProperties, b: SecretProperties): number {
  const byCreated = (a.createdOn?.getTime() ?? 0) - (b.createdOn?.getTime() ?? 0);
  if (byCreated !== 0) return byCreated;
  const byWritten = Number(a.tags?.[WRITTEN_TAG] ?? 0) - Number(b.tags?.[WRITTEN_TAG] ?? 0);
  if (byWritten !== 0 && Number.isFinite(byWritten)) return byWritten;
  const x = a.version ?? '';
  const y = b.version ?? '';
  return x < y ? -1 : x > y ? 1 : 0;
}

/** CONFLICT for a write to a soft-deleted name, naming the two ways out. */
export function softDeletedError(providerId: string, target: MappedName): LockboxError {
  return new LockboxError('CONFLICT', `provider "${providerId}": cannot write secret ${target.label}: Key Vault secret "${target.vaultName}" is soft-deleted (deleted but recoverable), and its name cannot be reused until it is either recovered or purged`, {
    provider: providerId, hint: 'choose: `lockbox undelete` to recover it with its versions, or `lockbox delete --destroy` to purge it for good; then write again',
  });
}

/** The request's result, or null when Key Vault answers 404. */
export async function orNull<T>(request: Promise<T>): Promise<T | null> {
  try {
    return await request;
  } catch (error) {
    if (statusOf(error) === 404) return null;
    throw error;
  }
}

/** True when the request succeeds, false on 404. */
export async function exists(request: Promise<unknown>): Promise<boolean> {
  return (await orNull(request)) !== null;
}

async function defaultCredential(providerId: string): Promise<AzureCredential> {
  const identity = await loadSdk('@azure/identity', providerId, () => import('@azure/identity'));
  return new identity.DefaultAzureCredential();
}

async function readCa(providerId: string, path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    throw new LockboxError('CONFIG_INVALID', `provider "${providerId}": ca_file "${path}" cannot be read (${(error as { code?: string }).code ?? 'error'})`, {
      provider: providerId, cause: error, hint: 'point ca_file at a PEM file of CA certificates, relative to lockbox.yaml',
    });
  }
}
