/** The errors the SQLite store raises about one secret's versions (never a value in them). */
import { LockboxError, NotFoundError } from '../errors.js';
import type { SecretRef } from '../types.js';

/** SECRET_TAMPERED: a version's row failed authentication, for the reason `why`. */
export function tampered(provider: string, name: string, scope: string, version: number, why: string, cause?: unknown): LockboxError {
  const where = scope ? ` (tenant ${scope})` : '';
  return new LockboxError('SECRET_TAMPERED', `secret ${name} version ${version} failed authentication${where}: ${why}`, {
    hint: 'restore the store from a backup, or destroy this version and set the secret again',
    provider,
    cause,
  });
}

/** NOT_FOUND for a secret, or one version of it. */
export function notFound(ref: SecretRef, provider: string, version?: number): NotFoundError {
  const where = ref.scope ? ` (tenant ${ref.scope})` : '';
  return new NotFoundError(`${ref.name}${version === undefined ? '' : ` version ${version}`}${where}`, { provider });
}
