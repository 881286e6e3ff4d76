/**
 * One error base class with stable codes. Every code is listed in docs/errors.md
 * (test/errors.test.ts keeps the two in step). Messages never contain secret values.
 */

/** Every stable error code lockbox throws. */
export const ERROR_CODES = {
  INVALID_NAME: 'A secret name breaks a naming rule',
  INVALID_REFERENCE: 'A ${secret:…} reference cannot be parsed',
  UNRESOLVED_REFERENCES: 'One or more references could not be resolved',
  NOT_FOUND: 'The secret (or version) does not exist',
  CAPABILITY: 'The provider cannot do the requested operation',
  UNKNOWN_PROVIDER: 'No configured provider has this id',
  UNKNOWN_PROVIDER_TYPE: 'No provider implementation has this type',
  CONFIG_INVALID: 'The configuration file breaks its schema',
  CONFIG_PARSE: 'The configuration file is not valid YAML',
  CONFIG_NOT_FOUND: 'The configuration file named does not exist',
  FIELD_NOT_JSON: 'A #field was asked of a value that is not a JSON object',
  FIELD_NOT_FOUND: 'The JSON value has no such field',
  MASTER_KEY_MISSING: 'No master key could be found',
  MASTER_KEY_INVALID: 'The master key is malformed or cannot open the store',
  SECRET_TAMPERED: 'A stored ciphertext failed authentication',
  AUDIT_WRITE_FAILED: 'An audit event could not be written, so the operation it records fails',
  AUDIT_TAMPERED: 'The audit log is not intact: a line fails its hash chain or is not an audit event',
  STORE_ERROR: 'The local store could not be opened or written',
  NO_VALUE: 'No value was given to set',
  INVALID_ARGUMENT: 'A command-line argument or option is invalid',
  COMMAND_NOT_FOUND: 'The command given to run does not exist',
  PROVIDER_UNAVAILABLE: 'The provider could not be reached (transient)',
  ALREADY_EXISTS: 'The thing to create already exists',
  GENERATOR_INVALID: 'A value generator was asked for an impossible policy',
  INVALID_INPUT: 'A value or option passed to the API is invalid',
  SPEC_VALIDATION: 'A config does not satisfy its JSON Schema spec',
  SECRET_NODE_INVALID: 'A secret field holds something that cannot be a secret (array, null, bad object)',
  INVALID_COORDINATE: 'A secret coordinate is malformed (e.g. the managed prefix without a version)',
  SECRET_REFERENCE_NOT_FOUND: 'A _secret_reference_id names no existing secret reference',
  SECRET_IN_USE: 'A secret config is still referenced and cannot be deleted',
  CONFLICT: 'A concurrent update won; re-read and retry',
  ACCESS_DENIED: 'The access policy does not let this principal do this action on this secret',
  POLICY_INVALID: 'The access policy (access: in lockbox.yaml) breaks its schema',
  SDK_MISSING: 'An optional SDK a provider needs is not installed',
  AUTH_FAILED: 'The backend rejected the credentials (HTTP 401 or an auth method failed): missing, invalid or expired',
  PERMISSION_DENIED: 'The backend refused the operation for these credentials (HTTP 403)',
  THROTTLED: 'The backend throttled the request (HTTP 429); transient, retried with backoff',
  TIMEOUT: 'A call to the backend took longer than the provider\'s timeout_ms; transient',
  PROVIDER_ERROR: 'The backend answered with an error lockbox has no specific code for',
  VALUE_TOO_LARGE: 'The value exceeds the size the backend accepts',
  NAME_UNMAPPABLE: 'A secret name cannot be mapped to the backend\'s naming rules, or two names would map to one',
  TENANT_DOCUMENT_INVALID: 'A tenant document (one JSON secret per tenant) is not a JSON object',
  MIGRATE_VERIFY_FAILED: 'A migrated secret read back from the target did not match the source',
  ROTATION_TEST_FAILED: 'A rotation\'s test hook rejected the pending value; current is unchanged',
  KEY_ROTATION_FAILED: 'Re-wrapping data keys under a new master key failed; every secret stays readable',
  KMS_ERROR: 'The key management service refused or failed to wrap/unwrap the master key',
  SNAPSHOT_INVALID: 'The last-known-good snapshot cannot be opened (wrong key, tampered or corrupt)',
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

export interface LockboxErrorOptions {
  /** Id of the provider the error came from, if any. */
  provider?: string;
  /** Underlying error (never one carrying a secret value). */
  cause?: unknown;
  /** What the user can do about it; printed after the message by the CLI. */
  hint?: string;
  /** True for failures that may pass (network, timeout, 5xx, throttling). @default false */
  transient?: boolean;
}

/** Base class of every error lockbox throws on purpose. */
export class LockboxError extends Error {
  readonly code: ErrorCode;
  readonly provider?: string;
  readonly hint?: string;
  readonly transient: boolean;

  constructor(code: ErrorCode, message: string, options: LockboxErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'LockboxError';
    this.code = code;
    this.provider = options.provider;
    this.hint = options.hint;
    this.transient = options.transient ?? false;
  }

  /** The message and the hint on one line, as the CLI prints it. */
  describe(): string {
    return this.hint ? `${this.message} — ${this.hint}` : this.message;
  }
}

export class InvalidNameError extends LockboxError {
  constructor(name: string, rule: string) {
    super('INVALID_NAME', `invalid secret name ${JSON.stringify(truncate(name))}: ${rule}`, {
      hint: 'names are [A-Za-z0-9._-] segments joined by "/", at most 512 bytes',
    });
    this.name = 'InvalidNameError';
  }
}

export class CapabilityError extends LockboxError {
  constructor(provider: string, operation: string, hint?: string) {
    super('CAPABILITY', `provider "${provider}" does not support ${operation}`, {
      provider,
      hint: hint ?? 'name a writable provider with --provider, or add a local provider to the chain',
    });
    this.name = 'CapabilityError';
  }
}

export class NotFoundError extends LockboxError {
  constructor(what: string, options: LockboxErrorOptions = {}) {
    super('NOT_FOUND', `secret ${what} not found`, {
      hint: 'check the name, --tenant and --provider; `lockbox list` shows what exists',
      ...options,
    });
    this.name = 'NotFoundError';
  }
}

export class ProviderUnavailableError extends LockboxError {
  constructor(provider: string, message: string, cause?: unknown) {
    super('PROVIDER_UNAVAILABLE', `provider "${provider}" is unavailable: ${message}`, {
      provider,
      cause,
      transient: true,
      hint: 'check connectivity and `lockbox health`',
    });
    this.name = 'ProviderUnavailableError';
  }
}

const TRANSIENT_ERRNO = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EAI_AGAIN', 'EPIPE', 'ENETUNREACH', 'EHOSTUNREACH',
  'UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_SOCKET', 'ABORT_ERR', 'EBUSY',
]);

/**
 * True when an error is a transient failure (network, timeout, 5xx, throttling) — the only
 * kind the cache may answer with a stale value.
 */
export function isTransient(error: unknown): boolean {
  if (error instanceof LockboxError) return error.transient;
  if (typeof error !== 'object' || error === null) return false;
  const e = error as { code?: unknown; status?: unknown; statusCode?: unknown; name?: unknown };
  if (typeof e.code === 'string' && TRANSIENT_ERRNO.has(e.code)) return true;
  const status = typeof e.status === 'number' ? e.status : typeof e.statusCode === 'number' ? e.statusCode : undefined;
  if (status !== undefined) return status === 429 || status >= 500;
  return e.name === 'TimeoutError' || e.name === 'AbortError';
}

function truncate(text: string): string {
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}
