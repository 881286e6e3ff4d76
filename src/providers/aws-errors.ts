/**
 * How the `aws` provider reads AWS Secrets Manager's errors. On the JSON protocol most client
 * errors are HTTP 400 (even throttling and access denied), so the error's name (`__type`)
 * decides, not the status: bad credentials → AUTH_FAILED, AccessDeniedException →
 * PERMISSION_DENIED (both permanent), throttling → THROTTLED and server errors →
 * PROVIDER_UNAVAILABLE (transient), a too-large value → VALUE_TOO_LARGE.
 */
import { LockboxError, NotFoundError, type ErrorCode } from '../errors.js';
import { classifyError } from './remote.js';

const AUTH_ERRORS = new Set([
  'UnrecognizedClientException', 'InvalidClientTokenId', 'InvalidSignatureException', 'SignatureDoesNotMatch',
  'IncompleteSignature', 'IncompleteSignatureException', 'MissingAuthenticationToken', 'MissingAuthenticationTokenException',
  'ExpiredToken', 'ExpiredTokenException', 'RequestExpired', 'CredentialsProviderError', 'TokenProviderError',
]);
const PERMISSION_ERRORS = new Set(['AccessDeniedException', 'AccessDenied', 'NotAuthorized']);
const THROTTLE_ERRORS = new Set([
  'ThrottlingException', 'Throttling', 'ThrottledException', 'TooManyRequestsException', 'RequestLimitExceeded', 'RequestThrottled',
]);
const SERVER_ERRORS = new Set(['InternalServiceError', 'InternalFailure', 'InternalServiceFailure', 'ServiceUnavailable', 'ServiceUnavailableException']);

/** What `aws sts get-caller-identity` checks, in seed 002's words. */
export const CREDENTIALS_HINT = 'check credentials (IAM role, AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE): run `aws sts get-caller-identity`';

/** The AWS error name (`__type`) behind an error, unwrapping a classified LockboxError. */
export function awsErrorName(error: unknown): string | undefined {
  const inner = error instanceof LockboxError ? error.cause : error;
  const name = (inner as { name?: unknown } | undefined)?.name;
  return typeof name === 'string' ? name : undefined;
}

/** The AWS error message behind an error (AWS's messages name secrets, never values). */
export function awsErrorMessage(error: unknown): string {
  const inner = error instanceof LockboxError ? error.cause : error;
  const message = (inner as { message?: unknown } | undefined)?.message;
  return typeof message === 'string' ? message.slice(0, 300) : '';
}

/**
 * Classifies an SDK error thrown by `operation` (e.g. `GetSecretValue "dativo/acme"`).
 * `permissionHint` says which IAM actions the operation needs.
 */
export function classifyAwsError(providerId: string, operation: string, error: unknown, permissionHint: string): LockboxError | undefined {
  if (error instanceof LockboxError) return error;
  const name = awsErrorName(error) ?? '';
  const text = awsErrorMessage(error);
  const detail = `${name}${text ? `: ${text}` : ''}`;
  const make = (code: ErrorCode, transient: boolean, hint: string) => new LockboxError(code, `provider "${providerId}": ${operation} failed: ${detail}`, {
    provider: providerId, transient, hint, cause: error,
  });
  if (AUTH_ERRORS.has(name)) return make('AUTH_FAILED', false, CREDENTIALS_HINT);
  if (PERMISSION_ERRORS.has(name)) return make('PERMISSION_DENIED', false, permissionHint);
  if (THROTTLE_ERRORS.has(name)) return make('THROTTLED', true, 'AWS throttled the request; lower the request rate or raise the cache TTL');
  if (SERVER_ERRORS.has(name)) return make('PROVIDER_UNAVAILABLE', true, 'AWS Secrets Manager failed; check the AWS Health Dashboard and `lockbox health`');
  if (name === 'ResourceNotFoundException') return new NotFoundError(`${operation}`, { provider: providerId, cause: error });
  if (isTooLarge(name, text)) {
    return make('VALUE_TOO_LARGE', false, 'AWS Secrets Manager takes at most 65,536 bytes per secret value; store a smaller value or split it');
  }
  if (/region is missing/i.test(text)) {
    return new LockboxError('CONFIG_INVALID', `provider "${providerId}": no AWS region: set region_name in lockbox.yaml, or AWS_REGION`, { provider: providerId, cause: error });
  }
  const generic = classifyError(providerId, operation, error);
  if (generic && generic.code !== 'PROVIDER_ERROR') return generic;
  if (name && name !== 'Error' && (error as { $metadata?: unknown }).$metadata !== undefined) {
    return make('PROVIDER_ERROR', false, 'see the AWS Secrets Manager API reference for this error');
  }
  return generic;
}

function isTooLarge(name: string, text: string): boolean {
  if (name === 'RequestEntityTooLargeException') return true;
  return (name === 'ValidationException' || name === 'InvalidParameterException')
    && /secret(String|Binary)/i.test(text) && /length|size|too large|exceed/i.test(text);
}
