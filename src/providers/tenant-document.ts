/**
 * The "one JSON document per tenant" layout of seed 002 (Vault `{mount}/data/{tenant}`, AWS
 * `{prefix}{tenant}`, GCP `{prefix}{tenant}`): a secret is one key of a JSON object. Shared by
 * every provider that offers `layout: document | auto`.
 */
import { LockboxError } from '../errors.js';

/** How a provider maps lockbox names to the backend. */
export type Layout = 'per-secret' | 'document' | 'auto';

/** Name of the document that holds secrets with no tenant, when lockbox.yaml sets none. */
export const DEFAULT_GLOBAL_DOCUMENT = 'global';

/**
 * Parses a tenant document; anything but a JSON object is TENANT_DOCUMENT_INVALID naming the
 * provider and the document (never its content). Non-string members come back as JSON text.
 */
export function parseTenantDocument(text: string, providerId: string, documentName: string): Map<string, string> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw invalid(providerId, documentName, 'it is not JSON');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw invalid(providerId, documentName, `it is JSON ${Array.isArray(parsed) ? 'array' : parsed === null ? 'null' : typeof parsed}, not an object`);
  }
  const entries = new Map<string, string>();
  for (const [key, value] of Object.entries(parsed as Record<string, unknown>)) {
    entries.set(key, typeof value === 'string' ? value : JSON.stringify(value));
  }
  return entries;
}

/** Serialises a tenant document (keys sorted, so unchanged documents compare equal). */
export function serializeTenantDocument(entries: Map<string, string>): string {
  const object: Record<string, string> = {};
  for (const key of [...entries.keys()].sort()) object[key] = entries.get(key)!;
  return JSON.stringify(object);
}

function invalid(providerId: string, documentName: string, why: string): LockboxError {
  return new LockboxError('TENANT_DOCUMENT_INVALID', `provider "${providerId}": tenant document "${documentName}" is invalid: ${why}`, {
    provider: providerId,
    hint: 'a tenant document must be a JSON object of secret name → value',
  });
}
