/**
 * Helpers SecretManager's read and write sides share: guard targets, health checks that never
 * throw, and how a ref is named in messages.
 */
import { LockboxError } from '../errors.js';
import type { HealthStatus, Provider, SecretMetadata, SecretRef } from '../types.js';

/** Marks a read that found nothing in the audit log. */
export const NOT_FOUND_READ = new LockboxError('NOT_FOUND', 'not found');

/** What the guard checks and records for an operation on `ref` (through `provider` when known). */
export function guardTarget(ref: SecretRef, provider?: string): { name: string; scope?: string; provider?: string } {
  return { name: ref.name, scope: ref.scope, provider: provider ?? ref.provider };
}

/** The version an operation wrote, for its audit event. */
export function versionOf(metadata: SecretMetadata): { version: string } {
  return { version: metadata.version };
}

/** The provider's health; a health check that throws is reported as down, never thrown. */
export async function checkHealth(provider: Provider): Promise<HealthStatus> {
  const started = performance.now();
  try {
    return await provider.health();
  } catch (error) {
    const message = error instanceof LockboxError ? error.message : `health check failed (${(error as { code?: string }).code ?? 'error'})`;
    return { provider: provider.id, status: 'down', latencyMs: performance.now() - started, message };
  }
}

/** `provider:name@version#field` (tenant in brackets), for messages. Never a value. */
export function describeRef(ref: SecretRef): string {
  return `${ref.provider ? `${ref.provider}:` : ''}${ref.scope ? `[${ref.scope}] ` : ''}${ref.name}${ref.version ? `@${ref.version}` : ''}${ref.field ? `#${ref.field}` : ''}`;
}
