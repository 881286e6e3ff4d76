/**
 * Vault's errors in lockbox's codes. Vault answers `{"errors": [...]}` with 400/403/404/405/
 * 413/429/5xx. Two quirks: a check-and-set mismatch is a 400 (lockbox: CONFLICT), and a 403
 * "permission denied" means either a bad token or a missing policy — the client asks
 * auth/token/lookup-self which one (see vault-client.ts) and throws AUTH_FAILED for the first.
 * Messages use the words of seed 002's troubleshooting (`vault status`, `vault token lookup`).
 */
import { LockboxError, isTransient } from '../errors.js';
import { classifyError, httpStatusError } from './remote.js';
import type { VaultResponse } from './vault-http.js';

const TROUBLESHOOT_AUTH = 'check the token with `vault token lookup`; set token (or VAULT_TOKEN), or check role_id/secret_id (AppRole) or kubernetes_role/jwt_file (Kubernetes)';

/** Vault's error texts joined (they name paths and reasons, never secret values), capped at 300 characters. */
export function vaultErrorDetail(body: unknown): string {
  const errors = (body as { errors?: unknown } | null)?.errors;
  if (!Array.isArray(errors)) return '';
  const text = errors.filter((e): e is string => typeof e === 'string').join('; ');
  return text.length > 300 ? `${text.slice(0, 297)}...` : text;
}

/** The LockboxError for an unexpected Vault status. */
export function vaultStatusError(providerId: string, operation: string, response: VaultResponse, mount?: string): LockboxError {
  const detail = vaultErrorDetail(response.body);
  if (response.status === 400 && /check-and-set parameter did not match/.test(detail)) {
    return new LockboxError('CONFLICT', `provider "${providerId}": ${operation} failed with HTTP 400: ${detail}`, {
      provider: providerId, hint: 'another writer changed this secret first; re-read and retry',
    });
  }
  const base = httpStatusError(providerId, operation, response.status, detail);
  if (response.status === 404 && /no handler for route/.test(detail)) {
    return new LockboxError('PROVIDER_ERROR', base.message, {
      provider: providerId, hint: `is a KV version 2 engine mounted at "${mount ?? '?'}" in this namespace? check mount_point and namespace (\`vault secrets list\`)`,
    });
  }
  if (response.status !== 403) return base;
  const paths = mount ? ` on ${mount}/data/… and ${mount}/metadata/…` : '';
  return new LockboxError('PERMISSION_DENIED', base.message, {
    provider: providerId,
    hint: `the token is valid but its policies do not allow this: check its policies with \`vault token lookup\` and grant read/list (write to set)${paths}`,
  });
}

/** AUTH_FAILED: Vault no longer accepts the token (lookup-self answered 403). */
export function tokenRejectedError(providerId: string): LockboxError {
  return new LockboxError('AUTH_FAILED', `provider "${providerId}": Vault rejected the token (invalid, revoked or expired)`, {
    provider: providerId, hint: TROUBLESHOOT_AUTH,
  });
}

/** AUTH_FAILED: a login (AppRole, Kubernetes) was refused, or there is nothing to log in with. */
export function authFailedError(providerId: string, what: string, cause?: unknown): LockboxError {
  return new LockboxError('AUTH_FAILED', `provider "${providerId}": ${what}`, { provider: providerId, hint: TROUBLESHOOT_AUTH, cause });
}

/** Classifier for callRemote: network errnos and timeouts as remote.ts does, anything else PROVIDER_ERROR. */
export function classifyVaultError(providerId: string, operation: string, url: string): (error: unknown) => LockboxError {
  return (error) => {
    const classified = classifyError(providerId, operation, error);
    if (classified && isTransient(classified) && classified.code === 'PROVIDER_UNAVAILABLE') {
      return new LockboxError('PROVIDER_UNAVAILABLE', `${classified.message} — cannot reach Vault at ${url}`, {
        provider: providerId, transient: true, cause: error,
        hint: `verify network connectivity and the url; test the connection with \`vault status -address=${url}\``,
      });
    }
    if (classified) return classified;
    const reason = error instanceof Error ? error.name : typeof error;
    return new LockboxError('PROVIDER_ERROR', `provider "${providerId}": ${operation} failed (${reason})`, { provider: providerId, cause: error });
  };
}
